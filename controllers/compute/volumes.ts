// Each spec.volumes entry of a VM, resolved for its node agent (status.volumes): attachable — the Volume is
// ready and held by this VM (the volume controller's status.attachedTo) — with the pool and image the agent
// plugs in (Ceph) or the file in its volumes directory (a local Volume on the VM's node), or why not. Pure. The agent attaches only attachable entries, so a Volume another VM holds
// is never opened twice, and the agent needs to read nothing but its own VMs.
import { findCondition } from '../../apis/meta/conditions.ts';
import type { VirtualMachine, VirtualMachineStatusVolume } from '../../apis/compute/v1alpha1/index.ts';
import type { Volume } from '../../apis/storage/v1alpha1/index.ts';
import { volumeBytes } from '../../apis/storage/v1alpha1/validation.ts';

export function volumeAttachments(vm: VirtualMachine, volumeNamed: (name: string) => Volume | undefined): VirtualMachineStatusVolume[] {
  const seen = new Set<string>();
  return (vm.spec.volumes ?? []).map((entry): VirtualMachineStatusVolume => {
    const base = { name: entry.name, volumeRef: entry.volumeRef };
    const no = (reason: string, message: string): VirtualMachineStatusVolume => ({ ...base, attachable: false, reason, message });
    if (seen.has(entry.volumeRef)) return no('DuplicateVolume', `Volume ${entry.volumeRef} is attached by an earlier entry of this VM`);
    seen.add(entry.volumeRef);
    const volume = volumeNamed(entry.volumeRef);
    if (!volume) return no('VolumeNotFound', `Volume ${entry.volumeRef} does not exist yet`);
    if (volume.metadata.deletionTimestamp) return no('VolumeDeleting', `Volume ${entry.volumeRef} is being deleted`);
    // Only a scheduled VM attaches, and only on the node its holder record names (the volume controller moves that
    // record after fencing whoever still has the image open).
    if (!vm.status?.nodeName) return no('WaitingForNode', 'the VM is not scheduled to a node yet');
    const holder = volume.status?.attachedTo;
    if (holder?.uid !== vm.metadata.uid) {
      return holder?.uid ? no('VolumeInUse', `Volume ${entry.volumeRef} is attached to VirtualMachine ${holder.virtualMachine}`) : no('WaitingForAttachment', `Volume ${entry.volumeRef} is not attached to this VM yet`);
    }
    const backend = volume.status?.backend;
    if (backend?.type === 'local' && backend.node && backend.node !== vm.status.nodeName) {
      return no('VolumeOnOtherNode', `Volume ${entry.volumeRef} is a local Volume on node ${backend.node}: the VM must run there`);
    }
    if (holder!.node !== vm.status.nodeName) return no('VolumeMoving', `Volume ${entry.volumeRef} is still attached on node ${holder!.node ?? '(none)'}: waiting for it to follow this VM to ${vm.status?.nodeName ?? 'a node'}`);
    const ready = findCondition(volume.status?.conditions, 'Ready');
    if (ready?.status !== 'True' || !backend?.image) return no('VolumeNotReady', `Volume ${entry.volumeRef}: ${ready?.message ?? 'not provisioned yet'}`);
    if (backend.type === 'local') {
      // The spec's size: a running VM's QEMU grows the file it holds locked (the agent cannot while it runs).
      const desired = volumeBytes(volume.spec.size) ?? volume.status?.capacityBytes;
      return { ...base, attachable: true, file: backend.image, ...(desired ? { capacityBytes: desired } : {}), node: vm.status.nodeName };
    }
    if (!backend.pool) return no('VolumeNotReady', `Volume ${entry.volumeRef} has no Ceph pool yet`);
    return { ...base, attachable: true, pool: backend.pool, image: backend.image, ...(volume.status?.capacityBytes ? { capacityBytes: volume.status.capacityBytes } : {}), node: vm.status.nodeName };
  });
}

/** VolumesReady: every entry attachable, or the first that is not. */
export function volumesCondition(attachments: readonly VirtualMachineStatusVolume[]) {
  const blocked = attachments.find((entry) => !entry.attachable);
  if (blocked) return { type: 'VolumesReady', status: 'False' as const, reason: blocked.reason!, message: `${blocked.name}: ${blocked.message}` };
  if (attachments.length === 0) return { type: 'VolumesReady', status: 'True' as const, reason: 'NoVolumes', message: 'no Volumes' };
  return { type: 'VolumesReady', status: 'True' as const, reason: 'VolumesAttachable', message: `${attachments.length} Volume(s) held by this VM and ready` };
}
