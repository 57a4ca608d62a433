// The watch cache: one storage watch on /registry/ feeds an in-memory copy of every object and a window of
// recent events, and every client watch is served from it, so a thousand watchers cost one storage watch.
//
// Invariants:
//  - `revision` is the highest store revision whose events have been applied and dispatched.
//  - The buffer holds every event with revision in (oldestRevision, revision]; a watch from R is served
//    when R >= oldestRevision, otherwise it gets 410 Expired and the client relists.
//  - Dispatch is synchronous: between two storage batches every registered watcher has been handed every
//    event up to `revision`, which is what makes bookmarks and replay-then-register gap-free.
import type { KubeObject } from '../../apis/meta/types.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import { markShared } from './encoded.ts';
import { lowerBound, SortedKeys } from './sorted-keys.ts';
import { EventBuffer } from './event-buffer.ts';
import { type Store, type StorageError, type WatchEvent as StoreEvent, type WatchHandle, type WatchHandler } from '../storage/types.ts';

export type CacheEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  type: CacheEventType;
  key: string;
  /** The object after the event (for DELETED: its last state, with the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the event (absent for ADDED). */
  prevObject?: KubeObject;
  revision: number;
  /** Serialisations (UTF-8 lines) shared by every watcher that sends this event in the same shape. */
  encoded?: Map<string, Buffer>;
}

export interface CacheEntry {
  object: KubeObject;
  revision: number;
}

export interface WatcherSink {
  /** Key prefix the watcher covers: a resource prefix, a namespace within it, or one object key. */
  keyPrefix: string;
  /** Delivers one event (already filtered by prefix, not by selectors). Must not throw. */
  onEvent(event: CacheEvent): void;
  /** The cache can no longer serve this watcher (re-initialisation); the stream must end. */
  onTerminate(reason: string): void;
}

export interface WatchRegistration {
  cancel(): void;
}

export class ExpiredError extends Error {}

/** Splits `/registry/<group>/<plural>/...` into the resource prefix `/registry/<group>/<plural>/`. */
export function resourcePrefixOf(key: string): string | undefined {
  const match = /^(\/registry\/[^/]+\/[^/]+\/)/.exec(key);
  return match?.[1];
}

export interface WatchCacheOptions {
  /** Events kept for watchers that resume from an older resourceVersion. */
  capacity?: number;
  logger?: Logger;
}

export class WatchCache {
  private readonly objects = new Map<string, Map<string, CacheEntry>>();
  /** Per resource prefix, its objects' keys in order. */
  private readonly sortedKeys = new Map<string, SortedKeys>();
  private readonly buffer = new EventBuffer<CacheEvent>();
  private readonly watchers = new Map<string, Set<WatcherSink>>();
  private storageWatch?: WatchHandle;
  private readonly revisionWaiters = new Set<{ revision: number; resolve: (ok: boolean) => void }>();
  private readonly capacity: number;
  private readonly log: Logger;
  private readyWaiters: Array<() => void> = [];
  private stopped = false;
  private restartTimer?: NodeJS.Timeout;
  revision = 0;
  oldestRevision = 0;
  ready = false;

  constructor(
    private readonly store: Store,
    options: WatchCacheOptions = {},
  ) {
    this.capacity = options.capacity ?? 100_000;
    this.log = options.logger ?? createLogger('watch-cache');
  }

  async start(): Promise<void> {
    await this.initialise();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.storageWatch?.close();
    for (const sinks of this.watchers.values()) for (const sink of sinks) sink.onTerminate('the API server is shutting down');
    this.watchers.clear();
  }

