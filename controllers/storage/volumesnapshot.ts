// VolumeSnapshot → a protected RBD snapshot of its Volume's image, or for a local Volume a qcow2 internal snapshot
// its node's agent takes (local.ts). The one reconcile shape (LifecycleReconciler):
//   apply: once the Volume is ready, the snapshot's handle (pool/image@snap-<uid>) is committed to status, then
//     the snapshot is taken (idempotent: a pass killed in between finds it). It is taken once: a snapshot that
//     later vanishes from Ceph is reported lost, never silently retaken at another point in time. Each pass
//     lists the Volumes restored from it that still depend on it (clones not yet flattened).
//   cleanup: unprotect and remove — refused while clones depend on it, naming them (DeletionBlocked).
import { RbdError, SnapshotHasClonesError } from '../../agents/ceph/index.ts';
import { isConditionTrue } from '../../apis/meta/conditions.ts';
import { VolumeSnapshotResource, type VolumeSnapshotStatus } from '../../apis/storage/v1alpha1/index.ts';
import { formatBytes } from '../../apis/storage/v1alpha1/validation.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import type { StorageInformers, VolumeSnapshotObject } from './informers.ts';
import { snapshotNameOf, volumeOfImage } from './names.ts';
import { localSnapshotHandleOf, localSnapshotOutcome, localSnapshotRemoved, restoringFrom } from './local.ts';
import { CEPH_RETRY_MS, CEPH_UNCONFIGURED, type StorageDeps } from './storageclass.ts';

export const SNAPSHOT_FINALIZER = 'storage.photoncloud.io/snapshot';
/** How often a snapshot blocked by clones looks again (a Volume flattening raises no event on the snapshot). */
const BLOCKED_RETRY_MS = 30_000;

export interface SnapshotHandle {
  pool: string;
  image: string;
  snapshot: string;
}

export function parseSnapshotHandle(handle: string): SnapshotHandle | undefined {
  const match = /^([^/@\s]+)\/([^/@\s]+)@([^/@\s]+)$/.exec(handle);
  return match ? { pool: match[1], image: match[2], snapshot: match[3] } : undefined;
}

