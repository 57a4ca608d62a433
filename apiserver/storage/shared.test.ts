import v8 from 'node:v8';
import { describe, expect, it } from '@jest/globals';
import { describeStoreConformance, record } from '../../test/storage/conformance.ts';
import { waitFor } from '../../test/env/process.ts';
import { openEmbeddedStore } from './embedded.ts';
import { RemoteStore, serveStore, type StoreChannel, type StoreMessage } from './shared.ts';

/**
 * Two ends of an in-process channel that behaves like Node's IPC with serialization 'advanced': messages
 * arrive later, in order, as structured clones made by V8's serializer.
 */
function channelPair(): { worker: StoreChannel; host: StoreChannel; close(): void } {
  const listeners = { worker: [] as Array<(message: StoreMessage) => void>, host: [] as Array<(message: StoreMessage) => void> };
  const closers: Array<() => void> = [];
  let open = true;
  const end = (to: keyof typeof listeners): StoreChannel => ({
    send(message) {
      if (!open) return;
      const bytes = v8.serialize(message);
      setImmediate(() => {
        if (open) for (const listener of listeners[to]) listener(v8.deserialize(bytes) as StoreMessage);
      });
    },
    onMessage: (listener) => void listeners[to === 'worker' ? 'host' : 'worker'].push(listener),
    onClose: (listener) => void closers.push(listener),
  });
  return {
    worker: end('host'),
    host: end('worker'),
    close() {
      open = false;
      for (const closer of closers) closer();
    },
  };
}

describeStoreConformance('a worker\'s RemoteStore over a structured-clone channel to an embedded store', async () => {
  const host = openEmbeddedStore({ path: ':memory:' });
  const pair = channelPair();
  serveStore(host, pair.host);
  const store = new RemoteStore(pair.worker);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await host.close();
    },
  };
});

describe('RemoteStore when the host is gone', () => {
  it('fails calls in flight and later ones with Unavailable, ends its watches with Unavailable, and leaves the host serving', async () => {
    const host = openEmbeddedStore({ path: ':memory:' });
    const pair = channelPair();
    serveStore(host, pair.host);
    const store = new RemoteStore(pair.worker);
    try {
      await store.create('/a/1', Buffer.from('one'));
      const watch = record(store, '/a', 0);
      await waitFor('the create to be watched', () => watch.events.length === 1, { timeoutMs: 5000, intervalMs: 5 });
      expect(watch.events[0]!.value).toEqual(Buffer.from('one'));
      expect(Buffer.isBuffer(watch.events[0]!.value)).toBe(true);

      const inFlight = store.get('/a/1');
      pair.close();
      await expect(inFlight).rejects.toMatchObject({ name: 'StorageError', code: 'Unavailable' });
      await expect(store.count('/a')).rejects.toMatchObject({ name: 'StorageError', code: 'Unavailable' });
      expect(watch.errors.map((error) => error.code)).toEqual(['Unavailable']);
      expect(() => store.watch('/a', 0, { onEvents: () => undefined, onError: () => undefined })).toThrow('store closed');
      // The host still serves others: its store is untouched.
      expect(await host.count('/a')).toBe(1);
    } finally {
      await host.close();
    }
  });
});
