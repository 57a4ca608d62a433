// What one request costs the API server, counted rather than timed so it cannot regress unnoticed: storage round
// trips by operation (apiserver_storage_request_duration_seconds_count) and objects encoded for / decoded from
// storage (apiserver_storage_codec_total), per create, patch, server-side apply, get and delete, for a built-in
// kind and a CRD kind, on etcd. Averaged over many requests and rounded, so the server's background loops
// (compaction checks, namespace finalization) do not count. A change that adds a read before every write, or
// decodes an object twice, fails here with the table of what it costs now.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient } from '../env/http.ts';

const N = 60;
const NS = 'cost';

type Costs = Record<string, number>;

/**
 * The minimum each verb needs: a create is one storage write of one encoded object; an update starts from the
 * watch cache's copy of the object (no storage read, no decode: the cache holds it decoded) and writes the next
 * (one encode, a compare-and-swap on the copy's revision) — the answer is the object written, not the bytes
 * decoded again (that second decode was removed; this holds it). A get reads storage (it must be as fresh as
 * the store) but decodes nothing when the cache holds the very revision storage returned, as here; a delete,
 * like an update, starts from the cache's copy: one compare-and-swap delete on its revision, nothing read.
 */
const EXPECTED: Record<string, Costs> = {
  create: { 'store.create': 1, 'codec.encode': 1 },
  'merge patch': { 'store.update': 1, 'codec.encode': 1 },
  'server-side apply': { 'store.update': 1, 'codec.encode': 1 },
  get: { 'store.get': 1 },
  delete: { 'store.delete': 1 },
};

const KINDS = {
  ConfigMap: { url: `/api/v1/namespaces/${NS}/configmaps`, body: (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' } }) },
  Vpc: { url: `/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/vpcs`, body: (name: string) => ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name }, spec: { cidrBlocks: ['10.0.0.0/16'] } }) },
};

let env: TestApiServer;
let api: ApiClient;

/** Storage operations and codec counts from /metrics. */
async function counters(): Promise<Costs> {
  const text = (await api.request('/metrics')).text;
  const found: Costs = {};
  for (const line of text.split('\n')) {
    const store = /^apiserver_storage_request_duration_seconds_count\{operation="(\w+)"\} (\d+)/.exec(line);
    if (store) found[`store.${store[1]}`] = Number(store[2]);
    const codec = /^apiserver_storage_codec_total\{operation="(\w+)"\} (\d+)/.exec(line);
    if (codec) found[`codec.${codec[1]}`] = Number(codec[2]);
  }
  return found;
}

beforeAll(async () => {
  env = await startTestApiServer({ storage: 'etcd' });
  api = new ApiClient(env);
  await api.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }) });
}, 60_000);

afterAll(async () => {
  api?.close();
  await env?.stop();
});

describe('the per-request work of the API server', () => {
  it.each(Object.keys(KINDS))('a %s costs the minimum storage round trips and (de)serialisations per verb', async (kind) => {
    const { url, body } = KINDS[kind as keyof typeof KINDS];
    // One of each first (the kind's first write warms caches: not what a steady request costs).
    await api.request(url, { method: 'POST', body: JSON.stringify(body('warmup')) });
    const name = (index: number) => `${kind.toLowerCase()}-${index}`;
    const verbs: Record<string, (index: number) => Promise<{ status: number; text: string }>> = {
      create: (index) => api.request(url, { method: 'POST', body: JSON.stringify(body(name(index))) }),
      'merge patch': (index) => api.request(`${url}/${name(index)}`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ metadata: { labels: { round: String(index) } } }) }),
      'server-side apply': (index) =>
        api.request(`${url}/${name(index)}?fieldManager=cost-test&force=true`, { method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' }, body: JSON.stringify({ ...body(name(index)), metadata: { name: name(index), labels: { applied: 'yes' } } }) }),
      get: (index) => api.request(`${url}/${name(index)}`),
      delete: (index) => api.request(`${url}/${name(index)}`, { method: 'DELETE' }),
    };
    const measured: Record<string, Costs> = {};
    for (const [verb, send] of Object.entries(verbs)) {
      const before = await counters();
      for (let index = 0; index < N; index++) {
        const response = await send(index);
        expect(response.status).toBeLessThan(300);
      }
      const after = await counters();
      measured[verb] = Object.fromEntries(
        Object.keys(after)
          .map((key) => [key, Math.round((after[key] - (before[key] ?? 0)) / N)] as const)
          .filter(([, perRequest]) => perRequest !== 0),
      );
    }
    expect(measured).toEqual(EXPECTED);
  }, 120_000);
});
