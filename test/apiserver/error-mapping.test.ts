// Issue 7, class 9: what an error says. The landed server turned any RangeError into a 400 quoting the
// internal message (`Maximum call stack size exceeded`), echoed raw error text in 500s, and echoed a 2 MB
// label value back in a 4 MB 422. Here only the server's own client errors are 4xx; everything else is a
// generic 500/503 whose error id leads to the details in the server's log; and whatever a client sent is
// echoed truncated, so no refusal is larger than a few kilobytes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { duringAttack, mapConcurrently, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';
import { startEtcd, type EtcdInstance } from '../env/etcd.ts';
import { waitFor } from '../env/process.ts';

const CM = '/api/v1/namespaces/p/configmaps';
const huge = 'x'.repeat(2 * 1024 * 1024);
const MAX_ERROR_BYTES = 16 * 1024;

/** Requests that make the server quote what was sent, each with a huge value in a different place. */
function echoingRequests(): Array<{ what: string; path: string; method: string; body?: string; type?: string }> {
  const cm = (metadata: Record<string, unknown>, extra: Record<string, unknown> = {}) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'echo', ...metadata }, ...extra });
  const vpc = (spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'echo' }, spec });
  const vpcs = '/apis/network.photoncloud.io/v1alpha1/namespaces/p/vpcs';
  return [
    { what: '2 MB label value', path: CM, method: 'POST', body: cm({ labels: { a: huge } }) },
    { what: '2 MB label key', path: CM, method: 'POST', body: cm({ labels: { [huge]: 'a' } }) },
    { what: '2 MB annotation key', path: CM, method: 'POST', body: cm({ annotations: { [huge]: 'a' } }) },
    { what: '2 MB name', path: CM, method: 'POST', body: cm({ name: huge }) },
    { what: '2 MB generateName', path: CM, method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: huge } }) },
    { what: '2 MB finalizer', path: CM, method: 'POST', body: cm({ finalizers: [huge] }) },
    { what: '2 MB owner reference', path: CM, method: 'POST', body: cm({ ownerReferences: [{ apiVersion: huge, kind: huge, name: huge, uid: huge }] }) },
    { what: '2 MB kind', path: CM, method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: huge, metadata: { name: 'a' } }) },
    { what: '2 MB apiVersion', path: CM, method: 'POST', body: JSON.stringify({ apiVersion: huge, kind: 'ConfigMap', metadata: { name: 'a' } }) },
    { what: '2 MB namespace in body', path: CM, method: 'POST', body: cm({ namespace: huge }) },
    { what: '2 MB unknown field, Strict', path: `${CM}?fieldValidation=Strict`, method: 'POST', body: cm({}, { [huge]: 1 }) },
    { what: 'many unknown fields, Strict', path: `${CM}?fieldValidation=Strict`, method: 'POST', body: cm({}, Object.fromEntries(Array.from({ length: 20_000 }, (_, index) => [`unknown${index}`, 1]))) },
    { what: '2 MB enum value', path: vpcs, method: 'POST', body: JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'echo' }, spec: { cidrBlocks: ['10.0.0.0/16'], staticRoutes: [{ destination: huge, nextHop: huge }] } }) },
    { what: '2 MB CIDR', path: vpcs, method: 'POST', body: vpc({ cidrBlocks: [huge] }) },
    { what: 'thousands of invalid CIDRs', path: vpcs, method: 'POST', body: vpc({ cidrBlocks: Array.from({ length: 20_000 }, (_, index) => `bad-${index}`) }) },
    { what: '2 MB invalid JSON token', path: CM, method: 'POST', body: `{"a": ${huge}}` },
    { what: '2 MB invalid YAML', path: CM, method: 'POST', body: `a: [${huge}`, type: 'application/yaml' },
    { what: '2 MB JSON patch path', path: `${CM}/target`, method: 'PATCH', body: JSON.stringify([{ op: 'remove', path: `/${huge}` }]), type: 'application/json-patch+json' },
    { what: '2 MB JSON patch test value', path: `${CM}/target`, method: 'PATCH', body: JSON.stringify([{ op: 'test', path: '/data', value: huge }]), type: 'application/json-patch+json' },
    { what: '2 MB apply manager mismatch', path: `${CM}/target?fieldManager=x`, method: 'PATCH', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: huge } }), type: 'application/apply-patch+yaml' },
    { what: '2 MB content type', path: CM, method: 'POST', body: '{}', type: `application/${'x'.repeat(8000)}` },
    { what: '7 KB name in the URL', path: `${CM}/${'n'.repeat(7000)}`, method: 'GET' },
    { what: '7 KB label selector', path: `${CM}?labelSelector=${encodeURIComponent('a in (' + 'b,'.repeat(3000) + ')')}!`, method: 'GET' },
    { what: '7 KB field selector', path: `${CM}?fieldSelector=${'metadata.name=x,'.repeat(400)}spec.${'y'.repeat(500)}=1`, method: 'GET' },
    { what: '7 KB resourceVersion', path: `${CM}?resourceVersion=${'9'.repeat(7000)}`, method: 'GET' },
    { what: '7 KB continue token', path: `${CM}?limit=1&continue=${'A'.repeat(7000)}`, method: 'GET' },
    { what: '7 KB dryRun', path: `${CM}?dryRun=${'z'.repeat(7000)}`, method: 'POST', body: cm({}) },
  ];
}

