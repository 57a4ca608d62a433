// Issue 7, class 1: every operation that builds an object is bounded. The landed server died when a 1.4 KB
// JSON patch of 30 `copy` operations doubled a field until the heap ran out, and stored a 2.8 MB ConfigMap.
// Here copy amplification, operation counts, oversized creates/PUTs/merge patches/applies/status writes and
// protobuf bodies from the real kubectl are all refused with a 4xx before anything is written; the server's
// memory stays bounded, /readyz stays fast, and managedFields cannot grow with the number of writers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runKubectl } from '../env/apiserver.ts';
import { duringAttack, mapConcurrently, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';

let server: ApiServerProcess;
const CM = '/api/v1/namespaces/p/configmaps';
const VPCS = '/apis/network.photoncloud.io/v1alpha1/namespaces/p/vpcs';

const configMap = (name: string, data: Record<string, string>) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });

beforeAll(async () => {
  server = await startApiServerProcess({ maxOldSpaceMb: 1024 });
  expect((await server.client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'p' } }) })).status).toBe(201);
  expect((await server.client.request(CM, { method: 'POST', body: configMap('target', { seed: 'x'.repeat(1000) }) })).status).toBe(201);
  expect((await server.client.request(VPCS, { method: 'POST', body: JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'v' }, spec: { cidrBlocks: ['10.0.0.0/16'] } }) })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** Patches that grow an object far past any limit from a tiny body, built many ways. */
function amplifyingPatches(): Array<{ name: string; ops: unknown[] }> {
  const doubling = (from: string, to: (index: number) => string, count = 30) => Array.from({ length: count }, (_, index) => ({ op: 'copy', from, path: to(index) }));
  return [
    { name: 'copy /data into itself 30 times', ops: doubling('/data', (index) => `/data/c${index}`) },
    { name: 'double metadata annotations', ops: [{ op: 'add', path: '/metadata/annotations', value: { seed: 'x'.repeat(1000) } }, ...doubling('/metadata/annotations', (index) => `/metadata/annotations/a${index}`)] },
    { name: 'copy the whole metadata', ops: doubling('/metadata', (index) => `/metadata/labels${index}`) },
    { name: 'append copies to a list', ops: [{ op: 'add', path: '/list', value: [{ seed: 'x'.repeat(1000) }] }, ...doubling('/list', () => '/list/-', 40)] },
    { name: 'nest copies', ops: [{ op: 'add', path: '/n', value: { v: 'x'.repeat(5000) } }, ...doubling('/n', () => '/n/n', 40)] },
    { name: 'copy then move around', ops: [...doubling('/data', (index) => `/data/c${index}`, 12), { op: 'move', from: '/data/c11', path: '/data/m' }, ...doubling('/data', (index) => `/data/d${index}`, 20)] },
    { name: 'copy a big value 10,000 times', ops: doubling('/data/seed', (index) => `/data/s${index}`, 10_000) },
  ];
}

