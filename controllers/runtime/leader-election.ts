// Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection with a LeaseLock):
//  - a candidate tries every retryPeriod (×1–1.2 jitter) to acquire the Lease: create it when missing; take it
//    when it is free (no holderIdentity) or expired (renewTime + leaseDurationSeconds < now), incrementing
//    leaseTransitions when the holder changes; every write is a PUT carrying the resourceVersion it read
//    (compare-and-swap: 409 = another candidate won the race);
//  - the leader renews every retryPeriod; if no renewal succeeds for renewDeadline it steps down (its work is
//    aborted before anyone else can take the expired lease, since renewDeadline < leaseDuration); seeing
//    another holder on renewal steps down at once;
//  - onStartedLeading(signal) runs while leading (signal aborts on step-down); onStoppedLeading() after;
//  - stop() releases the Lease (holderIdentity cleared, so the next candidate takes over at its next try)
//    after the leading work has ended; stop({ release: false }) just stops (a crash, for tests);
//  - setAnnotation(key, value) publishes something about this leader's term on the Lease (the controller
//    manager: the finalizers its controllers keep); every write sets or removes those keys, so a new holder's
//    first write clears what the previous term announced, and a term's announcements end with it.
// Expiry compares the holder's renewTime with this machine's clock (as the Lease API defines it); machines
// must keep their clocks in sync to well within leaseDuration − renewDeadline.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { isAlreadyExists, isConflict, isNotFound, leaseExpired, LeaseResource, type ApiClient, type Lease } from '../../apis/client/index.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { microTimestamp } from '../../apis/meta/time.ts';

export interface LeaderElectionOptions {
  client: ApiClient;
  /** Lease name, e.g. `photon-controller-manager`. */
  name: string;
  /** Default `photon-system`. */
  namespace?: string;
  /** Unique per process; default `<hostname>_<random>`. */
  identity?: string;
  /** Default 15 s. */
  leaseDurationMs?: number;
  /** Default 10 s; must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Default 2 s; must be < renewDeadlineMs. */
  retryPeriodMs?: number;
  /** Runs when this process becomes leader; stop work when the signal aborts. May return a promise. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called after leading ends (the work of onStartedLeading has finished). */
  onStoppedLeading?(): void | Promise<void>;
  /** Called when the observed leader changes (including to this process). */
  onNewLeader?(identity: string): void;
  logger?: Logger;
  metrics?: RuntimeMetrics;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}

export class LeaderElector {
  readonly identity: string;
  readonly name: string;
  readonly namespace: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly log: Logger;
  private stopController = new AbortController();
  private loop?: Promise<void>;
  private leading = false;
  private lastRenewMs = 0;
  private observedHolder = '';
  private lease?: Lease;
  private release = true;
  /** Keys this elector writes on the Lease: a value to set, undefined to remove. */
  private readonly annotations = new Map<string, string | undefined>();

