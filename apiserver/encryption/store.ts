// Encryption at rest as a Store decorator: values of the keys chosen by isEncrypted are encrypted on their way
// into the store and decrypted on their way out (get, list, delete's returned value, watch events' value and
// prevValue). Revisions, keys, compare-and-swap and everything else pass through untouched, so the decorated
// store keeps the Store contract (and the underlying store sees only ciphertext for those keys).
import { errorMessage } from '../../lib/logging.ts';
import {
  isStorageError,
  StorageError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type WatchEvent,
  type WatchHandle,
  type WatchHandler,
} from '../storage/types.ts';
import { type ValueCipher } from './envelope.ts';

/**
 * Wraps store so that values under keys where isEncrypted(key) are stored encrypted with envelope (the API
 * server passes key => key.startsWith('/registry/core/secrets/')). Reads of values that cannot be decrypted
 * reject with the envelope's DecryptionError; a watch that meets one delivers the events before it and then
 * ends with onError(StorageError('Unavailable')) carrying that message (a re-list then reports it again).
 */
export function encryptingStore(store: Store, envelope: ValueCipher, isEncrypted: (key: string) => boolean): Store {
  return new EncryptingStore(store, envelope, isEncrypted);
}

class EncryptingStore implements Store {
  constructor(
    readonly inner: Store,
    readonly envelope: ValueCipher,
    private readonly isEncrypted: (key: string) => boolean,
  ) {}

  get backend(): Store['backend'] {
    return this.inner.backend;
  }

  async get(key: string): Promise<KeyValue | null> {
    const kv = await this.inner.get(key);
    return kv && this.open(kv);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListResult> {
    const result = await this.inner.list(prefix, options);
    return { ...result, items: result.items.map((kv) => this.open(kv)) };
  }

  count(prefix: string): Promise<number> {
    return this.inner.count(prefix);
  }

  async create(key: string, value: Buffer): Promise<KeyValue> {
    const kv = await this.inner.create(key, this.seal(key, value));
    return { ...kv, value };
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue> {
    const kv = await this.inner.update(key, this.seal(key, value), expectedModRevision);
    return { ...kv, value };
  }

  async delete(key: string, expectedModRevision?: number): Promise<{ revision: number; deleted: KeyValue }> {
    const result = await this.inner.delete(key, expectedModRevision);
    return { ...result, deleted: this.open(result.deleted) };
  }

  watch(prefix: string, afterRevision: number, handler: WatchHandler): WatchHandle {
    let ended = false;
    let inner: WatchHandle | undefined;
    const end = () => {
      ended = true;
      inner?.close();
    };
    inner = this.inner.watch(prefix, afterRevision, {
      onEvents: (events) => {
        if (ended) return;
        const opened: WatchEvent[] = [];
        let failure: unknown;
        for (const event of events) {
          try {
            opened.push(this.openEvent(event));
          } catch (error) {
            failure = error;
            break;
          }
        }
        if (opened.length > 0) handler.onEvents(opened);
        if (failure === undefined || ended) return;
        end();
        handler.onError(new StorageError('Unavailable', `watch ${prefix}: ${errorMessage(failure)}`));
      },
      onError: (error) => {
        if (ended) return;
        ended = true;
        handler.onError(error);
      },
      onProgress: (revision) => {
        if (!ended) handler.onProgress?.(revision);
      },
    });
    if (ended) inner.close();
    return {
      close: end,
      requestProgress: () => {
        if (!ended) inner?.requestProgress?.();
      },
    };
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }

  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }

  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private seal(key: string, value: Buffer): Buffer {
    return this.isEncrypted(key) ? this.envelope.encrypt(value, key) : value;
  }

  private open(kv: KeyValue): KeyValue {
    return this.isEncrypted(kv.key) ? { ...kv, value: this.envelope.decrypt(kv.value, kv.key) } : kv;
  }

  /** A decrypted copy: the backend may hand the same event object to several watchers. */
  private openEvent(event: WatchEvent): WatchEvent {
    if (!this.isEncrypted(event.key)) return event;
    const opened = { ...event };
    if (event.value !== undefined) opened.value = this.envelope.decrypt(event.value, event.key);
    if (event.prevValue !== undefined) opened.prevValue = this.envelope.decrypt(event.prevValue, event.key);
    return opened;
  }
}

const REWRITE_PAGE = 500;

/**
 * Re-encrypts with envelope's write key every value under prefix that is not already encrypted with it
 * (written with an older key, or before encryption was enabled). Each rewrite is a compare-and-swap on the
 * value's modRevision: on Conflict the key is read again and retried if it still needs it (a concurrent
 * write through an API server has already used the write key), on NotFound it is skipped. So it runs safely
 * next to live traffic. Pass the underlying store; an encryptingStore is unwrapped (it would hand out
 * plaintext and encrypt twice).
 *
 * Rotation without downtime: addKey → every API server restarted (or reloaded) with the new file, so all of
 * them can read the new key before anything is written with it → rewriteWithCurrentKey → removeKey the old
 * one. Fails with the envelope's DecryptionError on a value no configured key can read.
 */
export async function rewriteWithCurrentKey(store: Store, prefix: string, envelope: ValueCipher): Promise<{ rewritten: number }> {
  const raw = store instanceof EncryptingStore ? store.inner : store;
  let rewritten = 0;
  let startAfter: string | undefined;
  for (;;) {
    const page = await raw.list(prefix, { limit: REWRITE_PAGE, startAfter });
    for (const kv of page.items) {
      if (await rewriteOne(raw, kv, envelope)) rewritten++;
    }
    if (!page.more || page.items.length === 0) break;
    startAfter = page.items[page.items.length - 1].key;
  }
  return { rewritten };
}

async function rewriteOne(store: Store, found: KeyValue, envelope: ValueCipher): Promise<boolean> {
  let kv: KeyValue | null = found;
  while (kv && envelope.needsRewrite(kv.value)) {
    const value = envelope.encrypt(envelope.decrypt(kv.value, kv.key), kv.key);
    try {
      await store.update(kv.key, value, kv.modRevision);
      return true;
    } catch (error) {
      if (isStorageError(error, 'NotFound')) return false;
      if (!isStorageError(error, 'Conflict')) throw error;
      kv = await store.get(kv.key);
    }
  }
  return false;
}
