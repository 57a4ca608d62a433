// The work queue every controller feeds and drains: client-go's rate-limited workqueue, in TypeScript.
//
//  - Keys (`namespace/name`, or `name` for cluster-scoped objects). Adding a key that is already queued is a
//    no-op (dedup: ten events for one object cost one reconcile).
//  - A key being processed is never handed to a second worker; if it is added meanwhile it is queued again
//    when the first worker calls done() (so the latest state is always reconciled once more).
//  - Failures: addRateLimited(key) waits max(per-key backoff, global token bucket). The per-key backoff is
//    cockatiel's ExponentialBackoff with the no-jitter generator: 5 ms, 10 ms, 20 ms, … capped at 5 minutes
//    (client-go: 5 ms … 1000 s); forget(key) (after a success) resets it. The token bucket (10 retries/s,
//    burst 100, like client-go's BucketRateLimiter) bounds the retry rate of the whole queue, so a thousand
//    failing keys cannot hammer the API server.
//  - addAfter(key, ms): the key becomes ready later; a pending earlier time wins over a later one.
//  - run(workers, handler) starts N workers; shutDown() stops new adds and drains (queued keys and in-flight
//    work finish; delayed keys are dropped); shutDown({ drain: false }) only lets in-flight work finish.
//  - Depth, adds, retries, queue wait and processing durations go to optional hooks (metrics.ts).
import { ExponentialBackoff, noJitterGenerator, type IBackoff, type IBackoffFactory } from 'cockatiel';
import { Fifo } from './fifo.ts';

export interface WorkQueueHooks {
  /** Queue depth changed (keys ready and waiting for a worker). */
  depth?(depth: number): void;
  /** A key was added (counted even when deduplicated, like client-go's adds_total). */
  add?(): void;
  /** A key was re-added by addRateLimited. */
  retry?(): void;
  /** Seconds a key waited between becoming ready and a worker taking it. */
  queueDuration?(seconds: number): void;
  /** Seconds a worker spent on a key. */
  workDuration?(seconds: number): void;
}

export interface RateLimit {
  /** Tokens added per second. */
  qps: number;
  /** Bucket size (retries allowed at once). */
  burst: number;
}

export interface WorkQueueOptions {
  name?: string;
  /** Per-key backoff factory. Default: ExponentialBackoff 5 ms → 5 min, no jitter. */
  backoff?: IBackoffFactory<unknown>;
  /** Global retry limit; false disables it. Default { qps: 10, burst: 100 }. */
  rateLimit?: RateLimit | false;
  hooks?: WorkQueueHooks;
  /** Clock (ms); Date.now by default (jest fake timers mock it). */
  now?: () => number;
}

export interface ProcessResult {
  /** Process the key again after this many ms (the key's failure backoff is reset first). */
  requeueAfterMs?: number;
}

/** What a worker runs per key: resolve → forget(key) (+ addAfter when asked); throw → addRateLimited(key). */
export type KeyHandler = (key: string) => Promise<ProcessResult | void>;

export const DEFAULT_BACKOFF_INITIAL_MS = 5;
export const DEFAULT_BACKOFF_MAX_MS = 5 * 60_000;
export const DEFAULT_RATE_LIMIT: RateLimit = { qps: 10, burst: 100 };

export function defaultBackoff(): IBackoffFactory<unknown> {
  return new ExponentialBackoff({ initialDelay: DEFAULT_BACKOFF_INITIAL_MS, maxDelay: DEFAULT_BACKOFF_MAX_MS, generator: noJitterGenerator });
}

