// The node agent's side of local Volumes (StorageClass backend `local`): the volume controller binds a local
// Volume to a node (status.backend.node: its first VM's node, or its source snapshot's) and names its file; the
// agent of that node keeps the file (agents/disks/local-volumes.ts) and reports on it in status.local, the only
// part of the status it may write (NodeRestriction):
//   - made blank, or copied from a snapshot of another local Volume on this node (status.backend.restoreFrom),
//     at the requested size; grown when spec.size grows (by QEMU, block_resize, while a running VM has it
//     plugged — the file is locked then — and by qemu-img otherwise);
//   - a file made once and gone is reported lost (never remade blank: its data is gone);
//   - when the Volume is being deleted and the controller hands it over (DeletionBlocked RemovingFromNode: no VM
//     holds it, its snapshots are gone), the file is removed and `removed` reported, which lets the controller
//     drop its finalizer.
// Snapshots of local Volumes are qcow2 internal snapshots, kept by LocalSnapshotRuntime below. The sweep removes
// files of Volumes no longer bound here (deleted while the agent was down).
import path from 'node:path';
import type { ApiClient } from '../../apis/client/index.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import { VolumeResource, VolumeSnapshotResource, type Volume, type VolumeLocal, type VolumeSnapshot, type VolumeSnapshotLocal } from '../../apis/storage/v1alpha1/index.ts';
import { volumeBytes } from '../../apis/storage/v1alpha1/validation.ts';
import { parseLocalSnapshotHandle, REMOVING_FROM_NODE } from '../../apis/storage/v1alpha1/names.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { Informer } from '../../controllers/runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../../controllers/runtime/reconciler.ts';
import { errorMessage } from '../../lib/logging.ts';
import { DiskDriverError, type LocalVolumeDriver } from '../disks/index.ts';
import type { HypervisorDriver } from '../qemu/index.ts';

const FIELD_MANAGER = 'photon-agent';
const MAX_MESSAGE = 4096;
/** How often a file is looked at again (its size changes when QEMU grows it; a file can vanish). */
const RESYNC_MS = 30_000;

export interface LocalVolumeRuntimeOptions {
  client: ApiClient;
  nodeName: string;
  /** Volumes with status.backend.node = this node. */
  volumes: Informer<Volume>;
  driver: LocalVolumeDriver;
  hypervisor: HypervisorDriver;
}

/** Where a file is plugged into a running QEMU: the VM's UID and the attachment's name. */
export interface Plug {
  uid: string;
  name: string;
}

/** Every file plugged into a running QEMU on this node, by path, with the VM and attachment that have it open. */
async function pluggedFiles(hypervisor: HypervisorDriver): Promise<Map<string, Plug>> {
  const plugged = new Map<string, Plug>();
  for (const vm of await hypervisor.list()) {
    if (vm.state !== 'running' && vm.state !== 'paused') continue;
    for (const volume of await hypervisor.volumes(vm.uid)) if (volume.file) plugged.set(volume.file, { uid: vm.uid, name: volume.name });
  }
  return plugged;
}

/** The running VM (and attachment) that has this file open, if any. */
export async function findPlug(hypervisor: HypervisorDriver, filePath: string): Promise<Plug | undefined> {
  return (await pluggedFiles(hypervisor)).get(filePath);
}

/** The controller's go-ahead to remove a deleted Volume's file or snapshot (see REMOVING_FROM_NODE). */
const handedOver = (object: Volume | VolumeSnapshot) => findCondition(object.status?.conditions, 'DeletionBlocked')?.reason === REMOVING_FROM_NODE;

/** The Volume's qcow2 file when this node keeps it. */
const fileKeptOn = (volume: Volume, node: string): string | undefined => {
  const backend = volume.status?.backend;
  return backend?.type === 'local' && backend.node === node && backend.image ? backend.image : undefined;
};

