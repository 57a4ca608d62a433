// A VM's Volumes on its node: which to attach at boot, which to hot-plug or unplug while it runs, and what to
// report. The virtualmachine controller resolved each spec.volumes entry (status.volumes: attachable with pool
// and image, or a local Volume's file in this node's volumes directory, or why not); this side only plugs attachable entries and unplugs what the spec no longer names —
// never a Volume still named because it is briefly not attachable (a Ceph hiccup must not yank a live disk).
import path from 'node:path';
import type { VirtualMachine, VirtualMachineStatusRuntimeVolume, VirtualMachineStatusVolume } from '../../apis/compute/v1alpha1/index.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import { UnplugPendingError, type HypervisorDriver, type PluggedVolume, type VolumeSpec } from '../qemu/index.ts';
import { isVolumeFileName } from '../disks/index.ts';

/** How long one pass waits for a guest to release an unplugged disk before reporting it pending. */
const UNPLUG_WAIT_MS = 10_000;

/** The attachable Volumes of the VM's current spec, in spec order; local ones are files in `localDir`. */
export function attachableVolumes(vm: VirtualMachine, localDir?: string): VolumeSpec[] {
  const resolved = new Map((vm.status?.volumes ?? []).map((entry) => [entry.name, entry]));
  return (vm.spec.volumes ?? []).flatMap((entry): VolumeSpec[] => {
    const status = resolved.get(entry.name);
    // Resolved for this VM's current node only: an entry from before a move is stale until re-resolved.
    const current = status?.attachable && status.volumeRef === entry.volumeRef && status.node === vm.status?.nodeName;
    if (!current) return [];
    const size = status.capacityBytes ? { sizeBytes: status.capacityBytes } : {};
    if (status.file) return localDir && isVolumeFileName(status.file) ? [{ name: entry.name, file: path.join(localDir, status.file), ...size }] : [];
    return status.pool && status.image ? [{ name: entry.name, pool: status.pool, image: status.image, ...size }] : [];
  });
}

/** Where a plugged or wanted Volume's blocks are, to tell whether an attachment now names other ones. */
const targetOf = (volume: { pool?: string; image?: string; file?: string }) => (volume.file ? `file:${path.basename(volume.file)}` : `rbd:${volume.pool}/${volume.image}`);

/** Why the VM cannot boot with all its Volumes yet, or undefined when every one is attachable. */
export function volumesBlocker(vm: VirtualMachine, localDir?: string): { reason: string; message: string } | undefined {
  const attachable = new Set(attachableVolumes(vm, localDir).map((volume) => volume.name));
  const missing = (vm.spec.volumes ?? []).find((entry) => !attachable.has(entry.name));
  if (!missing) return undefined;
  const status = (vm.status?.volumes ?? []).find((entry) => entry.name === missing.name);
  return { reason: 'WaitingForVolumes', message: `Volume ${missing.volumeRef} (${missing.name}): ${whyNotAttachable(vm, missing.volumeRef, status)}` };
}

/**
 * The controller's reason, when it is about this Volume on this node. An answer given before the VM was scheduled
 * here (or for the Volume the entry named before) is not repeated: while the controller catches up — or if it is
 * down — "the VM is not scheduled to a node yet" from a VM running on this node would send an operator the wrong way.
 */
function whyNotAttachable(vm: VirtualMachine, volumeRef: string, status: VirtualMachineStatusVolume | undefined): string {
  const node = vm.status?.nodeName;
  if (!status || status.volumeRef !== volumeRef) return 'not resolved yet';
  const forAnotherNode = status.attachable ? status.node !== node : status.reason === 'WaitingForNode' && node !== undefined;
  if (forAnotherNode) return `not resolved for node ${node} yet`;
  return status.message ?? 'not resolved yet';
}

