// The etcd backend against a real etcd 3.4 (one per file): the conformance suite, then what only a
// networked backend has — namespaces, outages and reconnects.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { describeStoreConformance, record, settle, type Recorder } from './conformance.ts';
import { openEtcdStore } from '../../apiserver/storage/etcd.ts';
import { isStorageError, type KeyValue, type Store } from '../../apiserver/storage/types.ts';
import { startEtcd, type EtcdInstance } from '../env/etcd.ts';
import { freePort } from '../env/ports.ts';
import { waitFor } from '../env/process.ts';

let etcd: EtcdInstance;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

/** Waits until the store answers again (after etcd restarted, the first requests may still fail). */
async function reachable(store: Store): Promise<void> {
  await waitFor('the store to reach etcd', () => store.currentRevision().then(() => true), { timeoutMs: 20_000, intervalMs: 50 });
}

describeStoreConformance('etcd', async () => {
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/conformance-namespace' });
  return {
    store,
    restart: async () => {
      await etcd.restart();
      await reachable(store);
      return store;
    },
    cleanup: () => store.close(),
  };
});

describe('etcd store', () => {
  const stores: Store[] = [];
  const open = async (options: { prefix: string; watchRetryTimeoutMs?: number; dialTimeoutMs?: number }) => {
    const store = await openEtcdStore({ endpoints: [etcd.endpoint], ...options });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
  });

  it('keeps namespaces (the prefix option) apart', async () => {
    const one = await open({ prefix: '/ns-one' });
    const two = await open({ prefix: '/ns-two' });
    await one.create('/registry/a', Buffer.from('one'));
    expect(await two.get('/registry/a')).toBeNull();
    expect(await two.count('')).toBe(0);
    expect((await one.list('')).items.map((kv) => kv.key)).toEqual(['/registry/a']);
    await two.create('/registry/a', Buffer.from('two'));
    expect((await one.get('/registry/a'))?.value.toString()).toBe('one');
  });

  it('rejects with Unavailable when etcd cannot be reached', async () => {
    const port = await freePort();
    const error = await openEtcdStore({ endpoints: [`http://127.0.0.1:${port}`], dialTimeoutMs: 1000 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(isStorageError(error, 'Unavailable')).toBe(true);
  });

  it('resumes watches across etcd restarts: writes before, during and after outages arrive exactly once, in order', async () => {
    const store = await open({ prefix: '/restarts' });
    const start = await store.currentRevision();
    const live = record(store, '/r', start);
    const writer = writeSequentially(store, '/r', 120);
    try {
      await waitFor('the first writes', () => writer.done >= 30, { timeoutMs: 20_000 });
      await etcd.restart({ crash: true });
      await waitFor('writes after the crash', () => writer.done >= 70, { timeoutMs: 30_000 });
      await etcd.restart();
      const written = await writer.finished;

      // A watch started afterwards from the same revision must tell the same story (from history).
      const late = record(store, '/r', start);
      const expected = written.map((kv) => ({ key: kv.key, modRevision: kv.modRevision }));
      for (const watch of [live, late]) {
        const events = await settle(store, watch, '/r');
        expect(events.map((event) => ({ key: event.key, modRevision: event.modRevision }))).toEqual(expected);
      }
      late.close();
    } finally {
      live.close();
      writer.stop();
    }
  });

  it('ends a watch with Unavailable when etcd stays away, and fails requests with Unavailable', async () => {
    const store = await open({ prefix: '/outage', watchRetryTimeoutMs: 1500, dialTimeoutMs: 1000 });
    const watch: Recorder = record(store, '/o', await store.currentRevision());
    await store.create('/o/a', Buffer.from('1'));
    await waitFor('the first event', () => watch.events.length === 1);
    await etcd.process.kill();
    try {
      await waitFor('the watch to give up', () => watch.errors.length > 0, { timeoutMs: 20_000 });
      expect(watch.errors.map((error) => error.code)).toEqual(['Unavailable']);
      for (const request of [store.get('/o/a'), store.create('/o/b', Buffer.from('2')), store.list('/o'), store.currentRevision()]) {
        const error = await request.then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(isStorageError(error, 'Unavailable')).toBe(true);
      }
    } finally {
      await etcd.restart();
    }
    await reachable(store);
    expect((await store.get('/o/a'))?.value.toString()).toBe('1');
  });
});

describe('etcd store: watch progress', () => {
  const stores: Store[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
  });

  it('answers progress requests across etcd restarts, including one made while etcd is down', async () => {
    const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/progress-restarts' });
    stores.push(store);
    const watch = record(store, '/in', await store.currentRevision());
    try {
      const a = await store.create('/in/a', Buffer.from('1'));
      await store.create('/out/a', Buffer.from('1'));
      expect((await watch.progressTo(await store.currentRevision())).delivered).toEqual([a.modRevision]);

      // Asked just before etcd dies (the answer may be lost with the stream) and again while it is down.
      const before = await store.currentRevision();
      const seen = watch.progress.length;
      watch.requestProgress();
      await etcd.restart({ crash: true });
      await reachable(store);
      await waitFor('an answer after the restart', () => watch.progress.slice(seen).some((progress) => progress.revision >= before), {
        timeoutMs: 20_000,
      });
      await etcd.process.kill();
      const seenDown = watch.progress.length;
      watch.requestProgress();
      await etcd.restart();
      await reachable(store);
      await waitFor('the answer to the request made while etcd was down', () => watch.progress.length > seenDown, { timeoutMs: 20_000 });

      // After the reconnects: events written since come before the progress past them.
      const b = await store.create('/in/b', Buffer.from('2'));
      await store.create('/out/b', Buffer.from('2'));
      const progress = await watch.progressTo(await store.currentRevision());
      expect(progress.delivered).toEqual([a.modRevision, b.modRevision]);
      const revisions = watch.progress.map((entry) => entry.revision);
      expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
      expect(watch.errors).toEqual([]);
    } finally {
      watch.close();
    }
  });

  it('reports progress only after a history replay that etcd sends in several batches', async () => {
    // etcd replays at most 1000 revisions per batch, one batch per ~100 ms background pass; each batch's
    // header carries the current revision, also when more batches follow.
    const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/progress-batches' });
    stores.push(store);
    const start = await store.currentRevision();
    const inside: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const written = await Promise.all(
        Array.from({ length: 250 }, (_, i) => store.create(`/in/k${String(batch * 250 + i).padStart(4, '0')}`, Buffer.from('v'))),
      );
      inside.push(...written.map((kv) => kv.modRevision));
      await store.create(`/out/${batch}`, Buffer.from('x'));
    }
    const watch = record(store, '/in', start);
    try {
      const progress = await watch.progressTo(await store.currentRevision());
      expect(progress.delivered).toEqual(inside.sort((x, y) => x - y));
      expect(watch.progress.every((entry) => entry.delivered.length === inside.filter((revision) => revision <= entry.revision).length)).toBe(true);
    } finally {
      watch.close();
    }
  });

  it("reports etcd's periodic progress notifications without being asked", async () => {
    // A second etcd that sends them every 200 ms (the default is every 10 minutes).
    const own = await startEtcd({ extraArgs: ['--experimental-watch-progress-notify-interval=200ms'] });
    try {
      const store = await openEtcdStore({ endpoints: [own.endpoint] });
      stores.push(store);
      const watch = record(store, '/in', await store.currentRevision());
      const inside = await store.create('/in/a', Buffer.from('1'));
      for (let i = 0; i < 3; i++) await store.create(`/out/${i}`, Buffer.from('x'));
      const current = await store.currentRevision();
      await waitFor('a periodic progress notification', () => watch.progress.some((progress) => progress.revision >= current), {
        timeoutMs: 20_000,
      });
      const progress = watch.progress.find((entry) => entry.revision >= current)!;
      expect(progress.delivered).toEqual([inside.modRevision]);
      watch.close();
    } finally {
      await own.stop();
    }
  });
});

