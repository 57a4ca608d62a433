// Lookups between VMs and Ports kept from informer events, so neither side scans the other's namespace:
// - the VMs that name a Port or a Volume (a Port or Volume event looks its VMs up here: at 150,000 VMs with a
//   NIC each, every Port status write would otherwise have walked them all);
// - the Ports a VM controls or holds (each VM pass releases those its spec no longer names: a scan of every
//   Port of the namespace made each pass O(Ports): 28% of the controller manager's CPU at 5,000 Ports).
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Port } from '../../apis/network/v1alpha1/index.ts';
import type { Informer } from '../runtime/informer.ts';
import { InformerIndex, sharedIndex } from '../runtime/informer-index.ts';
import { controllingVm, interfacePlans } from './vm-state.ts';

type Kind = 'port' | 'volume';

const refKey = (kind: Kind, namespace: string | undefined, name: string) => `${kind}\0${namespace ?? ''}\0${name}`;

/** The Ports and Volumes a VM names: its interfaces' Ports (portRef, or the one a subnetRef makes) and volumeRefs. */
function referencesOf(vm: VirtualMachine): string[] {
  const namespace = vm.metadata.namespace;
  return [...interfacePlans(vm).map((plan) => refKey('port', namespace, plan.portName)), ...(vm.spec.volumes ?? []).map((entry) => refKey('volume', namespace, entry.volumeRef))];
}

export class VmReferenceIndex {
  private readonly index: InformerIndex<VirtualMachine>;

  static for(informer: Informer<VirtualMachine>): VmReferenceIndex {
    return sharedIndex(informer, 'vm-references', () => new VmReferenceIndex(informer));
  }

  constructor(informer: Informer<VirtualMachine>) {
    this.index = new InformerIndex(informer, referencesOf);
  }

  /** Names of the VMs in `namespace` that name the Port or Volume `name`. */
  namedBy(kind: Kind, namespace: string | undefined, name: string): string[] {
    return this.index.names(refKey(kind, namespace, name));
  }
}

const userKey = (namespace: string | undefined, vm: string) => `${namespace ?? ''}\0${vm}`;

/** The VMs a Port is used by: the one controlling it (ownerReferences) and the one holding it (status.owner). */
function usersOf(port: Port): string[] {
  const namespace = port.metadata.namespace;
  const users: string[] = [];
  const controller = controllingVm(port);
  if (controller) users.push(userKey(namespace, controller.name));
  if (port.status?.owner?.kind === 'VirtualMachine') users.push(userKey(namespace, port.status.owner.name));
  return users;
}

export class VmPortIndex {
  private readonly index: InformerIndex<Port>;

  static for(informer: Informer<Port>): VmPortIndex {
    return sharedIndex(informer, 'vm-ports', () => new VmPortIndex(informer));
  }

  constructor(informer: Informer<Port>) {
    this.index = new InformerIndex(informer, usersOf);
  }

  /**
   * Names of the Ports in `namespace` that name the VM `name` as controller or holder (by name: the caller
   * still checks the UID, as for a VM deleted and created again under the same name).
   */
  portsOf(namespace: string | undefined, name: string): string[] {
    return this.index.names(userKey(namespace, name));
  }
}
