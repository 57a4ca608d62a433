// VirtualMachine → its Ports and its summary. For each spec.networks entry the VM either creates a Port
// (subnetRef: `<vm>-<iface>`, controlled by the VM, so the garbage collector deletes it with the VM) or claims
// an existing one (portRef). Either way the Port's status.owner names the VM (a Port it made: once it is bound,
// or Ready for a VM meant to be stopped): a claim is a status write with a
// resourceVersion precondition, so two VMs racing for one Port cannot both win, and the loser waits with
// PortInUse until the holder lets go. The Port's status.boundNode follows the node agent's report that the tap
// is bound. status.interfaces copies each Port's address (what the agent plugs in); printableStatus and Ready
// summarize the scheduler's, the Node's and the agent's views (vm-state.ts). status.volumes resolves each
// spec.volumes entry for the agent (volumes.ts): attachable only when the Volume is ready and held by this VM.
//
// Deleting a VM first waits for the agent of its node to stop QEMU and remove its taps and disks (it reports
// runtime.reason Deleted), then releases the claimed Ports — so a Port handed to another VM is never plugged
// in on two nodes at once. A node that is not Ready cannot answer: the VM is released without waiting, and the
// agent removes the leftovers when it comes back (its orphan sweep).
import { isNotFound, type ApiClient } from '../../apis/client/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { NodeResource, VirtualMachineResource, type Node, type VirtualMachine, type VirtualMachineInterface } from '../../apis/compute/v1alpha1/index.ts';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { VolumeResource, type Volume } from '../../apis/storage/v1alpha1/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { Controller, requestsFor, watchOf } from '../runtime/controller.ts';
import type { Informer, InformerCache } from '../runtime/informer.ts';
import { LifecycleReconciler, notReady, type Outcome, type Readiness } from '../runtime/lifecycle.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';
import { VmIndex } from './scheduler.ts';
import { VmPortIndex, VmReferenceIndex } from './vm-refs.ts';
import { volumeAttachments, volumesCondition } from './volumes.ts';
import { controllingVm, currentRuntime, interfacePlans, isControlledBy, ownedPort, portHolder, summarize, wantsToRun, type InterfacePlan } from './vm-state.ts';

export const VM_FINALIZER = 'compute.photoncloud.io/ports';
const FIELD_MANAGER = 'virtualmachine-controller';

export interface ComputeInformers {
  vms: Informer<VirtualMachine>;
  nodes: Informer<Node>;
  ports: Informer<Port>;
  volumes: Informer<Volume>;
}

export function computeInformers(informers: InformerCache): ComputeInformers {
  return {
    vms: informers.informerFor<VirtualMachine>(VirtualMachineResource),
    nodes: informers.informerFor<Node>(NodeResource),
    ports: informers.informerFor<Port>(PortResource),
    volumes: informers.informerFor<Volume>(VolumeResource),
  };
}

