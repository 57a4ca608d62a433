// What the virtualmachine-controller derives from a VM and the objects around it, as pure functions (unit-tested
// in vm-state.test.ts): which Port backs each interface, what a Port the VM creates looks like, and the
// one-word printableStatus with the Ready condition, from the scheduler's Scheduled condition, the Node's
// health and the node agent's report (status.runtime).
import { createHash } from 'node:crypto';
import { findCondition } from '../../apis/meta/conditions.ts';
import { controllerReference } from '../../apis/meta/owners.ts';
import type { Node, VirtualMachine, VirtualMachineNetwork, VirtualMachineStatus } from '../../apis/compute/v1alpha1/index.ts';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { notReady, ready, type Readiness } from '../runtime/lifecycle.ts';

export type PrintableStatus = NonNullable<VirtualMachineStatus['printableStatus']>;

/** Label on the Ports a VM creates: which VM they belong to (owner references say it too; this one selects). */
export const VM_LABEL = 'compute.photoncloud.io/virtualmachine';
const MAX_NAME = 63;

/**
 * The Port a VM creates for interface `iface`: `<vm>-<iface>`; when that is longer than a DNS label allows,
 * a prefix of it and a hash of the whole, so two long names never collide.
 */
export function ownedPortName(vmName: string, iface: string): string {
  const name = `${vmName}-${iface}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, MAX_NAME - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

export interface InterfacePlan {
  network: VirtualMachineNetwork;
  portName: string;
  /** true: the VM creates and owns the Port (subnetRef); false: an existing Port it claims (portRef). */
  owned: boolean;
}

export function interfacePlans(vm: VirtualMachine): InterfacePlan[] {
  return (vm.spec.networks ?? []).map((network) =>
    network.portRef ? { network, portName: network.portRef, owned: false } : { network, portName: ownedPortName(vm.metadata.name!, network.name), owned: true },
  );
}

/** The Port a subnetRef interface gets, controlled by the VM (so it is deleted with it). */
export function ownedPort(vm: VirtualMachine, plan: InterfacePlan): Port {
  return {
    apiVersion: PortResource.apiVersion,
    kind: 'Port',
    metadata: {
      name: plan.portName,
      namespace: vm.metadata.namespace,
      labels: { [VM_LABEL]: vm.metadata.name! },
      ownerReferences: [controllerReference(vm)],
    },
    spec: {
      subnetRef: plan.network.subnetRef!,
      ...(plan.network.ipAddress ? { ipAddress: plan.network.ipAddress } : {}),
      ...(plan.network.securityGroupRefs?.length ? { securityGroupRefs: [...plan.network.securityGroupRefs] } : {}),
    },
  };
}

export { isControlledBy } from '../../apis/meta/owners.ts';

/** The reference to the VM that controls a Port (made it for its subnetRef interface), if a VM does. */
export const controllingVm = (port: Port) => port.metadata.ownerReferences?.find((reference) => reference.controller && reference.kind === 'VirtualMachine');

/**
 * Whether the Port is held by this VM (status.owner), by another user, or by nobody. A Port a VM controls
 * (made for its subnetRef interface) is held by that VM before it wrote status.owner: the VM claims it only
 * with the write that records it bound (see virtualmachine.ts), and no other VM may take it meanwhile.
 */
export function portHolder(port: Port, vm: VirtualMachine): 'this' | 'other' | 'none' {
  const owner = port.status?.owner;
  if (!owner) {
    const controller = controllingVm(port);
    if (!controller) return 'none';
    return controller.uid === vm.metadata.uid ? 'this' : 'other';
  }
  return owner.kind === 'VirtualMachine' && owner.name === vm.metadata.name ? 'this' : 'other';
}

/** Whether the agent's report is about the node the VM is bound to now (a report of a previous node is stale). */
export function currentRuntime(vm: VirtualMachine): VirtualMachineStatus['runtime'] | undefined {
  const runtime = vm.status?.runtime;
  return runtime && vm.status?.nodeName && runtime.node === vm.status.nodeName ? runtime : undefined;
}

/** Whether the VM should be running now, from its runStrategy alone (the agent applies Manual/RerunOnFailure exits). */
export const wantsToRun = (vm: VirtualMachine): boolean => (vm.spec.runStrategy ?? 'Always') !== 'Halted';

export interface VmView {
  vm: VirtualMachine;
  /** The Node of status.nodeName, when the VM has one and the Node exists. */
  node?: Node;
  /** Why the network is not ready yet (ports missing, not programmed, not bound), or undefined when it is. */
  networkBlocker?: Readiness;
}

/**
 * The one-word summary and Ready. Order matters: a VM being deleted is Stopping whatever else holds; one
 * without a node is Scheduling, ErrorUnschedulable or (Halted) Stopped; a node that stopped reporting makes it
 * Unknown; otherwise the agent's report decides, and Ready needs Running with the network bound.
 */
export function summarize({ vm, node, networkBlocker }: VmView): { printableStatus: PrintableStatus; readiness: Readiness } {
  const halted = !wantsToRun(vm);
  if (vm.metadata.deletionTimestamp) return { printableStatus: 'Stopping', readiness: notReady('Deleting', 'the VM is being deleted') };
  const nodeName = vm.status?.nodeName;
  if (!nodeName) {
    if (halted) return { printableStatus: 'Stopped', readiness: notReady('Halted', 'runStrategy is Halted') };
    const scheduled = findCondition(vm.status?.conditions, 'Scheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') return { printableStatus: 'ErrorUnschedulable', readiness: notReady('Unschedulable', scheduled.message) };
    return { printableStatus: 'Scheduling', readiness: notReady('Scheduling', scheduled?.message || 'waiting for the scheduler to choose a node') };
  }
  const nodeReady = findCondition(node?.status?.conditions, 'Ready');
  if (!node) return { printableStatus: 'Unknown', readiness: notReady('NodeNotFound', `Node ${nodeName} does not exist`) };
  if (nodeReady?.status !== 'True' && vm.status?.runtime?.node === nodeName) {
    // Only once the node ran it: a VM bound to a node still registering is Provisioning below.
    return { printableStatus: 'Unknown', readiness: { ready: false, reason: 'NodeNotReady', message: `Node ${nodeName} is not Ready: ${nodeReady?.message || nodeReady?.reason || 'no status'}` } };
  }
  const runtime = currentRuntime(vm);
  if (!runtime) return halted ? { printableStatus: 'Stopped', readiness: notReady('Halted', 'runStrategy is Halted') } : { printableStatus: 'Provisioning', readiness: notReady('WaitingForNode', `waiting for the agent of Node ${nodeName}`) };
  const why = runtime.message || runtime.reason || runtime.state || '';
  switch (runtime.state) {
    case 'Running':
      if (networkBlocker) return { printableStatus: 'Running', readiness: networkBlocker };
      return { printableStatus: 'Running', readiness: ready('Running', `running on ${nodeName}`) };
    case 'Starting': {
      const disks = findCondition(vm.status?.conditions, 'DisksReady');
      return { printableStatus: disks?.status === 'True' ? 'Starting' : 'Provisioning', readiness: notReady(runtime.reason || 'Starting', why) };
    }
    case 'Stopping':
      return { printableStatus: 'Stopping', readiness: notReady(runtime.reason || 'Stopping', why) };
    case 'Stopped':
      return { printableStatus: 'Stopped', readiness: notReady(runtime.reason || 'Stopped', why) };
    case 'Crashed':
      // Always and RerunOnFailure start it again: it is on its way back.
      return halted || vm.spec.runStrategy === 'Manual' ? { printableStatus: 'Failed', readiness: notReady(runtime.reason || 'Crashed', why) } : { printableStatus: 'Starting', readiness: notReady(runtime.reason || 'Crashed', why) };
    case 'Failed':
      return { printableStatus: 'Failed', readiness: notReady(runtime.reason || 'Failed', why) };
    default:
      return { printableStatus: 'Provisioning', readiness: notReady('WaitingForNode', `waiting for the agent of Node ${nodeName}`) };
  }
}
