// The garbage collector: ownerReferences made real, on the controller runtime. Its primaries are every
// resource discovery finds (refreshed, so new CRDs are covered; Events excepted), watched through the
// manager's shared informers — one watch per resource per process, the same ones the other controllers use.
// A runtime Controller named `garbage-collector` queues and reconciles each object (its queue and reconcile
// metrics, per-reconcile logger and outcomes are the runtime's); GarbageCollectorReconciler (reconciler.ts)
// decides. Next to it the collector keeps the ownership graph (graph.ts) from the same informers and, when
// an object changes or goes, also queues the owners and dependents whose decision that may change.
// Level-based: after a restart it rebuilds the graph from the informers and processes everything, so
// dependents orphaned while it was down are collected; every object is re-examined now and then anyway.
import { groupResourceOf, type ApiClient, type ResourceRef } from '../../apis/client/index.ts';
import { createLogger, type Logger } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { Controller } from '../runtime/controller.ts';
import type { InformerCache } from '../runtime/informer.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { discover, type Discovery } from './discovery.ts';
import { OwnershipGraph, type GraphNode } from './graph.ts';
import { GarbageCollectorReconciler } from './reconciler.ts';

export const GC_CONTROLLER_NAME = 'garbage-collector';
/** Events are never owners worth tracking, and are the busiest kind (Kubernetes' GC ignores them too). */
const IGNORED = new Set(['events', 'events.events.k8s.io']);

export interface GarbageCollectorOptions {
  client: ApiClient;
  /** The manager's shared informers (ManagerContext.informers); the collector never stops them. */
  informers: InformerCache;
  metrics?: RuntimeMetrics;
  /** Default 4. */
  workers?: number;
  /** How often discovery is refreshed to pick up new kinds. Default 30 s. */
  discoveryIntervalMs?: number;
  /** Every object is re-examined this often, whatever happened (level-based safety net). Default 10 min. */
  resyncIntervalMs?: number;
  /** Workers start after this long even if some kind has not listed yet. Default 60 s. */
  syncTimeoutMs?: number;
  logger?: Logger;
}

export class GarbageCollector {
  private readonly graph = new OwnershipGraph();
  private readonly controller: Controller;
  private readonly reconciler: GarbageCollectorReconciler;
  private readonly log: Logger;
  private discovery: Discovery = { resources: [], byKind: new Map() };
  /** Kinds made primary, by `<resource>.<group>`. */
  private readonly watched = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly tasks: PeriodicTask[] = [];
  private stopped = false;

  constructor(private readonly options: GarbageCollectorOptions) {
    this.log = options.logger ?? createLogger(GC_CONTROLLER_NAME);
    this.reconciler = new GarbageCollectorReconciler({ client: options.client, informers: options.informers, graph: this.graph, discovery: () => this.discovery });
    this.controller = new Controller({
      name: GC_CONTROLLER_NAME,
      client: options.client,
      informers: options.informers,
      reconciler: this.reconciler,
      workers: options.workers ?? 4,
      metrics: options.metrics,
      logger: this.log,
      syncTimeoutMs: options.syncTimeoutMs ?? 60_000,
      // It acts on other controllers' objects: never write conditions on them.
      stalledConditions: false,
    });
  }

  /**
   * Discovers, adds every kind as a primary, waits for their informers to list (so owners are in the graph
   * before dependents are judged), then runs the workers and the refresh timers. A stop() during any of the
   * awaits wins: nothing is started after it (a leadership term can end while the caches are still syncing).
   */
  async start(): Promise<void> {
    await this.refreshDiscovery();
    if (this.stopped) return;
    await this.controller.start();
    if (this.stopped) return;
    this.every('discovery refresh', this.options.discoveryIntervalMs ?? 30_000, () => this.refreshDiscovery());
    this.every('resync', this.options.resyncIntervalMs ?? 10 * 60_000, async () => this.enqueueAll());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const task of this.tasks.splice(0)) task.stop();
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    await this.controller.stop();
  }

  private every(name: string, intervalMs: number, pass: () => Promise<void>): void {
    const task = new PeriodicTask(name, intervalMs, pass, this.log);
    this.tasks.push(task);
    task.start(intervalMs);
  }

  /** Objects in the graph (for metrics and tests). */
  get size(): number {
    return this.graph.size;
  }

  private async refreshDiscovery(): Promise<void> {
    const discovery = await discover(this.options.client);
    if (this.stopped) return; // no informer is added (and started) after stop()
    this.discovery = discovery;
    for (const resource of discovery.resources) if (!IGNORED.has(groupResourceOf(resource))) this.watch(resource);
  }

  /** Makes a kind primary (a no-op when it already is) and keeps the graph from its informer. */
  private watch(resource: ResourceRef): void {
    const id = groupResourceOf(resource);
    if (this.watched.has(id)) return;
    this.watched.add(id);
    // Primary first, so the graph handler may queue nodes of this kind. Handlers of an informer that has
    // listed already get its objects at once; the queued ones are reconciled after both handlers ran.
    this.controller.addPrimary(resource);
    this.unsubscribe.push(
      this.options.informers.informerFor(resource).addEventHandler({
        onAdd: (object) => this.observe(resource, object),
        onUpdate: (old, object) => this.observe(resource, object, old),
        onDelete: (object) => this.forget(object),
      }),
    );
  }

  /**
   * An object appeared or changed: the controller queues it (unless the update changed nothing the collector
   * decides by); its owners too, as one in foreground deletion or orphaning may wait for it.
   */
  private observe(resource: ResourceRef, object: KubeObject, old?: KubeObject): void {
    // The update the controller does not queue (the reconciler's rule) changes nothing for the owners either.
    if (old && this.reconciler.updateNeedsNoPass(old, object)) return;
    const node = this.graph.upsert(resource, object);
    for (const owner of node?.owners ?? []) this.enqueueNode(this.graph.get(owner.uid));
  }

  /** An object went: its dependents may be orphans now, and its owners may be waiting for it. */
  private forget(object: KubeObject): void {
    const uid = object.metadata.uid;
    if (!uid) return;
    const node = this.graph.remove(uid);
    for (const dependent of this.graph.dependentsOf(uid)) this.enqueueNode(dependent);
    for (const owner of node?.owners ?? []) this.enqueueNode(this.graph.get(owner.uid));
  }

  private enqueueAll(): void {
    if (this.stopped) return;
    for (const uid of this.graph.uids()) this.enqueueNode(this.graph.get(uid));
  }

  /** Graph nodes are of watched kinds only, so always of a primary resource. */
  private enqueueNode(node: GraphNode | undefined): void {
    if (node) this.controller.enqueue({ resource: node.resource, namespace: node.namespace, name: node.name });
  }
}
