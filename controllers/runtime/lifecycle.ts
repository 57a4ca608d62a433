// The one reconcile shape for kinds that own something outside the API (OVN rows, QEMU processes, disks,
// DNS records, buckets), in the spirit of kube-rs's `finalizer()`. A reconciler supplies two functions:
//   apply(object)   make the world match the object; say how ready it is
//   cleanup(object) remove what the object owns; 'done' once nothing is left (or how far it still is)
// and the helper does the rest, the same way for every kind:
//   read from the informer's cache (a copy) → gone: nothing to do
//   being deleted → cleanup; 'done' removes the finalizer (a JSON patch with a `test`), else report why not
//   not deleted → add the finalizer first (the update event brings the object back), then apply; while the
//     manager leads it announces the finalizer and the API server adds it at create, so this write is
//     needed only for objects made before (or while no manager led)
//   report: Ready with a stable reason, the kind's status fields and observedGeneration, written only when
//   they changed; a Normal/Warning event when the Ready reason changes
// Faults follow the Reconciler contract (reconciler.ts): throw TerminalError for what only a spec change
// can fix (the Controller sets Stalled and does not retry), anything else is retried with backoff. A
// reference that is not there yet is neither: report it (…NotFound) and let the watch on that kind bring the
// object back when it appears — no polling.
import type { ApiClient, ResourceRef } from '../../apis/client/index.ts';
import { findCondition, setCondition, type ConditionInput } from '../../apis/meta/conditions.ts';
import type { Condition, KubeObject } from '../../apis/meta/types.ts';
import type { HandledFinalizer } from '../../apis/meta/finalizers.ts';
import { ensureFinalizer, hasFinalizer, removeFinalizer } from './finalizers.ts';
import type { Informer } from './informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from './reconciler.ts';
import { writeStatusIfChanged, type StatusWriteResult } from './status.ts';
import { cloneJson } from '../../lib/json-clone.ts';

export interface Readiness {
  ready: boolean;
  /** CamelCase and stable: users and tools match on it. */
  reason: string;
  message: string;
}

export const ready = (reason: string, message: string): Readiness => ({ ready: true, reason, message });
export const notReady = (reason: string, message: string): Readiness => ({ ready: false, reason, message });

/** What one apply or cleanup pass found. */
export interface Outcome {
  readiness: Readiness;
  /** Kind-specific status fields written beside the conditions (e.g. ipAddress, usedIPs). */
  status?: Record<string, unknown>;
  /**
   * Conditions besides Ready, for a part that may lag without making the whole object unready (e.g. a
   * Project's QuotaApplied while ResourceQuota is not served). Set with observedGeneration like Ready.
   */
  conditions?: Array<Omit<ConditionInput, 'lastTransitionTime'>>;
  /** Look again after this long: only for external state no watch reports (e.g. an unreachable OVN). */
  requeueAfterMs?: number;
  /** The event's reason when the Ready reason changes (default: the Ready reason). */
  eventReason?: string;
}

export interface LifecycleContext<T extends KubeObject> extends ReconcileContext {
  /**
   * Writes an intermediate status now and continues from the stored object (e.g. a Port commits its address
   * before anything is programmed, so a crash never loses or duplicates it). Resolves with that object.
   * Only for something new to commit: each changed write is a watch event and another reconcile, so calling
   * it on every pass would flip Ready back and forth forever.
   */
  progress(outcome: Outcome): Promise<T>;
}

export interface LifecycleOptions<T extends KubeObject> {
  client: ApiClient;
  resource: ResourceRef;
  /** The primary kind's shared informer: objects are read from its cache. */
  informer: Informer<T>;
  /** `<group>/<purpose>`, e.g. network.photoncloud.io/ovn. */
  finalizer: string;
  /** `<kind>-controller`. */
  fieldManager: string;
  apply(object: T, context: LifecycleContext<T>): Promise<Outcome>;
  cleanup(object: T, context: LifecycleContext<T>): Promise<Outcome | 'done'>;
}

/** A Reconciler built from apply/cleanup (see the top of this file). */
export class LifecycleReconciler<T extends KubeObject> implements Reconciler {
  /**
   * Per key, the status writes of this reconciler that the informer has not shown yet (usually one; two when
   * a pass wrote progress first), each as the version it was made on and the version it made.
   * - A pass that starts from a cache older than the last of them would act on a status it already replaced
   *   (e.g. "no image recorded yet → make one" after the image was recorded and then lost), and the write's
   *   409 comes only after the side effect. Such a pass does nothing (it is *deferred*): the write's own
   *   watch event brings the key back with the object as written.
   * - Otherwise that event (the *echo*) needs no pass: the change it shows is exactly the one this reconciler
   *   made, on the version it had reconciled. It is not queued (isEchoOfOwnWrite), which saves a pass per
   *   status write (a Port: two passes → one).
   */
  private readonly unseenWrites = new Map<string, { writes: Array<{ from: string; to: string }>; deferred: boolean }>();
  /**
   * Per key, the status write in flight: the version it is made on, and the version of an update from that
   * one the informer showed meanwhile (the watch often delivers the echo before the write's response).
   */
  private readonly writing = new Map<string, { from: string; seen?: string }>();

  constructor(private readonly options: LifecycleOptions<T>) {}

