// The informer: an always-current in-memory copy of one resource (optionally one namespace / selector),
// kept by list-then-watch, with add/update/delete handlers. It fixes what client-node's informer gets wrong
// (it stops on any error but 410 and relists without backoff): it never stops on an error and never hot-loops.
//
//  - List (paginated, one consistent snapshot), then watch from the list's resourceVersion with bookmarks,
//    so the resourceVersion to resume from keeps moving even when nothing changes.
//  - A stream that ends (server timeout, restart) is re-opened from the last seen resourceVersion.
//  - 410 Expired (history compacted, watch cache restarted) → relist: objects that vanished are emitted as
//    deletes, changed ones as updates, new ones as adds; unchanged ones emit nothing.
//  - Any other failure (connection refused, 5xx, timeouts) → retry after an exponential backoff with jitter
//    (cockatiel ExponentialBackoff, half jitter: 250 ms, 500 ms, 1 s, … capped at 30 s, each drawn in
//    [d/2, d)); never gives up; one warning per failure streak (debug for the rest) and one info line when it
//    recovers. A 410 right after a list, or a stream that ends at once, also counts as a failure so that a
//    misbehaving server cannot make it spin.
//  - Optional periodic resync: every cached object is handed to update handlers again (old === new).
import { randomInt } from 'node:crypto';
import { ExponentialBackoff, halfJitterGenerator, type IBackoff, type IBackoffFactory } from 'cockatiel';
import { groupResourceOf, isGone, type ApiClient, type ResourceRef, type WatchHandle } from '../../apis/client/index.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import type { KubeObject, WatchEvent } from '../../apis/meta/types.ts';
import { objectKey } from './workqueue.ts';

export interface InformerHandlers<T extends KubeObject> {
  onAdd?(object: T): void;
  onUpdate?(oldObject: T, newObject: T): void;
  /** The object's last known state (from the DELETED event, or the cache when a relist found it gone). */
  onDelete?(object: T): void;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver every cached object to update handlers this often (0/undefined: never). */
  resyncPeriodMs?: number;
  /** Page size of lists. Default 500. */
  pageSize?: number;
  /** Ask for bookmarks (default true): they keep the resume point fresh, which avoids most 410s. */
  allowWatchBookmarks?: boolean;
  /** Watch timeoutSeconds asked of the server: random in [min, 2·min). Default min 300 s (client-go). */
  minWatchTimeoutSeconds?: number;
  /** Retry backoff on failures. Default ExponentialBackoff 250 ms → 30 s, half jitter. */
  backoff?: IBackoffFactory<unknown>;
  /** A stream that ends sooner than this without delivering anything counts as a failure. Default 1 s. */
  minWatchDurationMs?: number;
  logger?: Logger;
}

export interface InformerStats {
  lists: number;
  relists: number;
  watches: number;
  /** Failed list/watch attempts (errors, not normal stream ends). */
  failures: number;
  /** Length of the current failure streak (0 when healthy). */
  failureStreak: number;
}

class Stopped extends Error {}

export class Informer<T extends KubeObject = KubeObject> {
  readonly resource: ResourceRef;
  readonly options: Readonly<InformerOptions>;
  private readonly cache = new Map<string, T>();
  /** The same objects by namespace: a list of one namespace is O(its objects), not O(every object cached). */
  private readonly byNamespace = new Map<string | undefined, Map<string, T>>();
  private readonly handlers = new Set<InformerHandlers<T>>();
  private readonly log: Logger;
  private readonly backoffFactory: IBackoffFactory<unknown>;
  private backoff?: IBackoff<unknown>;
  private running = false;
  private stopRequested = false;
  private loop?: Promise<void>;
  private abort?: AbortController;
  private watch?: WatchHandle;
  private wakeUp?: () => void;
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private resyncTimer?: NodeJS.Timeout;
  private resourceVersion = '';
  private loggedFailure = false;
  readonly stats: InformerStats = { lists: 0, relists: 0, watches: 0, failures: 0, failureStreak: 0 };

  constructor(
    private readonly client: ApiClient,
    resource: ResourceRef,
    options: InformerOptions = {},
  ) {
    this.resource = resource;
    this.options = { ...options };
    this.log = (options.logger ?? createLogger('informer')).child({ resource: groupResourceOf(resource), ...(options.namespace ? { namespace: options.namespace } : {}) });
    this.backoffFactory = options.backoff ?? new ExponentialBackoff({ initialDelay: 250, maxDelay: 30_000, generator: halfJitterGenerator });
  }

  /** Registers handlers. Registered after the first sync, onAdd is called at once for every cached object. */
  addEventHandler(handlers: InformerHandlers<T>): () => void {
    this.handlers.add(handlers);
    if (this.synced) for (const object of this.cache.values()) this.call(handlers, 'onAdd', object);
    return () => this.handlers.delete(handlers);
  }

