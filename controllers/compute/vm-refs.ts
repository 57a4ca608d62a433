// The VMs that name a Port or a Volume, by namespace and name, kept from the VM informer's events. A Port or
// Volume event looks its VMs up here instead of scanning every VM of its namespace (O(VMs) per event: at
// 150,000 VMs with a NIC each, every Port status write would have walked them all).
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
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
