// A few thousand mutated requests (random methods, paths with traversal and odd encodings, query strings,
// headers, and JSON/YAML/protobuf bodies, JSON/merge patches and server-side applies derived from valid
// objects; test/env/fuzz.ts) against a real server: never a 5xx, never a crash, and the server still
// serves afterwards. The seed is printed in the test name; PHOTON_FUZZ_SEED reproduces a run and
// PHOTON_FUZZ_REQUESTS changes the count (`npm run fuzz -- --count 100000` runs long campaigns).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { FUZZ_NAMESPACE, prepareFuzzTargets, runFuzz } from '../env/fuzz.ts';
import { ApiClient } from '../env/http.ts';

const REQUESTS = Number(process.env.PHOTON_FUZZ_REQUESTS ?? 3000);
const SEED = Number(process.env.PHOTON_FUZZ_SEED ?? Date.now() % 2 ** 31);

describe('randomized bad input', () => {
  let env: TestApiServer;
  let api: ApiClient;

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    api = new ApiClient(env);
    await prepareFuzzTargets(api);
  });
  afterAll(async () => {
    api?.close();
    await env?.stop();
  });

  it(`answers ${REQUESTS} mutated requests without a 5xx (seed ${SEED})`, async () => {
    const report = await runFuzz(api, { count: REQUESTS, seed: SEED, concurrency: 16 });
    expect(report.failures).toEqual([]);
    // The run exercised both refusals and successes.
    expect([...report.statuses.keys()].some((status) => status >= 400 && status < 500)).toBe(true);
    expect([...report.statuses.keys()].some((status) => status < 300)).toBe(true);
    expect((await api.request('/readyz', { anonymous: true })).status).toBe(200);
    // Still serving reads and writes (the run may have deleted objects, but not broken anything).
    expect((await api.request(`/api/v1/namespaces/${FUZZ_NAMESPACE}/configmaps`)).status).toBe(200);
    expect((await api.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'after-fuzz' } }) })).status).toBe(201);
  }, 300_000);

  // Found by seed 1129730812: a HEAD watch was answered with headers (all a HEAD response has), so the client
  // reused the connection while the server still streamed the watch, and the next request on that
  // connection waited for the watch's default timeout (30-60 min).
  it('refuses a watch by HEAD, and the next request on the same connection is answered', async () => {
    const oneConnection = new ApiClient(env, { maxSockets: 1 });
    try {
      const head = await oneConnection.request(`/api/v1/namespaces/${FUZZ_NAMESPACE}/configmaps?watch=true`, { method: 'HEAD' });
      expect(head.status).toBe(405);
      const next = await oneConnection.request(`/api/v1/namespaces/${FUZZ_NAMESPACE}/configmaps`);
      expect(next.status).toBe(200);
      expect(next.json().kind).toBe('ConfigMapList');
    } finally {
      oneConnection.close();
    }
  }, 20_000);
});
