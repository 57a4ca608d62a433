// Watch semantics on real etcd: initial events, resuming, bookmarks, timeouts, 410 Expired after
// compaction, selector transitions, sendInitialEvents, Table events — and a thousand watchers served by a
// single storage watch.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient, type WatchStream } from '../env/http.ts';
import { waitFor } from '../env/process.ts';

const base = (namespace: string) => `/apis/network.photoncloud.io/v1alpha1/namespaces/${namespace}/vpcs`;
const vpc = (name: string, labels: Record<string, string> = {}) => JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, labels }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
const merge = { 'Content-Type': 'application/merge-patch+json' };

describe('watch', () => {
  let env: TestApiServer;
  let api: ApiClient;
  const streams: WatchStream[] = [];
  const watch = (path: string, headers?: Record<string, string>) => {
    const stream = api.watch(path, { headers });
    streams.push(stream);
    return stream;
  };
  const namespace = async (name: string) => {
    const result = await api.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) });
    expect(result.status).toBe(201);
  };
  const create = async (namespaceName: string, name: string, labels?: Record<string, string>) => {
    const result = await api.request(base(namespaceName), { method: 'POST', body: vpc(name, labels) });
    expect(result.status).toBe(201);
    return result.json();
  };
  const metric = async (name: string) => {
    const text = (await api.request('/metrics')).text;
    return text
      .split('\n')
      .filter((line) => line.startsWith(name) && !line.startsWith('#'))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  };
  const types = (stream: WatchStream) => stream.events.map((event) => `${event.type} ${event.object.metadata?.name ?? ''}`.trim());

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd', overrides: { compactionPollMs: 200 } });
    api = new ApiClient(env);
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    api?.close();
    await env?.stop();
  });

  it('starts with ADDED for what exists when no resourceVersion is given, then streams changes', async () => {
    await namespace('w-initial');
    await create('w-initial', 'a');
    await create('w-initial', 'b');
    const stream = watch(`${base('w-initial')}?watch=true`);
    await waitFor('initial events', () => stream.events.length >= 2);
    expect(stream.status).toBe(200);
    expect(types(stream)).toEqual(['ADDED a', 'ADDED b']);
    await api.request(`${base('w-initial')}/a`, { method: 'PATCH', body: '{"metadata":{"labels":{"x":"y"}}}', headers: merge });
    await api.request(`${base('w-initial')}/b`, { method: 'DELETE' });
    await waitFor('changes', () => stream.events.length >= 4);
    expect(types(stream)).toEqual(['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
    const deleted = stream.events[3].object;
    expect(Number(deleted.metadata.resourceVersion)).toBeGreaterThan(Number(stream.events[2].object.metadata.resourceVersion));
  });

  it('resumes from a resourceVersion with exactly the later changes', async () => {
    await namespace('w-resume');
    const first = await create('w-resume', 'one');
    await create('w-resume', 'two');
    await api.request(`${base('w-resume')}/one`, { method: 'DELETE' });
    const stream = watch(`${base('w-resume')}?watch=true&resourceVersion=${first.metadata.resourceVersion}`);
    await waitFor('replayed events', () => stream.events.length >= 2);
    expect(types(stream)).toEqual(['ADDED two', 'DELETED one']);
  });

  it('sends bookmarks when asked and ends after timeoutSeconds', async () => {
    await namespace('w-bookmark');
    const created = await create('w-bookmark', 'x');
    const stream = watch(`${base('w-bookmark')}?watch=true&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=${created.metadata.resourceVersion}`);
    await waitFor('a bookmark', () => stream.events.some((event) => event.type === 'BOOKMARK'));
    const bookmark = stream.events.find((event) => event.type === 'BOOKMARK')!;
    expect(bookmark.object).toMatchObject({ kind: 'Vpc', apiVersion: 'network.photoncloud.io/v1alpha1' });
    expect(Number(bookmark.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(created.metadata.resourceVersion));
    await waitFor('timeout', () => stream.ended, { timeoutMs: 10_000 });
  });

  it('answers a resourceVersion that was compacted away with 410 Expired', async () => {
    await namespace('w-expired');
    const created = await create('w-expired', 'old');
    await create('w-expired', 'new');
    await env.server.store.compact(await env.server.store.currentRevision());
    await waitFor('server notices compaction', async () => {
      const probe = watch(`${base('w-expired')}?watch=true&resourceVersion=${created.metadata.resourceVersion}`);
      await waitFor('probe answer', () => probe.events.length > 0 || probe.ended, { timeoutMs: 5000 });
      probe.close();
      return probe.events[0]?.type === 'ERROR' ? probe : undefined;
    });
    const stream = watch(`${base('w-expired')}?watch=true&resourceVersion=${created.metadata.resourceVersion}`);
    await waitFor('error event and end', () => stream.ended && stream.events.length === 1);
    expect(stream.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', status: 'Failure' } });
    // A list at the compacted revision is refused the same way.
    const list = await api.request(`${base('w-expired')}?resourceVersion=${created.metadata.resourceVersion}&resourceVersionMatch=Exact`);
    expect(list.status).toBe(410);
  });

  it('turns selector transitions into ADDED and DELETED', async () => {
    await namespace('w-select');
    const stream = watch(`${base('w-select')}?watch=true&labelSelector=team%3Da`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await create('w-select', 'sel', { team: 'a' });
    await create('w-select', 'other', { team: 'b' });
    await api.request(`${base('w-select')}/sel`, { method: 'PATCH', body: '{"metadata":{"labels":{"team":"b"}}}', headers: merge });
    await api.request(`${base('w-select')}/other`, { method: 'PATCH', body: '{"metadata":{"labels":{"team":"a"}}}', headers: merge });
    await api.request(`${base('w-select')}/other`, { method: 'DELETE' });
    await waitFor('transitions', () => stream.events.length >= 4);
    expect(types(stream)).toEqual(['ADDED sel', 'DELETED sel', 'ADDED other', 'DELETED other']);
  });

  it('honours sendInitialEvents with an initial-events-end bookmark, and Table events', async () => {
    await namespace('w-list');
    await create('w-list', 'i1');
    const stream = watch(`${base('w-list')}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    await waitFor('initial events end', () => stream.events.some((event) => event.type === 'BOOKMARK'));
    expect(stream.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'i1' } } });
    expect(stream.events[1]).toMatchObject({ type: 'BOOKMARK', object: { metadata: { annotations: { 'k8s.io/initial-events-end': 'true' } } } });
    const table = watch(`${base('w-list')}?watch=true`, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    await waitFor('table event', () => table.events.length >= 1);
    expect(table.events[0].object).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1' });
    expect(table.events[0].object.rows).toHaveLength(1);
    expect(table.events[0].object.rows[0].cells[0]).toBe('i1');
    expect(table.events[0].object.columnDefinitions.map((column: { name: string }) => column.name)).toEqual(['Name', 'CIDRs', 'Subnets', 'Reason', 'Deleting', 'Ready', 'Age']);
  });

  it('serves a thousand watchers from a single storage watch', async () => {
    await namespace('w-many');
    const before = await metric('apiserver_longrunning_requests');
    const many = Array.from({ length: 1000 }, () => watch(`${base('w-many')}?watch=true`));
    await waitFor('1000 open watches', async () => (await metric('apiserver_longrunning_requests')) - before >= 1000, { timeoutMs: 60_000, intervalMs: 250 });
    expect(await metric('apiserver_storage_watches')).toBe(1);
    await create('w-many', 'broadcast');
    await waitFor('every watcher got the event', () => many.every((stream) => stream.events.some((event) => event.type === 'ADDED' && event.object.metadata.name === 'broadcast')), { timeoutMs: 30_000 });
    for (const stream of many) stream.close();
    await waitFor('watches closed', async () => (await metric('apiserver_longrunning_requests')) <= before, { timeoutMs: 30_000, intervalMs: 250 });
  });
});
