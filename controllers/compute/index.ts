// The compute controllers: the scheduler (VM → Node), the virtualmachine controller (its Ports and summary)
// and the node-lifecycle controller (Nodes that stop heartbeating; VMs that move). Each is a separate
// controller (switchable by --controllers) over the manager's shared informers; the node agents
// (agents/node) run the VMs.
import { LeaseResource, type ApiClient, type Lease } from '../../apis/client/index.ts';
import { NodeResource, VirtualMachineResource, type Node, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { Controller, watchOf } from '../runtime/controller.ts';
import { specOrDeletionChanged } from '../runtime/predicates.ts';
import type { InformerCache } from '../runtime/informer.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { NODE_LEASE_NAMESPACE } from '../../apis/compute/nodes.ts';
import { VolumeResource, type Volume } from '../../apis/storage/v1alpha1/index.ts';
import { NodeLifecycle, type NodeLifecycleOptions } from './node-lifecycle.ts';
import { Scheduler, VmIndex } from './scheduler.ts';

export { virtualMachineController } from './virtualmachine.ts';
export type { NodeLifecycleOptions } from './node-lifecycle.ts';

export interface ComputeDeps {
  client: ApiClient;
  informers: InformerCache;
}

/** Status writes the scheduler has in flight at most (its decisions themselves are one at a time). */
const SCHEDULER_WORKERS = 16;

export function schedulerController(deps: ComputeDeps, log: Logger, metrics?: RuntimeMetrics): Controller {
  const vms = deps.informers.informerFor<VirtualMachine>(VirtualMachineResource);
  const nodes = deps.informers.informerFor<Node>(NodeResource);
  const volumes = deps.informers.informerFor<Volume>(VolumeResource);
  // Any Node change, a VM leaving a node (room freed), or a local Volume bound to a node may let a VM that did
  // not fit before fit now (VMs not tried yet are queued by their own events).
  const index = VmIndex.for(vms); // before the controller's own handlers: mappings see it updated
  const unschedulable = () => index.unschedulable().map((vm) => ({ namespace: vm.metadata.namespace, name: vm.metadata.name! }));
  return new Controller({
    name: 'scheduler',
    client: deps.client,
    informers: deps.informers,
    resource: VirtualMachineResource,
    reconciler: new Scheduler(deps.client, vms, nodes, volumes),
    logger: log,
    metrics,
    // Decisions are synchronous and cheap (~0.1 ms at 5,000 nodes); a worker spends nearly all its time waiting
    // for its status write. Those writes are the head of every VM's way to Running, so more of them are in
    // flight than other controllers' (kube-scheduler binds asynchronously for the same reason).
    workers: SCHEDULER_WORKERS,
    watches: [
      watchOf(nodes, unschedulable),
      watchOf(volumes, (volume) => (volume.status?.backend?.type === 'local' ? unschedulable() : [])),
      // Room on a node changes with a VM's binding, its request or run strategy (spec) and its deletion; not with
      // the status writes of a VM starting or running.
      watchOf(vms, (vm) => (vm.status?.nodeName || vm.metadata.deletionTimestamp ? unschedulable() : []), (old, vm) => old.status?.nodeName !== vm.status?.nodeName || specOrDeletionChanged(old, vm)),
    ],
  });
}

export function nodeLifecycleController(deps: ComputeDeps, log: Logger, metrics?: RuntimeMetrics, options: NodeLifecycleOptions = {}): Controller {
  const informers = {
    nodes: deps.informers.informerFor<Node>(NodeResource),
    // The manager's one Lease informer (the garbage collector watches every kind already): filtered here.
    leases: deps.informers.informerFor<Lease>(LeaseResource),
    vms: deps.informers.informerFor<VirtualMachine>(VirtualMachineResource),
  };
  const reconciler = new NodeLifecycle(deps.client, informers, options);
  return new Controller({
    name: 'node-lifecycle-controller',
    client: deps.client,
    informers: deps.informers,
    resource: NodeResource,
    reconciler,
    logger: log,
    metrics,
    watches: [watchOf(informers.leases, (lease) => (lease.metadata.namespace === NODE_LEASE_NAMESPACE ? [{ name: lease.metadata.name! }] : []), (old, lease) => reconciler.leaseUpdateMatters(old, lease))],
    // Node conditions are the agent's and this controller's: no Stalled condition on Nodes.
    stalledConditions: false,
  });
}
