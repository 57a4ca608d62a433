// The garbage collector's decision for one object, as a runtime Reconciler: it reads the object from the
// shared informer cache and its node in the ownership graph (both as they are now, level-based) and
//   - an owner being deleted with `orphan`: drops it from every dependent's ownerReferences, then releases it;
//   - an owner being deleted with `foregroundDeletion`: deletes its dependents, and releases it once no
//     dependent with blockOwnerDeletion is left (requeued meanwhile; their deletions requeue it sooner);
//   - a dependent all of whose owners are gone (not found, or a different UID — checked live before acting,
//     never from a possibly stale cache alone) is deleted; with some owners left, only the dangling
//     references are removed. A dependent of an owner in foreground deletion is deleted.
// Outcomes follow the runtime contract: a stale view (409, including a failed `test` op on the references)
// is thrown and requeued quietly, other failures are thrown and retried with backoff; an object already
// gone (404) needs nothing more — its delete event requeues whatever depended on it.
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from '../../apis/meta/finalizers.ts';
import { isNotFound, type ApiClient } from '../../apis/client/index.ts';
import type { Logger } from '../../lib/logging.ts';
import type { KubeObject, OwnerReference } from '../../apis/meta/types.ts';
import { patchWithPreconditions, removeFinalizer, type JsonPatchOperation } from '../runtime/finalizers.ts';
import type { InformerCache } from '../runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { resourceForKind, type Discovery } from './discovery.ts';
import { sameGraphView, type GraphNode, type OwnershipGraph } from './graph.ts';

export const GC_FIELD_MANAGER = 'garbage-collector';
/** How soon an owner in foreground deletion looks again at dependents that block it. */
const BLOCKED_REQUEUE_MS = 2000;
/** How soon a dependent whose owner's kind cannot be resolved (yet) is looked at again. */
const UNKNOWN_OWNER_REQUEUE_MS = 30_000;

type OwnerState = 'present' | 'absent' | 'deleting-foreground' | 'unknown';

export interface GcReconcilerDeps {
  client: ApiClient;
  /** The manager's shared informers: the GC's primaries are among them. */
  informers: InformerCache;
  graph: OwnershipGraph;
  /** The latest discovery (refreshed by the collector). */
  discovery: () => Discovery;
}

export class GarbageCollectorReconciler implements Reconciler {
  constructor(private readonly deps: GcReconcilerDeps) {}

  /** Most updates (status, spec, labels) change nothing it decides by; a resync (old === new) still looks. */
  updateNeedsNoPass(oldObject: KubeObject, newObject: KubeObject): boolean {
    return oldObject !== newObject && sameGraphView(oldObject, newObject);
  }

  async reconcile(request: ReconcileRequest, { log, signal }: ReconcileContext): Promise<Result> {
    if (!request.resource) return {}; // the controller names the resource of every request it hands out
    const object = this.deps.informers.informerFor(request.resource).get(request.name, request.namespace);
    const node = object?.metadata.uid ? this.deps.graph.get(object.metadata.uid) : undefined;
    if (!object || !node) return {}; // gone: its delete event has requeued owners and dependents
    if (object.metadata.deletionTimestamp) {
      if (node.finalizers.includes(ORPHAN_FINALIZER)) await this.orphanDependents(node, object, log, signal);
      if (node.finalizers.includes(FOREGROUND_FINALIZER)) return this.deleteDependents(node, object, log, signal);
      return {};
    }
    if (node.owners.length > 0) return this.checkOwners(node, object, log, signal);
    return {};
  }

  private current(node: GraphNode): KubeObject | undefined {
    const object = this.deps.informers.informerFor(node.resource).get(node.name, node.namespace);
    return object?.metadata.uid === node.uid ? object : undefined;
  }

  /** `orphan`: every dependent forgets this owner, then the owner may go. */
  private async orphanDependents(node: GraphNode, owner: KubeObject, log: Logger, signal: AbortSignal): Promise<void> {
    for (const dependent of this.deps.graph.dependentsOf(node.uid)) {
      const object = this.current(dependent);
      if (object) await this.removeOwnerReferences(dependent, object, new Set([node.uid]), signal);
    }
    await removeFinalizer(this.deps.client, node.resource, owner, ORPHAN_FINALIZER, { fieldManager: GC_FIELD_MANAGER, signal });
    log.info('orphaned dependents');
  }