  get finalizers(): HandledFinalizer[] {
    return [{ group: this.options.resource.group, plural: this.options.resource.plural, finalizer: this.options.finalizer }];
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const key = keyOf(request);
    const cached = this.options.informer.get(request.name, request.namespace);
    if (!cached) {
      this.unseenWrites.delete(key);
      return {};
    }
    const unseen = this.unseenWrites.get(key);
    if (unseen) {
      if (Number(cached.metadata.resourceVersion) < Number(unseen.writes.at(-1)!.to)) {
        unseen.deferred = true;
        return {};
      }
      this.unseenWrites.delete(key);
    }
    let object = cloneJson(cached);
    const { client, resource, finalizer, fieldManager } = this.options;
    const lifecycle: LifecycleContext<T> = {
      ...context,
      progress: async (outcome) => (object = await this.report(object, outcome, context, false)),
    };

    if (object.metadata.deletionTimestamp) {
      if (!hasFinalizer(object, finalizer)) return {};
      const outcome = await this.options.cleanup(object, lifecycle);
      if (outcome === 'done') {
        await removeFinalizer(client, resource, object, finalizer, { fieldManager, signal: context.signal });
        return {};
      }
      await this.report(object, outcome, context, true);
      return requeueOf(outcome);
    }
    if (await ensureFinalizer(client, resource, object, finalizer, { fieldManager, signal: context.signal })) return {};
    const outcome = await this.options.apply(object, lifecycle);
    await this.report(object, outcome, context, true);
    return requeueOf(outcome);
  }

  /** Writes Ready (with observedGeneration) and the status fields if they changed; an event when the reason did. */
  private async report(object: T, outcome: Outcome, context: ReconcileContext, announce: boolean): Promise<T> {
    const current = (object.status ?? {}) as { conditions?: Condition[] };
    const generation = object.metadata.generation;
    const { readiness } = outcome;
    let conditions = setCondition(current.conditions, { type: 'Ready', status: readiness.ready ? 'True' : 'False', reason: readiness.reason, message: readiness.message }, generation);
    for (const extra of outcome.conditions ?? []) conditions = setCondition(conditions, extra, generation);
    const status = { ...current, ...outcome.status, observedGeneration: generation, conditions };
    const key = keyOfObject(object);
    const flight: { from: string; seen?: string } = { from: object.metadata.resourceVersion ?? '' };
    this.writing.set(key, flight);
    let result: StatusWriteResult<T>;
    try {
      result = await writeStatusIfChanged(this.options.client, this.options.resource, object, status, { fieldManager: this.options.fieldManager, signal: context.signal });
    } finally {
      this.writing.delete(key);
    }
    if (result.changed && flight.seen !== result.object.metadata.resourceVersion) this.remember(key, object, result.object);
    const before = findCondition(current.conditions, 'Ready');
    if (announce && before?.reason !== readiness.reason) void context.recorder.event(object, readiness.ready ? 'Normal' : 'Warning', outcome.eventReason ?? readiness.reason, readiness.message);
    return result.object;
  }

  /**
   * Whether an update of the informer is the echo of this reconciler's own status write, to be left unqueued:
   * it turns the version a write was made on into the version it made (so nothing else changed), and no pass
   * was deferred waiting for it. The echo of an earlier write (a pass's progress) while a later one is unseen
   * is never needed: the later one's echo follows. A resync (old === new) is never an echo.
   * An update from the version a write in flight is made on is not queued either: either it is that write
   * (its echo came before its response), or another writer's, which makes that write fail (it is
   * compare-and-swap) and its pass is run again (409) or retried.
   */
  isEchoOfOwnWrite(oldObject: KubeObject, newObject: KubeObject): boolean {
    if (oldObject === newObject) return false;
    const key = keyOfObject(newObject);
    const flight = this.writing.get(key);
    if (flight && flight.from === oldObject.metadata.resourceVersion) {
      flight.seen = newObject.metadata.resourceVersion;
      return true;
    }
    const unseen = this.unseenWrites.get(key);
    const index = unseen?.writes.findIndex((write) => write.to === newObject.metadata.resourceVersion) ?? -1;
    if (!unseen || index < 0) return false;
    const write = unseen.writes[index]!;
    const last = index === unseen.writes.length - 1;
    unseen.writes.splice(0, index + 1);
    const echo = write.from === oldObject.metadata.resourceVersion && !(last && unseen.deferred);
    // Seen now: the guard has nothing left to wait for (a queued pass would find the cache at this version).
    if (last) this.unseenWrites.delete(key);
    return echo;
  }

  /** The Reconciler hook: only the echo of its own write needs no pass. */
  updateNeedsNoPass(oldObject: KubeObject, newObject: KubeObject): boolean {
    return this.isEchoOfOwnWrite(oldObject, newObject);
  }

  private remember(key: string, from: T, written: T): void {
    // Resource versions are opaque to clients in general; ours are store revisions. Anything else: no guard.
    if (!Number.isSafeInteger(Number(written.metadata.resourceVersion)) || from.metadata.resourceVersion === undefined) return;
    const unseen = this.unseenWrites.get(key) ?? { writes: [], deferred: false };
    unseen.writes.push({ from: from.metadata.resourceVersion, to: written.metadata.resourceVersion! });
    this.unseenWrites.set(key, unseen);
  }
}

function keyOf(request: ReconcileRequest): string {
  return `${request.namespace ?? ''}/${request.name}`;
}

function keyOfObject(object: KubeObject): string {
  return keyOf({ name: object.metadata.name!, namespace: object.metadata.namespace });
}

function requeueOf(outcome: Outcome): Result {
  return outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : {};
}