  /** Resolves once the cache holds a complete copy (immediately when it does). */
  async waitUntilReady(timeoutMs = 30_000): Promise<boolean> {
    if (this.ready) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private async initialise(): Promise<void> {
    this.ready = false;
    const state = new Map<string, Map<string, CacheEntry>>();
    let revision: number | undefined;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.store.list('/registry/', { limit: 1000, startAfter, revision });
      revision = page.revision;
      for (const kv of page.items) {
        const object = this.decode(kv.key, kv.value, kv.modRevision);
        const prefix = resourcePrefixOf(kv.key);
        if (!object || !prefix) continue;
        if (!state.has(prefix)) state.set(prefix, new Map());
        state.get(prefix)!.set(kv.key, { object, revision: kv.modRevision });
      }
      if (!page.more || page.items.length === 0) break;
      startAfter = page.items[page.items.length - 1].key;
    }
    this.objects.clear();
    this.sortedKeys.clear();
    for (const [prefix, entries] of state) this.objects.set(prefix, entries);
    this.buffer.clear();
    this.revision = revision;
    // Watchers resuming from before this point get 410 Expired and relist, as with Kubernetes' watch cache
    // after an API server restart.
    this.oldestRevision = revision;
    const handler: WatchHandler = {
      onEvents: (events) => {
        if (!this.stopped) this.apply(events);
        this.releaseRevisionWaiters();
      },
      onError: (error) => this.onStorageWatchError(error),
      // Progress: every change up to this revision has been delivered, even if none was under /registry/.
      onProgress: (progress) => {
        if (progress > this.revision) this.revision = progress;
        this.releaseRevisionWaiters();
      },
    };
    this.storageWatch = this.store.watch('/registry/', revision, handler);
    this.markReady();
  }