describe('error mapping', () => {
  let server: ApiServerProcess;

  beforeAll(async () => {
    server = await startApiServerProcess();
    expect((await server.client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'p' } }) })).status).toBe(201);
    expect((await server.client.request(CM, { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'target' }, data: { a: 'b' } }) })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('answers every echoing request with a 4xx Status of a few kilobytes at most, quoting no internals', async () => {
    const { result, readyz } = await duringAttack(server, () =>
      mapConcurrently(echoingRequests(), 2, async (request) => {
        const response = await server.client.request(request.path, { method: request.method, body: request.body, headers: request.type ? { 'Content-Type': request.type } : {} });
        return { what: request.what, status: response.status, bytes: response.text.length, text: response.text };
      }),
    );
    for (const { what, status, bytes, text } of result) {
      expect({ what, status: status >= 400 && status < 500 }).toEqual({ what, status: true });
      expect({ what, bytes: bytes <= MAX_ERROR_BYTES }).toEqual({ what, bytes: true });
      expect(text).not.toMatch(/Maximum call stack|Invalid string length|RangeError|TypeError|\n\s+at /);
      expect(JSON.parse(text)).toMatchObject({ kind: 'Status', status: 'Failure' });
    }
    expect(readyz.maxMs).toBeLessThan(1000);
    expect(server.alive()).toBe(true);
  });

  it('still names the field and the start of the value', async () => {
    const response = await server.client.request(CM, { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'echo', labels: { a: `bad value ${huge}` } } }) });
    expect(response.status).toBe(422);
    const status = response.json();
    expect(status.details.causes[0].field).toBe('metadata.labels');
    expect(status.message).toContain('"bad value xxxx');
    expect(status.message).toMatch(/more characters\)/);
  });
});

describe('internal errors', () => {
  let etcd: EtcdInstance;
  let server: ApiServerProcess;

  beforeAll(async () => {
    etcd = await startEtcd();
    server = await startApiServerProcess({ etcdEndpoint: etcd.endpoint });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await etcd?.stop();
  });

  it('answers a storage outage with a generic 503 whose error id is in the server log, not the raw error', async () => {
    expect((await server.client.request('/api/v1/namespaces')).status).toBe(200);
    await etcd.stop();
    const response = await waitFor('a write to fail while etcd is down', async () => {
      const attempt = await server.client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `n${Date.now()}` } }) });
      return attempt.status >= 500 ? attempt : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(response.status).toBe(503);
    const status = response.json();
    expect(status.message).toMatch(/^storage is unavailable; retry later \(error id [0-9a-f]{12}\)$/);
    expect(status.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|grpc|etcd/i);
    const id = /error id ([0-9a-f]{12})/.exec(status.message)![1];
    await waitFor('the error id in the server log', () => server.process.output().includes(id));
    expect(server.alive()).toBe(true);
  }, 120_000);
});
