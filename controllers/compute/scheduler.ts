// The scheduler: binds each VirtualMachine that should run and has no node (status.nodeName) to one that fits
// (fit.ts), writing status.nodeName and Scheduled=True in one compare-and-swap status write; or Scheduled=False
// reason Unschedulable with why, retried whenever a Node or another VM changes (a node registering, freeing
// room, being uncordoned). A bound VM is never moved here; the node-lifecycle controller releases the VMs of a
// lost node. A Halted VM without a node stays unscheduled until it should run.
//
// Placements are counted the moment they are written ("assumed", as kube-scheduler does): the informer sees
// the write a little later, and a second VM scheduled in between must not be put into the same room. One worker,
// so decisions are serial.
import type { ApiClient } from '../../apis/client/index.ts';
import { VirtualMachineResource, type Node, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { findCondition, setCondition } from '../../apis/meta/conditions.ts';
import type { Informer } from '../runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';
import { choose, nodeView, occupies, requestOf, type Resources } from './fit.ts';

const FIELD_MANAGER = 'scheduler';

/** Whether a VM waits for the scheduler: not bound, not being deleted, and meant to run. */
export const isPending = (vm: VirtualMachine): boolean => !vm.status?.nodeName && !vm.metadata.deletionTimestamp && occupies(vm);

export class Scheduler implements Reconciler {
  /** VM UID → node, for placements written but not yet in the informer. */
  private readonly assumed = new Map<string, { node: string; request: Resources }>();

  constructor(
    private readonly client: ApiClient,
    private readonly vms: Informer<VirtualMachine>,
    private readonly nodes: Informer<Node>,
  ) {}

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const cached = this.vms.get(request.name, request.namespace);
    if (!cached || !isPending(cached)) return {};
    const vm = structuredClone(cached);
    const placement = choose(requestOf(vm), vm.spec.nodeSelector, this.nodeViews());
    const conditions = placement.node
      ? setCondition(vm.status?.conditions, { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `assigned to node ${placement.node}` }, vm.metadata.generation)
      : setCondition(vm.status?.conditions, { type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: placement.message }, vm.metadata.generation);
    const status = { ...vm.status, ...(placement.node ? { nodeName: placement.node } : {}), conditions };
    const result = await writeStatusIfChanged(this.client, VirtualMachineResource, vm, status, { fieldManager: FIELD_MANAGER, signal: context.signal });
    if (placement.node && result.changed) {
      this.assumed.set(vm.metadata.uid!, { node: placement.node, request: requestOf(vm) });
      context.log.info('scheduled', { node: placement.node });
    } else if (!placement.node && findCondition(cached.status?.conditions, 'Scheduled')?.message !== placement.message) {
      void context.recorder.event(vm, 'Warning', 'FailedScheduling', placement.message);
    }
    return {};
  }

  /** Every Node with what its bound VMs (and assumed placements) request. */
  private nodeViews() {
    const used = new Map<string, Resources & { vms: number }>();
    const add = (node: string, request: Resources) => {
      const entry = used.get(node) ?? { cpu: 0, memoryBytes: 0, vms: 0 };
      entry.cpu += request.cpu;
      entry.memoryBytes += request.memoryBytes;
      entry.vms += 1;
      used.set(node, entry);
    };
    const seen = new Set<string>();
    for (const vm of this.vms.list()) {
      seen.add(vm.metadata.uid!);
      if (vm.status?.nodeName) {
        this.assumed.delete(vm.metadata.uid!); // the informer has caught up
        if (occupies(vm)) add(vm.status.nodeName, requestOf(vm));
      }
    }
    for (const [uid, placement] of this.assumed) {
      if (!seen.has(uid)) this.assumed.delete(uid); // the VM is gone
      else add(placement.node, placement.request);
    }
    return this.nodes.list().map((node) => nodeView(node, used.get(node.metadata.name!) ?? { cpu: 0, memoryBytes: 0, vms: 0 }));
  }
}
