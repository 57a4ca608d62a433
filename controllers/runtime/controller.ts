// A Controller wires informers to a work queue and the queue's workers to a Reconciler (docs/architecture.md,
// "A reconcile"):
//   primary informers add/update/delete ──► key `<gr>/namespace/name` ──► WorkQueue (dedup, one worker
//   other kinds' informers ──► map(object) ──┘               per key, backoff, rate limit) ──► reconcile()
// Secondary watches map an object to the requests of its owners: by default every ownerReference that
// points at the primary kind; or any mapping function (e.g. Subnet → its Vpc by spec.vpcName), with an optional
// predicate that drops the updates it cannot care about (a Vpc lists its Subnets: their status writes do not
// matter to it). A primary update the reconciler says cannot change what it does (Reconciler.updateNeedsNoPass:
// the echo of its own status write, or nothing the garbage collector decides by) is not queued.
//
// A controller may have several primary kinds (the garbage collector's are every kind discovery finds):
// built without `resource`, it gets them from addPrimary(), also while running (a CRD that appears later),
// and requests given to it must name their resource. Keys carry the group/resource (`<gr>` is
// `<resource>.<group>`) and every request handed to a reconciler names its resource, in both shapes, so one
// worker loop and one outcome path (process) serve them all.
//
// Per reconcile: a winston child logger {controller, resource, namespace, name, reconcileID}, the event
// recorder and an AbortSignal that fires when the controller stops. Outcomes (see reconciler.ts): success →
// forget; requeueAfterMs → again later; 409 Conflict (a stale view) → again as soon as the informer shows a
// newer version (in the same worker turn, not behind the queued keys), else shortly, and rate-limited only
// after several in a row (logged at debug); any other error → rate-limited retry; TerminalError → no retry,
// Stalled=True/Ready=False (reason from the error, observedGeneration) through the status helper plus a
// Warning event. A later successful reconcile removes a Stalled condition again.
import { randomUUID } from 'node:crypto';
import { groupResourceOf, type ApiClient, type ResourceRef } from '../../apis/client/index.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import type { Condition, KubeObject } from '../../apis/meta/types.ts';
import type { HandledFinalizer } from '../../apis/meta/finalizers.ts';
import { ApiEventRecorder, type EventRecorder } from './events.ts';
import type { Informer, InformerCache } from './informer.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { isStaleViewConflict, isTerminalError, type ReconcileRequest, type Reconciler, type TerminalError } from './reconciler.ts';
import { writeStatusIfChanged } from './status.ts';
import { findCondition, removeCondition, setCondition } from '../../apis/meta/conditions.ts';
import { objectKey, splitKey, WorkQueue, type ProcessResult, type WorkQueueOptions } from './workqueue.ts';

export interface WatchSource<T extends KubeObject = KubeObject> {
  /** The kind to watch, through the shared informer for it; or give `informer` (see watchOf). */
  resource?: ResourceRef;
  /** A typed shared informer: the mapper then gets that type, no casts. */
  informer?: Informer<T>;
  namespace?: string;
  labelSelector?: string;
  /**
   * Requests to enqueue for a changed object of this kind. Default: its owners of the primary kind.
   * (A method signature on purpose: a WatchSource<Subnet> is then usable where a WatchSource is expected.)
   */
  map?(object: T): ReconcileRequest[];
  /**
   * Whether an update can matter to the reconciler (controller-runtime's update predicate): when false it maps
   * to nothing. Default: every update does. Adds and deletes always map; so does a resync (old === new).
   */
  updateMatters?(oldObject: T, newObject: T): boolean;
}

/** The reconcile requests for these objects (a watch mapper's usual answer: the objects of a filtered list). */
/** Conflicts in a row that are looked at again after CONFLICT_REQUEUE_MS × the streak, before the rate limiter takes over. */
const QUICK_CONFLICT_RETRIES = 5;
const CONFLICT_REQUEUE_MS = 50;
/** How long a worker waits, after a 409, for the informer to show a newer version of its object. */
const CONFLICT_CATCH_UP_MS = 250;

export const requestsFor = (objects: readonly KubeObject[]): ReconcileRequest[] => objects.map((object) => ({ namespace: object.metadata.namespace, name: object.metadata.name! }));

