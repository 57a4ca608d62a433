// Lookups between VMs and Ports kept from informer events, so neither side scans the other's namespace:
// - the VMs that name a Port or a Volume (a Port or Volume event looks its VMs up here: at 150,000 VMs with a
//   NIC each, every Port status write would otherwise have walked them all);
// - the Ports a VM controls or holds (each VM pass releases those its spec no longer names: a scan of every
//   Port of the namespace made each pass O(Ports), and the scale run with a Port per VM crawled at ~10 VMs/s).
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Port } from '../../apis/network/v1alpha1/index.ts';
import type { Informer } from '../runtime/informer.ts';
import { interfacePlans } from './vm-state.ts';

type Kind = 'port' | 'volume';

/** The Ports and Volumes a VM names: its interfaces' Ports (portRef, or the one a subnetRef makes) and volumeRefs. */
function referencesOf(vm: VirtualMachine): string[] {
  const namespace = vm.metadata.namespace ?? '';
  return [
    ...interfacePlans(vm).map((plan) => refKey('port', namespace, plan.portName)),
    ...(vm.spec.volumes ?? []).map((entry) => refKey('volume', namespace, entry.volumeRef)),
  ];
}

const refKey = (kind: Kind, namespace: string, name: string) => `${kind}\0${namespace}\0${name}`;

export class VmReferenceIndex {
  /** Reference key → names of the VMs (in the reference's namespace) naming it. */
  private readonly byReference = new Map<string, Set<string>>();
  /** VM key (namespace/name) → the references it was indexed under, to take it back out. */
  private readonly indexed = new Map<string, string[]>();

  private static readonly perInformer = new WeakMap<Informer<VirtualMachine>, VmReferenceIndex>();

  static for(informer: Informer<VirtualMachine>): VmReferenceIndex {
    let index = VmReferenceIndex.perInformer.get(informer);
    if (!index) VmReferenceIndex.perInformer.set(informer, (index = new VmReferenceIndex(informer)));
    return index;
  }

  constructor(informer: Informer<VirtualMachine>) {
    informer.addEventHandler({ onAdd: (vm) => this.put(vm), onUpdate: (_old, vm) => this.put(vm), onDelete: (vm) => this.remove(vm) });
  }

  /** Names of the VMs in `namespace` that name the Port or Volume `name`. */
  namedBy(kind: Kind, namespace: string | undefined, name: string): string[] {
    return [...(this.byReference.get(refKey(kind, namespace ?? '', name)) ?? [])];
  }

  private put(vm: VirtualMachine): void {
    this.remove(vm);
    const references = referencesOf(vm);
    for (const reference of references) {
      let names = this.byReference.get(reference);
      if (!names) this.byReference.set(reference, (names = new Set()));
      names.add(vm.metadata.name!);
    }
    this.indexed.set(`${vm.metadata.namespace ?? ''}/${vm.metadata.name}`, references);
  }

  private remove(vm: VirtualMachine): void {
    const key = `${vm.metadata.namespace ?? ''}/${vm.metadata.name}`;
    for (const reference of this.indexed.get(key) ?? []) {
      const names = this.byReference.get(reference);
      names?.delete(vm.metadata.name!);
      if (names?.size === 0) this.byReference.delete(reference);
    }
    this.indexed.delete(key);
  }
}

/** The VMs a Port is used by: the one controlling it (ownerReferences) and the one holding it (status.owner). */
function usersOf(port: Port): string[] {
  const namespace = port.metadata.namespace ?? '';
  const users = new Set<string>();
  for (const reference of port.metadata.ownerReferences ?? []) {
    if (reference.controller && reference.kind === 'VirtualMachine') users.add(`${namespace}\0${reference.name}`);
  }
  if (port.status?.owner?.kind === 'VirtualMachine') users.add(`${namespace}\0${port.status.owner.name}`);
  return [...users];
}

export class VmPortIndex {
  /** namespace\0VM name → names of the Ports it controls or holds. */
  private readonly byVm = new Map<string, Set<string>>();
  /** Port key (namespace/name) → the VM keys it was indexed under, to take it back out. */
  private readonly indexed = new Map<string, string[]>();

  private static readonly perInformer = new WeakMap<Informer<Port>, VmPortIndex>();

  static for(informer: Informer<Port>): VmPortIndex {
    let index = VmPortIndex.perInformer.get(informer);
    if (!index) VmPortIndex.perInformer.set(informer, (index = new VmPortIndex(informer)));
    return index;
  }

  constructor(informer: Informer<Port>) {
    informer.addEventHandler({ onAdd: (port) => this.put(port), onUpdate: (_old, port) => this.put(port), onDelete: (port) => this.remove(port) });
  }

  /**
   * Names of the Ports in `namespace` that name the VM `name` as controller or holder (by name: the caller
   * still checks the UID, as for a VM deleted and created again under the same name).
   */
  portsOf(namespace: string | undefined, name: string): string[] {
    return [...(this.byVm.get(`${namespace ?? ''}\0${name}`) ?? [])];
  }

  private put(port: Port): void {
    this.remove(port);
    const users = usersOf(port);
    for (const user of users) {
      let names = this.byVm.get(user);
      if (!names) this.byVm.set(user, (names = new Set()));
      names.add(port.metadata.name!);
    }
    if (users.length > 0) this.indexed.set(`${port.metadata.namespace ?? ''}/${port.metadata.name}`, users);
  }

  private remove(port: Port): void {
    const key = `${port.metadata.namespace ?? ''}/${port.metadata.name}`;
    for (const user of this.indexed.get(key) ?? []) {
      const names = this.byVm.get(user);
      names?.delete(port.metadata.name!);
      if (names?.size === 0) this.byVm.delete(user);
    }
    this.indexed.delete(key);
  }
}
