import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startProcess, waitFor } from '../../test/env/process.ts';
import { describeStoreConformance, record, settle } from '../../test/storage/conformance.ts';
import { openEmbeddedStore } from './embedded.ts';
import { isStorageError, type Store } from './types.ts';

const tempDirs: string[] = [];
async function tempFile(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-embedded-'));
  tempDirs.push(dir);
  return path.join(dir, 'store.db');
}
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

describeStoreConformance('embedded (SQLite file)', async () => {
  const file = await tempFile();
  let store = openEmbeddedStore({ path: file });
  return {
    store,
    restart: async () => {
      await store.close();
      store = openEmbeddedStore({ path: file });
      return store;
    },
    cleanup: () => store.close(),
  };
});

describeStoreConformance('embedded (:memory:)', async () => {
  const store = openEmbeddedStore({ path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

describe('embedded store', () => {
  const stores: Store[] = [];
  const open = (file: string, busyTimeoutMs = 100) => {
    const store = openEmbeddedStore({ path: file, busyTimeoutMs });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
  });

  it('never reuses a revision, even after compacting away the newest row', async () => {
    const file = await tempFile();
    let store = open(file);
    const kv = await store.create('/x/a', Buffer.from('1'));
    const { revision } = await store.delete('/x/a');
    // The tombstone at the current revision is the log's newest row, and compaction removes it.
    await store.compact(revision);
    await store.close();

    store = open(file);
    expect(await store.currentRevision()).toBe(revision);
    expect(await store.compactedRevision()).toBe(revision);
    expect(await store.get('/x/a')).toBeNull();
    const again = await store.create('/x/a', Buffer.from('2'));
    expect(again.modRevision).toBe(revision + 1);
    expect(again.createRevision).toBeGreaterThan(kv.createRevision);
  });

  it('delivers watch events after the write returns, never inside it', async () => {
    const store = open(await tempFile());
    let delivered = 0;
    store.watch('/w', 0, { onEvents: (events) => (delivered += events.length), onError: () => undefined });
    const write = store.create('/w/a', Buffer.from('1'));
    expect(delivered).toBe(0);
    await write;
    expect(delivered).toBe(0);
    await waitFor('the event', () => delivered === 1);
  });

  it('answers requestProgress after the events queued for the watcher, never synchronously', async () => {
    const store = open(await tempFile());
    const calls: string[] = [];
    const watch = store.watch('/w', 0, {
      onEvents: (events) => calls.push(...events.map((event) => `event ${event.modRevision}`)),
      onError: () => undefined,
      onProgress: (revision) => calls.push(`progress ${revision}`),
    });
    const inside = store.create('/w/a', Buffer.from('1'));
    const outside = store.create('/x/a', Buffer.from('1'));
    watch.requestProgress!();
    watch.requestProgress!();
    expect(calls).toEqual([]);
    const [a, x] = await Promise.all([inside, outside]);
    await waitFor('the progress report', () => calls.length === 2);
    expect(calls).toEqual([`event ${a.modRevision}`, `progress ${x.modRevision}`]);
    watch.close();
  });

  it('refuses a second open of the same file in this process until the first is closed', async () => {
    const file = await tempFile();
    const first = open(file);
    await first.create('/k', Buffer.from('v'));
    expect(describeOpening(openingError(file))).toBe('Unavailable');
    await first.close();
    const second = open(file);
    expect((await second.get('/k'))?.value.toString()).toBe('v');
  });

  describe('with another process', () => {
    let file: string;
    beforeAll(async () => {
      file = await tempFile();
    });

    it('refuses to open a file another live process holds, and the lock dies with that process', async () => {
      const holder = startChild('holder', file, 'hold');
      try {
        await waitFor('the other process to open the store', () => holder.output().includes('holding'), { timeoutMs: 20_000 });
        expect(describeOpening(openingError(file))).toBe('Unavailable');
      } finally {
        // SIGKILL: no close(), no cleanup. The kernel drops the lock with the process; nothing stale remains.
        await holder.kill();
      }
      const store = open(file);
      expect((await store.get('/from/child'))?.value.toString()).toBe('written by the child');
      const watch = record(store, '/from', 0);
      expect((await settle(store, watch, '/from')).map((event) => event.key)).toEqual(['/from/child']);
      watch.close();

      // And the other way round: while this process holds the file, another one cannot open it.
      const contender = startChild('contender', file, 'try');
      expect(await contender.exited).toBe(3);
      expect(contender.output()).toContain('refused Unavailable');
    });
  });
});

/** 'Unavailable' for the expected refusal; anything else is described, so a failure says what happened. */
function describeOpening(error: unknown): string {
  if (isStorageError(error, 'Unavailable')) return 'Unavailable';
  if (error === undefined) return 'opened a second time';
  return `${(error as { code?: string }).code ?? ''} ${(error as Error).message ?? String(error)}\n${(error as Error).stack ?? ''}`;
}

function openingError(file: string): unknown {
  try {
    openEmbeddedStore({ path: file, busyTimeoutMs: 100 }).close();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A Node process that opens the store ('hold': writes a key and keeps it open; 'try': opens and exits). */
function startChild(name: string, file: string, mode: 'hold' | 'try') {
  const module = new URL('./embedded.ts', import.meta.url).href;
  const script = `
    const { openEmbeddedStore } = await import(${JSON.stringify(module)});
    let store;
    try {
      store = openEmbeddedStore({ path: ${JSON.stringify(file)}, busyTimeoutMs: 100 });
    } catch (error) {
      console.log('refused', error.code);
      process.exit(3);
    }
    if (${JSON.stringify(mode)} === 'try') process.exit(0);
    await store.create('/from/child', Buffer.from('written by the child'));
    console.log('holding');
    setInterval(() => undefined, 60_000);
  `;
  return startProcess(name, process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    cwd: path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..'),
  });
}
