// The one conformance suite both storage backends must pass (see types.ts). Each test works in its own key
// directory of one shared store, so tests never see each other's keys; the tests that affect the whole
// store (compaction, restart, close) run last. Waiting is always "poll until a condition holds or a deadline
// passes", never a fixed sleep; "nothing else arrives" is shown by writing a sentinel key and waiting for its
// event, which a watch delivers after everything written before it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../env/process.ts';
import {
  isStorageError,
  StorageError,
  type KeyValue,
  type Store,
  type StorageErrorCode,
  type WatchEvent,
  type WatchHandle,
  type WatchHandler,
} from '../../apiserver/storage/types.ts';

export interface ConformanceTarget {
  store: Store;
  /**
   * Restarts the backend (the embedded store reopens its file, etcd restarts its server) and returns the
   * store to use from then on. Without it the restart test is skipped.
   */
  restart?: () => Promise<Store>;
  /** Closes whatever store is current and removes everything open() created. */
  cleanup: () => Promise<void>;
}

const WAIT = { timeoutMs: 20_000, intervalMs: 5 };

export interface ConformanceOptions {
  /**
   * Why the progress-under-write-burst race is not run against this target (it stays in the plain etcd and
   * embedded runs). etcd 3.4.23 answers progress requests ahead of queued events (etcd-io/etcd#15220); the
   * store's confirmation round covers it, but a loaded machine with TLS on the stream can defeat the
   * confirmation (both answers overtake the same backlog), which says nothing about the transport.
   */
  skipProgressRace?: string;
}