/** A token bucket that hands out reservations: the delay until the caller's token exists (golang.org/x/time/rate). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limit.qps > 0) || !(limit.burst >= 1)) throw new Error('a token bucket needs qps > 0 and burst >= 1');
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes a token; returns how many ms to wait before using it (0 when one was available). */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) * this.limit.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.limit.qps);
  }
}

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class WorkQueue {
  readonly name: string;
  private readonly queue = new Fifo<string>();
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** When each queued key became ready (for the wait-duration hook). */
  private readonly readySince = new Map<string, number>();
  private readonly delayed = new Map<string, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, { count: number; backoff: IBackoff<unknown> }>();
  private readonly getters: Array<(key: string | undefined) => void> = [];
  private readonly backoff: IBackoffFactory<unknown>;
  private readonly bucket?: TokenBucket;
  private readonly hooks: WorkQueueHooks;
  private readonly now: () => number;
  private shuttingDown = false;
  private drain = true;
  private workers: Array<Promise<void>> = [];

  constructor(options: WorkQueueOptions = {}) {
    this.name = options.name ?? 'queue';
    this.backoff = options.backoff ?? defaultBackoff();
    this.now = options.now ?? Date.now;
    const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
    if (rateLimit) this.bucket = new TokenBucket(rateLimit, this.now);
    this.hooks = options.hooks ?? {};
  }

  /** Keys ready and waiting for a worker. */
  len(): number {
    return this.queue.length;
  }

  /** Keys a worker is processing right now. */
  processingCount(): number {
    return this.processing.size;
  }

  /** Keys waiting for their addAfter / backoff time. */
  delayedCount(): number {
    return this.delayed.size;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Queues the key now (no-op when already queued or after shutDown). */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.hooks.add?.();
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again by done()
    this.push(key);
  }

  /** Queues the key after ms (now when ms <= 0). A pending earlier time for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.cancelDelayed(key);
      this.add(key);
      return;
    }
    const readyAt = this.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.readyAt <= readyAt) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { readyAt, timer });
  }

  /** After a failure: queues the key after max(its next backoff step, the global bucket's delay). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.hooks.retry?.();
    this.addAfter(key, this.when(key));
  }

  /** The delay addRateLimited would use now (advances the key's backoff and takes a bucket token). */
  private when(key: string): number {
    const entry = this.failures.get(key);
    const backoff = entry ? entry.backoff.next(undefined) : this.backoff.next(undefined);
    this.failures.set(key, { count: (entry?.count ?? 0) + 1, backoff });
    const bucketDelay = this.bucket?.reserve() ?? 0;
    return Math.max(backoff.duration, bucketDelay);
  }

  /** Resets the key's failure backoff (after a success, or when giving up on it). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many times the key has been re-added by addRateLimited since the last forget. */
  numRequeues(key: string): number {
    return this.failures.get(key)?.count ?? 0;
  }

  /**
   * The next key to process (marked processing: call done(key) afterwards), waiting for one if needed;
   * undefined once the queue shuts down (after draining, if it drains).
   */
  async get(): Promise<string | undefined> {
    if (this.queue.length > 0 && (!this.shuttingDown || this.drain)) return this.take();
    if (this.shuttingDown) return undefined;
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker finished the key; if it was re-added meanwhile it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      if (this.shuttingDown && !this.drain) {
        this.dirty.delete(key);
        return;
      }
      this.push(key);
    } else if (this.shuttingDown) {
      this.wakeIdleGettersIfDrained();
    }
  }

  /**
   * Starts `workers` workers running handler. A handler that resolves forgets the key's failures (and
   * re-adds it after requeueAfterMs when asked); one that throws re-adds it rate-limited.
   */
  run(workers: number, handler: KeyHandler): void {
    if (this.shuttingDown) throw new Error(`work queue ${this.name} is shut down`);
    for (let index = 0; index < Math.max(1, workers); index++) this.workers.push(this.worker(handler));
  }

  private async worker(handler: KeyHandler): Promise<void> {
    for (;;) {
      const key = await this.get();
      if (key === undefined) return;
      const started = this.now();
      try {
        const result = await handler(key);
        this.forget(key);
        if (result && result.requeueAfterMs !== undefined && result.requeueAfterMs >= 0) this.addAfter(key, result.requeueAfterMs);
      } catch {
        this.addRateLimited(key);
      } finally {
        this.hooks.workDuration?.((this.now() - started) / 1000);
        this.done(key);
      }
    }
  }

  /**
   * Stops accepting keys, drops delayed ones and resolves when the workers have exited: with drain (the
   * default) after every queued key has been processed, otherwise once in-flight keys are done.
   */
  async shutDown(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      this.drain = options.drain ?? true;
      for (const { timer } of this.delayed.values()) clearTimeout(timer);
      this.delayed.clear();
      if (!this.drain) {
        for (const key of this.queue) {
          this.dirty.delete(key);
          this.readySince.delete(key);
        }
        this.queue.clear();
        this.hooks.depth?.(0);
      }
      this.wakeIdleGettersIfDrained();
    }
    await Promise.all(this.workers);
  }

  private wakeIdleGettersIfDrained(): void {
    // Idle getters only wait while the queue is empty; after shutdown nothing can be added but keys
    // re-queued by done(), which the worker that finished them picks up itself.
    if (this.queue.length > 0) return;
    for (const getter of this.getters.splice(0)) getter(undefined);
  }

  private push(key: string): void {
    this.readySince.set(key, this.now());
    const getter = this.getters.shift();
    if (getter) {
      this.hooks.depth?.(this.queue.length);
      getter(this.takeKey(key));
      return;
    }
    this.queue.push(key);
    this.hooks.depth?.(this.queue.length);
  }

  private take(): string {
    const key = this.queue.shift()!;
    this.hooks.depth?.(this.queue.length);
    return this.takeKey(key);
  }

  private takeKey(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    const since = this.readySince.get(key);
    this.readySince.delete(key);
    if (since !== undefined) this.hooks.queueDuration?.((this.now() - since) / 1000);
    return key;
  }

  private cancelDelayed(key: string): void {
    const pending = this.delayed.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.delayed.delete(key);
    }
  }
}
