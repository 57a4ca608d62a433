// The garbage collector: ownerReferences made real. It watches every resource (discovery, refreshed so new
// CRDs are covered), keeps an ownership graph, and for each object decides from the graph as it is now:
//   - an owner being deleted with `orphan`: drop it from every dependent's ownerReferences, then release it;
//   - an owner being deleted with `foregroundDeletion`: delete its dependents, and release it once no
//     dependent with blockOwnerDeletion is left;
//   - a dependent all of whose owners are gone (not found, or a different UID — checked live before acting,
//     never from a possibly stale cache alone) is deleted; with some owners left, only the dangling
//     references are removed. A dependent of an owner in foreground deletion is deleted.
// Level-based: after a restart it rebuilds the graph from lists and processes everything, so dependents
// orphaned while it was down are collected.
import { FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from '../../apis/meta/finalizers.ts';
import { groupResourceOf, isConflict, isNotFound, type ApiClient, type ResourceRef } from '../../apis/client/index.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import type { KubeObject, OwnerReference } from '../../apis/meta/types.ts';
import { removeFinalizer } from '../runtime/finalizers.ts';
import { InformerCache, type Informer } from '../runtime/informer.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import { discover, resourceForKind, type Discovery } from './discovery.ts';
import { OwnershipGraph, type GraphNode } from './graph.ts';

const FIELD_MANAGER = 'garbage-collector';
/** Events are never owners worth tracking, and are the busiest kind (Kubernetes' GC ignores them too). */
const IGNORED = new Set(['events', 'events.events.k8s.io']);

export interface GarbageCollectorOptions {
  workers?: number;
  /** How often discovery is refreshed to pick up new kinds. */
  discoveryIntervalMs?: number;
  /** Every object is re-examined this often, whatever happened (level-based safety net). */
  resyncIntervalMs?: number;
  logger?: Logger;
}

type OwnerState = 'present' | 'absent' | 'deleting-foreground' | 'unknown';

export class GarbageCollector {
  private readonly graph = new OwnershipGraph();
  private readonly informers: InformerCache;
  private readonly watched = new Map<string, Informer>();
  private readonly queue = new WorkQueue({ name: 'garbage-collector' });
  private readonly log: Logger;
  private discovery: Discovery = { resources: [], byKind: new Map() };
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly client: ApiClient,
    private readonly options: GarbageCollectorOptions = {},
  ) {
    this.log = options.logger ?? createLogger('garbage-collector');
    this.informers = new InformerCache(client, { defaults: { logger: this.log } });
  }

  /**
   * Discovers, syncs, then runs workers and timers. A stop() during any of the awaits wins: nothing is
   * started after it (a leadership term can end while the caches are still syncing).
   */
  async start(): Promise<void> {
    await this.refreshDiscovery();
    if (this.stopped) return;
    this.informers.start();
    await this.informers.waitForSync(60_000);
    if (this.stopped) return;
    this.queue.run(this.options.workers ?? 4, (uid) => this.process(uid));
    this.enqueueAll();
    this.timers.push(setInterval(() => void this.refreshDiscovery().catch((error) => this.log.warn('discovery failed', { error: errorMessage(error) })), this.options.discoveryIntervalMs ?? 30_000));
    this.timers.push(setInterval(() => this.enqueueAll(), this.options.resyncIntervalMs ?? 10 * 60_000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await this.queue.shutDown({ drain: false });
    await this.informers.stop();
  }

  /** Objects in the graph (for metrics and tests). */
  get size(): number {
    return this.graph.size;
  }

  private async refreshDiscovery(): Promise<void> {
    this.discovery = await discover(this.client);
    if (this.stopped) return; // no informer is created (and started) after stop()
    for (const resource of this.discovery.resources) {
      const id = groupResourceOf(resource);
      if (IGNORED.has(id) || this.watched.has(id)) continue;
      const informer = this.informers.informerFor(resource);
      informer.addEventHandler({
        onAdd: (object) => this.observe(resource, object),
        onUpdate: (_old, object) => this.observe(resource, object),
        onDelete: (object) => this.forget(object),
      });
      this.watched.set(id, informer);
    }
  }

  private observe(resource: ResourceRef, object: KubeObject): void {
    const node = this.graph.upsert(resource, object);
    if (!node) return;
    this.queue.add(node.uid);
    // An owner in foreground deletion waits for this dependent.
    for (const owner of node.owners) this.queue.add(owner.uid);
  }

  private forget(object: KubeObject): void {
    const uid = object.metadata.uid;
    if (!uid) return;
    const node = this.graph.remove(uid);
    for (const dependent of this.graph.dependentsOf(uid)) this.queue.add(dependent.uid);
    for (const owner of node?.owners ?? []) this.queue.add(owner.uid);
  }

  private enqueueAll(): void {
    if (this.stopped) return;
    for (const uid of this.graph.uids()) this.queue.add(uid);
  }

  private current(node: GraphNode): KubeObject | undefined {
    return this.watched.get(groupResourceOf(node.resource))?.get(node.name, node.namespace);
  }

  private async process(uid: string): Promise<{ requeueAfterMs?: number } | void> {
    const node = this.graph.get(uid);
    if (!node) return;
    const object = this.current(node);
    if (!object || object.metadata.uid !== uid) return;
    try {
      if (object.metadata.deletionTimestamp) {
        if (node.finalizers.includes(ORPHAN_FINALIZER)) await this.orphanDependents(node, object);
        if (node.finalizers.includes(FOREGROUND_FINALIZER)) return await this.deleteDependents(node, object);
        return;
      }
      if (node.owners.length > 0) return await this.checkOwners(node, object);
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return { requeueAfterMs: 100 };
      this.log.warn('garbage collection failed; retrying', { kind: object.kind, namespace: node.namespace, name: node.name, error: errorMessage(error) });
      throw error;
    }
  }

  /** `orphan`: every dependent forgets this owner, then the owner may go. */
  private async orphanDependents(node: GraphNode, owner: KubeObject): Promise<void> {
    for (const dependent of this.graph.dependentsOf(node.uid)) {
      const object = this.current(dependent);
      if (object) await this.removeOwnerReferences(dependent, object, new Set([node.uid]));
    }
    await removeFinalizer(this.client, node.resource, owner, ORPHAN_FINALIZER, { fieldManager: FIELD_MANAGER });
    this.log.info('orphaned dependents', { kind: owner.kind, namespace: node.namespace, name: node.name });
  }

  /** `foregroundDeletion`: dependents go first; the owner is released when no blocking one is left. */
  private async deleteDependents(node: GraphNode, owner: KubeObject): Promise<{ requeueAfterMs?: number } | void> {
    const dependents = this.graph.dependentsOf(node.uid);
    for (const dependent of dependents) if (!dependent.deleting) await this.deleteObject(dependent, 'Foreground');
    const blocking = dependents.filter((dependent) => dependent.owners.some((reference) => reference.uid === node.uid && reference.blockOwnerDeletion === true));
    if (blocking.length > 0) return { requeueAfterMs: 2000 }; // their deletion events requeue us sooner
    await removeFinalizer(this.client, node.resource, owner, FOREGROUND_FINALIZER, { fieldManager: FIELD_MANAGER });
    this.log.info('dependents deleted; releasing owner', { kind: owner.kind, namespace: node.namespace, name: node.name });
  }

  private async checkOwners(node: GraphNode, object: KubeObject): Promise<{ requeueAfterMs?: number } | void> {
    const states = await Promise.all(node.owners.map(async (reference) => [reference, await this.ownerState(reference, node)] as const));
    if (states.some(([, state]) => state === 'unknown')) return { requeueAfterMs: 30_000 };
    const alive = states.filter(([, state]) => state === 'present');
    const dangling = states.filter(([, state]) => state === 'absent').map(([reference]) => reference.uid);
    if (alive.length === 0) {
      // Every owner is gone, or going in the foreground (which waits for exactly this).
      const foreground = states.some(([, state]) => state === 'deleting-foreground');
      await this.deleteObject(node, foreground ? 'Foreground' : 'Background');
      return;
    }
    if (dangling.length > 0) await this.removeOwnerReferences(node, object, new Set(dangling));
  }

  private async ownerState(reference: OwnerReference, dependent: GraphNode): Promise<OwnerState> {
    const resource = resourceForKind(this.discovery, reference.apiVersion, reference.kind);
    if (!resource) return 'unknown'; // a kind we cannot resolve (yet): never delete on that basis
    if (resource.namespaced && !dependent.namespace) return 'unknown'; // invalid reference: leave it alone
    const known = this.graph.get(reference.uid);
    if (known) return known.deleting && known.finalizers.includes(FOREGROUND_FINALIZER) ? 'deleting-foreground' : 'present';
    // Not in the graph: confirm with the server before acting on it (the graph may simply lag).
    try {
      const live = await this.client.get(resource, reference.name, { namespace: resource.namespaced ? dependent.namespace : undefined });
      if (live.metadata.uid !== reference.uid) return 'absent';
      return live.metadata.deletionTimestamp && live.metadata.finalizers?.includes(FOREGROUND_FINALIZER) ? 'deleting-foreground' : 'present';
    } catch (error) {
      if (isNotFound(error)) return 'absent';
      throw error;
    }
  }

  private async deleteObject(node: GraphNode, propagationPolicy: 'Background' | 'Foreground'): Promise<void> {
    try {
      await this.client.delete(node.resource, node.name, { namespace: node.namespace, propagationPolicy, preconditions: { uid: node.uid } });
      this.log.info('deleted dependent', { resource: node.resource.plural, namespace: node.namespace, name: node.name, propagationPolicy });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Removes references by UID with a JSON patch that first tests the list, so a concurrent change wins. */
  private async removeOwnerReferences(node: GraphNode, object: KubeObject, uids: Set<string>): Promise<void> {
    const references = object.metadata.ownerReferences ?? [];
    const kept = references.filter((reference) => !uids.has(reference.uid));
    if (kept.length === references.length) return;
    const patch = [
      { op: 'test', path: '/metadata/ownerReferences', value: references },
      kept.length > 0 ? { op: 'replace', path: '/metadata/ownerReferences', value: kept } : { op: 'remove', path: '/metadata/ownerReferences' },
    ];
    await this.client.patch(node.resource, node.name, patch, { namespace: node.namespace, type: 'json', fieldManager: FIELD_MANAGER });
  }
}
