// Issue 7, class 2: a path segment that decodes to `.` or `..`, or holds `/` or `%`, must never address
// another namespace or object. The landed server resolved `%2e%2e` (WHATWG URL parsing), so
// `/api/v1/namespaces/a/secrets/%2e%2e/%2e%2e/b/secrets/db` returned namespace b's Secret and a DELETE of
// a ConfigMap named `%2e%2e` deleted namespace a. Here every encoding of a traversal, in every position of
// the path and with every verb, is a 4xx; nothing in namespace b is read or changed; /readyz stays fast.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { duringAttack, mapConcurrently, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';

let server: ApiServerProcess;

const DOTS = ['..', '.', '%2e%2e', '%2E%2E', '%2e.', '.%2e', '%2e', '%2E', '%252e%252e', '%252E%252E', '%2e%2e%2f', '..%2f', '%2f', '%2F', 'a%2fb', '%2f..', '%25', '%25%32%65', '..%252f', '%c0%ae%c0%ae', '%2e%2e%5c'];

/** Every path that puts a traversal segment somewhere a namespace, name or resource goes. */
function traversalPaths(): string[] {
  const paths = new Set<string>();
  for (const dot of DOTS) {
    paths.add(`/api/v1/namespaces/a/secrets/${dot}/${dot}/b/secrets/db`);
    paths.add(`/api/v1/namespaces/a/secrets/${dot}`);
    paths.add(`/api/v1/namespaces/a/configmaps/${dot}`);
    paths.add(`/api/v1/namespaces/a/configmaps/${dot}/status`);
    paths.add(`/api/v1/namespaces/${dot}/secrets/db`);
    paths.add(`/api/v1/namespaces/${dot}/b/secrets/db`);
    paths.add(`/api/v1/namespaces/a/${dot}/b/secrets/db`);
    paths.add(`/api/v1/namespaces/a/configmaps/x/${dot}/${dot}/${dot}/b/secrets/db`);
    paths.add(`/api/v1/${dot}/v1/namespaces/b/secrets/db`);
    paths.add(`/apis/${dot}/api/v1/namespaces/b/secrets/db`);
    paths.add(`/apis/network.photoncloud.io/v1alpha1/namespaces/a/vpcs/${dot}/${dot}/${dot}/b/vpcs/main`);
    paths.add(`/apis/network.photoncloud.io/${dot}/${dot}/api/v1/namespaces/b/secrets/db`);
    paths.add(`/api/v1/namespaces/${dot}`);
    paths.add(`/api/v1/namespaces/a/${dot}`);
  }
  return [...paths];
}

const METHODS = ['GET', 'DELETE', 'PUT', 'PATCH', 'POST'] as const;

beforeAll(async () => {
  server = await startApiServerProcess();
  const post = async (path: string, body: unknown) => {
    const response = await server.client.request(path, { method: 'POST', body: JSON.stringify(body) });
    expect(response.status).toBe(201);
  };
  for (const namespace of ['a', 'b']) {
    await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    await post(`/api/v1/namespaces/${namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { password: `${namespace}-secret` } });
    await post(`/api/v1/namespaces/${namespace}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { owner: namespace } });
    await post(`/apis/network.photoncloud.io/v1alpha1/namespaces/${namespace}/vpcs`, { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main' }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
  }
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** Every object in namespaces a and b with its resourceVersion: what must not change. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of ['/api/v1/namespaces', '/api/v1/secrets', '/api/v1/configmaps', '/apis/network.photoncloud.io/v1alpha1/vpcs']) {
    const list = (await server.client.request(path)).json();
    for (const item of list.items) out[`${path}/${item.metadata.namespace ?? ''}/${item.metadata.name}`] = item.metadata.resourceVersion;
  }
  return out;
}

describe('path traversal', () => {
  it('answers every traversal, in every position and with every verb, with a 4xx, and reads or changes nothing', async () => {
    const before = await snapshot();
    const paths = traversalPaths();
    const requests = paths.flatMap((path) => METHODS.map((method) => ({ path, method })));
    expect(requests.length).toBeGreaterThan(1000);
    const { result, readyz } = await duringAttack(server, () =>
      mapConcurrently(requests, 16, async ({ path, method }) => {
        const body = method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { password: 'stolen' } });
        const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
        const response = await server.client.request(path, { method, body, headers: body ? { 'Content-Type': contentType } : {} });
        return { path, method, status: response.status, text: response.text };
      }),
    );
    const wrong = result.filter(({ status }) => status < 400 || status >= 500);
    expect(wrong).toEqual([]);
    // Nothing anywhere echoes namespace b's secret.
    expect(result.filter(({ text }) => text.includes(Buffer.from('b-secret').toString('base64')))).toEqual([]);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    expect(server.alive()).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it('names the bad segment in a 400 Status', async () => {
    const response = await server.client.request('/api/v1/namespaces/a/secrets/%2e%2e/%2e%2e/b/secrets/db');
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', message: `invalid path segment "..": may not be '..'` });
    const percent = await server.client.request('/api/v1/namespaces/a/configmaps/a%252fb', { method: 'DELETE' });
    expect(percent.status).toBe(400);
    expect(percent.json().message).toBe(`invalid path segment "a%2fb": may not contain '%'`);
  });

  it('watches and lists with traversal are refused too, and legitimate names still work', async () => {
    for (const path of ['/api/v1/namespaces/%2e%2e/secrets?watch=1', '/api/v1/namespaces/a/%2e%2e/b/secrets?watch=true', '/api/v1/namespaces/a/secrets/%2e%2e?watch=1']) {
      expect((await server.client.request(path)).status).toBe(400);
    }
    expect((await server.client.request('/api/v1/namespaces//secrets')).status).toBe(404);
    const ok = await server.client.request('/api/v1/namespaces/a/configmaps/x');
    expect(ok.status).toBe(200);
    expect(ok.json().data).toEqual({ owner: 'a' });
    expect((await server.client.request('/api/v1/namespaces/a/configmaps/x/')).status).toBe(200);
  });
});