export function volumeSnapshotReconciler(deps: StorageDeps, informers: StorageInformers): LifecycleReconciler<VolumeSnapshotObject> {
  const pending = (reason: string, message: string, status: VolumeSnapshotStatus = {}, requeueAfterMs?: number): Outcome => ({
    readiness: notReady(reason, message),
    status: { ...status, readyToUse: false },
    ...(requeueAfterMs ? { requeueAfterMs } : {}),
  });
  /** Volumes (by name) restored from the snapshot that still depend on it; images no Volume here owns as pool/name. */
  const dependentsOf = (snapshot: VolumeSnapshotObject, clones: string[]) => {
    const volumes = informers.volumes.list(snapshot.metadata.namespace);
    return clones.map((clone) => volumeOfImage(clone, volumes)?.metadata.name ?? clone).sort();
  };

  return new LifecycleReconciler<VolumeSnapshotObject>({
    client: deps.client,
    resource: VolumeSnapshotResource,
    informer: informers.snapshots,
    finalizer: SNAPSHOT_FINALIZER,
    fieldManager: 'volumesnapshot-controller',
    apply: async (snapshot, context): Promise<Outcome> => {
      let handle = snapshot.status?.snapshotHandle;
      if (!handle) {
        const volumeName = snapshot.spec.volumeRef;
        const volume = informers.volumes.get(volumeName, snapshot.metadata.namespace);
        if (!volume) return pending('VolumeNotFound', `Volume ${volumeName} does not exist`);
        if (volume.metadata.deletionTimestamp) return pending('VolumeDeleting', `Volume ${volumeName} is being deleted`);
        const backend = volume.status?.backend;
        if (!(backend?.pool || backend?.node) || !backend.image || !isConditionTrue(volume.status?.conditions, 'Ready')) return pending('VolumeNotReady', `Volume ${volumeName} is not ready yet`);
        if (backend.type === 'local' && backend.node) {
          // Taken by the agent of the Volume's node, in the Volume's file (local.ts).
          return localSnapshotOutcome(snapshot, { snapshotHandle: localSnapshotHandleOf(backend.image, snapshot), node: backend.node });
        }
        handle = `${backend.pool}/${backend.image}@${snapshotNameOf(snapshot)}`;
        // Committed before the snapshot is taken, so a crash in between finds it (and deletion removes it).
        snapshot = await context.progress(pending('Snapshotting', `taking RBD snapshot ${handle}`, { snapshotHandle: handle }));
      }
      if (snapshot.status?.node) return localSnapshotOutcome(snapshot, { snapshotHandle: handle, node: snapshot.status.node });
      const target = parseSnapshotHandle(handle);
      if (!target) return { readiness: notReady('InvalidHandle', `status.snapshotHandle ${JSON.stringify(handle)} is not pool/image@snapshot`), status: { readyToUse: false } };
      if (!deps.rbd) return pending('CephUnavailable', CEPH_UNCONFIGURED, { snapshotHandle: handle }, 30_000);
      try {
        let taken = (await deps.rbd.snapshots(target.pool, target.image)).find((entry) => entry.name === target.snapshot);
        if (!taken && snapshot.status?.readyToUse) {
          return { readiness: notReady('SnapshotLost', `RBD snapshot ${handle} no longer exists in Ceph; delete this VolumeSnapshot and take a new one`), status: { readyToUse: false, snapshotHandle: handle } };
        }
        taken ??= await deps.rbd.createSnapshot(target.pool, target.image, target.snapshot);
        const dependents = dependentsOf(snapshot, await deps.rbd.clonesOf(target.pool, target.image, target.snapshot));
        const status: VolumeSnapshotStatus = {
          readyToUse: true,
          snapshotHandle: handle,
          creationTime: taken.createdAt,
          restoreSize: formatBytes(taken.sizeBytes),
          restoreSizeBytes: taken.sizeBytes,
          dependents: dependents.length > 0 ? dependents : undefined,
        };
        return { readiness: ready('Taken', `RBD snapshot ${handle} of ${formatBytes(taken.sizeBytes)}`), status: { ...status } };
      } catch (error) {
        if (error instanceof RbdError) return pending('CephError', error.message, { snapshotHandle: handle }, CEPH_RETRY_MS);
        throw error;
      }
    },
    cleanup: async (snapshot): Promise<Outcome | 'done'> => {
      if (snapshot.status?.node) {
        const restoring = restoringFrom(snapshot, informers.volumes.list(snapshot.metadata.namespace));
        const removed = localSnapshotRemoved(snapshot, restoring, (node) => !!informers.nodes.get(node));
        return removed === true ? 'done' : removed;
      }
      const handle = snapshot.status?.snapshotHandle;
      const target = handle ? parseSnapshotHandle(handle) : undefined;
      if (!target) return 'done';
      const blocked = (reason: string, message: string, status: VolumeSnapshotStatus = {}, requeueAfterMs = CEPH_RETRY_MS): Outcome => ({
        readiness: notReady('Deleting', message),
        status: { ...status },
        conditions: [{ type: 'DeletionBlocked', status: 'True', reason, message }],
        requeueAfterMs,
      });
      if (!deps.rbd) return blocked('CephUnavailable', CEPH_UNCONFIGURED, {}, 30_000);
      try {
        await deps.rbd.removeSnapshot(target.pool, target.image, target.snapshot);
        return 'done';
      } catch (error) {
        if (error instanceof SnapshotHasClonesError) {
          const dependents = dependentsOf(snapshot, await deps.rbd.clonesOf(target.pool, target.image, target.snapshot));
          return blocked('ClonesDependOnIt', `Volumes restored from it still depend on it: ${dependents.join(', ')}; flatten them (spec.flatten: true) or delete them`, { dependents }, BLOCKED_RETRY_MS);
        }
        if (error instanceof RbdError) return blocked('CephError', error.message);
        throw error;
      }
    },
  });
}