/** Makes the running QEMU's Volumes match: unplug what the spec dropped (or now names differently), plug what is attachable. */
export async function syncVolumes(hypervisor: HypervisorDriver, vm: VirtualMachine, log: Logger, localDir?: string): Promise<{ plugged: PluggedVolume[]; pending?: string }> {
  const uid = vm.metadata.uid!;
  const wanted = new Map(attachableVolumes(vm, localDir).map((volume) => [volume.name, volume]));
  const named = new Map((vm.spec.volumes ?? []).map((entry) => [entry.name, entry]));
  // Which Volume each plugged attachment was for, as this node last reported it.
  const reported = new Map((vm.status?.runtime?.volumes ?? []).map((entry) => [entry.name, entry.volumeRef]));
  let pending: string | undefined;
  for (const current of await hypervisor.volumes(uid)) {
    const target = wanted.get(current.name);
    const replaced = target && targetOf(target) !== targetOf(current);
    // The entry now names another Volume (which may not be attachable yet): the old one must go now, or it stays
    // held by this VM and two VMs swapping Volumes would wait on each other forever.
    const previously = reported.get(current.name);
    const retargeted = previously !== undefined && named.get(current.name)?.volumeRef !== previously;
    if (named.has(current.name) && !replaced && !retargeted) continue;
    try {
      await hypervisor.unplugVolume(uid, current.name, UNPLUG_WAIT_MS);
      log.info('Volume unplugged', { volume: current.name, target: targetOf(current) });
    } catch (error) {
      if (!(error instanceof UnplugPendingError)) throw error;
      pending = error.message;
    }
  }
  const plugged = await hypervisor.volumes(uid);
  for (const volume of wanted.values()) {
    const current = plugged.find((entry) => entry.name === volume.name);
    if (current) {
      // Grown in Ceph while attached: QEMU (and through it the guest) learns the new size.
      if (volume.sizeBytes && current.sizeBytes && volume.sizeBytes > current.sizeBytes) {
        await hypervisor.resizeVolume(uid, volume.name, volume.sizeBytes).then(
          () => log.info('Volume grown online', { volume: volume.name, bytes: volume.sizeBytes }),
          (error) => (pending = `cannot grow Volume ${volume.name} online: ${errorMessage(error)}`),
        );
      }
      continue;
    }
    try {
      await hypervisor.plugVolume(uid, volume);
      log.info('Volume hot-plugged', { volume: volume.name, target: targetOf(volume) });
    } catch (error) {
      // The VM keeps running: a Volume that cannot be plugged now is reported, and tried again next pass.
      pending = `cannot hot-plug Volume ${volume.name}: ${errorMessage(error)}`;
      log.warn('Volume hot-plug failed', { volume: volume.name, error: errorMessage(error) });
    }
  }
  return { plugged: await hypervisor.volumes(uid), ...(pending ? { pending } : {}) };
}

/** runtime.volumes: what is plugged, named by the Volume each attachment was for (from the spec or the last report). */
export function volumesReport(vm: VirtualMachine, plugged: readonly PluggedVolume[]): VirtualMachineStatusRuntimeVolume[] | undefined {
  if (plugged.length === 0) return undefined;
  const fromSpec = new Map((vm.spec.volumes ?? []).map((entry) => [entry.name, entry.volumeRef]));
  const fromReport = new Map((vm.status?.runtime?.volumes ?? []).map((entry) => [entry.name, entry.volumeRef]));
  // Only entries with a pool and an image: unresolved entries have neither, and keying them as "undefined/undefined"
  // matched a plugged disk whose target QEMU did not show, reporting it as an unrelated Volume (which the volume
  // controller would then count as held here, and the disk's real Volume as free).
  const fromStatus = new Map((vm.status?.volumes ?? []).filter((entry) => (entry.pool && entry.image) || entry.file).map((entry) => [targetOf(entry), entry.volumeRef]));
  const known = (entry: PluggedVolume) => (entry.file || (entry.pool && entry.image) ? fromStatus.get(targetOf(entry)) : undefined);
  return plugged.map((entry) => ({ name: entry.name, volumeRef: known(entry) ?? fromReport.get(entry.name) ?? fromSpec.get(entry.name), device: entry.device }));
}