  constructor(private readonly options: LeaderElectionOptions) {
    this.name = options.name;
    this.namespace = options.namespace ?? 'photon-system';
    this.identity = options.identity ?? `${os.hostname()}_${randomBytes(6).toString('hex')}`;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) throw new Error('leaseDurationMs must be greater than renewDeadlineMs');
    if (!(this.renewDeadlineMs > this.retryPeriodMs * 1.2)) throw new Error('renewDeadlineMs must be greater than 1.2 × retryPeriodMs');
    this.log = (options.logger ?? createLogger('leader-election')).child({ lease: `${this.namespace}/${this.name}`, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder this elector last saw on the Lease ('' when free or unknown). */
  get leader(): string {
    return this.observedHolder;
  }

  /**
   * Sets (or, with undefined, removes) an annotation on the Lease at this elector's next write (the next
   * renewal while leading). A key given once is this elector's from then on: every write sets or removes
   * it, so give a key (undefined) before start() to have a takeover clear the previous holder's value.
   * Cleared for every key when leading ends, before onStoppedLeading.
   */
  setAnnotation(key: string, value: string | undefined): void {
    this.annotations.set(key, value);
  }

  /** The Lease's annotations with this elector's keys applied; undefined when that leaves none. */
  private annotated(existing: Record<string, string> | undefined): Record<string, string> | undefined {
    const annotations = { ...existing };
    for (const [key, value] of this.annotations) {
      if (value === undefined) delete annotations[key];
      else annotations[key] = value;
    }
    return Object.keys(annotations).length > 0 ? annotations : undefined;
  }

  /** Starts campaigning in the background (idempotent). */
  start(): void {
    if (this.loop) return;
    this.stopController = new AbortController();
    this.release = true;
    this.options.metrics?.setLeader(this.name, false);
    this.loop = this.run().catch((error) => {
      this.log.error('leader election loop failed', { error: errorMessage(error) });
    });
  }

  /** Stops campaigning; a leader ends its work, then (unless release is false) frees the Lease. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (!this.loop) return;
    this.release = options.release ?? true;
    this.stopController.abort();
    await this.loop;
    this.loop = undefined;
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private jittered(ms: number): number {
    return ms * (1 + Math.random() * 0.2);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!(await this.tryAcquireOrRenew(this.retryPeriodMs))) {
        await sleep(this.jittered(this.retryPeriodMs), this.stopController.signal);
        continue;
      }
      await this.lead();
    }
  }

  /** Leads until stopped, or until renewals fail for renewDeadline, or someone else holds the Lease. */
  private async lead(): Promise<void> {
    this.leading = true;
    this.options.metrics?.setLeader(this.name, true);
    this.log.info('became leader');
    const work = new AbortController();
    let workDone: Promise<void> = Promise.resolve();
    try {
      workDone = Promise.resolve(this.options.onStartedLeading(work.signal)).catch((error) => {
        this.log.error('onStartedLeading failed', { error: errorMessage(error) });
      });
    } catch (error) {
      this.log.error('onStartedLeading failed', { error: errorMessage(error) });
    }
    let lostReason = 'stopped';
    // Step down when the deadline passes even if a renewal request is still hanging.
    const deadline = new AbortController();
    const watchdog = setInterval(() => {
      if (Date.now() - this.lastRenewMs > this.renewDeadlineMs) deadline.abort();
    }, Math.max(50, Math.min(this.retryPeriodMs, 500)));
    const either = AbortSignal.any([this.stopController.signal, deadline.signal]);
    while (!either.aborted) {
      await sleep(this.retryPeriodMs, either);
      if (either.aborted) break;
      const remaining = this.renewDeadlineMs - (Date.now() - this.lastRenewMs);
      const renewed = await this.tryAcquireOrRenew(Math.max(100, remaining), either);
      if (renewed) continue;
      if (this.observedHolder && this.observedHolder !== this.identity) {
        lostReason = `the lease is now held by ${this.observedHolder}`;
        break;
      }
    }
    clearInterval(watchdog);
    if (deadline.signal.aborted && !this.stopped) lostReason = `could not renew within ${this.renewDeadlineMs} ms`;
    this.leading = false;
    this.options.metrics?.setLeader(this.name, false);
    // What this term announced ends with it (written by the release, or by whoever takes the Lease next).
    for (const key of this.annotations.keys()) this.annotations.set(key, undefined);
    work.abort(new Error(`leadership lost: ${lostReason}`));
    // Wait for the work to wind down (so two leaders never overlap), but not forever: after a lease
    // duration another candidate may lead anyway.
    let windDown: NodeJS.Timeout | undefined;
    const finished = await Promise.race([workDone.then(() => true), new Promise<boolean>((resolve) => (windDown = setTimeout(() => resolve(false), this.leaseDurationMs)))]);
    clearTimeout(windDown);
    if (!finished) this.log.warn('the leading work did not stop within a lease duration of its signal');
    this.log.info('stopped leading', { reason: lostReason });
    try {
      await this.options.onStoppedLeading?.();
    } catch (error) {
      this.log.error('onStoppedLeading failed', { error: errorMessage(error) });
    }
    if (this.stopped && this.release && lostReason === 'stopped') await this.releaseLease();
  }

  /** One attempt; true when this process holds the Lease afterwards. */
  private async tryAcquireOrRenew(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const requestSignal = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.any([this.stopController.signal, AbortSignal.timeout(timeoutMs)]);
    const client = this.options.client;
    const now = new Date();
    const leaseSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    try {
      let current: Lease;
      try {
        current = await client.get<Lease>(LeaseResource, this.name, { namespace: this.namespace, signal: requestSignal });
      } catch (error) {
        if (!isNotFound(error)) throw error;
        const created = await client.create<Lease>(
          LeaseResource,
          {
            metadata: { name: this.name, namespace: this.namespace, annotations: this.annotated(undefined) },
            spec: { holderIdentity: this.identity, leaseDurationSeconds: leaseSeconds, acquireTime: microTimestamp(now), renewTime: microTimestamp(now), leaseTransitions: 0 },
          },
          { signal: requestSignal },
        );
        return this.held(created, now);
      }
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      this.observe(holder);
      if (holder !== this.identity && holder && !leaseExpired(spec, now.getTime(), leaseSeconds)) return false;
      const takeover = holder !== this.identity;
      const next: Lease = {
        ...current,
        metadata: { ...current.metadata, annotations: this.annotated(current.metadata.annotations) },
        spec: {
          ...spec,
          holderIdentity: this.identity,
          leaseDurationSeconds: leaseSeconds,
          renewTime: microTimestamp(now),
          acquireTime: takeover ? microTimestamp(now) : (spec.acquireTime ?? microTimestamp(now)),
          leaseTransitions: takeover ? (spec.leaseTransitions ?? 0) + 1 : (spec.leaseTransitions ?? 0),
        },
      };
      const written = await client.update<Lease>(LeaseResource, next, { signal: requestSignal });
      if (takeover) this.log.info('acquired the lease', { previousHolder: holder || undefined, leaseTransitions: next.spec!.leaseTransitions });
      return this.held(written, now);
    } catch (error) {
      if (isConflict(error) || isAlreadyExists(error)) {
        this.log.debug('lost a lease race', { error: errorMessage(error) });
      } else if (!this.stopped) {
        this.log[this.leading ? 'warn' : 'debug']('lease request failed', { error: errorMessage(error) });
      }
      return false;
    }
  }

  private held(lease: Lease, now: Date): boolean {
    this.lease = lease;
    this.lastRenewMs = now.getTime();
    this.observe(this.identity);
    return true;
  }

  private observe(holder: string): void {
    if (holder === this.observedHolder) return;
    this.observedHolder = holder;
    if (holder) {
      try {
        this.options.onNewLeader?.(holder);
      } catch (error) {
        this.log.error('onNewLeader failed', { error: errorMessage(error) });
      }
    }
  }

  /**
   * Frees the Lease so the next candidate takes over at its next try (client-go's ReleaseOnCancel). It reads
   * the Lease first: a renewal aborted by stop() may still have been applied, so the last written copy can
   * be stale. Gives up when someone else holds it, or after a few conflicts (the Lease then just expires).
   */
  private async releaseLease(): Promise<void> {
    if (!this.lease) return;
    const timeoutMs = Math.max(1000, this.retryPeriodMs);
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const current = await this.options.client.get<Lease>(LeaseResource, this.name, { namespace: this.namespace, timeoutMs });
        if (current.spec?.holderIdentity !== this.identity) return;
        const now = microTimestamp(new Date());
        const metadata = { ...current.metadata, annotations: this.annotated(current.metadata.annotations) };
        await this.options.client.update<Lease>(LeaseResource, { ...current, metadata, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } }, { timeoutMs });
        this.observedHolder = '';
        this.lease = undefined;
        this.log.info('released the lease');
        return;
      } catch (error) {
        if (isConflict(error) && attempt < 3) continue;
        this.log.warn('could not release the lease; it will expire', { error: errorMessage(error) });
        return;
      }
    }
  }
}