export class LocalVolumeRuntime implements Reconciler {
  constructor(private readonly options: LocalVolumeRuntimeOptions) {}

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const volume = this.options.volumes.get(request.name, request.namespace);
    const file = volume && fileKeptOn(volume, this.options.nodeName);
    if (!volume || !file) return {}; // gone or not kept here: the sweep removes what is left
    const { driver, hypervisor } = this.options;
    const reported = volume.status?.local ?? {};
    try {
      if (volume.metadata.deletionTimestamp) {
        if (reported.removed) return {};
        // Only once the controller says nothing holds it (no VM names it, its snapshots are gone); a QEMU that
        // still has it open is waited for too.
        if (!handedOver(volume) || (await findPlug(hypervisor, driver.pathOf(file)))) return { requeueAfterMs: 5000 };
        await driver.remove(file);
        context.log.info('local Volume file removed', { volume: `${request.namespace}/${request.name}`, file });
        await this.report(volume, { removed: true });
        return {};
      }
      const desired = volumeBytes(volume.spec.size);
      let current = await driver.inspect(file);
      if (!current && reported.made) {
        await this.report(volume, { made: true, lost: true, message: `the qcow2 file ${file} is gone from node ${this.options.nodeName}: its data is lost` });
        return {};
      }
      if (!current) {
        const from = volume.status?.backend?.restoreFrom;
        if (from?.image && from.snapshot && !(await driver.inspect(from.image))?.snapshots.some((entry) => entry.name === from.snapshot)) {
          await this.report(volume, { message: `snapshot ${from.snapshot} of ${from.image} is not on node ${this.options.nodeName}` });
          return { requeueAfterMs: RESYNC_MS };
        }
        await driver.create(file, desired ?? 0, from?.image && from.snapshot ? { file: from.image, snapshot: from.snapshot } : undefined);
        context.log.info('local Volume file made', { volume: `${request.namespace}/${request.name}`, file, from });
        current = (await driver.inspect(file))!;
      }
      let message: string | undefined;
      if (desired && current.sizeBytes < desired) {
        // A running VM holds the file locked: its QEMU grows it (the agent's volume sync, block_resize).
        if (await findPlug(hypervisor, driver.pathOf(file))) message = `growing to ${desired} bytes through the VM that has it plugged`;
        else {
          await driver.grow(file, desired);
          current = (await driver.inspect(file))!;
        }
      }
      await this.report(volume, { made: true, sizeBytes: current.sizeBytes, ...(message ? { message } : {}) });
    } catch (error) {
      if (!(error instanceof DiskDriverError)) throw error;
      await this.report(volume, { ...reported, message: errorMessage(error).slice(0, MAX_MESSAGE) });
    }
    return { requeueAfterMs: RESYNC_MS };
  }

  /** Writes status.local when it changed (a merge patch of that field alone). */
  private async report(volume: Volume, local: VolumeLocal): Promise<void> {
    if (jsonEqual(volume.status?.local ?? {}, local)) return;
    const patch = { status: { local: { sizeBytes: null, made: null, lost: null, removed: null, message: null, ...local } } };
    await this.options.client.patch(VolumeResource, volume.metadata.name!, patch, { namespace: volume.metadata.namespace, subresource: 'status', fieldManager: FIELD_MANAGER });
  }

  /** Removes files of Volumes not kept here now and not open in a running VM; resolves with how many went. */
  async removeOrphans(): Promise<number> {
    const live = new Set(this.options.volumes.list().flatMap((volume) => fileKeptOn(volume, this.options.nodeName) ?? []));
    const plugged = await pluggedFiles(this.options.hypervisor);
    let removed = 0;
    for (const file of await this.options.driver.list()) {
      if (live.has(file) || plugged.has(this.options.driver.pathOf(file))) continue;
      if (await this.options.driver.remove(file)) removed++;
    }
    return removed;
  }
}

export interface LocalSnapshotRuntimeOptions {
  client: ApiClient;
  nodeName: string;
  /** VolumeSnapshots with status.node = this node. */
  snapshots: Informer<VolumeSnapshot>;
  driver: LocalVolumeDriver;
  hypervisor: HypervisorDriver;
}