export function describeStoreConformance(name: string, open: () => Promise<ConformanceTarget>, options: ConformanceOptions = {}): void {
  describe(`Store conformance: ${name}`, () => {
    let target: ConformanceTarget | undefined;
    let store: Store;
    let directories = 0;
    /** A key directory no other test uses. */
    const fresh = (label: string) => `/conformance/${label}-${++directories}`;
    const bytes = (text: string) => Buffer.from(text);

    beforeAll(async () => {
      target = await open();
      store = target.store;
    });
    afterAll(async () => {
      await target?.cleanup();
    });

    describe('create / get', () => {
      it('creates a key at a new revision and refuses to create it twice', async () => {
        const dir = fresh('create');
        const kv = await store.create(`${dir}/a`, bytes('one'));
        expect(kv).toEqual({ key: `${dir}/a`, value: bytes('one'), createRevision: kv.modRevision, modRevision: kv.modRevision });
        expect(await store.get(`${dir}/a`)).toEqual(kv);

        await expectStorageError(store.create(`${dir}/a`, bytes('two')), 'AlreadyExists');
        expect(await store.get(`${dir}/a`)).toEqual(kv);
      });

      it('returns null for a missing key', async () => {
        expect(await store.get(`${fresh('missing')}/nothing`)).toBeNull();
      });

      it('stores values as opaque bytes, empty ones included', async () => {
        const dir = fresh('bytes');
        const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        await store.create(`${dir}/binary`, binary);
        await store.create(`${dir}/empty`, Buffer.alloc(0));
        expect((await store.get(`${dir}/binary`))?.value).toEqual(binary);
        expect((await store.get(`${dir}/empty`))?.value).toEqual(Buffer.alloc(0));
        expect((await store.list(dir)).items.map((kv) => kv.value)).toEqual([binary, Buffer.alloc(0)]);
      });
    });

    describe('revisions', () => {
      it('gives every successful write a new store-wide revision and failed writes none', async () => {
        const dir = fresh('revisions');
        const a = await store.create(`${dir}/a`, bytes('1'));
        const b = await store.create(`${dir}/b`, bytes('1'));
        const a2 = await store.update(`${dir}/a`, bytes('2'), a.modRevision);
        const deleted = await store.delete(`${dir}/b`);
        const revisions = [a.modRevision, b.modRevision, a2.modRevision, deleted.revision];
        expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
        expect(new Set(revisions).size).toBe(4);
        expect(await store.currentRevision()).toBe(deleted.revision);

        await expectStorageError(store.create(`${dir}/a`, bytes('x')), 'AlreadyExists');
        await expectStorageError(store.update(`${dir}/a`, bytes('x'), a.modRevision), 'Conflict');
        await expectStorageError(store.delete(`${dir}/b`), 'NotFound');
        expect(await store.currentRevision()).toBe(deleted.revision);
      });
    });

    describe('update', () => {
      it('is a compare-and-swap on modRevision', async () => {
        const dir = fresh('update');
        const created = await store.create(`${dir}/a`, bytes('1'));
        const updated = await store.update(`${dir}/a`, bytes('2'), created.modRevision);
        expect(updated).toEqual({ key: `${dir}/a`, value: bytes('2'), createRevision: created.createRevision, modRevision: updated.modRevision });
        expect(updated.modRevision).toBeGreaterThan(created.modRevision);
        expect(await store.get(`${dir}/a`)).toEqual(updated);

        const conflict = await expectStorageError(store.update(`${dir}/a`, bytes('3'), created.modRevision), 'Conflict');
        expect(conflict.revision).toBe(updated.modRevision);
        expect((await store.get(`${dir}/a`))?.value).toEqual(bytes('2'));
      });

      it('fails with NotFound for a missing key, whatever revision is expected', async () => {
        const dir = fresh('update-missing');
        await expectStorageError(store.update(`${dir}/a`, bytes('1'), 0), 'NotFound');
        await expectStorageError(store.update(`${dir}/a`, bytes('1'), 12345), 'NotFound');
        expect(await store.get(`${dir}/a`)).toBeNull();
      });
    });

    describe('delete', () => {
      it('deletes a key and returns the deletion revision and the deleted value', async () => {
        const dir = fresh('delete');
        const kv = await store.create(`${dir}/a`, bytes('gone soon'));
        const result = await store.delete(`${dir}/a`);
        expect(result.deleted).toEqual(kv);
        expect(result.revision).toBeGreaterThan(kv.modRevision);
        expect(await store.currentRevision()).toBe(result.revision);
        expect(await store.get(`${dir}/a`)).toBeNull();
        await expectStorageError(store.delete(`${dir}/a`), 'NotFound');

        // A re-created key starts a new life: a new createRevision.
        const again = await store.create(`${dir}/a`, bytes('back'));
        expect(again.createRevision).toBeGreaterThan(result.revision);
      });

      it('with an expected modRevision is a compare-and-delete', async () => {
        const dir = fresh('delete-cas');
        const kv = await store.create(`${dir}/a`, bytes('1'));
        const updated = await store.update(`${dir}/a`, bytes('2'), kv.modRevision);
        const conflict = await expectStorageError(store.delete(`${dir}/a`, kv.modRevision), 'Conflict');
        expect(conflict.revision).toBe(updated.modRevision);
        expect(await store.get(`${dir}/a`)).toEqual(updated);

        const result = await store.delete(`${dir}/a`, updated.modRevision);
        expect(result.deleted).toEqual(updated);
        await expectStorageError(store.delete(`${dir}/a`, updated.modRevision), 'NotFound');
      });
    });

    describe('list / count', () => {
      it('treats a prefix as a directory: "/a/b" covers neither "/a/bc" nor "/a/b" itself', async () => {
        const dir = fresh('prefix');
        const keys = ['a/b', 'a/b/x', 'a/b/y/z', 'a/b0/x', 'a/bc', 'a/bc/x'].map((key) => `${dir}/${key}`);
        for (const key of keys) await store.create(key, bytes(key));

        const expected = [`${dir}/a/b/x`, `${dir}/a/b/y/z`];
        expect((await store.list(`${dir}/a/b`)).items.map((kv) => kv.key)).toEqual(expected);
        expect((await store.list(`${dir}/a/b/`)).items.map((kv) => kv.key)).toEqual(expected);
        expect(await store.count(`${dir}/a/b`)).toBe(2);
        expect(await store.count(`${dir}/a/b/`)).toBe(2);
        // Byte order: '/' < '0' < 'c'.
        expect((await store.list(`${dir}/a`)).items.map((kv) => kv.key)).toEqual(keys);
        expect(await store.count(`${dir}/a`)).toBe(6);
        expect(await store.count(`${dir}/nothing`)).toBe(0);
        expect((await store.list(`${dir}/nothing`)).items).toEqual([]);
      });

      it('returns keys in byte order, in pages of limit after startAfter, with more', async () => {
        const dir = fresh('pages');
        const names = ['b', 'a', 'B', 'a0', 'a-', 'é', 'z', 'aa', '~', '0'];
        for (const name of names) await store.create(`${dir}/${name}`, bytes(name));
        const sorted = names.map((name) => `${dir}/${name}`).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

        const all = await store.list(dir);
        expect(all.items.map((kv) => kv.key)).toEqual(sorted);
        expect(all.more).toBe(false);
        expect(all.revision).toBe(await store.currentRevision());
        expect((await store.list(dir, { limit: 0 })).items).toHaveLength(10);

        const pages: string[][] = [];
        const mores: boolean[] = [];
        let startAfter: string | undefined;
        for (;;) {
          const page = await store.list(dir, { limit: 3, startAfter, revision: all.revision });
          expect(page.revision).toBe(all.revision);
          pages.push(page.items.map((kv) => kv.key));
          mores.push(page.more);
          if (!page.more) break;
          startAfter = page.items[page.items.length - 1].key;
        }
        expect(pages.map((page) => page.length)).toEqual([3, 3, 3, 1]);
        expect(mores).toEqual([true, true, true, false]);
        expect(pages.flat()).toEqual(sorted);

        // A page that ends exactly at the last key has no more; startAfter need not be an existing key.
        expect((await store.list(dir, { limit: 1, startAfter: sorted[8] })).more).toBe(false);
        expect((await store.list(dir, { startAfter: `${dir}/a+` })).items[0].key).toBe(`${dir}/a-`);
        expect((await store.list(dir, { startAfter: sorted[9] })).items).toEqual([]);
        expect((await store.list(dir, { startAfter: `${dir}/\u{10ffff}` })).items).toEqual([]);
      });

      it('reads the state as of an older revision', async () => {
        const dir = fresh('history');
        const a = await store.create(`${dir}/a`, bytes('a1'));
        const b = await store.create(`${dir}/b`, bytes('b1'));
        const then = await store.currentRevision();
        const a2 = await store.update(`${dir}/a`, bytes('a2'), a.modRevision);
        await store.delete(`${dir}/b`);
        const c = await store.create(`${dir}/c`, bytes('c1'));

        const old = await store.list(dir, { revision: then });
        expect(old).toEqual({ items: [a, b], revision: then, more: false });
        expect((await store.list(dir, { revision: a.modRevision })).items).toEqual([a]);
        expect((await store.list(dir)).items).toEqual([a2, c]);
        // Before the first write nothing was there.
        expect((await store.list(dir, { revision: a.modRevision - 1 })).items).toEqual([]);
      });

      it('keeps pages consistent while writes land between them', async () => {
        const dir = fresh('consistent');
        for (let i = 0; i < 12; i++) await store.create(`${dir}/k${String(i).padStart(2, '0')}`, bytes(`v${i}`));
        const snapshot = await store.list(dir);

        const first = await store.list(dir, { limit: 4, revision: snapshot.revision });
        const writes = Promise.all([
          store.delete(`${dir}/k05`),
          store.update(`${dir}/k09`, bytes('changed'), snapshot.items[9].modRevision),
          store.create(`${dir}/k06a`, bytes('new')),
          store.create(`${dir}/k99`, bytes('new')),
        ]);
        const rest: KeyValue[] = [];
        let page = first;
        while (page.more) {
          page = await store.list(dir, { limit: 4, revision: snapshot.revision, startAfter: page.items[page.items.length - 1].key });
          rest.push(...page.items);
        }
        await writes;
        expect([...first.items, ...rest]).toEqual(snapshot.items);
        expect(await store.count(dir)).toBe(13);
      });
    });

    describe('watch', () => {
      it('replays history from a past revision in order, with prevValue on updates and deletes', async () => {
        const dir = fresh('watch-history');
        const start = await store.currentRevision();
        const a1 = await store.create(`${dir}/a`, bytes('a1'));
        const a2 = await store.update(`${dir}/a`, bytes('a2'), a1.modRevision);
        const b1 = await store.create(`${dir}/b`, bytes('b1'));
        const gone = await store.delete(`${dir}/a`);

        const expected: WatchEvent[] = [
          { type: 'put', key: `${dir}/a`, modRevision: a1.modRevision, value: bytes('a1'), createRevision: a1.modRevision },
          {
            type: 'put',
            key: `${dir}/a`,
            modRevision: a2.modRevision,
            value: bytes('a2'),
            createRevision: a1.modRevision,
            prevValue: bytes('a1'),
            prevModRevision: a1.modRevision,
          },
          { type: 'put', key: `${dir}/b`, modRevision: b1.modRevision, value: bytes('b1'), createRevision: b1.modRevision },
          { type: 'delete', key: `${dir}/a`, modRevision: gone.revision, prevValue: bytes('a2'), prevModRevision: a2.modRevision },
        ];
        const fromStart = record(store, dir, start);
        const fromMiddle = record(store, dir, a2.modRevision);
        try {
          expect(await settle(store, fromStart, dir)).toEqual(expected);
          expect(await settle(store, fromMiddle, dir)).toEqual(expected.slice(2));
        } finally {
          fromStart.close();
          fromMiddle.close();
        }
      });

      it('from the current revision sees only what happens next', async () => {
        const dir = fresh('watch-now');
        await store.create(`${dir}/before`, bytes('old'));
        const watch = record(store, dir, await store.currentRevision());
        try {
          const after = await store.create(`${dir}/after`, bytes('new'));
          const events = await settle(store, watch, dir);
          expect(events).toEqual([
            { type: 'put', key: `${dir}/after`, modRevision: after.modRevision, value: bytes('new'), createRevision: after.modRevision },
          ]);
        } finally {
          watch.close();
        }
      });

      it('covers a directory and nothing else', async () => {
        const dir = fresh('watch-prefix');
        const watch = record(store, `${dir}/a/b`, await store.currentRevision());
        try {
          for (const key of ['a/b', 'a/b/x', 'a/bc/x', 'a/b0', 'a/b/y/z', 'a/bc']) await store.create(`${dir}/${key}`, bytes(key));
          const events = await settle(store, watch, `${dir}/a/b`);
          expect(events.map((event) => event.key)).toEqual([`${dir}/a/b/x`, `${dir}/a/b/y/z`]);
        } finally {
          watch.close();
        }
      });

      it('delivers 200 concurrent writes exactly once and in revision order, also to a watch started mid-stream', async () => {
        const dir = fresh('watch-burst');
        const start = await store.currentRevision();
        const early = record(store, dir, start);
        let late: Recorder | undefined;
        const writes: Promise<KeyValue>[] = [];
        for (let i = 0; i < 200; i++) {
          writes.push(store.create(`${dir}/k${String(i).padStart(3, '0')}`, bytes(`v${i}`)));
          // Started while writes are in flight: it must stitch history and live events without gap or duplicate.
          if (i === 100) late = record(store, dir, start);
        }
        const written = (await Promise.all(writes)).sort((x, y) => x.modRevision - y.modRevision);
        const expected = written.map((kv) => ({ key: kv.key, modRevision: kv.modRevision }));
        try {
          for (const watch of [early, late!]) {
            const events = await settle(store, watch, dir);
            expect(events.map((event) => ({ key: event.key, modRevision: event.modRevision }))).toEqual(expected);
          }
        } finally {
          early.close();
          late?.close();
        }
      });

      it('stops delivering after close()', async () => {
        const dir = fresh('watch-close');
        const start = await store.currentRevision();
        const closing = record(store, dir, start);
        const witness = record(store, dir, start);
        try {
          await store.create(`${dir}/a`, bytes('1'));
          await waitFor('the first event', () => closing.events.length === 1, WAIT);
          closing.close();
          closing.close();
          await store.create(`${dir}/b`, bytes('2'));
          await settle(store, witness, dir);
          expect(closing.events.map((event) => event.key)).toEqual([`${dir}/a`]);
          expect(closing.errors).toEqual([]);
        } finally {
          witness.close();
        }
      });
    });

    describe('watch progress', () => {
      /** Progress reports never go down, and each one comes after every event at or below it. */
      const expectProgressKeptItsPromise = (watch: Recorder, written: number[]) => {
        const revisions = watch.progress.map((progress) => progress.revision);
        expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
        for (const progress of watch.progress) {
          const upTo = (revisions: number[]) => revisions.filter((revision) => revision <= progress.revision);
          expect({ progress: progress.revision, delivered: upTo(progress.delivered) }).toEqual({
            progress: progress.revision,
            delivered: upTo(written),
          });
        }
      };

      it('answers requestProgress past writes outside the prefix, after every earlier event under it', async () => {
        const dir = fresh('progress');
        const watch = record(store, `${dir}/in`, await store.currentRevision());
        try {
          const inside: number[] = [];
          for (let i = 0; i < 3; i++) inside.push((await store.create(`${dir}/in/k${i}`, bytes(`v${i}`))).modRevision);
          for (let i = 0; i < 3; i++) await store.create(`${dir}/out/k${i}`, bytes('x'));
          const current = await store.currentRevision();
          const progress = await watch.progressTo(current);
          expect(progress.delivered).toEqual(inside);
          expect(watch.events.map((event) => event.key)).toEqual([0, 1, 2].map((i) => `${dir}/in/k${i}`));
          expectProgressKeptItsPromise(watch, inside);
        } finally {
          watch.close();
        }
      });

      it('answers on a watch that never saw an event, again for later requests, and never goes down', async () => {
        const dir = fresh('progress-quiet');
        const watch = record(store, `${dir}/in`, await store.currentRevision());
        try {
          await store.create(`${dir}/out/a`, bytes('x'));
          const first = await watch.progressTo(await store.currentRevision());
          await store.create(`${dir}/out/b`, bytes('x'));
          const current = await store.currentRevision();
          expect(current).toBeGreaterThan(first.revision);
          await watch.progressTo(current);
          // Requests made while one is pending are answered too.
          watch.requestProgress();
          watch.requestProgress();
          await watch.progressTo(current);
          expect(watch.events).toEqual([]);
          expectProgressKeptItsPromise(watch, []);
        } finally {
          watch.close();
        }
      });

      it('on a watch from a past revision, reports progress only after replaying the history', async () => {
        const dir = fresh('progress-history');
        const start = await store.currentRevision();
        const inside: number[] = [];
        for (let i = 0; i < 5; i++) {
          inside.push((await store.create(`${dir}/in/k${i}`, bytes(`v${i}`))).modRevision);
          await store.create(`${dir}/out/k${i}`, bytes('x'));
        }
        const watch = record(store, `${dir}/in`, start);
        try {
          // Asked at once, while the history is still on its way.
          const progress = await watch.progressTo(await store.currentRevision());
          expect(progress.delivered).toEqual(inside);
          expectProgressKeptItsPromise(watch, inside);
        } finally {
          watch.close();
        }
      });

      it('on a watch from a past revision with nothing to replay under its prefix, still answers', async () => {
        const dir = fresh('progress-empty-history');
        const start = await store.currentRevision();
        for (let i = 0; i < 3; i++) await store.create(`${dir}/out/k${i}`, bytes('x'));
        const watch = record(store, `${dir}/in`, start);
        try {
          const progress = await watch.progressTo(await store.currentRevision());
          expect(progress.delivered).toEqual([]);
          const late = await store.create(`${dir}/in/late`, bytes('x'));
          expect((await watch.progressTo(late.modRevision)).delivered).toEqual([late.modRevision]);
        } finally {
          watch.close();
        }
      });

      (options.skipProgressRace ? it.skip : it)('keeps its promise while writes inside and outside the prefix race with requests', async () => {
        const dir = fresh('progress-race');
        const watch = record(store, `${dir}/in`, await store.currentRevision());
        try {
          const inside: number[] = [];
          // Values big enough that events queue up in the backend's send path.
          const value = Buffer.alloc(8 * 1024, 'v');
          for (let round = 0; round < 8; round++) {
            const writes = Array.from({ length: 100 }, (_, i) =>
              store.create(`${dir}/${i % 2 === 0 ? 'in' : 'out'}/r${round}-${String(i).padStart(3, '0')}`, value).then((kv) => {
                if (i % 2 === 0) inside.push(kv.modRevision);
                // Requests land while writes are in flight.
                if (i % 5 === 0) watch.requestProgress();
                return kv;
              }),
            );
            await Promise.all(writes);
            await watch.progressTo(await store.currentRevision());
          }
          inside.sort((x, y) => x - y);
          expect(watch.progress.length).toBeGreaterThanOrEqual(8);
          expectProgressKeptItsPromise(watch, inside);
          expect((await settle(store, watch, `${dir}/in`)).map((event) => event.modRevision)).toEqual(inside);
        } finally {
          watch.close();
        }
      });

      it('reports nothing after close(), and a handler without onProgress is fine', async () => {
        const dir = fresh('progress-close');
        const closing = record(store, `${dir}/in`, await store.currentRevision());
        const witness = record(store, `${dir}/in`, await store.currentRevision());
        const silent = store.watch(`${dir}/in`, await store.currentRevision(), { onEvents: () => undefined, onError: () => undefined });
        try {
          await witness.progressTo(await store.currentRevision());
          closing.requestProgress();
          closing.close();
          closing.close();
          closing.handle!.requestProgress!();
          silent.requestProgress!();
          await store.create(`${dir}/out/a`, bytes('x'));
          await witness.progressTo(await store.currentRevision());
          await settle(store, witness, `${dir}/in`);
          expect(closing.progress).toEqual([]);
          expect(closing.errors).toEqual([]);
        } finally {
          witness.close();
          silent.close();
        }
      });
    });

    describe('concurrent compare-and-swap', () => {
      it('lets exactly one of 64 racing updates with the same expected revision win', async () => {
        const key = `${fresh('race')}/counter`;
        let kv = await store.create(key, bytes('0'));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 64 }, (_, i) => store.update(key, bytes(`writer ${i}`), kv.modRevision)),
        );
        const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
        expect(winners).toHaveLength(1);
        const current = (await store.get(key))!;
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') {
            expect(isStorageError(outcome.reason, 'Conflict')).toBe(true);
            expect((outcome.reason as StorageError).revision).toBe(current.modRevision);
          }
        }
        // And pairwise: 16 rounds of two racing writers, one winner each.
        for (let round = 0; round < 16; round++) {
          kv = (await store.get(key))!;
          const pair = await Promise.allSettled([
            store.update(key, bytes(`round ${round} left`), kv.modRevision),
            store.update(key, bytes(`round ${round} right`), kv.modRevision),
          ]);
          expect(pair.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        }
      });

      it('loses no update when 64 writers increment one counter with read-modify-write and retry', async () => {
        const dir = fresh('increment');
        const key = `${dir}/counter`;
        await store.create(key, bytes('0'));
        const watch = record(store, dir, await store.currentRevision());
        try {
          await Promise.all(
            Array.from({ length: 64 }, async () => {
              for (;;) {
                const kv = (await store.get(key))!;
                try {
                  await store.update(key, bytes(String(Number(kv.value.toString()) + 1)), kv.modRevision);
                  return;
                } catch (error) {
                  if (!isStorageError(error, 'Conflict')) throw error;
                }
              }
            }),
          );
          expect((await store.get(key))?.value.toString()).toBe('64');
          const events = await settle(store, watch, dir);
          expect(events.map((event) => event.value?.toString())).toEqual(Array.from({ length: 64 }, (_, i) => String(i + 1)));
        } finally {
          watch.close();
        }
      });
    });

    // Compaction discards history store-wide, so it runs after every test that reads old revisions.
    describe('compaction', () => {
      it('discards history at and below the revision but keeps the state there and the current data', async () => {
        const dir = fresh('compact');
        const a1 = await store.create(`${dir}/a`, bytes('a1'));
        const a2 = await store.update(`${dir}/a`, bytes('a2'), a1.modRevision);
        await store.create(`${dir}/b`, bytes('b1'));
        const compactAt = (await store.delete(`${dir}/b`)).revision;
        const a3 = await store.update(`${dir}/a`, bytes('a3'), a2.modRevision);
        const c = await store.create(`${dir}/c`, bytes('c1'));
        const before = await store.list(dir);

        await store.compact(compactAt);
        expect(await store.compactedRevision()).toBe(compactAt);

        const compacted = await expectStorageError(store.list(dir, { revision: compactAt - 1 }), 'Compacted');
        expect(compacted.revision).toBe(compactAt);
        await expectStorageError(store.list(dir, { revision: a1.modRevision }), 'Compacted');
        // The compacted revision itself stays readable (as in etcd).
        expect((await store.list(dir, { revision: compactAt })).items).toEqual([a2]);
        expect(await store.list(dir)).toEqual(before);
        expect(before.items).toEqual([a3, c]);
        expect(await store.get(`${dir}/a`)).toEqual(a3);
        expect(await store.count(dir)).toBe(2);

        const tooOld = record(store, dir, compactAt - 1);
        await waitFor('the Compacted error', () => tooOld.errors.length > 0, WAIT);
        expect(tooOld.errors).toHaveLength(1);
        expect(tooOld.errors[0]).toBeInstanceOf(StorageError);
        expect(tooOld.errors[0].code).toBe('Compacted');
        expect(tooOld.errors[0].revision).toBe(compactAt);
        expect(tooOld.events).toEqual([]);

        const fromCompacted = record(store, dir, compactAt);
        try {
          expect(await settle(store, fromCompacted, dir)).toEqual([
            {
              type: 'put',
              key: `${dir}/a`,
              modRevision: a3.modRevision,
              value: bytes('a3'),
              createRevision: a1.modRevision,
              prevValue: bytes('a2'),
              prevModRevision: a2.modRevision,
            },
            { type: 'put', key: `${dir}/c`, modRevision: c.modRevision, value: bytes('c1'), createRevision: c.modRevision },
          ]);
        } finally {
          fromCompacted.close();
        }
        expect(tooOld.errors).toHaveLength(1);
      });

      it('ignores compacting at or below the compacted revision and refuses a future one', async () => {
        const compacted = await store.compactedRevision();
        await store.compact(compacted);
        await store.compact(compacted - 1);
        expect(await store.compactedRevision()).toBe(compacted);
        await expect(store.compact((await store.currentRevision()) + 1000)).rejects.toThrow(RangeError);
        await expect(store.list('/conformance', { revision: (await store.currentRevision()) + 1000 })).rejects.toThrow(RangeError);
      });
    });

    describe('restart', () => {
      it('keeps data, revisions and the compacted revision across a restart', async () => {
        if (!target?.restart) return;
        const dir = fresh('restart');
        const a = await store.create(`${dir}/a`, bytes('kept'));
        const revision = await store.currentRevision();
        const compacted = await store.compactedRevision();

        store = await target.restart();
        expect(await store.get(`${dir}/a`)).toEqual(a);
        expect(await store.currentRevision()).toBe(revision);
        expect(await store.compactedRevision()).toBe(compacted);
        const b = await store.create(`${dir}/b`, bytes('new'));
        expect(b.modRevision).toBe(revision + 1);

        const watch = record(store, dir, a.modRevision - 1);
        try {
          expect((await settle(store, watch, dir)).map((event) => event.key)).toEqual([`${dir}/a`, `${dir}/b`]);
        } finally {
          watch.close();
        }
      });
    });

    describe('close', () => {
      it('ends the store: later calls fail with Unavailable', async () => {
        await store.close();
        await store.close();
        await expectStorageError(store.get('/conformance/x'), 'Unavailable');
        await expectStorageError(store.create('/conformance/x', bytes('x')), 'Unavailable');
        expect(() => store.watch('/conformance', 0, { onEvents: () => undefined, onError: () => undefined })).toThrow(StorageError);
      });
    });
  });
}

