// Which VirtualMachine holds a Volume (single attach, ReadWriteOnce). A VM claims a Volume by naming it in
// spec.volumes and keeps holding it while its QEMU still has it plugged (status.runtime.volumes), so a Volume
// unplugged from one VM is handed to the next only once the node says it is out. The holder stays the holder
// while it claims or uses the Volume; otherwise a VM that has it plugged wins (it is writing to it), then the
// oldest claimant (creation time, then name). Pure: the volume controller writes the result to
// status.attachedTo, the virtualmachine controller lets only that VM attach.
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { VolumeAttachedTo } from '../../apis/storage/v1alpha1/index.ts';
import type { VolumeObject } from './informers.ts';

const claims = (vm: VirtualMachine, volume: string) => (vm.spec.volumes ?? []).some((entry) => entry.volumeRef === volume);
const plugs = (vm: VirtualMachine, volume: string) => (vm.status?.runtime?.volumes ?? []).some((entry) => entry.volumeRef === volume);

/** The VM that holds the Volume now, among the VMs of its namespace; undefined when none does. */
export function volumeHolder(volume: VolumeObject, vms: readonly VirtualMachine[]): VolumeAttachedTo | undefined {
  const name = volume.metadata.name!;
  const interested = vms.filter((vm) => claims(vm, name) || plugs(vm, name));
  const current = volume.status?.attachedTo?.uid;
  const byAge = (a: VirtualMachine, b: VirtualMachine) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name!.localeCompare(b.metadata.name!);
  const holder =
    interested.find((vm) => vm.metadata.uid === current) ??
    interested.filter((vm) => plugs(vm, name)).sort(byAge)[0] ??
    interested.filter((vm) => claims(vm, name) && !vm.metadata.deletionTimestamp).sort(byAge)[0];
  if (!holder) return undefined;
  return { virtualMachine: holder.metadata.name!, uid: holder.metadata.uid!, ...(holder.status?.nodeName ? { node: holder.status.nodeName } : {}) };
}

/** Whether the VM names or uses the Volume (for watches). */
export const concernsVolume = (vm: VirtualMachine, volume: string): boolean => claims(vm, volume) || plugs(vm, volume);

/**
 * What status.attachedTo becomes, given what it is and who holds the Volume now. A change of hands or of node
 * is a handover: it waits (the record stays as it was) until whoever still has the image open is fenced. A
 * holder released from its node (declared dead: its nodeName and runtime are cleared while its QEMU may still
 * run there), or a new holder not scheduled yet, leaves the record as it is until the holder lands on a node,
 * so that landing is a handover too; writing the nodeless holder instead would forget where the image may
 * still be open. A record without a node never ran anywhere: nothing to fence.
 */
export function nextAttachment(previous: VolumeAttachedTo | undefined, holder: VolumeAttachedTo | undefined): { attachedTo: VolumeAttachedTo | undefined; handover: boolean } {
  if (!previous?.uid || !previous.node || !holder) return { attachedTo: holder, handover: false };
  if (!holder.node) return { attachedTo: previous, handover: false };
  const handover = previous.uid !== holder.uid || previous.node !== holder.node;
  return { attachedTo: handover ? previous : holder, handover };
}