/**
 * A watch on a typed informer: `watchOf(informers.subnets, (subnet) => [...])`, the mapper typed by it;
 * `updateMatters` filters updates (see WatchSource).
 */
export function watchOf<T extends KubeObject>(informer: Informer<T>, map: (object: T) => ReconcileRequest[], updateMatters?: (oldObject: T, newObject: T) => boolean): WatchSource<T> {
  return updateMatters ? { informer, map, updateMatters } : { informer, map };
}

export interface ControllerOptions {
  /** `<kind>-controller`: logs, metrics, events' reportingComponent, field manager. */
  name: string;
  client: ApiClient;
  /**
   * The primary kind: requests for its objects are what the reconciler gets. Omit it for a controller of
   * several kinds: primaries come from addPrimary() and every request carries its `resource`.
   */
  resource?: ResourceRef;
  reconciler: Reconciler;
  /** Shared informers (one per resource across controllers). */
  informers: InformerCache;
  /** Restrict the primary informer to a namespace / label selector / field selector (a node agent: its VMs). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Other kinds whose changes requeue primary objects. */
  watches?: WatchSource[];
  /** Default 2. */
  workers?: number;
  /** Default: an ApiEventRecorder with component = name. */
  recorder?: EventRecorder;
  logger?: Logger;
  metrics?: RuntimeMetrics;
  /** Work queue tuning (backoff, rate limit). */
  queue?: Omit<WorkQueueOptions, 'name' | 'hooks'>;
  /** On TerminalError set Stalled=True / Ready=False on the object (its kind needs /status). Default true. */
  stalledConditions?: boolean;
  /** Remove a Stalled condition after a successful reconcile. Default true (Stalled belongs to the runtime). */
  clearStalledOnSuccess?: boolean;
  /** Start the workers after this long even if an informer has not synced yet (logged). Default: wait. */
  syncTimeoutMs?: number;
}

/** A request as the controller hands it to the reconciler: it always names its primary resource. */
type PrimaryRequest = ReconcileRequest & { resource: ResourceRef };

interface Primary {
  resource: ResourceRef;
  informer: Informer<KubeObject>;
}

/** Requests for the owners of `object` that are of kind `owner` (ownerReferences are namespace-local). */
export function ownerRequests(owner: Pick<ResourceRef, 'group' | 'kind' | 'namespaced'>, options: { controllerOnly?: boolean } = {}): (object: KubeObject) => ReconcileRequest[] {
  return (object) =>
    (object.metadata.ownerReferences ?? [])
      .filter((reference) => reference.kind === owner.kind && groupOf(reference.apiVersion) === owner.group && (!options.controllerOnly || reference.controller === true))
      .map((reference) => (owner.namespaced ? { namespace: object.metadata.namespace, name: reference.name } : { name: reference.name }));
}