async function expectStorageError(operation: Promise<unknown>, code: StorageErrorCode): Promise<StorageError> {
  const error = await operation.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe(code);
  return error as StorageError;
}

/** Records what a watch delivers. */
export class Recorder implements WatchHandler {
  readonly events: WatchEvent[] = [];
  readonly errors: StorageError[] = [];
  /** Every onProgress call, with the revisions of the events delivered before it. */
  readonly progress: { revision: number; delivered: number[] }[] = [];
  handle: WatchHandle | undefined;

  onEvents(events: WatchEvent[]): void {
    this.events.push(...events);
  }

  onError(error: StorageError): void {
    this.errors.push(error);
  }

  onProgress(revision: number): void {
    this.progress.push({ revision, delivered: this.events.map((event) => event.modRevision) });
  }

  requestProgress(): void {
    this.handle!.requestProgress!();
  }

  /** Requests progress and waits for a report at or above revision. */
  async progressTo(revision: number): Promise<{ revision: number; delivered: number[] }> {
    const seen = this.progress.length;
    this.requestProgress();
    return waitFor(
      `progress to revision ${revision}`,
      () => {
        if (this.errors.length > 0) throw this.errors[0];
        return this.progress.slice(seen).find((progress) => progress.revision >= revision);
      },
      WAIT,
    );
  }

  close(): void {
    this.handle?.close();
  }
}

export function record(store: Store, prefix: string, afterRevision: number): Recorder {
  const recorder = new Recorder();
  recorder.handle = store.watch(prefix, afterRevision, recorder);
  return recorder;
}

let sentinels = 0;

/**
 * Writes a sentinel key under dir, waits for the watch to deliver it, and returns everything the watch
 * delivered before it (once the sentinel is in, every earlier event is too: revision order), checking that
 * nothing came after it.
 */
export async function settle(store: Store, watch: Recorder, dir: string): Promise<WatchEvent[]> {
  const sentinel = `${dir.endsWith('/') ? dir : `${dir}/`}~sentinel-${++sentinels}`;
  await store.create(sentinel, Buffer.from('sentinel'));
  await waitFor(`the watch to deliver ${sentinel}`, () => watch.errors.length > 0 || watch.events.some((event) => event.key === sentinel), WAIT);
  expect(watch.errors).toEqual([]);
  const index = watch.events.findIndex((event) => event.key === sentinel);
  expect(watch.events.length).toBe(index + 1);
  // Sentinels of earlier settle() calls on the same directory are not the caller's business.
  return watch.events.slice(0, index).filter((event) => !event.key.includes('/~sentinel-'));
}