describe('resource exhaustion through patches', () => {
  it('refuses amplifying JSON patches (413) in milliseconds, with memory bounded and /readyz fast', async () => {
    const before = (await server.client.request(`${CM}/target`)).json();
    const baseline = server.rssBytes();
    let peak = baseline;
    const { result, readyz } = await duringAttack(server, () =>
      mapConcurrently(amplifyingPatches(), 4, async ({ name, ops }) => {
        const response = await server.client.request(`${CM}/target`, { method: 'PATCH', body: JSON.stringify(ops), headers: { 'Content-Type': 'application/json-patch+json' } });
        peak = Math.max(peak, server.rssBytes());
        return { name, status: response.status, reason: response.json().reason };
      }),
    );
    for (const outcome of result) expect(outcome).toEqual({ name: outcome.name, status: 413, reason: 'RequestEntityTooLarge' });
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    expect(server.alive()).toBe(true);
    expect(peak - baseline).toBeLessThan(300 * 1024 * 1024);
    // Nothing was written.
    expect((await server.client.request(`${CM}/target`)).json().metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it(`refuses JSON patches of more than 10,000 operations (413), and accepts 10,000`, async () => {
    const test = { op: 'test', path: '/kind', value: 'ConfigMap' };
    const over = await server.client.request(`${CM}/target`, { method: 'PATCH', body: JSON.stringify(Array.from({ length: 10_001 }, () => test)), headers: { 'Content-Type': 'application/json-patch+json' } });
    expect(over.status).toBe(413);
    expect(over.json().message).toContain('The allowed maximum operations in a JSON patch is 10000, got 10001');
    const at = await server.client.request(`${CM}/target`, { method: 'PATCH', body: JSON.stringify(Array.from({ length: 10_000 }, () => test)), headers: { 'Content-Type': 'application/json-patch+json' } });
    expect(at.status).toBe(200);
  });

  it('checks the size of every write, whatever built the object (create, PUT, merge/apply/status patches, dry runs)', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const first = await server.client.request(`${CM}/target`, { method: 'PATCH', body: JSON.stringify({ data: { half: 'y'.repeat(1024 * 1024) } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(first.status).toBe(200); // 1 MiB fits; the next 1 MiB on top does not
    const current = first.json();
    const attempts: Array<{ what: string; path: string; method: string; body: string; type?: string }> = [
      { what: 'create 2.8 MB', path: CM, method: 'POST', body: configMap('huge', { a: 'x'.repeat(2_800_000) }) },
      { what: 'create two 1 MiB values', path: CM, method: 'POST', body: configMap('huge2', { a: big, b: big }) },
      { what: 'create, dry run', path: `${CM}?dryRun=All`, method: 'POST', body: configMap('huge3', { a: big, b: big }) },
      { what: 'PUT', path: `${CM}/target`, method: 'PUT', body: JSON.stringify({ ...current, data: { a: big, b: big } }) },
      { what: 'merge patch', path: `${CM}/target`, method: 'PATCH', body: JSON.stringify({ data: { a: big, b: big } }), type: 'application/merge-patch+json' },
      { what: 'merge patch in two steps (second)', path: `${CM}/target`, method: 'PATCH', body: JSON.stringify({ data: { c: big } }), type: 'application/merge-patch+json' },
      { what: 'apply', path: `${CM}/target?fieldManager=big`, method: 'PATCH', body: configMap('target', { a: big, b: big }), type: 'application/apply-patch+yaml' },
      { what: 'apply creating', path: `${CM}/applied?fieldManager=big`, method: 'PATCH', body: configMap('applied', { a: big, b: big }), type: 'application/apply-patch+yaml' },
      { what: 'status merge patch', path: `${VPCS}/v/status`, method: 'PATCH', body: JSON.stringify({ status: { conditions: Array.from({ length: 100 }, (_, index) => ({ type: `T${index}`, status: 'True', reason: 'R', lastTransitionTime: '2026-01-01T00:00:00Z', message: 'x'.repeat(30_000) })) } }), type: 'application/merge-patch+json' },
    ];
    for (const attempt of attempts) {
      const response = await server.client.request(attempt.path, { method: attempt.method, body: attempt.body, headers: attempt.type ? { 'Content-Type': attempt.type } : {} });
      expect({ what: attempt.what, status: response.status }).toEqual({ what: attempt.what, status: 413 });
      expect(response.json().message).toMatch(/Request entity too large/);
    }
    expect((await server.client.request(`${CM}/huge`)).status).toBe(404);
    expect((await server.client.request(`${CM}/applied`)).status).toBe(404);
    expect(server.alive()).toBe(true);
  });

  it('refuses an oversized object sent by the real kubectl as protobuf', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-big-'));
    try {
      await fs.writeFile(path.join(dir, 'a'), 'x'.repeat(1024 * 1024));
      await fs.writeFile(path.join(dir, 'b'), 'y'.repeat(1024 * 1024));
      const result = await runKubectl(server.kubeconfig, ['create', 'configmap', 'from-kubectl', '-n', 'p', `--from-file=${dir}`]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/Request entity too large/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps managedFields bounded however many managers write', async () => {
    await server.client.request(CM, { method: 'POST', body: configMap('many-writers', {}) });
    await mapConcurrently(Array.from({ length: 40 }, (_, index) => index), 4, async (index) => {
      const response = await server.client.request(`${CM}/many-writers?fieldManager=writer-${index}`, { method: 'PATCH', body: JSON.stringify({ data: { [`k${index}`]: 'v' } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
      expect(response.status).toBe(200);
    });
    const object = (await server.client.request(`${CM}/many-writers`)).json();
    const updates = object.metadata.managedFields.filter((entry: { operation: string }) => entry.operation === 'Update');
    expect(updates.length).toBeLessThanOrEqual(10);
    expect(updates.map((entry: { manager: string }) => entry.manager)).toContain('ancient-changes');
    expect(Object.keys(object.data)).toHaveLength(40);
  });
});
