import { afterEach, describe, expect, it, jest } from '@jest/globals';
import winston from 'winston';
import { StorageError, type KeyValue, type ListOptions, type ListResult, type Store, type WatchEvent, type WatchHandle, type WatchHandler } from '../storage/types.ts';
import { ExpiredError, resourcePrefixOf, WatchCache, type CacheEvent, type WatcherSink } from './cache.ts';

/**
 * A tiny in-memory store with only what the watch cache calls (list, watch, compactedRevision); writes go
 * through put/remove, which deliver watch events synchronously.
 */
class FakeStore {
  readonly backend = 'embedded' as const;
  revision = 0;
  compacted = 0;
  listCalls = 0;
  readonly data = new Map<string, KeyValue>();
  readonly handlers = new Set<WatchHandler>();
  /** Set to make the next list fail (re-initialisation retry). */
  failNextList = false;

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.listCalls++;
    if (this.failNextList) {
      this.failNextList = false;
      throw new StorageError('Unavailable', 'store is down');
    }
    const keys = [...this.data.keys()].filter((key) => key.startsWith(prefix) && (options.startAfter === undefined || key > options.startAfter)).sort();
    const limit = options.limit || keys.length;
    const page = keys.slice(0, limit);
    return { items: page.map((key) => this.data.get(key)!), revision: options.revision ?? this.revision, more: keys.length > page.length };
  }

  watch(prefix: string, afterRevision: number, handler: WatchHandler): WatchHandle {
    void prefix;
    void afterRevision;
    this.handlers.add(handler);
    return { close: () => this.handlers.delete(handler) };
  }

  async compactedRevision(): Promise<number> {
    return this.compacted;
  }

  /** Writes without telling watchers (state before the cache starts). */
  seed(key: string, object: unknown): KeyValue {
    const kv = { key, value: Buffer.from(JSON.stringify(object)), createRevision: ++this.revision, modRevision: this.revision };
    kv.createRevision = this.data.get(key)?.createRevision ?? kv.createRevision;
    this.data.set(key, kv);
    return kv;
  }

  put(key: string, object: unknown, options: { withPrev?: boolean } = {}): WatchEvent {
    const previous = this.data.get(key);
    const kv = this.seed(key, object);
    const event: WatchEvent = { type: 'put', key, modRevision: kv.modRevision, value: kv.value, createRevision: kv.createRevision };
    if (previous && options.withPrev !== false) Object.assign(event, { prevValue: previous.value, prevModRevision: previous.modRevision });
    this.emit([event]);
    return event;
  }

  remove(key: string, options: { withPrev?: boolean } = {}): WatchEvent {
    const previous = this.data.get(key)!;
    this.data.delete(key);
    const event: WatchEvent = { type: 'delete', key, modRevision: ++this.revision };
    if (options.withPrev !== false) Object.assign(event, { prevValue: previous.value, prevModRevision: previous.modRevision });
    this.emit([event]);
    return event;
  }

  emit(events: WatchEvent[]): void {
    for (const handler of [...this.handlers]) handler.onEvents(events);
  }

  fail(error: StorageError): void {
    for (const handler of [...this.handlers]) handler.onError(error);
  }
}

const silent = winston.createLogger({ silent: true });
const VPCS = '/registry/network.photoncloud.io/vpcs/';
const SUBNETS = '/registry/network.photoncloud.io/subnets/';

const vpc = (namespace: string, name: string, spec: Record<string, unknown> = {}) => ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, namespace }, spec });

class RecordingSink implements WatcherSink {
  readonly events: CacheEvent[] = [];
  readonly terminations: string[] = [];
  constructor(readonly keyPrefix: string) {}
  onEvent(event: CacheEvent): void {
    this.events.push(event);
  }
  onTerminate(reason: string): void {
    this.terminations.push(reason);
  }
  summary() {
    return this.events.map((event) => [event.type, event.key, event.object.metadata.resourceVersion]);
  }
}

async function startedCache(store: FakeStore, capacity?: number): Promise<WatchCache> {
  const cache = new WatchCache(store as unknown as Store, { capacity, logger: silent });
  await cache.start();
  return cache;
}


describe('resourcePrefixOf', () => {
  it('keeps /registry/<group>/<plural>/ of a key or prefix', () => {
    expect(resourcePrefixOf(`${VPCS}prod/main`)).toBe(VPCS);
    expect(resourcePrefixOf(VPCS)).toBe(VPCS);
    expect(resourcePrefixOf('/registry/core/namespaces/prod')).toBe('/registry/core/namespaces/');
    expect(resourcePrefixOf('/registry/compacted')).toBeUndefined();
    expect(resourcePrefixOf('/other/a/b/c')).toBeUndefined();
  });
});