  /** `foregroundDeletion`: dependents go first; the owner is released when no blocking one is left. */
  private async deleteDependents(node: GraphNode, owner: KubeObject, log: Logger, signal: AbortSignal): Promise<Result> {
    const dependents = this.deps.graph.dependentsOf(node.uid);
    for (const dependent of dependents) if (!dependent.deleting) await this.deleteObject(dependent, 'Foreground', log, signal);
    const blocking = dependents.filter((dependent) => dependent.owners.some((reference) => reference.uid === node.uid && reference.blockOwnerDeletion === true));
    if (blocking.length > 0) return { requeueAfterMs: BLOCKED_REQUEUE_MS };
    await removeFinalizer(this.deps.client, node.resource, owner, FOREGROUND_FINALIZER, { fieldManager: GC_FIELD_MANAGER, signal });
    log.info('dependents deleted; releasing owner');
    return {};
  }

  private async checkOwners(node: GraphNode, object: KubeObject, log: Logger, signal: AbortSignal): Promise<Result> {
    const states = await Promise.all(node.owners.map(async (reference) => [reference, await this.ownerState(reference, node, signal)] as const));
    if (states.some(([, state]) => state === 'unknown')) return { requeueAfterMs: UNKNOWN_OWNER_REQUEUE_MS };
    const alive = states.filter(([, state]) => state === 'present');
    const dangling = states.filter(([, state]) => state === 'absent').map(([reference]) => reference.uid);
    if (alive.length === 0) {
      // Every owner is gone, or going in the foreground (which waits for exactly this).
      const foreground = states.some(([, state]) => state === 'deleting-foreground');
      await this.deleteObject(node, foreground ? 'Foreground' : 'Background', log, signal);
    } else if (dangling.length > 0) {
      await this.removeOwnerReferences(node, object, new Set(dangling), signal);
      log.info('removed dangling owner references', { owners: dangling });
    }
    return {};
  }

  private async ownerState(reference: OwnerReference, dependent: GraphNode, signal: AbortSignal): Promise<OwnerState> {
    const resource = resourceForKind(this.deps.discovery(), reference.apiVersion, reference.kind);
    if (!resource) return 'unknown'; // a kind we cannot resolve (yet): never delete on that basis
    if (resource.namespaced && !dependent.namespace) return 'unknown'; // invalid reference: leave it alone
    const known = this.deps.graph.get(reference.uid);
    // A namespaced owner in another namespace is no owner (Kubernetes treats it as absent).
    if (known?.namespace && known.namespace !== dependent.namespace) return 'absent';
    if (known) return known.deleting && known.finalizers.includes(FOREGROUND_FINALIZER) ? 'deleting-foreground' : 'present';
    // Not in the graph: confirm with the server before acting on it (the graph may simply lag).
    try {
      const live = await this.deps.client.get(resource, reference.name, { namespace: resource.namespaced ? dependent.namespace : undefined, signal });
      if (live.metadata.uid !== reference.uid) return 'absent';
      return live.metadata.deletionTimestamp && live.metadata.finalizers?.includes(FOREGROUND_FINALIZER) ? 'deleting-foreground' : 'present';
    } catch (error) {
      if (isNotFound(error)) return 'absent';
      throw error;
    }
  }

  private async deleteObject(node: GraphNode, propagationPolicy: 'Background' | 'Foreground', log: Logger, signal: AbortSignal): Promise<void> {
    try {
      await this.deps.client.delete(node.resource, node.name, { namespace: node.namespace, propagationPolicy, preconditions: { uid: node.uid }, signal });
      log.info('deleted dependent', { dependent: { resource: node.resource.plural, namespace: node.namespace, name: node.name }, propagationPolicy });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Removes references by UID with a JSON patch that first tests the list, so a concurrent change wins. */
  private async removeOwnerReferences(node: GraphNode, object: KubeObject, uids: Set<string>, signal: AbortSignal): Promise<void> {
    const references = object.metadata.ownerReferences ?? [];
    const kept = references.filter((reference) => !uids.has(reference.uid));
    if (kept.length === references.length) return;
    const patch: JsonPatchOperation[] = [
      { op: 'test', path: '/metadata/ownerReferences', value: references },
      kept.length > 0 ? { op: 'replace', path: '/metadata/ownerReferences', value: kept } : { op: 'remove', path: '/metadata/ownerReferences' },
    ];
    try {
      await patchWithPreconditions(this.deps.client, node.resource, object, patch, { fieldManager: GC_FIELD_MANAGER, signal }, 'ownerReferences');
    } catch (error) {
      if (!isNotFound(error)) throw error; // gone: no references left to remove
    }
  }
}