/** Writes a Port's owner and boundNode when they differ (compare-and-swap on its resourceVersion). */
async function setPortUse(client: ApiClient, port: Port, use: { owner?: { kind: 'VirtualMachine'; name: string }; boundNode?: string }, signal: AbortSignal): Promise<void> {
  const status = { ...port.status };
  if (use.owner) status.owner = use.owner;
  else delete status.owner;
  if (use.boundNode) status.boundNode = use.boundNode;
  else delete status.boundNode;
  try {
    await writeStatusIfChanged(client, PortResource, port, status, { fieldManager: FIELD_MANAGER, signal });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

interface InterfaceOutcome {
  status: VirtualMachineInterface;
  /** Why this interface is not usable yet. */
  blocker?: Readiness;
  port?: Port;
}

export function virtualMachineReconciler(client: ApiClient, informers: ComputeInformers): LifecycleReconciler<VirtualMachine> {
  const portsOfVm = VmPortIndex.for(informers.ports);
  /** Ensures the Port of one interface exists and is held by the VM; never throws for a missing reference. */
  const ensureInterface = async (vm: VirtualMachine, plan: InterfacePlan, signal: AbortSignal): Promise<InterfaceOutcome> => {
    const namespace = vm.metadata.namespace;
    const base: VirtualMachineInterface = { name: plan.network.name, portName: plan.portName };
    let port = informers.ports.get(plan.portName, namespace);
    if (plan.owned) {
      if (!port) {
        try {
          port = await client.create<Port>(PortResource, ownedPort(vm, plan), { namespace, fieldManager: FIELD_MANAGER, signal });
        } catch (error) {
          if ((error as { status?: { reason?: string } }).status?.reason !== 'AlreadyExists') throw error;
          return { status: base, blocker: notReady('PortPending', `Port ${plan.portName} is being created`) };
        }
      } else if (!isControlledBy(port, vm)) {
        return { status: base, blocker: notReady('PortConflict', `Port ${plan.portName} exists and does not belong to this VM (delete it, or attach it with portRef)`) };
      }
    } else if (!port) {
      return { status: base, blocker: notReady('PortNotFound', `Port ${plan.portName} does not exist yet`) };
    }
    if (port.metadata.deletionTimestamp) return { status: base, blocker: notReady('PortDeleting', `Port ${plan.portName} is being deleted`) };
    if (portHolder(port, vm) === 'other') {
      const owner = port.status!.owner!;
      return { status: base, blocker: notReady('PortInUse', `Port ${plan.portName} is used by ${owner.kind} ${owner.name}`) };
    }
    const runtime = currentRuntime(vm);
    const bound = runtime?.state === 'Running' && (runtime.interfaces ?? []).some((entry) => entry.name === plan.network.name && entry.bound);
    // A Port named by portRef is claimed at once: the claim is what decides between VMs. A Port this VM made
    // is this VM's by its controller reference until claimed (portHolder), so its claim waits for the write
    // that records it bound (or, for a VM meant to be stopped, for the Port controller's report): claimed
    // at once, it raced the Port controller's first status write (4 in 10 of that controller's passes ended
    // in a 409 in the scale run), and claimed apart from boundNode it cost every VM a Port write more, and
    // every controller watching Ports a pass more.
    const reported = findCondition(port.status?.conditions, 'Ready') !== undefined;
    const claimNow = !plan.owned || port.status?.owner !== undefined || (reported && (bound || !wantsToRun(vm)));
    if (claimNow) await setPortUse(client, port, { owner: { kind: 'VirtualMachine', name: vm.metadata.name! }, boundNode: bound ? vm.status!.nodeName : undefined }, signal);
    const status: VirtualMachineInterface = {
      ...base,
      portUID: port.metadata.uid,
      ...(port.status?.ipAddress ? { ipAddress: port.status.ipAddress } : {}),
      ...(port.status?.macAddress ? { macAddress: port.status.macAddress } : {}),
    };
    const portReady = findCondition(port.status?.conditions, 'Ready');
    if (portReady?.status !== 'True') return { status, port, blocker: notReady('PortNotReady', `Port ${plan.portName}: ${portReady?.message || 'not programmed yet'}`) };
    if (!port.status?.ipAddress || !port.status.macAddress) return { status, port, blocker: notReady('PortNotReady', `Port ${plan.portName} has no address yet`) };
    if (wantsToRun(vm) && !bound) return { status, port, blocker: notReady('PortNotBound', `Port ${plan.portName} is not bound on a node yet`) };
    return { status, port };
  };

  /** Ports this VM holds that its spec no longer names: owned ones are deleted, claimed ones released. */
  const releaseUnused = async (vm: VirtualMachine, keep: ReadonlySet<string>, signal: AbortSignal): Promise<void> => {
    for (const name of portsOfVm.portsOf(vm.metadata.namespace, vm.metadata.name!)) {
      const port = informers.ports.get(name, vm.metadata.namespace);
      if (!port || keep.has(name)) continue;
      if (isControlledBy(port, vm)) {
        if (!port.metadata.deletionTimestamp) await client.delete(PortResource, port.metadata.name!, { namespace: port.metadata.namespace, signal }).catch((error) => (isNotFound(error) ? undefined : Promise.reject(error)));
      } else if (portHolder(port, vm) === 'this') {
        await setPortUse(client, port, {}, signal);
      }
    }
  };

  return new LifecycleReconciler<VirtualMachine>({
    client,
    resource: VirtualMachineResource,
    informer: informers.vms,
    finalizer: VM_FINALIZER,
    fieldManager: FIELD_MANAGER,
    apply: async (vm, context): Promise<Outcome> => {
      const plans = interfacePlans(vm);
      const outcomes: InterfaceOutcome[] = [];
      for (const plan of plans) outcomes.push(await ensureInterface(vm, plan, context.signal));
      await releaseUnused(vm, new Set(plans.map((plan) => plan.portName)), context.signal);
      const networkBlocker = outcomes.find((outcome) => outcome.blocker)?.blocker;
      const node = vm.status?.nodeName ? informers.nodes.get(vm.status.nodeName) : undefined;
      const { printableStatus, readiness } = summarize({ vm, node, networkBlocker });
      const volumes = volumeAttachments(vm, (name) => informers.volumes.get(name, vm.metadata.namespace));
      return {
        readiness,
        status: { printableStatus, interfaces: outcomes.map((outcome) => outcome.status), volumes: volumes.length > 0 ? volumes : undefined },
        conditions: [networkCondition(networkBlocker, plans.length, wantsToRun(vm)), volumesCondition(volumes)],
      };
    },
    cleanup: async (vm, context) => {
      const nodeName = vm.status?.nodeName;
      const node = nodeName ? informers.nodes.get(nodeName) : undefined;
      const nodeAnswers = findCondition(node?.status?.conditions, 'Ready')?.status === 'True';
      const runtime = currentRuntime(vm);
      if (nodeName && nodeAnswers && runtime && runtime.reason !== 'Deleted') {
        // The agent's report (runtime.reason Deleted) brings the VM back here.
        return { readiness: notReady('Deleting', `waiting for Node ${nodeName} to stop the VM and remove its disks and taps`), status: { printableStatus: 'Stopping' } };
      }
      await releaseUnused(vm, new Set(), context.signal);
      return 'done';
    },
  });
}

/** NetworkReady: why not, or that every Port is bound (running) or ready to be (a VM meant to be stopped). */
function networkCondition(blocker: Readiness | undefined, interfaces: number, running: boolean) {
  if (blocker) return { type: 'NetworkReady', status: 'False' as const, reason: blocker.reason, message: blocker.message };
  if (interfaces === 0) return { type: 'NetworkReady', status: 'True' as const, reason: 'NoInterfaces', message: 'no network interfaces' };
  return running
    ? { type: 'NetworkReady', status: 'True' as const, reason: 'PortsBound', message: `${interfaces} interface(s) bound` }
    : { type: 'NetworkReady', status: 'True' as const, reason: 'PortsReady', message: `${interfaces} Port(s) ready; bound when the VM runs` };
}


export function virtualMachineController(deps: { client: ApiClient; informers: InformerCache }, log: Logger, metrics?: RuntimeMetrics): Controller {
  const informers = computeInformers(deps.informers);
  const byNode = VmIndex.for(informers.vms);
  const references = VmReferenceIndex.for(informers.vms);
  // A Port concerns the VMs naming it (portRef or the name a subnetRef creates), the one holding it and the
  // one controlling it; looked up, not scanned for (see vm-refs.ts).
  const vmsOfPort = (port: Port) => {
    const names = new Set(references.namedBy('port', port.metadata.namespace, port.metadata.name!));
    if (port.status?.owner?.name) names.add(port.status.owner.name);
    const controller = controllingVm(port);
    if (controller) names.add(controller.name);
    return [...names].map((name) => ({ namespace: port.metadata.namespace, name }));
  };
  return new Controller({
    name: 'virtualmachine-controller',
    client: deps.client,
    informers: deps.informers,
    resource: VirtualMachineResource,
    reconciler: virtualMachineReconciler(deps.client, informers),
    logger: log,
    metrics,
    // Four, though a pass for a VM with interfaces waits on up to two writes in turn (its Port, its own
    // status) and is on that VM's way to Running: sixteen made the scale run with a Port per VM ~2.5× faster,
    // but without interfaces, where only the scheduler is on the way, they wrote every intermediate summary
    // (a write more per VM) and took the API server from the scheduler (of 30,000 VMs, 1,568 Running after
    // 4 minutes; with four, all of them after 4 to 6).
    workers: 4,
    watches: [
      watchOf(informers.ports, vmsOfPort),
      // The VMs bound to the node, from the index by node: a scan of every VM per Node event was O(VMs) for
      // each heartbeat-driven status change (the scale run's 5,000 nodes and 150,000 VMs).
      watchOf(informers.nodes, (node) => requestsFor(byNode.onNode(node.metadata.name!))),
      // A Volume becoming ready or changing hands concerns the VMs naming it.
      watchOf(informers.volumes, (volume) => references.namedBy('volume', volume.metadata.namespace, volume.metadata.name!).map((name) => ({ namespace: volume.metadata.namespace, name }))),
    ],
  });
}