/** store.get, retried while etcd is unavailable (the writer's read of a key it may have written). */
async function getThroughOutages(store: Store, key: string, state: { retried: number; stopped: boolean }): Promise<KeyValue | null> {
  for (;;) {
    try {
      return await store.get(key);
    } catch (error) {
      if (!isStorageError(error, 'Unavailable') || state.stopped) throw error;
      state.retried++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Creates `${dir}/k000`… one after another, retrying through outages. A create whose outcome was unknown
 * (the connection dropped after etcd applied it) shows up on retry as AlreadyExists; then the stored key is
 * read (also through outages) and checked to be ours and taken as written.
 */
function writeSequentially(store: Store, dir: string, count: number) {
  const state = { done: 0, retried: 0, stopped: false };
  const finished = (async () => {
    const written: KeyValue[] = [];
    for (let i = 0; i < count && !state.stopped; i++) {
      const key = `${dir}/k${String(i).padStart(3, '0')}`;
      const value = Buffer.from(`value ${i}`);
      for (let attempt = 0; ; attempt++) {
        try {
          written.push(await store.create(key, value));
          break;
        } catch (error) {
          if (attempt > 0 && isStorageError(error, 'AlreadyExists')) {
            const stored = await getThroughOutages(store, key, state);
            expect(stored?.value).toEqual(value);
            written.push(stored!);
            break;
          }
          if (!isStorageError(error, 'Unavailable') || state.stopped) throw error;
          state.retried++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      state.done++;
    }
    return written;
  })();
  return {
    get done() {
      return state.done;
    },
    get retried() {
      return state.retried;
    },
    finished,
    stop: () => {
      state.stopped = true;
    },
  };
}