  /**
   * Resolves true once the cache reflects every change up to `revision` (it asks the store for a progress
   * report, so a quiet store does not leave it waiting), or false after timeoutMs.
   */
  waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.ready && this.revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { revision, resolve: (ok: boolean) => resolve(ok) };
      this.revisionWaiters.add(waiter);
      const timer = setTimeout(() => {
        this.revisionWaiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      waiter.resolve = (ok) => {
        clearTimeout(timer);
        resolve(ok);
      };
      this.storageWatch?.requestProgress?.();
    });
  }

  private releaseRevisionWaiters(): void {
    if (!this.ready) return;
    for (const waiter of this.revisionWaiters) {
      if (this.revision >= waiter.revision) {
        this.revisionWaiters.delete(waiter);
        waiter.resolve(true);
      }
    }
  }

  private onStorageWatchError(error: StorageError): void {
    if (this.stopped) return;
    this.log.warn('storage watch ended; re-initialising the watch cache', { error: errorMessage(error) });
    this.ready = false;
    this.storageWatch?.close();
    for (const sinks of this.watchers.values()) for (const sink of sinks) sink.onTerminate('the watch cache is re-initialising');
    this.watchers.clear();
    const retry = () => {
      if (this.stopped) return;
      this.initialise().catch((initError) => {
        this.log.warn('watch cache re-initialisation failed; retrying', { error: errorMessage(initError) });
        this.restartTimer = setTimeout(retry, 1000);
      });
    };
    this.restartTimer = setTimeout(retry, 100);
  }

  private markReady(): void {
    if (this.ready) return;
    this.ready = true;
    queueMicrotask(() => this.releaseRevisionWaiters());
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private decode(key: string, value: Buffer, revision: number): KubeObject | undefined {
    try {
      const object = JSON.parse(value.toString('utf8')) as KubeObject;
      object.metadata ??= {};
      object.metadata.resourceVersion = String(revision);
      markShared(object);
      return object;
    } catch (error) {
      this.log.error('undecodable object in storage; skipped', { key, error: errorMessage(error) });
      return undefined;
    }
  }

  private convert(event: StoreEvent, cached?: KubeObject): CacheEvent | undefined {
    // The cache's own copy is authoritative for the previous state; the store's previous value (absent after
    // compaction) is only decoded when the cache has none.
    const prevObject = cached ?? (event.prevValue ? this.decode(event.key, event.prevValue, event.prevModRevision ?? 0) : undefined);
    if (event.type === 'delete') {
      if (!prevObject) return undefined;
      const object = { ...prevObject, metadata: { ...prevObject.metadata, resourceVersion: String(event.modRevision) } };
      markShared(object);
      return { type: 'DELETED', key: event.key, object, prevObject, revision: event.modRevision };
    }
    const object = this.decode(event.key, event.value!, event.modRevision);
    if (!object) return undefined;
    return { type: prevObject ? 'MODIFIED' : 'ADDED', key: event.key, object, prevObject, revision: event.modRevision };
  }

  private apply(events: StoreEvent[]): void {
    for (const storeEvent of events) {
      if (storeEvent.modRevision <= this.revision) continue; // already reflected in the listed state
      const prefix = resourcePrefixOf(storeEvent.key);
      this.revision = storeEvent.modRevision;
      if (!prefix) continue;
      let entries = this.objects.get(prefix);
      if (!entries) this.objects.set(prefix, (entries = new Map()));
      const previous = entries.get(storeEvent.key);
      const event = this.convert(storeEvent, previous?.object);
      if (!event) continue;
      if (event.type === 'DELETED') entries.delete(event.key);
      else entries.set(event.key, { object: event.object, revision: event.revision });
      if (event.type === 'DELETED') this.sortedKeys.get(prefix)?.remove();
      else if (!previous) this.sortedKeys.get(prefix)?.add(event.key);
      this.buffer.push(event);
      this.dispatch(prefix, event);
    }
    const lastDropped = this.buffer.trimTo(this.capacity);
    if (lastDropped) this.oldestRevision = lastDropped.revision;
  }

  private dispatch(prefix: string, event: CacheEvent): void {
    const sinks = this.watchers.get(prefix);
    if (!sinks) return;
    for (const sink of sinks) if (event.key.startsWith(sink.keyPrefix)) sink.onEvent(event);
  }

  /** Current objects under a key prefix (a resource, a namespace of it, or one key), sorted by key. */
  list(keyPrefix: string): CacheEntry[] {
    return [...this.entries(keyPrefix)];
  }

  /**
   * The entries under keyPrefix in key order, produced as they are read (a page of a list stops early):
   * a binary search into the resource's sorted keys (sorted-keys.ts: keys that came since are merged in).
   * Iterate synchronously: an event applied meanwhile is not reflected in the keys being walked.
   */
  *entries(keyPrefix: string): Generator<CacheEntry> {
    const prefix = resourcePrefixOf(keyPrefix) ?? keyPrefix;
    const entries = this.objects.get(prefix);
    if (!entries) return;
    let sorted = this.sortedKeys.get(prefix);
    if (!sorted) this.sortedKeys.set(prefix, (sorted = new SortedKeys()));
    const keys = sorted.read(entries);
    for (let index = lowerBound(keys, keyPrefix); index < keys.length && keys[index]!.startsWith(keyPrefix); index++) {
      const entry = entries.get(keys[index]!);
      if (entry) yield entry;
    }
  }

  get(key: string): CacheEntry | undefined {
    const prefix = resourcePrefixOf(key);
    return prefix ? this.objects.get(prefix)?.get(key) : undefined;
  }

  count(resourcePrefix: string): number {
    return this.objects.get(resourcePrefix)?.size ?? 0;
  }

  /**
   * Registers a watcher. With fromRevision undefined the watcher first gets the current objects as ADDED
   * (returned as `initial`), then every later event; otherwise the buffered events after fromRevision.
   * Throws ExpiredError when fromRevision is older than the buffer.
   */
  watch(sink: WatcherSink, fromRevision: number | undefined): { initial: CacheEvent[]; revision: number; registration: WatchRegistration } {
    const prefix = resourcePrefixOf(sink.keyPrefix);
    if (!prefix) throw new Error(`not a resource key prefix: ${sink.keyPrefix}`);
    let initial: CacheEvent[];
    if (fromRevision === undefined) {
      initial = this.list(sink.keyPrefix).map((entry) => ({ type: 'ADDED', key: '', object: entry.object, revision: entry.revision }));
    } else {
      if (fromRevision < this.oldestRevision) throw new ExpiredError(`too old resource version: ${fromRevision} (${this.oldestRevision})`);
      initial = this.buffer.after(fromRevision, (event) => event.key.startsWith(sink.keyPrefix));
    }
    if (!this.watchers.has(prefix)) this.watchers.set(prefix, new Set());
    this.watchers.get(prefix)!.add(sink);
    return {
      initial,
      revision: this.revision,
      registration: { cancel: () => this.watchers.get(prefix)?.delete(sink) },
    };
  }

  /**
   * Storage history at and below `revision` is gone: resuming from there must fail with 410 (clients relist),
   * exactly as a watch on the store itself would, even though memory still holds those events.
   */
  compactedTo(revision: number): void {
    if (revision <= this.oldestRevision) return;
    this.oldestRevision = Math.min(revision, this.revision);
    this.buffer.dropThrough(revision);
  }

  /** Open watchers (for metrics). */
  watcherCount(): number {
    let total = 0;
    for (const sinks of this.watchers.values()) total += sinks.size;
    return total;
  }
}