  /** Starts list+watch in the background (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopRequested = false;
    this.abort = new AbortController();
    this.loop = this.run();
    if (this.options.resyncPeriodMs && this.options.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncPeriodMs);
      this.resyncTimer.unref?.();
    }
  }

  /** Stops watching; the cache keeps its last contents. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopRequested = true;
    clearInterval(this.resyncTimer);
    this.abort?.abort(new Stopped('the informer was stopped'));
    this.watch?.close();
    this.wakeUp?.();
    await this.loop;
    this.running = false;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** True once the first list has been delivered to the handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once synced; false if timeoutMs passes first. */
  waitForSync(timeoutMs?: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.syncWaiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.syncWaiters = this.syncWaiters.filter((candidate) => candidate !== waiter);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  /** The cached object (never modify it: clone first). */
  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(objectKey(this.resource.namespaced ? namespace : undefined, name));
  }

  getByKey(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** Cached objects, of one namespace when given. */
  list(namespace?: string): T[] {
    if (namespace === undefined) return [...this.cache.values()];
    return [...(this.byNamespace.get(namespace)?.values() ?? [])];
  }

  /** Caches an object under its key (which carries its namespace: an update never moves it to another). */
  private store(key: string, object: T): void {
    this.cache.set(key, object);
    let inNamespace = this.byNamespace.get(object.metadata.namespace);
    if (!inNamespace) this.byNamespace.set(object.metadata.namespace, (inNamespace = new Map()));
    inNamespace.set(key, object);
  }

  private forget(key: string, object: T): void {
    this.cache.delete(key);
    const inNamespace = this.byNamespace.get(object.metadata.namespace);
    inNamespace?.delete(key);
    if (inNamespace?.size === 0) this.byNamespace.delete(object.metadata.namespace);
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  /** The resourceVersion the next watch resumes from. */
  get lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  // ---- the loop ----

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopRequested) {
      let listing = false;
      try {
        if (needList) {
          listing = true;
          await this.listAndReplace();
          listing = false;
          needList = false;
        }
        const outcome = await this.watchOnce();
        if (outcome === 'quick-end') {
          await this.failed(new Error('the watch ended as soon as it started'));
        } else {
          this.lastWasList = false;
          this.recovered();
        }
      } catch (error) {
        if (error instanceof Stopped || this.stopRequested) break;
        if (isGone(error)) {
          // The resourceVersion is too old: relist. A 410 straight after a list means the server cannot serve
          // what it just listed; back off instead of spinning.
          needList = true;
          this.stats.relists++;
          // A paginated list whose continue token expired, or a 410 straight after a list: back off.
          if (listing || this.lastWasList) await this.failed(error);
          else this.log.debug('watch expired (410); relisting', { resourceVersion: this.resourceVersion });
          continue;
        }
        await this.failed(error);
      }
    }
  }

  /** True from a list until a watch delivers anything (bookmarks included) or runs its course. */
  private lastWasList = false;

