// The Reconciler contract (controller-runtime's pkg/reconcile, in TypeScript). A reconciler gets a key, not
// an event: it reads the object from its informer's cache and makes the world match it, idempotently.
//   resolve {}                    → done (the key's failure backoff is reset)
//   resolve { requeueAfterMs }    → done, and again after that long (polling external state)
//   throw anything               → retried with per-key exponential backoff (rate limited)
//   throw a 409 (stale view)      → retried the same way, logged at debug only (not an error storm)
//   throw TerminalError           → not retried; the controller sets Stalled=True (reason from the error)
//                                   and Ready=False on the object and records a Warning event
import { isConflict, type ResourceRef } from '../../apis/client/index.ts';
import type { Logger } from '../../lib/logging.ts';
import type { EventRecorder } from './events.ts';
import { toReason } from '../../apis/meta/conditions.ts';
import type { HandledFinalizer } from '../../apis/meta/finalizers.ts';
import type { KubeObject } from '../../apis/meta/types.ts';

export interface ReconcileRequest {
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
  /**
   * The primary kind the request is for. The controller sets it on every request it hands a reconciler;
   * requests given to a controller may leave it out when the controller has only one primary kind.
   */
  resource?: ResourceRef;
}

export interface ReconcileContext {
  /** Child logger with {controller, namespace, name, reconcileID}. */
  log: Logger;
  recorder: EventRecorder;
  /** Aborted when the controller stops (lost leadership, shutdown): pass it to API calls. */
  signal: AbortSignal;
}

export interface Result {
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result>;
  /** Finalizers it keeps on every object of its primary kind (LifecycleReconciler's one), announced by the manager. */
  readonly finalizers?: readonly HandledFinalizer[];
  /**
   * Whether an update of a primary object needs no pass: it cannot change what this reconciler would do.
   * LifecycleReconciler: the update only shows its own status write (isEchoOfOwnWrite); the garbage collector:
   * nothing it decides by (owner references, deletion, finalizers) changed. The controller then does not
   * queue it. A resync (old === new) should always be queued.
   */
  updateNeedsNoPass?(oldObject: KubeObject, newObject: KubeObject): boolean;
}

/** An error retrying cannot fix (bad spec, missing reference the user must create): no retry, Stalled=True. */
export class TerminalError extends Error {
  /** CamelCase reason for the Stalled condition and the Warning event. */
  readonly reason: string;

  constructor(reason: string, message?: string, options?: { cause?: unknown }) {
    super(message ?? reason, options);
    this.name = 'TerminalError';
    this.reason = toReason(reason, 'TerminalError');
  }
}

export function isTerminalError(error: unknown): error is TerminalError {
  return error instanceof TerminalError || (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TerminalError' && typeof (error as { reason?: unknown }).reason === 'string');
}

/** A 409 from a stale view (resourceVersion precondition, finalizer test op): requeue quietly. */
export function isStaleViewConflict(error: unknown): boolean {
  return isConflict(error);
}
