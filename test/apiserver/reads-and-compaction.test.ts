// Lists come from the watch cache — and are still consistent: a list right after a write sees it, and an
// unserveable future resourceVersion is refused rather than answered with stale data. Continued pages and
// exact reads go to storage. Storage history is compacted on an interval; watchers behind it get 410.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient } from '../env/http.ts';
import { waitFor } from '../env/process.ts';

const NS = 'reads';
const VPCS = `/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/vpcs`;
const vpc = (name: string) => JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name }, spec: { cidrBlocks: ['10.0.0.0/16'] } });

describe('reads from the watch cache, and compaction', () => {
  let env: TestApiServer;
  let api: ApiClient;
  let other: ApiClient;

  const storageLists = async () => {
    const text = (await api.request('/metrics')).text;
    const line = text.split('\n').find((candidate) => candidate.startsWith('apiserver_storage_request_duration_seconds_count{operation="list"}'));
    return Number(line?.split(' ').pop() ?? 0);
  };

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd', overrides: { compactionIntervalSeconds: 1, compactionPollMs: 200 } });
    api = new ApiClient(env);
    other = new ApiClient(env);
    await api.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }) });
  });
  afterAll(async () => {
    api?.close();
    other?.close();
    await env?.stop();
  });

  it('serves lists without reading storage, and every list sees every write acknowledged before it', async () => {
    const before = await storageLists();
    for (let index = 0; index < 30; index++) {
      const created = await api.request(VPCS, { method: 'POST', body: vpc(`v${index}`) });
      expect(created.status).toBe(201);
      // Another connection, at once: a consistent read must include what was just written.
      const list = (await other.request(VPCS)).json();
      expect(list.items.map((item: { metadata: { name: string } }) => item.metadata.name)).toContain(`v${index}`);
      expect(Number(list.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(created.json().metadata.resourceVersion));
    }
    expect(await storageLists()).toBe(before);
    // The second page comes from storage, at the first page's revision.
    const first = (await api.request(`${VPCS}?limit=10`)).json();
    expect(await storageLists()).toBe(before);
    const second = (await api.request(`${VPCS}?limit=10&continue=${first.metadata.continue}`)).json();
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect(await storageLists()).toBeGreaterThan(before);
    expect([...first.items, ...second.items].map((item: { metadata: { name: string } }) => item.metadata.name)).toHaveLength(20);
  });

  it('answers a get or list at a resourceVersion from the cache, and refuses one from the future', async () => {
    const created = (await api.request(VPCS, { method: 'POST', body: vpc('cached') })).json();
    const get = await api.request(`${VPCS}/cached?resourceVersion=${created.metadata.resourceVersion}`);
    expect(get.json().metadata.uid).toBe(created.metadata.uid);
    const future = Number(created.metadata.resourceVersion) + 100_000;
    const tooNew = await api.request(`${VPCS}?resourceVersion=${future}`);
    expect(tooNew.status).toBe(504);
    expect(tooNew.json()).toMatchObject({ reason: 'Timeout', details: { causes: [{ reason: 'ResourceVersionTooLarge' }], retryAfterSeconds: 1 } });
  });

  it('compacts history on its interval; a watch from before the compaction gets 410', async () => {
    const early = (await api.request(VPCS, { method: 'POST', body: vpc('early') })).json();
    for (let index = 0; index < 5; index++) await api.request(`${VPCS}/early`, { method: 'PATCH', body: JSON.stringify({ metadata: { labels: { n: String(index) } } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    await waitFor('compaction past the early revision', async () => (await env.server.store.compactedRevision()) > Number(early.metadata.resourceVersion), { timeoutMs: 15_000, intervalMs: 200 });
    await waitFor('the cache to follow', () => env.server.cache.oldestRevision > Number(early.metadata.resourceVersion), { timeoutMs: 5000 });
    const stream = api.watch(`${VPCS}?watch=true&resourceVersion=${early.metadata.resourceVersion}`);
    await waitFor('410', () => stream.ended && stream.events.length === 1);
    expect(stream.events[0].object).toMatchObject({ code: 410, reason: 'Expired' });
    // Current data is intact.
    expect((await api.request(`${VPCS}/early`)).json().metadata.labels).toEqual({ n: '4' });
  });
});
