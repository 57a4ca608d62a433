// Volume → an RBD image, or a local qcow2 file (its binding and readiness in local.ts). The one reconcile shape (LifecycleReconciler):
//   apply: the class's pool and the image's name are committed to status first (so a crash at any later line
//     finds the image again, and deletion knows where to look even if the class is gone); then the image is
//     made — blank, or a copy-on-write clone of the source VolumeSnapshot or of the Image's golden image
//     (images.ts) — grown to spec.size, and flattened
//     when asked. Every step is idempotent: a pass killed half-way is finished by the next.
//   attachment: status.attachedTo names the one VM that holds it and its node (attachment.ts); when it changes
//     hands or nodes, clients still holding the image open are fenced (blocklisted) first;
//   cleanup: refused while a VM has the Volume; deletes its VolumeSnapshots through the API (their own
//     controller removes the RBD snapshots, and refuses while restored Volumes depend on one); then removes the
//     image. Whatever blocks is in the DeletionBlocked condition, naming who.
import { ImageInUseError, RbdError, type BlockStorageDriver, type RbdImage } from '../../agents/ceph/index.ts';
import { isNotFound } from '../../apis/client/index.ts';
import { findCondition, isConditionTrue } from '../../apis/meta/conditions.ts';
import { VolumeSnapshotResource, VolumeResource, type VolumeStatus } from '../../apis/storage/v1alpha1/index.ts';
import { formatBytes, poolOf, VOLUME_GRANULE, volumeBytes, volumeSpecProblems } from '../../apis/storage/v1alpha1/validation.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import type { StorageInformers, VolumeObject, VolumeSnapshotObject } from './informers.ts';
import { nextAttachment, volumeHolder } from './attachment.ts';
import { GoldenImages, ImageUnusableError } from './images.ts';
import { DiskDriverError } from '../../agents/disks/index.ts';
import { imageMetadataOf, imageNameOf } from './names.ts';
import { CEPH_RETRY_MS, CEPH_UNCONFIGURED, type StorageDeps } from './storageclass.ts';
import { parseSnapshotHandle } from './volumesnapshot.ts';
import { localBinding, localVolumeOutcome, localVolumeRemoved } from './local.ts';

export const VOLUME_FINALIZER = 'storage.photoncloud.io/volume';

