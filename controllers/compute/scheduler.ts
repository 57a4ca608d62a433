// The scheduler: binds each VirtualMachine that should run and has no node (status.nodeName) to one that fits
// (fit.ts), writing status.nodeName and Scheduled=True in one compare-and-swap status write; or Scheduled=False
// reason Unschedulable with why, retried whenever a Node or another VM changes (a node registering, freeing
// room, being uncordoned). A bound VM is never moved here; the node-lifecycle controller releases the VMs of a
// lost node. A Halted VM without a node stays unscheduled until it should run.
//
// Placements are counted the moment they are chosen ("assumed", as kube-scheduler does): the informer sees
// the write a little later, and a VM scheduled in between must not be put into the same room. Choosing and
// assuming happen in one synchronous step, so several workers decide concurrently while their writes are in
// flight; a placement not written is taken back.
//
// Cheap on thousands of nodes and VMs: a VmIndex kept by the VM informer's events holds, per node, its bound
// VMs and what they request, and the pending VMs that did not fit; a decision looks only at the nodes its sampled
// scan reaches (enoughFitting in fit.ts), an eviction costs O(VMs on it).
// A change elsewhere (a node, room freed) requeues only the pending VMs that did not fit before.
import type { ApiClient } from '../../apis/client/index.ts';
import { VirtualMachineResource, type Node, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { findCondition, setCondition } from '../../apis/meta/conditions.ts';
import type { Volume } from '../../apis/storage/v1alpha1/index.ts';
import type { Informer } from '../runtime/informer.ts';
import { sharedIndex } from '../runtime/informer-index.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';
import { choose, enoughFitting, nodeView, occupies, pinOf, requestOf, type NodeView, type NodeViews, type Placement, type Resources } from './fit.ts';
import { cloneJson } from '../../lib/json-clone.ts';

const FIELD_MANAGER = 'scheduler';

/** Whether a VM waits for the scheduler: not bound, not being deleted, and meant to run. */
export const isPending = (vm: VirtualMachine): boolean => !vm.status?.nodeName && !vm.metadata.deletionTimestamp && occupies(vm);

export type Usage = Resources & { vms: number };
const NO_USAGE: Readonly<Usage> = Object.freeze({ cpu: 0, memoryBytes: 0, vms: 0 });
const localNode = (volume: Volume | undefined) => (volume?.status?.backend?.type === 'local' ? volume.status.backend.node : undefined);
const keyOf = (vm: VirtualMachine) => `${vm.metadata.namespace ?? ''}/${vm.metadata.name}`;

/**
 * The VMs of the informer indexed by node (bound VMs and the sum of what those that occupy it request) and
 * the pending ones, kept up to date by the informer's events. One per informer (shared by the controllers).
 */
export class VmIndex {
  private readonly byNode = new Map<string, Map<string, VirtualMachine>>();
  private readonly usage = new Map<string, Usage>();
  /** Key → where the VM was counted (node and request), to take it back out on update or delete. */
  private readonly counted = new Map<string, { node: string; request: Resources | undefined }>();
  /** Pending VMs already tried and found no room (Scheduled=False): what a freed room or a new node may help. */
  private readonly unschedulableVms = new Map<string, VirtualMachine>();

  static for(informer: Informer<VirtualMachine>): VmIndex {
    return sharedIndex(informer, 'vms-by-node', () => new VmIndex(informer));
  }

  /** Registered before any controller's handlers: mapping functions see the index already updated. */
  constructor(informer: Informer<VirtualMachine>) {
    informer.addEventHandler({ onAdd: (vm) => this.put(vm), onUpdate: (_old, vm) => this.put(vm), onDelete: (vm) => this.remove(keyOf(vm)) });
  }

  /** The VMs bound to a node. */
  onNode(node: string): VirtualMachine[] {
    return [...(this.byNode.get(node)?.values() ?? [])];
  }

  /** What the VMs bound to a node request (Halted ones not counted); the index's own record: read, never change it. */
  usageOf(node: string): Readonly<Usage> {
    return this.usage.get(node) ?? NO_USAGE;
  }

  /**
   * The pending VMs that were tried and did not fit. Only these wait for a change elsewhere (a node, a VM
   * freeing room): a VM not tried yet is queued by its own event. Requeueing every pending VM on every such
   * change instead cost O(pending) per VM status write — quadratic in a burst of creates (the scale run).
   */
  unschedulable(): VirtualMachine[] {
    return [...this.unschedulableVms.values()];
  }

  private put(vm: VirtualMachine): void {
    const key = keyOf(vm);
    this.remove(key);
    if (isPending(vm) && findCondition(vm.status?.conditions, 'Scheduled')?.status === 'False') this.unschedulableVms.set(key, vm);
    const node = vm.status?.nodeName;
    if (!node) return;
    let vms = this.byNode.get(node);
    if (!vms) this.byNode.set(node, (vms = new Map()));
    vms.set(key, vm);
    const request = occupies(vm) ? requestOf(vm) : undefined;
    this.counted.set(key, { node, request });
    if (request) this.add(node, request, 1);
  }

  private remove(key: string): void {
    this.unschedulableVms.delete(key);
    const was = this.counted.get(key);
    if (!was) return;
    this.counted.delete(key);
    const vms = this.byNode.get(was.node);
    vms?.delete(key);
    if (vms?.size === 0) this.byNode.delete(was.node);
    if (was.request) this.add(was.node, was.request, -1);
  }

  private add(node: string, request: Resources, sign: 1 | -1): void {
    const entry = this.usage.get(node) ?? { cpu: 0, memoryBytes: 0, vms: 0 };
    entry.cpu += sign * request.cpu;
    entry.memoryBytes += sign * request.memoryBytes;
    entry.vms += sign;
    if (entry.vms <= 0) this.usage.delete(node);
    else this.usage.set(node, entry);
  }
}

export class Scheduler implements Reconciler {
  /**
   * VM key → placement written but not yet in the informer: assumed while the cache still holds the version
   * the placement was written over (`staleVersion`); any other version there includes the write (the index
   * then counts whatever the VM is now — also when it was released again before the cache saw it bound).
   */
  private readonly assumed = new Map<string, { staleVersion: string; node: string; request: Resources }>();
  private readonly index: VmIndex;
  private scanStart = 0;
  /**
   * The Nodes in a stable order, listed again only after one came, changed or went, with one view per node
   * made when a decision first reaches it and reused by every decision after (only its `used` is set anew).
   */
  private nodeList?: { nodes: Node[]; views: Array<NodeView | undefined> };

  constructor(
    private readonly client: ApiClient,
    private readonly vms: Informer<VirtualMachine>,
    private readonly nodes: Informer<Node>,
    /** Volumes, for where local ones pin the VMs that name them. */
    private readonly volumes?: Informer<Volume>,
  ) {
    this.index = VmIndex.for(vms);
    const relist = () => (this.nodeList = undefined);
    nodes.addEventHandler({ onAdd: relist, onUpdate: relist, onDelete: relist });
  }

  /**
   * A VM that is not pending once updated needs no pass: its pass would return at once (a bound VM is never moved
   * here). Most VM updates are of bound VMs (their status as they start and run). A resync still looks.
   */
  updateNeedsNoPass(oldVm: VirtualMachine, vm: VirtualMachine): boolean {
    return oldVm !== vm && !isPending(vm);
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const cached = this.vms.get(request.name, request.namespace);
    if (!cached || !isPending(cached)) return {};
    if (this.assumed.get(keyOf(cached))?.staleVersion === cached.metadata.resourceVersion) return {}; // placed already: the cache lags
    const vm = cloneJson(cached);
    const pin = this.volumes ? pinOf(vm, (name) => localNode(this.volumes!.get(name, vm.metadata.namespace))) : undefined;
    const views = this.nodeViews();
    // Each decision starts its scan where the last one stopped, so sampling still spreads over every node.
    const placement: Placement = pin && 'conflict' in pin ? { message: pin.conflict } : choose(requestOf(vm), vm.spec.nodeSelector, views, pin, { start: this.scanStart, enough: enoughFitting(views.length) });
    this.scanStart += placement.scanned ?? 0;
    const conditions = placement.node
      ? setCondition(vm.status?.conditions, { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `assigned to node ${placement.node}` }, vm.metadata.generation)
      : setCondition(vm.status?.conditions, { type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: placement.message }, vm.metadata.generation);
    const status = { ...vm.status, ...(placement.node ? { nodeName: placement.node } : {}), conditions };
    // Assumed before the write, in the same synchronous step as the choice: decisions of concurrent workers
    // (and of the next VM while this write is in flight) count this placement. Taken back if it is not written.
    const key = keyOf(vm);
    if (placement.node) this.assumed.set(key, { staleVersion: vm.metadata.resourceVersion!, node: placement.node, request: requestOf(vm) });
    let result;
    try {
      result = await writeStatusIfChanged(this.client, VirtualMachineResource, vm, status, { fieldManager: FIELD_MANAGER, signal: context.signal });
    } catch (error) {
      this.assumed.delete(key);
      throw error;
    }
    if (!result.changed) this.assumed.delete(key);
    if (placement.node && result.changed) {
      context.log.info('scheduled', { node: placement.node });
    } else if (!placement.node && findCondition(cached.status?.conditions, 'Scheduled')?.message !== placement.message) {
      void context.recorder.event(vm, 'Warning', 'FailedScheduling', placement.message);
    }
    return {};
  }

  /**
   * Every Node with what its bound VMs (and assumed placements) request, each view made only when the
   * decision reaches it: a sampled decision looks at a share of the nodes, and making all 5,000 views for
   * each one was nearly all of the scheduler's time in the scale run (25 decisions a second).
   */
  private nodeViews(): NodeViews {
    const extra = new Map<string, Usage>();
    for (const [key, placement] of this.assumed) {
      const slash = key.indexOf('/');
      const current = this.vms.get(key.slice(slash + 1), key.slice(0, slash) || undefined);
      // Gone, or the informer has caught up (then the index counts it): no longer assumed.
      if (!current || current.metadata.resourceVersion !== placement.staleVersion) {
        this.assumed.delete(key);
        continue;
      }
      const entry = extra.get(placement.node) ?? { cpu: 0, memoryBytes: 0, vms: 0 };
      extra.set(placement.node, { cpu: entry.cpu + placement.request.cpu, memoryBytes: entry.memoryBytes + placement.request.memoryBytes, vms: entry.vms + 1 });
    }
    const { nodes, views } = (this.nodeList ??= { nodes: this.nodes.list(), views: [] });
    return {
      length: nodes.length,
      // A view is reused, not made per decision (a decision at 5,000 nodes reaches 500 of them): choose() is
      // synchronous and reaches each position once, so setting `used` here never changes a view it still reads.
      at: (position) => {
        const node = nodes[position];
        if (!node) return undefined;
        const view = (views[position] ??= nodeView(node, NO_USAGE));
        const used = this.index.usageOf(view.name);
        const assumed = extra.get(view.name);
        view.used = assumed ? { cpu: used.cpu + assumed.cpu, memoryBytes: used.memoryBytes + assumed.memoryBytes, vms: used.vms + assumed.vms } : used;
        return view;
      },
    };
  }
}
