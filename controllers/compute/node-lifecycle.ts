// The node-lifecycle controller (kube-controller-manager's node lifecycle controller, for hypervisors). A Node's
// agent renews the Lease photon-node-lease/<node>; when the last renewal has been expired (renewTime +
// leaseDurationSeconds) for longer than the grace period the Node's Ready, HypervisorReady and NetworkReady
// become Unknown (reason NodeStatusUnknown) — its agent, when it returns, writes them again. A Lease that stops changing produces no event, so each Node is looked at again
// when its grace period would run out.
//
// Once a Node has not been Ready for the eviction timeout, its VMs with runStrategy RerunOnFailure are released:
// status.nodeName and the dead node's report (status.runtime) are cleared and Scheduled=False reason NodeLost
// says from where, so the scheduler starts them elsewhere, with the same Ports (IP and MAC). Other strategies
// stay: their disks are on that node. Nothing fences the lost node: if it was only cut off, its QEMU may still
// run until its agent sees the VM is no longer its own and removes it.
import type { ApiClient, Lease } from '../../apis/client/index.ts';
import { NodeResource, VirtualMachineResource, type Node, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { findCondition, setCondition } from '../../apis/meta/conditions.ts';
import type { Informer } from '../runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';
import { NODE_LEASE_NAMESPACE } from '../../apis/compute/nodes.ts';
import { VmIndex } from './scheduler.ts';
import { cloneJson } from '../../lib/json-clone.ts';

const FIELD_MANAGER = 'node-lifecycle-controller';
const AGENT_CONDITIONS = ['Ready', 'HypervisorReady', 'NetworkReady'];

export interface NodeLifecycleOptions {
  /** How long a Lease may stay expired before the Node is Unknown (default 40 s, kube's node-monitor-grace-period). */
  nodeMonitorGracePeriodMs?: number;
  /** How long a Node may be not Ready before its RerunOnFailure VMs move (default 5 min). */
  evictionTimeoutMs?: number;
  /** The same as evictionTimeoutMs (kube's name, pod-eviction-timeout); evictionTimeoutMs wins when both are given. */
  podEvictionTimeoutMs?: number;
  now?: () => number;
}

export class NodeLifecycle implements Reconciler {
  private readonly graceMs: number;
  private readonly evictionMs: number;
  private readonly now: () => number;
  private readonly index: VmIndex;

  constructor(
    private readonly client: ApiClient,
    private readonly informers: { nodes: Informer<Node>; leases: Informer<Lease>; vms: Informer<VirtualMachine> },
    options: NodeLifecycleOptions = {},
  ) {
    this.graceMs = options.nodeMonitorGracePeriodMs ?? 40_000;
    this.evictionMs = options.evictionTimeoutMs ?? options.podEvictionTimeoutMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.index = VmIndex.for(informers.vms);
  }

  /**
   * Whether a Lease update can change what a pass does: not the renewal of a Ready node's Lease. Its pass would
   * only move the node's next look to the new deadline, and the look already due (the pass that saw the node
   * Ready asked for it; of two requeue times the earlier wins) finds the renewal and moves it then. With 5,000
   * nodes renewing every few seconds, renewals were most of this controller's passes.
   */
  leaseUpdateMatters(oldLease: Lease, lease: Lease): boolean {
    if (oldLease.spec?.leaseDurationSeconds !== lease.spec?.leaseDurationSeconds) return true;
    return findCondition(this.informers.nodes.get(lease.metadata.name!)?.status?.conditions, 'Ready')?.status !== 'True';
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const cached = this.informers.nodes.get(request.name);
    if (!cached || cached.metadata.deletionTimestamp) return {};
    // Only read (writes go through patches of copies): every Lease renewal brings a node here, and cloning
    // each one was a visible share of the manager's time with 5,000 heartbeating nodes.
    const node = cached;
    const lease = this.informers.leases.get(node.metadata.name!, NODE_LEASE_NAMESPACE);
    const lastHeard = Date.parse(lease?.spec?.renewTime ?? node.metadata.creationTimestamp ?? new Date(0).toISOString());
    const now = this.now();
    // The renewal is good for leaseDurationSeconds; the grace period runs from when it expires.
    const staleAt = lastHeard + (lease?.spec?.leaseDurationSeconds ?? 0) * 1000 + this.graceMs;
    const ready = findCondition(node.status?.conditions, 'Ready');

    if (now < staleAt) {
      if (ready?.status === 'True') return { requeueAfterMs: staleAt - now + 100 };
      // Heartbeating but not Ready (the agent says why, e.g. its network): evict after the timeout all the same.
    } else if (ready?.status !== 'Unknown') {
      let conditions = node.status?.conditions;
      for (const type of AGENT_CONDITIONS) conditions = setCondition(conditions, { type, status: 'Unknown', reason: 'NodeStatusUnknown', message: `node agent stopped posting status (no Lease renewal for ${Math.round((now - lastHeard) / 1000)} s)` }, node.metadata.generation);
      await writeStatusIfChanged(this.client, NodeResource, node, { ...node.status, conditions }, { fieldManager: FIELD_MANAGER, signal: context.signal });
      void context.recorder.event(node, 'Warning', 'NodeNotReady', `node ${node.metadata.name} stopped heartbeating; its VMs are Unknown`);
      context.log.warn('node stopped heartbeating', { node: node.metadata.name });
      return { requeueAfterMs: this.evictionMs };
    }
    if (!ready) return { requeueAfterMs: Math.max(100, staleAt - now + 100) };

    const notReadySince = Date.parse(ready.lastTransitionTime);
    const evictAt = notReadySince + this.evictionMs;
    if (now < evictAt) return { requeueAfterMs: evictAt - now + 100 };
    await this.evict(node, context);
    // Look again while it stays down (VMs bound to it later, or whose eviction lost a race).
    return { requeueAfterMs: Math.max(1000, Math.min(this.evictionMs, 30_000)) };
  }

  /** Releases the node's RerunOnFailure VMs for rescheduling. */
  private async evict(node: Node, context: ReconcileContext): Promise<void> {
    const name = node.metadata.name!;
    const movable = this.index.onNode(name).filter((vm) => !vm.metadata.deletionTimestamp && vm.spec.runStrategy === 'RerunOnFailure');
    for (const cached of movable) {
      const vm = cloneJson(cached);
      const { nodeName: _lost, runtime: _report, ...rest } = vm.status ?? {};
      const conditions = setCondition(vm.status?.conditions, { type: 'Scheduled', status: 'False', reason: 'NodeLost', message: `node ${name} is not Ready; rescheduling (runStrategy RerunOnFailure)` }, vm.metadata.generation);
      const result = await writeStatusIfChanged(this.client, VirtualMachineResource, vm, { ...rest, conditions }, { fieldManager: FIELD_MANAGER, signal: context.signal });
      if (result.changed) {
        context.log.warn('VM released from a lost node', { node: name, namespace: vm.metadata.namespace, vm: vm.metadata.name });
        void context.recorder.event(vm, 'Warning', 'NodeLost', `node ${name} is not Ready; starting the VM elsewhere`);
      }
    }
  }
}