function requiredResource(source: WatchSource): ResourceRef {
  if (!source.resource) throw new Error('a watch source needs a resource or an informer');
  return source.resource;
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export class Controller {
  readonly name: string;
  /** Primary resources by `<resource>.<group>`; they are only ever added. */
  private readonly primaries = new Map<string, Primary>();
  /** Keys whose last reconciles ended in a 409 Conflict, and how many in a row. */
  private readonly conflictStreaks = new Map<string, number>();
  private readonly secondary: Array<{ informer: Informer<KubeObject>; map: (object: KubeObject) => ReconcileRequest[]; updateMatters?: (oldObject: KubeObject, newObject: KubeObject) => boolean }>;
  private readonly log: Logger;
  readonly recorder: EventRecorder;
  private currentQueue?: WorkQueue;
  private unsubscribe: Array<() => void> = [];
  private abort = new AbortController();
  private running = false;
  private starting?: Promise<void>;

  constructor(private readonly options: ControllerOptions) {
    this.name = options.name;
    this.log = (options.logger ?? createLogger('controller-manager')).child({ controller: options.name });
    if (options.resource) this.addPrimary(options.resource, { namespace: options.namespace, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector });
    this.secondary = (options.watches ?? []).map((source) => ({
      informer: source.informer ?? options.informers.informerFor(requiredResource(source), { namespace: source.namespace, labelSelector: source.labelSelector }),
      map: source.map ? (object: KubeObject) => source.map!(object) : ownerRequests(this.soleResource()),
      ...(source.updateMatters ? { updateMatters: (oldObject: KubeObject, newObject: KubeObject) => source.updateMatters!(oldObject, newObject) } : {}),
    }));
    this.recorder = options.recorder ?? new ApiEventRecorder(options.client, { component: options.name, logger: this.log });
  }

  /**
   * The finalizers its reconciler keeps on every object of its primary kind. None for a controller that sees
   * only some objects (a namespace, a selector: a node agent's): it does not handle the others.
   */
  get finalizers(): readonly HandledFinalizer[] {
    const { namespace, labelSelector, fieldSelector } = this.options;
    return namespace || labelSelector || fieldSelector ? [] : (this.options.reconciler.finalizers ?? []);
  }

  /** The informer of the primary kind (of a controller built with `resource`). */
  get informer(): Informer<KubeObject> {
    return this.primaries.get(groupResourceOf(this.soleResource()))!.informer;
  }

  /**
   * Makes `resource` a primary kind: changes of its objects enqueue requests for them. While running, its
   * informer starts at once (its objects are queued as it lists them). A resource already primary: no-op.
   */
  addPrimary(resource: ResourceRef, selectors: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): void {
    const id = groupResourceOf(resource);
    if (this.primaries.has(id)) return;
    const primary: Primary = { resource, informer: this.options.informers.informerFor(resource, selectors) };
    this.primaries.set(id, primary);
    if (this.running && this.currentQueue) {
      this.subscribePrimary(primary, this.currentQueue);
      primary.informer.start();
    }
  }

  /** The current work queue (a new one per start). */
  get queue(): WorkQueue {
    if (!this.currentQueue) throw new Error(`controller ${this.name} has not been started`);
    return this.currentQueue;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Enqueues a request by hand (e.g. from a timer or another controller). Its resource defaults to the
   * controller's only primary kind; naming one that is not primary throws.
   */
  enqueue(request: ReconcileRequest): void {
    this.currentQueue?.add(this.keyOf(request));
  }

  /**
   * Starts the informers this controller uses (shared ones may already run), waits until they have synced,
   * then starts the workers. Resolves once workers run; stop() while waiting resolves it too.
   */
  start(): Promise<void> {
    if (this.running) return this.starting ?? Promise.resolve();
    this.running = true;
    this.abort = new AbortController();
    const queue = new WorkQueue({ ...this.options.queue, name: this.name, hooks: this.options.metrics?.queueHooks(this.name) });
    this.currentQueue = queue;
    for (const primary of this.primaries.values()) this.subscribePrimary(primary, queue);
    for (const { informer, map, updateMatters } of this.secondary) {
      const mapped = (object: KubeObject) => {
        try {
          for (const request of map(object)) queue.add(this.keyOf(request));
        } catch (error) {
          this.log.error('watch mapping function threw', { resource: groupResourceOf(informer.resource), error: errorMessage(error) });
        }
      };
      this.unsubscribe.push(
        informer.addEventHandler({
          onAdd: mapped,
          onUpdate: (old, object) => {
            if (old !== object && updateMatters && !this.matters(updateMatters, old, object)) return;
            mapped(old);
            mapped(object);
          },
          onDelete: mapped,
        }),
      );
    }
    const informers = [...[...this.primaries.values()].map((primary) => primary.informer), ...this.secondary.map((source) => source.informer)];
    for (const informer of informers) informer.start();
    const signal = this.abort.signal;
    this.starting = (async () => {
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([Promise.all(informers.map((informer) => informer.waitForSync(this.options.syncTimeoutMs))), aborted]);
      if (signal.aborted) return;
      const unsynced = informers.filter((informer) => !informer.hasSynced()).map((informer) => groupResourceOf(informer.resource));
      if (unsynced.length > 0) this.log.warn('starting workers before every informer synced', { unsynced, syncTimeoutMs: this.options.syncTimeoutMs });
      this.log.info('caches synced; starting workers', { workers: this.options.workers ?? 2 });
      queue.run(this.options.workers ?? 2, (key) => this.process(key, signal));
    })();
    return this.starting;
  }

  /**
   * Stops: no new keys, the reconcile signal aborts, in-flight reconciles finish (queued keys are dropped:
   * whoever leads next relists and reconciles everything). Shared informers keep running (InformerCache.stop).
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.abort.abort(new Error(`controller ${this.name} is stopping`));
    await this.starting;
    await this.currentQueue?.shutDown({ drain: false });
  }

  private subscribePrimary(primary: Primary, queue: WorkQueue): void {
    const enqueue = (object: KubeObject) => queue.add(this.keyOf({ resource: primary.resource, namespace: object.metadata.namespace, name: object.metadata.name ?? '' }));
    const reconciler = this.options.reconciler;
    const onUpdate = (old: KubeObject, object: KubeObject) => {
      if (!reconciler.updateNeedsNoPass?.(old, object)) enqueue(object);
    };
    this.unsubscribe.push(primary.informer.addEventHandler({ onAdd: enqueue, onUpdate, onDelete: enqueue }));
  }

  /** A watch's update predicate; one that throws counts as "matters" (a pass too many, never one missed). */
  private matters(updateMatters: (oldObject: KubeObject, newObject: KubeObject) => boolean, old: KubeObject, object: KubeObject): boolean {
    try {
      return updateMatters(old, object);
    } catch (error) {
      this.log.error('watch update predicate threw', { error: errorMessage(error) });
      return true;
    }
  }

  /** The resource of a controller built with one; requests of a several-kind controller must name theirs. */
  private soleResource(): ResourceRef {
    if (!this.options.resource) throw new Error(`controller ${this.name} has several primary kinds: a request (or a watch's default owner mapping) must name its resource`);
    return this.options.resource;
  }

  /** `<resource>.<group>/<namespace>/<name>` (no namespace for cluster-scoped kinds). */
  private keyOf(request: ReconcileRequest): string {
    const id = groupResourceOf(request.resource ?? this.soleResource());
    const primary = this.primaries.get(id);
    if (!primary) throw new Error(`controller ${this.name}: ${id} is not one of its primary resources`);
    return `${id}/${objectKey(primary.resource.namespaced ? request.namespace : undefined, request.name)}`;
  }

  private requestOf(key: string): PrimaryRequest | undefined {
    const slash = key.indexOf('/');
    const primary = this.primaries.get(key.slice(0, slash));
    if (!primary) return undefined; // cannot happen: keys are built from primaries, which are never removed
    const rest = key.slice(slash + 1);
    return { resource: primary.resource, ...(primary.resource.namespaced ? splitKey(rest) : { name: rest }) };
  }

  private async process(key: string, signal: AbortSignal): Promise<ProcessResult | void> {
    const request = this.requestOf(key);
    if (!request) return;
    const reconcileID = randomUUID();
    const log = this.log.child({ resource: groupResourceOf(request.resource), namespace: request.namespace, name: request.name, reconcileID });
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const seenVersion = this.cached(request)?.metadata.resourceVersion;
    try {
      const result = (await this.options.reconciler.reconcile(request, { log, recorder: this.recorder, signal })) ?? {};
      this.conflictStreaks.delete(key);
      if (this.options.stalledConditions !== false && this.options.clearStalledOnSuccess !== false) await this.clearStalled(request, signal, log);
      const requeueAfterMs = result.requeueAfterMs;
      this.options.metrics?.observeReconcile(this.name, requeueAfterMs !== undefined ? 'requeue_after' : 'success', seconds());
      if (log.isLevelEnabled('debug')) log.debug('reconciled', { ms: Math.round(seconds() * 1000), requeueAfterMs });
      return requeueAfterMs !== undefined ? { requeueAfterMs: Math.max(0, requeueAfterMs) } : undefined;
    } catch (error) {
      if (signal.aborted) {
        log.debug('reconcile interrupted by shutdown', { error: errorMessage(error) });
        throw error;
      }
      if (isTerminalError(error)) {
        this.options.metrics?.observeReconcile(this.name, 'terminal', seconds());
        log.error('reconcile failed terminally; not retrying until the object changes', { reason: error.reason, error: error.message });
        await this.markStalled(request, error, signal, log);
        return undefined;
      }
      if (isStaleViewConflict(error)) {
        this.options.metrics?.observeReconcile(this.name, 'conflict', seconds());
        // The newer version that refused the write is on its way through the watch, which queues the key again
        // at once; the short requeue is the fallback. Sending conflicts through the rate limiter instead (one
        // global bucket per queue) made every write race on a busy object wait behind all the others.
        const streak = (this.conflictStreaks.get(key) ?? 0) + 1;
        if (streak <= QUICK_CONFLICT_RETRIES) {
          this.conflictStreaks.set(key, streak);
          log.debug('stale view (409 Conflict); looking again shortly', { error: errorMessage(error), streak });
          // Once the informer shows a newer version, at once and in this turn: requeued, the key went behind
          // every queued key (30,000 VMs in the scale run: minutes), and the scheduler and the VM controller
          // both writing a new VM's status met a 409 on about a third of their passes.
          if (await this.caughtUp(request, seenVersion, signal)) return this.process(key, signal);
          return { requeueAfterMs: CONFLICT_REQUEUE_MS * streak };
        }
        this.conflictStreaks.delete(key);
        log.debug('stale view (409 Conflict) again; retrying with backoff', { error: errorMessage(error) });
        throw error;
      }
      this.options.metrics?.observeReconcile(this.name, 'error', seconds());
      log.error('reconcile failed; retrying with backoff', { error: errorMessage(error), retries: this.currentQueue?.numRequeues(key) ?? 0 });
      throw error;
    }
  }

  /** Whether the informer shows the object at another version than `seen` (or gone) within CONFLICT_CATCH_UP_MS. */
  private async caughtUp(request: PrimaryRequest, seen: string | undefined, signal: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + CONFLICT_CATCH_UP_MS;
    while (!signal.aborted && performance.now() < deadline) {
      if (this.cached(request)?.metadata.resourceVersion !== seen) return true;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return false;
  }

  private cached(request: PrimaryRequest): KubeObject | undefined {
    return this.primaries.get(groupResourceOf(request.resource))?.informer.get(request.name, request.namespace);
  }

  /** TerminalError → Stalled=True and Ready=False with the error's reason, observedGeneration, a Warning event. */
  private async markStalled(request: PrimaryRequest, error: TerminalError, signal: AbortSignal, log: Logger): Promise<void> {
    const object = this.cached(request);
    if (!object) return;
    void this.recorder.event(object, 'Warning', error.reason, error.message);
    if (this.options.stalledConditions === false) return;
    const generation = object.metadata.generation;
    const status = { ...((object.status as Record<string, unknown> | undefined) ?? {}) };
    let conditions = setCondition(status.conditions as Condition[] | undefined, { type: 'Stalled', status: 'True', reason: error.reason, message: error.message }, generation);
    conditions = setCondition(conditions, { type: 'Ready', status: 'False', reason: error.reason, message: error.message }, generation);
    const newStatus: Record<string, unknown> = { ...status, conditions };
    if (generation !== undefined) newStatus.observedGeneration = generation;
    // A 409 here rethrows: the key is retried (rate limited), reconciles again and stalls on fresh data.
    const result = await writeStatusIfChanged(this.options.client, request.resource, object, newStatus, { fieldManager: this.name, signal });
    if (result.changed) log.debug('set Stalled=True', { reason: error.reason });
  }

  /** After a success: drop a Stalled condition left by an earlier TerminalError (fresh read, CAS write). */
  private async clearStalled(request: PrimaryRequest, signal: AbortSignal, log: Logger): Promise<void> {
    const cached = this.cached(request);
    if (!cached || findCondition((cached.status as { conditions?: Condition[] } | undefined)?.conditions, 'Stalled') === undefined) return;
    let fresh: KubeObject;
    try {
      fresh = await this.options.client.get(request.resource, request.name, { namespace: request.namespace, signal });
    } catch {
      return; // gone, or unreachable: the next reconcile tries again
    }
    const status = (fresh.status as Record<string, unknown> | undefined) ?? {};
    if (!findCondition(status.conditions as Condition[] | undefined, 'Stalled')) return;
    await writeStatusIfChanged(this.options.client, request.resource, fresh, { ...status, conditions: removeCondition(status.conditions as Condition[], 'Stalled') }, { fieldManager: this.name, signal });
    log.debug('removed Stalled after a successful reconcile');
  }
}