/**
 * Snapshots of local Volumes: a qcow2 internal snapshot in the Volume's file, taken through QMP while a running
 * VM has the file plugged (consistent with what the guest wrote) and with qemu-img otherwise; taken once,
 * removed when the VolumeSnapshot is deleted. Reports status.local.
 */
export class LocalSnapshotRuntime implements Reconciler {
  constructor(private readonly options: LocalSnapshotRuntimeOptions) {}

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const snapshot = this.options.snapshots.get(request.name, request.namespace);
    if (!snapshot || snapshot.status?.node !== this.options.nodeName) return {};
    const handle = parseLocalSnapshotHandle(snapshot.status.snapshotHandle);
    if (!handle) return {}; // the controller has not named it yet
    const { driver, hypervisor } = this.options;
    const reported = snapshot.status.local ?? {};
    try {
      const file = await driver.inspect(handle.file);
      const present = file?.snapshots.find((entry) => entry.name === handle.snapshot);
      if (snapshot.metadata.deletionTimestamp) {
        if (!handedOver(snapshot)) return { requeueAfterMs: 5000 }; // a restore may still be reading it
        if (present) {
          const plug = await findPlug(hypervisor, driver.pathOf(handle.file));
          if (plug) await hypervisor.snapshotVolume(plug.uid, plug.name, handle.snapshot, true);
          else await driver.deleteSnapshot(handle.file, handle.snapshot);
          context.log.info('local snapshot removed', { snapshot: `${request.namespace}/${request.name}`, handle: snapshot.status.snapshotHandle });
        }
        await this.report(snapshot, { ...reported, taken: false, removed: true, message: undefined });
        return {};
      }
      if (present) {
        await this.report(snapshot, { taken: true, createdAt: reported.createdAt ?? present.createdAt, sizeBytes: reported.sizeBytes ?? file!.sizeBytes });
        return { requeueAfterMs: RESYNC_MS };
      }
      if (reported.taken) {
        await this.report(snapshot, { ...reported, taken: false, message: `internal snapshot ${handle.snapshot} is gone from ${handle.file} on node ${this.options.nodeName}` });
        return {};
      }
      if (!file) {
        await this.report(snapshot, { message: `the Volume's file ${handle.file} is not on node ${this.options.nodeName} yet` });
        return { requeueAfterMs: 5000 };
      }
      const plug = await findPlug(hypervisor, driver.pathOf(handle.file));
      if (plug) await hypervisor.snapshotVolume(plug.uid, plug.name, handle.snapshot);
      else await driver.createSnapshot(handle.file, handle.snapshot);
      const taken = (await driver.inspect(handle.file))?.snapshots.find((entry) => entry.name === handle.snapshot);
      context.log.info('local snapshot taken', { snapshot: `${request.namespace}/${request.name}`, handle: snapshot.status.snapshotHandle, online: !!plug });
      await this.report(snapshot, { taken: !!taken, createdAt: taken?.createdAt ?? new Date().toISOString(), sizeBytes: file.sizeBytes });
    } catch (error) {
      if (!(error instanceof DiskDriverError)) throw error;
      await this.report(snapshot, { ...reported, message: errorMessage(error).slice(0, MAX_MESSAGE) });
    }
    return { requeueAfterMs: RESYNC_MS };
  }

  private async report(snapshot: VolumeSnapshot, local: VolumeSnapshotLocal): Promise<void> {
    const next = Object.fromEntries(Object.entries(local).filter(([, value]) => value !== undefined));
    if (jsonEqual(snapshot.status?.local ?? {}, next)) return;
    const patch = { status: { local: { taken: null, createdAt: null, sizeBytes: null, removed: null, message: null, ...next } } };
    await this.options.client.patch(VolumeSnapshotResource, snapshot.metadata.name!, patch, { namespace: snapshot.metadata.namespace, subresource: 'status', fieldManager: FIELD_MANAGER });
  }
}

/** The volumes directory under the agent's state directory. */
export const localVolumesDir = (stateDir: string): string => path.join(stateDir, 'volumes');
