// What Volumes and Images leave in Ceph when their objects go without the controllers' cleanup (a finalizer
// removed by hand, a namespace force-deleted), found by name and removed: in every pool of a ceph-rbd class,
// `vol-<uid>` images whose Volume no longer exists, and `img-<uid>` golden images whose Image no longer exists
// and that no Volume is a clone of. Names carry UIDs, so a live object's image is never mistaken for an
// orphan; images younger than a grace period are left alone (their Volume may be too new for the informer),
// and so is anything with clones. Run periodically by the volume controller, once its informers have synced.
import { RbdError, SnapshotHasClonesError, type BlockStorageDriver } from '../../agents/ceph/index.ts';
import { poolOf } from '../../apis/storage/v1alpha1/validation.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import type { StorageInformers } from './informers.ts';
import { goldenNameOf, imageNameOf } from './names.ts';

/** Images younger than this are never swept: their object may not have reached the informer yet. */
export const SWEEP_GRACE_MS = 10 * 60_000;


/** Removes orphaned images; resolves with the names removed (pool/image). */
export async function sweepOrphanImages(rbd: BlockStorageDriver, informers: StorageInformers, log: Logger, now = Date.now()): Promise<string[]> {
  await Promise.all([informers.storageClasses.waitForSync(), informers.volumes.waitForSync(), informers.images.waitForSync()]);
  const liveVolumes = new Set(informers.volumes.list().map(imageNameOf));
  const liveImages = new Set(informers.images.list().map(goldenNameOf));
  const pools = new Set<string>();
  for (const storageClass of informers.storageClasses.list()) if (storageClass.spec.backend === 'ceph-rbd') pools.add(storageClass.status?.pool ?? poolOf(storageClass));
  for (const volume of informers.volumes.list()) if (volume.status?.backend?.type === 'ceph-rbd' && volume.status.backend.pool) pools.add(volume.status.backend.pool);
  const removed: string[] = [];
  for (const pool of pools) {
    for (const name of await rbd.imageNames(pool)) {
      const orphan = (/^vol-[0-9a-f]{32}$/.test(name) && !liveVolumes.has(name)) || (/^img-[0-9a-f]{32}$/.test(name) && !liveImages.has(name));
      if (!orphan) continue;
      try {
        const image = await rbd.image(pool, name);
        if (!image || !image.createdAt || now - Date.parse(image.createdAt) < SWEEP_GRACE_MS) continue;
        for (const snapshot of await rbd.snapshots(pool, name)) await rbd.removeSnapshot(pool, name, snapshot.name);
        await rbd.removeImage(pool, name);
        removed.push(`${pool}/${name}`);
        log.info('removed an orphaned RBD image', { image: `${pool}/${name}` });
      } catch (error) {
        // A golden image (or a Volume's image) that clones still depend on stays until they are flattened or gone.
        if (error instanceof SnapshotHasClonesError) continue;
        if (error instanceof RbdError) {
          log.warn('could not remove an orphaned RBD image', { image: `${pool}/${name}`, error: errorMessage(error) });
          continue;
        }
        throw error;
      }
    }
  }
  return removed;
}