describe('WatchCache', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('starts from a full list: objects per resource, sorted, with resourceVersion = modRevision', async () => {
    const store = new FakeStore();
    store.seed(`${VPCS}prod/b`, vpc('prod', 'b'));
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a'));
    store.seed(`${VPCS}dev/c`, vpc('dev', 'c'));
    store.seed(`${SUBNETS}prod/s`, { metadata: { name: 's' } });
    store.seed('/registry/not-a-resource', { metadata: {} });
    store.data.set(`${VPCS}prod/broken`, { key: `${VPCS}prod/broken`, value: Buffer.from('{not json'), createRevision: 6, modRevision: 6 });
    store.revision = 6;
    const cache = await startedCache(store);
    expect(cache.ready).toBe(true);
    expect(await cache.waitUntilReady(10)).toBe(true);
    expect(cache.revision).toBe(6);
    expect(cache.oldestRevision).toBe(6);
    expect(cache.list(VPCS).map((entry) => [entry.object.metadata.name, entry.revision, entry.object.metadata.resourceVersion])).toEqual([
      ['c', 3, '3'],
      ['a', 2, '2'],
      ['b', 1, '1'],
    ]);
    expect(cache.list(`${VPCS}prod/`).map((entry) => entry.object.metadata.name)).toEqual(['a', 'b']);
    expect(cache.get(`${VPCS}prod/a`)?.object.metadata.name).toBe('a');
    expect(cache.get(`${VPCS}prod/broken`)).toBeUndefined();
    expect(cache.count(VPCS)).toBe(3);
    expect(cache.count(SUBNETS)).toBe(1);
    expect(cache.list('/registry/network.photoncloud.io/ports/')).toEqual([]);
    cache.stop();
  });

  it('keeps lists in key order as keys come and go, within a namespace too, and reads a page lazily', async () => {
    const store = new FakeStore();
    for (const name of ['b', 'd']) store.seed(`${VPCS}prod/${name}`, vpc('prod', name));
    store.seed(`${VPCS}dev/z`, vpc('dev', 'z'));
    const cache = await startedCache(store);
    const names = (prefix: string) => cache.list(prefix).map((entry) => `${entry.object.metadata.namespace}/${entry.object.metadata.name}`);
    expect(names(VPCS)).toEqual(['dev/z', 'prod/b', 'prod/d']);
    store.put(`${VPCS}prod/c`, vpc('prod', 'c'));
    store.put(`${VPCS}prod/a`, vpc('prod', 'a'));
    store.put(`${VPCS}pro/x`, vpc('pro', 'x')); // a namespace whose name is a prefix of another's
    expect(names(VPCS)).toEqual(['dev/z', 'pro/x', 'prod/a', 'prod/b', 'prod/c', 'prod/d']);
    expect(names(`${VPCS}prod/`)).toEqual(['prod/a', 'prod/b', 'prod/c', 'prod/d']);
    store.remove(`${VPCS}prod/b`);
    store.put(`${VPCS}prod/c`, vpc('prod', 'c', { changed: true })); // a modification keeps its place
    expect(names(`${VPCS}prod/`)).toEqual(['prod/a', 'prod/c', 'prod/d']);
    expect(cache.list(`${VPCS}prod/c`)[0]!.object.spec).toEqual({ changed: true });
    expect(names(`${VPCS}zz/`)).toEqual([]);
    // A page takes what it reads: the walk stops where the reader stops.
    const walk = cache.entries(VPCS);
    expect(walk.next().value?.object.metadata.name).toBe('z');
    expect(walk.next().value?.object.metadata.name).toBe('x');
    cache.stop();
  });

  it('pages through large stores', async () => {
    const store = new FakeStore();
    for (let index = 0; index < 1005; index++) store.seed(`${VPCS}ns/vpc-${String(index).padStart(4, '0')}`, vpc('ns', `vpc-${index}`));
    const cache = await startedCache(store);
    expect(cache.count(VPCS)).toBe(1005);
    expect(store.listCalls).toBe(2);
    cache.stop();
  });

  it('applies events and dispatches each to the sinks whose key prefix covers it', async () => {
    const store = new FakeStore();
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a'));
    const cache = await startedCache(store);
    const all = new RecordingSink(VPCS);
    const prod = new RecordingSink(`${VPCS}prod/`);
    const one = new RecordingSink(`${VPCS}prod/a`);
    const subnets = new RecordingSink(SUBNETS);
    for (const sink of [all, prod, one, subnets]) expect(cache.watch(sink, cache.revision).initial).toEqual([]);
    expect(cache.watcherCount()).toBe(4);

    store.put(`${VPCS}dev/x`, vpc('dev', 'x')); // 2
    store.put(`${VPCS}prod/a`, vpc('prod', 'a', { cidr: '10.0.0.0/8' })); // 3
    store.put(`${SUBNETS}prod/s`, { metadata: { name: 's' } }); // 4

    expect(all.summary()).toEqual([['ADDED', `${VPCS}dev/x`, '2'], ['MODIFIED', `${VPCS}prod/a`, '3']]);
    expect(prod.summary()).toEqual([['MODIFIED', `${VPCS}prod/a`, '3']]);
    expect(one.summary()).toEqual([['MODIFIED', `${VPCS}prod/a`, '3']]);
    expect(subnets.summary()).toEqual([['ADDED', `${SUBNETS}prod/s`, '4']]);

    const modified = prod.events[0];
    expect(modified.revision).toBe(3);
    expect(modified.object.spec).toEqual({ cidr: '10.0.0.0/8' });
    expect(modified.prevObject?.spec).toEqual({});
    expect(modified.prevObject?.metadata.resourceVersion).toBe('1');
    expect(all.events[0].prevObject).toBeUndefined();

    expect(cache.revision).toBe(4);
    expect(cache.get(`${VPCS}prod/a`)?.object.spec).toEqual({ cidr: '10.0.0.0/8' });
    expect(cache.get(`${VPCS}dev/x`)?.revision).toBe(2);
    cache.stop();
  });

  it('DELETED events carry the last object with the deletion\'s resourceVersion', async () => {
    const store = new FakeStore();
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a', { cidr: '10.0.0.0/8' }));
    const cache = await startedCache(store);
    const sink = new RecordingSink(VPCS);
    cache.watch(sink, cache.revision);
    store.remove(`${VPCS}prod/a`); // 2
    expect(sink.events).toHaveLength(1);
    const [deleted] = sink.events;
    expect(deleted.type).toBe('DELETED');
    expect(deleted.revision).toBe(2);
    expect(deleted.object.metadata).toEqual({ name: 'a', namespace: 'prod', resourceVersion: '2' });
    expect(deleted.object.spec).toEqual({ cidr: '10.0.0.0/8' });
    expect(deleted.prevObject?.metadata.resourceVersion).toBe('1');
    expect(cache.get(`${VPCS}prod/a`)).toBeUndefined();
    expect(cache.list(VPCS)).toEqual([]);
    cache.stop();
  });

  it('uses its own copy when the store has no previous value (after compaction)', async () => {
    const store = new FakeStore();
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a', { v: 1 }));
    store.seed(`${VPCS}prod/b`, vpc('prod', 'b'));
    const cache = await startedCache(store);
    const sink = new RecordingSink(VPCS);
    cache.watch(sink, cache.revision);

    store.put(`${VPCS}prod/a`, vpc('prod', 'a', { v: 2 }), { withPrev: false }); // 3
    expect(sink.events[0].type).toBe('MODIFIED');
    expect(sink.events[0].prevObject?.spec).toEqual({ v: 1 });

    store.remove(`${VPCS}prod/b`, { withPrev: false }); // 4
    expect(sink.events).toHaveLength(2);
    expect(sink.events[1].type).toBe('DELETED');
    expect(sink.events[1].object.metadata).toEqual({ name: 'b', namespace: 'prod', resourceVersion: '4' });
    expect(cache.get(`${VPCS}prod/b`)).toBeUndefined();
    expect(cache.list(VPCS).map((entry) => entry.object.metadata.name)).toEqual(['a']);
    expect(cache.revision).toBe(4);
    cache.stop();
  });

  it('ignores deletions of keys it never held, and events already reflected in the list', async () => {
    const store = new FakeStore();
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a'));
    const cache = await startedCache(store);
    const sink = new RecordingSink(VPCS);
    cache.watch(sink, cache.revision);
    store.emit([{ type: 'put', key: `${VPCS}prod/a`, modRevision: 1, value: Buffer.from(JSON.stringify(vpc('prod', 'a', { stale: true }))) }]);
    store.emit([{ type: 'delete', key: `${VPCS}prod/ghost`, modRevision: 2 }]);
    expect(sink.events).toEqual([]);
    expect(cache.get(`${VPCS}prod/a`)?.object.spec).toEqual({});
    expect(cache.revision).toBe(2);
    cache.stop();
  });

  it('without a revision, a watcher gets the current objects as ADDED first', async () => {
    const store = new FakeStore();
    store.seed(`${VPCS}prod/b`, vpc('prod', 'b'));
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a'));
    store.seed(`${VPCS}dev/c`, vpc('dev', 'c'));
    const cache = await startedCache(store);
    const { initial, revision } = cache.watch(new RecordingSink(`${VPCS}prod/`), undefined);
    expect(revision).toBe(3);
    expect(initial.map((event) => [event.type, event.object.metadata.name, event.revision])).toEqual([['ADDED', 'a', 2], ['ADDED', 'b', 1]]);
    cache.stop();
  });

  it('replays buffered events after a revision, filtered by the sink prefix, then goes on live', async () => {
    const store = new FakeStore();
    const cache = await startedCache(store);
    store.put(`${VPCS}prod/a`, vpc('prod', 'a')); // 1
    store.put(`${VPCS}dev/b`, vpc('dev', 'b')); // 2
    store.put(`${VPCS}prod/a`, vpc('prod', 'a', { v: 2 })); // 3
    store.remove(`${VPCS}dev/b`); // 4
    store.put(`${SUBNETS}prod/s`, { metadata: { name: 's' } }); // 5

    const all = new RecordingSink(VPCS);
    const replay = cache.watch(all, 1);
    expect(replay.revision).toBe(5);
    expect(replay.initial.map((event) => [event.type, event.key, event.revision])).toEqual([
      ['ADDED', `${VPCS}dev/b`, 2],
      ['MODIFIED', `${VPCS}prod/a`, 3],
      ['DELETED', `${VPCS}dev/b`, 4],
    ]);
    expect(cache.watch(new RecordingSink(`${VPCS}prod/`), 0).initial.map((event) => event.revision)).toEqual([1, 3]);
    expect(cache.watch(new RecordingSink(VPCS), 5).initial).toEqual([]);

    store.put(`${VPCS}prod/c`, vpc('prod', 'c')); // 6
    expect(all.summary()).toEqual([['ADDED', `${VPCS}prod/c`, '6']]);
    cache.stop();
  });

  it('refuses revisions older than the window with ExpiredError', async () => {
    const store = new FakeStore();
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a'));
    store.seed(`${VPCS}prod/b`, vpc('prod', 'b'));
    const cache = await startedCache(store);
    expect(cache.oldestRevision).toBe(2);
    expect(() => cache.watch(new RecordingSink(VPCS), 1)).toThrow(ExpiredError);
    expect(() => cache.watch(new RecordingSink(VPCS), 1)).toThrow('too old resource version: 1 (2)');
    expect(cache.watch(new RecordingSink(VPCS), 2).initial).toEqual([]);
    expect(cache.watcherCount()).toBe(1);
    cache.stop();
  });

  it('refuses sinks that do not address a resource', async () => {
    const cache = await startedCache(new FakeStore());
    expect(() => cache.watch(new RecordingSink('/registry/'), undefined)).toThrow('not a resource key prefix: /registry/');
    cache.stop();
  });

  it('compactedTo moves the window up (never past the cache revision, never down) and drops old events', async () => {
    const store = new FakeStore();
    const cache = await startedCache(store);
    for (let index = 1; index <= 5; index++) store.put(`${VPCS}prod/v${index}`, vpc('prod', `v${index}`));
    cache.compactedTo(3);
    expect(cache.oldestRevision).toBe(3);
    expect(() => cache.watch(new RecordingSink(VPCS), 2)).toThrow(ExpiredError);
    expect(cache.watch(new RecordingSink(VPCS), 3).initial.map((event) => event.revision)).toEqual([4, 5]);
    cache.compactedTo(1);
    expect(cache.oldestRevision).toBe(3);
    cache.compactedTo(50);
    expect(cache.oldestRevision).toBe(5);
    expect(cache.watch(new RecordingSink(VPCS), 5).initial).toEqual([]);
    // The objects themselves stay.
    expect(cache.count(VPCS)).toBe(5);
    cache.stop();
  });

  it('evicts the oldest events beyond its capacity and moves oldestRevision with them', async () => {
    const store = new FakeStore();
    const cache = await startedCache(store, 3);
    for (let index = 1; index <= 5; index++) store.put(`${VPCS}prod/v${index}`, vpc('prod', `v${index}`));
    expect(cache.oldestRevision).toBe(2);
    expect(() => cache.watch(new RecordingSink(VPCS), 1)).toThrow(ExpiredError);
    expect(cache.watch(new RecordingSink(VPCS), 2).initial.map((event) => event.revision)).toEqual([3, 4, 5]);
    store.emit([
      { type: 'put', key: `${VPCS}prod/v6`, modRevision: 6, value: Buffer.from(JSON.stringify(vpc('prod', 'v6'))) },
      { type: 'put', key: `${VPCS}prod/v7`, modRevision: 7, value: Buffer.from(JSON.stringify(vpc('prod', 'v7'))) },
    ]);
    expect(cache.oldestRevision).toBe(4);
    expect(cache.watch(new RecordingSink(VPCS), 4).initial.map((event) => event.revision)).toEqual([5, 6, 7]);
    cache.stop();
  });

  it('cancelled registrations get nothing more', async () => {
    const store = new FakeStore();
    const cache = await startedCache(store);
    const sink = new RecordingSink(VPCS);
    const { registration } = cache.watch(sink, 0);
    store.put(`${VPCS}prod/a`, vpc('prod', 'a'));
    registration.cancel();
    store.put(`${VPCS}prod/b`, vpc('prod', 'b'));
    expect(sink.events).toHaveLength(1);
    expect(cache.watcherCount()).toBe(0);
    cache.stop();
  });

  it('when the storage watch fails, terminates every sink and re-initialises from a fresh list', async () => {
    jest.useFakeTimers();
    const store = new FakeStore();
    store.seed(`${VPCS}prod/a`, vpc('prod', 'a'));
    const cache = await startedCache(store);
    const first = new RecordingSink(VPCS);
    const second = new RecordingSink(SUBNETS);
    cache.watch(first, 1);
    cache.watch(second, undefined);
    expect(store.handlers.size).toBe(1);

    store.seed(`${VPCS}prod/b`, vpc('prod', 'b')); // 2: written while the storage watch is broken
    store.failNextList = true; // the first attempt to relist fails too, and is retried
    store.fail(new StorageError('Compacted', 'revision 1 has been compacted', 1));
    expect(first.terminations).toEqual(['the watch cache is re-initialising']);
    expect(second.terminations).toEqual(['the watch cache is re-initialising']);
    expect(cache.watcherCount()).toBe(0);
    expect(cache.ready).toBe(false);
    expect(store.handlers.size).toBe(0);

    await jest.advanceTimersByTimeAsync(100); // first attempt: its list fails
    expect(store.listCalls).toBe(2);
    expect(cache.ready).toBe(false);
    await jest.advanceTimersByTimeAsync(1000); // retried a second later
    expect(store.listCalls).toBe(3);
    expect(cache.ready).toBe(true);
    expect(store.handlers.size).toBe(1);
    expect(cache.revision).toBe(2);
    expect(cache.oldestRevision).toBe(2);
    expect(cache.list(VPCS).map((entry) => entry.object.metadata.name)).toEqual(['a', 'b']);
    expect(() => cache.watch(new RecordingSink(VPCS), 1)).toThrow(ExpiredError);
    const again = new RecordingSink(VPCS);
    cache.watch(again, 2);
    store.put(`${VPCS}prod/c`, vpc('prod', 'c'));
    expect(again.summary()).toEqual([['ADDED', `${VPCS}prod/c`, '3']]);
    expect(first.events).toEqual([]);
    cache.stop();
  });

  it('stop terminates the sinks, closes the storage watch and does not restart', async () => {
    jest.useFakeTimers();
    const store = new FakeStore();
    const cache = await startedCache(store);
    const sink = new RecordingSink(VPCS);
    cache.watch(sink, undefined);
    cache.stop();
    expect(sink.terminations).toEqual(['the API server is shutting down']);
    expect(store.handlers.size).toBe(0);
    expect(cache.watcherCount()).toBe(0);
    store.fail(new StorageError('Unavailable', 'late error after stop'));
    await jest.advanceTimersByTimeAsync(5000);
    expect(store.listCalls).toBe(1);
  });

  it('waitUntilReady gives up after its timeout when the cache never gets ready', async () => {
    const cache = new WatchCache(new FakeStore() as unknown as Store, { logger: silent });
    expect(await cache.waitUntilReady(5)).toBe(false);
  });
});
