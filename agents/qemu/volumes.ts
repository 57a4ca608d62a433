// Hot-plugging Volumes into a running QEMU over QMP: what is plugged (devices `vol-<name>-dev` under
// /machine/peripheral, with the pool/image of their `vol-<name>` rbd node or the file of their qcow2 node), plug
// (the Ceph key's secret object if missing, blockdev-add, device_add) and unplug (device_del — the guest must
// let go, by ACPI PCI hot-unplug — then blockdev-del); online growth and qcow2 internal snapshots. Each step
// checks first, so a plug or unplug interrupted at any point is finished by calling it again.
import { cephKeySecret, isRbdVolume, volumeBlockdev, volumeDevice, VmSpecError, type CephAccess, type Machine, type VolumeSpec } from './argv.ts';
import { QmpCommandError, type QmpClient } from './qmp.ts';

export interface PluggedVolume {
  name: string;
  /** QEMU's device id. */
  device: string;
  pool?: string;
  image?: string;
  /** A local Volume's qcow2 file. */
  file?: string;
  /** The disk's size as QEMU sees it. */
  sizeBytes?: number;
}

/** A guest that did not release a device within the time given (it may still, later). */
export class UnplugPendingError extends Error {}

interface BlockNode {
  'node-name'?: string;
  drv?: string;
  file?: string;
  image?: { 'virtual-size'?: number };
}

export async function pluggedVolumes(qmp: QmpClient, timeoutMs: number): Promise<PluggedVolume[]> {
  const peripherals = await qmp.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' }, { timeoutMs });
  const nodes = await qmp.execute<BlockNode[]>('query-named-block-nodes', { flat: true }, { timeoutMs });
  const plugged: PluggedVolume[] = [];
  for (const { name: device } of peripherals) {
    const match = /^vol-(.+)-dev$/.exec(device);
    if (!match) continue;
    const node = nodes.find((entry) => entry['node-name'] === `vol-${match[1]}`);
    const target = node?.drv === 'rbd' ? rbdTarget(node.file) : node?.drv === 'qcow2' && node.file ? { file: node.file } : {};
    plugged.push({ name: match[1], device, ...target, ...(node?.image?.['virtual-size'] ? { sizeBytes: node.image['virtual-size'] } : {}) });
  }
  return plugged;
}

/** The pool and image QEMU shows for an rbd node (its filename is `json:{...}`). */
function rbdTarget(file: string | undefined): { pool?: string; image?: string } {
  if (!file?.startsWith('json:')) return {};
  try {
    const parsed = JSON.parse(file.slice('json:'.length)) as { pool?: string; image?: string };
    return { pool: parsed.pool, image: parsed.image };
  } catch {
    return {};
  }
}

export async function plugVolume(qmp: QmpClient, volume: VolumeSpec, ceph: () => CephAccess, machine: Machine, timeoutMs: number): Promise<void> {
  if (machine !== 'pc') throw new VmSpecError(`machine ${machine} has no PCI bus to hot-plug into: its Volumes attach at the next start`);
  const access = isRbdVolume(volume) ? ceph() : undefined;
  const blockdev = volumeBlockdev(volume, access);
  if (access) {
    const objects = await qmp.execute<{ name: string }[]>('qom-list', { path: '/objects' }, { timeoutMs });
    if (!objects.some((object) => object.name === cephKeySecret(access).id)) await qmp.execute('object-add', cephKeySecret(access), { timeoutMs });
  }
  const nodes = await qmp.execute<BlockNode[]>('query-named-block-nodes', { flat: true }, { timeoutMs });
  if (!nodes.some((node) => node['node-name'] === blockdev['node-name'])) await qmp.execute('blockdev-add', blockdev, { timeoutMs });
  const peripherals = await qmp.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' }, { timeoutMs });
  const device = volumeDevice(volume, machine);
  if (!peripherals.some((entry) => entry.name === device.id)) await qmp.execute('device_add', device, { timeoutMs });
}

/**
 * Asks the guest to release the Volume's device and, once it has, closes the image. Resolves when the image is
 * closed; rejects with UnplugPendingError when the guest has not released it within waitMs (call again later).
 */
export async function unplugVolume(qmp: QmpClient, name: string, waitMs: number, timeoutMs: number): Promise<void> {
  const device = `vol-${name}-dev`;
  const present = async () => (await qmp.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' }, { timeoutMs })).some((entry) => entry.name === device);
  if (await present()) {
    try {
      await qmp.execute('device_del', { id: device }, { timeoutMs });
    } catch (error) {
      // "already in the process of unplug": asked before, still waiting for the guest.
      if (!(error instanceof QmpCommandError) || !/in the process of unplug/i.test(error.message)) throw error;
    }
    const deadline = Date.now() + waitMs;
    while (await present()) {
      if (Date.now() > deadline) throw new UnplugPendingError(`the guest has not released ${device} (ACPI PCI hot-unplug) within ${Math.round(waitMs / 1000)} s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const nodes = await qmp.execute<BlockNode[]>('query-named-block-nodes', { flat: true }, { timeoutMs });
  if (nodes.some((node) => node['node-name'] === `vol-${name}`)) await qmp.execute('blockdev-del', { 'node-name': `vol-${name}` }, { timeoutMs });
}

/** Grows a plugged Volume's disk to sizeBytes (the image was grown in Ceph already); the guest sees the new capacity. */
export async function resizeVolume(qmp: QmpClient, name: string, sizeBytes: number, timeoutMs: number): Promise<void> {
  await qmp.execute('block_resize', { 'node-name': `vol-${name}`, size: sizeBytes }, { timeoutMs });
}

/** Takes a qcow2 internal snapshot of a plugged local Volume (consistent with what the guest wrote so far); idempotent. */
export async function snapshotVolume(qmp: QmpClient, name: string, snapshot: string, timeoutMs: number): Promise<void> {
  try {
    await qmp.execute('blockdev-snapshot-internal-sync', { device: `vol-${name}`, name: snapshot }, { timeoutMs });
  } catch (error) {
    if (!(error instanceof QmpCommandError) || !/already exists/i.test(error.message)) throw error;
  }
}

/** Deletes a qcow2 internal snapshot of a plugged local Volume; idempotent. */
export async function deleteVolumeSnapshot(qmp: QmpClient, name: string, snapshot: string, timeoutMs: number): Promise<void> {
  try {
    await qmp.execute('blockdev-snapshot-delete-internal-sync', { device: `vol-${name}`, name: snapshot }, { timeoutMs });
  } catch (error) {
    if (!(error instanceof QmpCommandError) || !/not found|can't find|cannot find|does not exist/i.test(error.message)) throw error;
  }
}