export function volumeReconciler(deps: StorageDeps, informers: StorageInformers): LifecycleReconciler<VolumeObject> {
  const pending = (reason: string, message: string, status: VolumeStatus = {}, requeueAfterMs?: number): Outcome => ({
    readiness: notReady(reason, message),
    status: { ...status, phase: 'Pending' },
    ...(requeueAfterMs ? { requeueAfterMs } : {}),
  });
  const golden = deps.rbd ? new GoldenImages(deps.rbd, deps.imageCache) : undefined;
  const snapshotsOf = (volume: VolumeObject) => informers.snapshots.list(volume.metadata.namespace).filter((snapshot) => snapshot.spec.volumeRef === volume.metadata.name);

  return new LifecycleReconciler<VolumeObject>({
    client: deps.client,
    resource: VolumeResource,
    informer: informers.volumes,
    finalizer: VOLUME_FINALIZER,
    fieldManager: 'volume-controller',
    apply: async (volume, context): Promise<Outcome> => {
      const className = volume.spec.storageClassName;
      const holder = volumeHolder(volume, informers.virtualMachines.list(volume.metadata.namespace));
      const previous = volume.status?.attachedTo;
      // A handover waits until whoever still has the image open is fenced (see nextAttachment).
      let { attachedTo, handover } = nextAttachment(previous, holder);
      const base: VolumeStatus = { storageClassName: className, attachedTo };
      const [problem] = volumeSpecProblems(volume.spec);
      if (problem) return { readiness: notReady('InvalidSpec', `${problem.field}: ${problem.message}`), status: { ...base, phase: 'Failed' } };
      const desiredBytes = volumeBytes(volume.spec.size)!;

      let backend = volume.status?.backend;
      if (backend?.type === 'local' && backend.node) return localVolumeOutcome(volume, { ...base, attachedTo: holder }, backend);
      if (!backend?.pool) {
        const storageClass = className ? informers.storageClasses.get(className) : undefined;
        if (!storageClass) return pending('StorageClassNotFound', `StorageClass ${className} does not exist`, base);
        if (storageClass.spec.backend === 'local') {
          // Bound once (the status write makes it so; the node's agent acts on it): a local Volume never moves.
          const snapshotRef = volume.spec.source?.snapshotRef;
          const binding = localBinding(volume, holder?.node, snapshotRef ? informers.snapshots.get(snapshotRef, volume.metadata.namespace) : undefined);
          if ('waiting' in binding) return pending(binding.waiting.reason, binding.waiting.message, base);
          return localVolumeOutcome(volume, { ...base, attachedTo: holder }, binding);
        }
        if (!isConditionTrue(storageClass.status?.conditions, 'Ready')) {
          return pending('StorageClassNotReady', `StorageClass ${className} is not ready: ${findCondition(storageClass.status?.conditions, 'Ready')?.message ?? 'not reconciled yet'}`, base);
        }
        // Committed before anything is made: the next pass (or the cleanup) finds the image by it.
        backend = { type: 'ceph-rbd', pool: storageClass.status?.pool ?? poolOf(storageClass), image: imageNameOf(volume) };
        volume = await context.progress(pending('Provisioning', `making RBD image ${backend.pool}/${backend.image}`, { ...base, backend }));
      }
      if (!deps.rbd) return pending('CephUnavailable', CEPH_UNCONFIGURED, { ...base, backend }, 30_000);
      const rbd = deps.rbd;
      const pool = backend.pool!;
      const name = backend.image!;
      try {
        let image: RbdImage | undefined;
        let parent = volume.status?.parent;
        if (!volume.status?.capacityBytes && !volume.spec.source?.snapshotRef && !volume.spec.source?.imageRef) {
          // Never made, as far as status says: create it at once (one call instead of a look first and after);
          // one that exists already (a pass killed before its status write) is looked at below.
          if (await rbd.createImage(pool, name, desiredBytes, imageMetadataOf(volume))) image = { pool, name, sizeBytes: desiredBytes };
        }
        image ??= await rbd.image(pool, name);
        if (!image && volume.status?.capacityBytes) {
          // It was made and is gone (deleted in Ceph by hand): never silently replaced by a blank one.
          return { readiness: notReady('ImageLost', `RBD image ${pool}/${name} no longer exists in Ceph: its data is gone; delete this Volume`), status: { ...base, backend, phase: 'Failed' } };
        }
        if (!image) {
          const made = await makeImage(rbd, volume, pool, name, desiredBytes);
          if ('waiting' in made) return pending(made.waiting.reason, made.waiting.message, { ...base, backend });
          parent = made.parent;
          image = (await rbd.image(pool, name))!;
        }
        if (image.sizeBytes < desiredBytes) {
          await rbd.growImage(pool, name, desiredBytes);
          image = { ...image, sizeBytes: desiredBytes };
        }
        if (volume.spec.flatten && image.parent) {
          await context.progress({ readiness: notReady('Flattening', `copying every block of ${image.parent.image}@${image.parent.snapshot} into ${pool}/${name}`), status: { ...base, backend, parent, phase: volume.status?.phase ?? 'Pending' } });
          await rbd.flatten(pool, name);
          image = { ...image, parent: undefined };
        }
        if (handover) {
          await fenceOpeners(rbd, pool, name, previous!, context.log);
          attachedTo = holder;
        }
        const status: VolumeStatus = {
          ...base,
          attachedTo,
          backend,
          capacity: formatBytes(image.sizeBytes),
          capacityBytes: image.sizeBytes,
          parent: image.parent ? parent : undefined,
          phase: attachedTo ? 'InUse' : 'Available',
        };
        const dependsOn = image.parent ? ` (a clone of ${describeParent(image, parent)} until flattened)` : '';
        return { readiness: ready('Provisioned', `RBD image ${pool}/${name} of ${formatBytes(image.sizeBytes)}${dependsOn}`), status: { ...status } };
      } catch (error) {
        if (error instanceof RbdError) return pending('CephError', error.message, { ...base, backend }, CEPH_RETRY_MS);
        throw error;
      }
    },
    cleanup: async (volume, context): Promise<Outcome | 'done'> => {
      const blocked = (reason: string, message: string, requeueAfterMs?: number): Outcome => ({
        readiness: notReady('Deleting', message),
        status: { phase: 'Deleting' },
        conditions: [{ type: 'DeletionBlocked', status: 'True', reason, message }],
        ...(requeueAfterMs ? { requeueAfterMs } : {}),
      });
      const holder = volumeHolder(volume, informers.virtualMachines.list(volume.metadata.namespace));
      if (holder) return { ...blocked('AttachedToVirtualMachine', `attached to VirtualMachine ${holder.virtualMachine}: remove it from that VM's spec.volumes (or delete the VM) first`), status: { phase: 'Deleting', attachedTo: holder } };

      // Snapshots go with their Volume (an RBD snapshot cannot outlive its image).
      const snapshots = snapshotsOf(volume);
      for (const snapshot of snapshots.filter((entry) => !entry.metadata.deletionTimestamp)) {
        await deps.client.delete(VolumeSnapshotResource, snapshot.metadata.name!, { namespace: snapshot.metadata.namespace, signal: context.signal }).catch((error) => (isNotFound(error) ? undefined : Promise.reject(error)));
      }
      if (snapshots.length > 0) {
        const dependents = snapshots.flatMap((snapshot) => (snapshot.status?.dependents ?? []).map((dependent) => `${dependent} (from ${snapshot.metadata.name})`));
        if (dependents.length > 0) return blocked('ClonesDependOnIt', `Volumes restored from its snapshots still depend on them: ${dependents.join(', ')}; flatten them (spec.flatten: true) or delete them`);
        return blocked('DeletingSnapshots', `deleting its VolumeSnapshots ${snapshots.map((snapshot) => snapshot.metadata.name).join(', ')}`);
      }

      const backend = volume.status?.backend;
      if (backend?.type === 'local') {
        const removed = localVolumeRemoved(volume, (node) => !!informers.nodes.get(node));
        return removed === true ? 'done' : removed;
      }
      if (!backend?.pool || backend.type !== 'ceph-rbd') return 'done';
      if (!deps.rbd) return blocked('CephUnavailable', CEPH_UNCONFIGURED, 30_000);
      try {
        // RBD snapshots no VolumeSnapshot accounts for (one being taken when its object was deleted) go too.
        for (const leftover of await deps.rbd.snapshots(backend.pool, backend.image!)) await deps.rbd.removeSnapshot(backend.pool, backend.image!, leftover.name);
        await deps.rbd.removeImage(backend.pool, backend.image!);
        return 'done';
      } catch (error) {
        if (error instanceof ImageInUseError) return blocked('ImageInUse', `${error.message}: waiting for it to close`, CEPH_RETRY_MS);
        if (error instanceof RbdError) return blocked(error.reason === 'CephError' ? 'CephError' : error.reason, error.message, CEPH_RETRY_MS);
        throw error;
      }
    },
  });

  /** Makes the image from the Volume's source; says what it waits for when the source is not usable yet. */
  async function makeImage(rbd: BlockStorageDriver, volume: VolumeObject, pool: string, name: string, desiredBytes: number): Promise<{ parent?: VolumeStatus['parent'] } | { waiting: { reason: string; message: string } }> {
    const source = volume.spec.source ?? {};
    if (source.snapshotRef) {
      const snapshot = informers.snapshots.get(source.snapshotRef, volume.metadata.namespace);
      const waiting = snapshotProblem(snapshot, source.snapshotRef, desiredBytes);
      if (waiting) return { waiting };
      const handle = parseSnapshotHandle(snapshot!.status!.snapshotHandle!)!;
      await rbd.clone(handle, { pool, name }, imageMetadataOf(volume));
      return { parent: { snapshot: source.snapshotRef } };
    }
    if (source.imageRef) {
      const image = informers.images.get(source.imageRef, volume.metadata.namespace);
      if (!image) return { waiting: { reason: 'ImageNotFound', message: `Image ${source.imageRef} does not exist` } };
      let base;
      try {
        base = await golden!.ensure(pool, image);
      } catch (error) {
        // A checksum that does not match, a refused source or a wrong format never fixes itself; a download may.
        if (error instanceof ImageUnusableError || (error instanceof DiskDriverError && error.permanent)) return { waiting: { reason: error.reason, message: error.message } };
        throw error;
      }
      if (base.sizeBytes > desiredBytes) return { waiting: { reason: 'SizeTooSmall', message: `spec.size must be at least Image ${source.imageRef}'s virtual size ${formatBytes(Math.ceil(base.sizeBytes / VOLUME_GRANULE) * VOLUME_GRANULE)}` } };
      await rbd.clone(base, { pool, name }, imageMetadataOf(volume));
      return { parent: { image: source.imageRef } };
    }
    await rbd.createImage(pool, name, desiredBytes, imageMetadataOf(volume));
    return {};
  }
}