  private async listAndReplace(): Promise<void> {
    this.stats.lists++;
    const list = await this.client.listAll<T>(this.resource, {
      namespace: this.options.namespace,
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
      pageSize: this.options.pageSize ?? 500,
      signal: this.abort?.signal,
    });
    if (this.stopRequested) throw new Stopped();
    const fresh = new Map<string, T>();
    for (const item of list.items) {
      const object = this.withTypeMeta(item);
      fresh.set(this.keyOf(object), object);
    }
    const previous = new Map(this.cache);
    this.cache.clear();
    this.byNamespace.clear();
    for (const [key, object] of fresh) this.store(key, object);
    for (const [key, old] of previous) if (!fresh.has(key)) this.dispatch('onDelete', old);
    for (const [key, object] of fresh) {
      const old = previous.get(key);
      if (!old) this.dispatch('onAdd', object);
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) this.dispatch('onUpdate', old, object);
    }
    this.resourceVersion = list.metadata.resourceVersion ?? '';
    this.lastWasList = true;
    this.markSynced();
    // The failure streak ends only once a watch works too: list-then-410 must keep backing off.
  }

  /** One watch stream; resolves 'ok' when the server ended it normally, 'quick-end' when it ended at once. */
  private async watchOnce(): Promise<'ok' | 'quick-end'> {
    const minTimeout = this.options.minWatchTimeoutSeconds ?? 300;
    const timeoutSeconds = minTimeout + randomInt(Math.max(1, minTimeout));
    const opened = Date.now();
    let delivered = 0;
    this.stats.watches++;
    this.watch = await this.client.watch<T>(
      this.resource,
      {
        namespace: this.options.namespace,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: this.options.allowWatchBookmarks ?? true,
        timeoutSeconds,
        // A half-open connection shows as silence: bookmarks arrive far more often than this.
        idleTimeoutMs: (timeoutSeconds + 60) * 1000,
        signal: this.abort?.signal,
      },
      (event) => {
        // The first event of a stream (bookmarks included) proves the server is back.
        if (delivered++ === 0 && this.stats.failureStreak > 0) this.recovered();
        this.handleEvent(event);
      },
    );
    if (this.stopRequested) this.watch.close();
    try {
      await this.watch.done;
    } finally {
      this.watch = undefined;
    }
    if (this.stopRequested) throw new Stopped();
    if (delivered === 0 && Date.now() - opened < (this.options.minWatchDurationMs ?? 1000)) return 'quick-end';
    return 'ok';
  }

  private handleEvent(event: WatchEvent<T>): void {
    const rv = event.object?.metadata?.resourceVersion;
    this.lastWasList = false;
    if (event.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const object = this.withTypeMeta(event.object);
    const key = this.keyOf(object);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      if (old) this.forget(key, old);
      this.dispatch('onDelete', object);
    } else if (old) {
      this.store(key, object);
      this.dispatch('onUpdate', old, object);
    } else {
      this.store(key, object);
      this.dispatch('onAdd', object);
    }
    if (rv) this.resourceVersion = rv;
  }

  private async failed(error: unknown): Promise<void> {
    if (this.stopRequested) return;
    this.stats.failures++;
    this.stats.failureStreak++;
    this.backoff = this.backoff ? this.backoff.next(undefined) : this.backoffFactory.next(undefined);
    const delay = Math.round(this.backoff.duration);
    if (!this.loggedFailure) {
      this.loggedFailure = true;
      this.log.warn('list/watch failed; retrying with backoff (further failures of this streak are logged at debug)', { error: errorMessage(error), retryInMs: delay });
    } else {
      this.log.debug('list/watch failed again', { error: errorMessage(error), retryInMs: delay, streak: this.stats.failureStreak });
    }
    await this.sleep(delay);
  }

  private recovered(): void {
    if (this.stats.failureStreak > 0 && this.loggedFailure) this.log.info('list/watch recovered', { failures: this.stats.failureStreak });
    this.stats.failureStreak = 0;
    this.loggedFailure = false;
    this.backoff = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private resync(): void {
    if (!this.synced) return;
    for (const object of this.cache.values()) this.dispatch('onUpdate', object, object);
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const waiter of this.syncWaiters.splice(0)) waiter();
  }

  private keyOf(object: KubeObject): string {
    return objectKey(this.resource.namespaced ? object.metadata.namespace : undefined, object.metadata.name ?? '');
  }

  private withTypeMeta(object: T): T {
    if (object.apiVersion && object.kind) return object;
    return { ...object, apiVersion: object.apiVersion ?? (this.resource.group ? `${this.resource.group}/${this.resource.version}` : this.resource.version), kind: object.kind ?? this.resource.kind };
  }

  private dispatch(kind: 'onAdd' | 'onDelete', object: T): void;
  private dispatch(kind: 'onUpdate', old: T, object: T): void;
  private dispatch(kind: keyof InformerHandlers<T>, first: T, second?: T): void {
    for (const handlers of this.handlers) this.call(handlers, kind, first, second);
  }

  private call(handlers: InformerHandlers<T>, kind: keyof InformerHandlers<T>, first: T, second?: T): void {
    try {
      if (kind === 'onUpdate') handlers.onUpdate?.(first, second!);
      else handlers[kind]?.(first);
    } catch (error) {
      this.log.error('informer handler threw', { handler: kind, error: errorMessage(error) });
    }
  }
}

/** Informer identity: one shared informer per (resource, namespace, selectors). */
function informerKey(resource: ResourceRef, options: InformerOptions): string {
  return JSON.stringify([resource.group, resource.version, resource.plural, options.namespace ?? '', options.labelSelector ?? '', options.fieldSelector ?? '']);
}

export interface InformerCacheOptions {
  /** Defaults for every informer it creates (resync, backoff, logger, …). */
  defaults?: Omit<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'>;
}

/**
 * Shares informers (client-go's SharedInformerFactory): every controller asking for the same resource,
 * namespace and selectors gets the same informer, so a controller manager holds one watch per resource.
 */
export class InformerCache {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(
    readonly client: ApiClient,
    private readonly options: InformerCacheOptions = {},
  ) {}

  informerFor<T extends KubeObject = KubeObject>(resource: ResourceRef, options: Pick<InformerOptions, 'namespace' | 'labelSelector' | 'fieldSelector'> = {}): Informer<T> {
    const key = informerKey(resource, options);
    let informer = this.informers.get(key);
    if (!informer) {
      informer = new Informer<KubeObject>(this.client, resource, { ...this.options.defaults, ...options });
      this.informers.set(key, informer);
      if (this.started) informer.start();
    }
    return informer as unknown as Informer<T>;
  }

  /** Starts every informer (and those created later). */
  start(): void {
    this.started = true;
    for (const informer of this.informers.values()) informer.start();
  }

  /** Resolves true when every informer has synced (false on timeout). */
  async waitForSync(timeoutMs?: number): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((informer) => informer.waitForSync(timeoutMs)));
    return results.every(Boolean);
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
  }

  all(): Array<Informer<KubeObject>> {
    return [...this.informers.values()];
  }
}