/**
 * Blocklists every client that still has the image open before the Volume changes hands: normally nobody (the
 * old VM's QEMU closed it when it unplugged or stopped), but a QEMU left running on a node declared dead would
 * otherwise keep writing while the VM boots elsewhere on the same image.
 */
async function fenceOpeners(rbd: BlockStorageDriver, pool: string, name: string, previous: NonNullable<VolumeStatus['attachedTo']>, log: { warn(message: string, meta?: object): void }): Promise<void> {
  const watchers = await rbd.watchers(pool, name);
  if (watchers.length === 0) return;
  log.warn('fencing the clients that still have the image open before it changes hands', { image: `${pool}/${name}`, from: previous.virtualMachine, node: previous.node, clients: watchers });
  await rbd.fence(watchers);
}

function snapshotProblem(snapshot: VolumeSnapshotObject | undefined, name: string, desiredBytes: number): { reason: string; message: string } | undefined {
  if (!snapshot) return { reason: 'SnapshotNotFound', message: `VolumeSnapshot ${name} does not exist` };
  if (snapshot.metadata.deletionTimestamp) return { reason: 'SnapshotDeleting', message: `VolumeSnapshot ${name} is being deleted` };
  const handle = snapshot.status?.snapshotHandle;
  if (!snapshot.status?.readyToUse || !handle || !parseSnapshotHandle(handle)) return { reason: 'SnapshotNotReady', message: `VolumeSnapshot ${name} is not ready to use yet` };
  const restoreBytes = snapshot.status.restoreSizeBytes ?? 0;
  if (restoreBytes > desiredBytes) return { reason: 'SizeTooSmall', message: `spec.size must be at least the snapshot's restoreSize ${snapshot.status.restoreSize ?? formatBytes(restoreBytes)}` };
  return undefined;
}

function describeParent(image: RbdImage, parent: VolumeStatus['parent']): string {
  if (parent?.snapshot) return `VolumeSnapshot ${parent.snapshot}`;
  if (parent?.image) return `Image ${parent.image}`;
  return `${image.parent!.pool}/${image.parent!.image}@${image.parent!.snapshot}`;
}
