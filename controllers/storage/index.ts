// The storage controllers: StorageClasses (their Ceph pools), Volumes (RBD images) and VolumeSnapshots (RBD
// snapshots), over the manager's shared informers and one RBD driver for the configured Ceph cluster; Buckets
// (S3 buckets on RGW) through one object storage driver. Each
// input is a typed watch: a class becoming ready brings its waiting Volumes back, a snapshot its Volume and
// the Volumes restored from it, a Volume its snapshots.
import { CephRbdDriver, type BlockStorageDriver, type CephClientConfig } from '../../agents/ceph/index.ts';
import { QemuImgDiskDriver, type DiskDriver } from '../../agents/disks/index.ts';
import { BucketResource, StorageClassResource, VolumeResource, VolumeSnapshotResource, type Bucket } from '../../apis/storage/v1alpha1/index.ts';
import { RgwObjectStorage, type ObjectStorageDriver, type RgwObjectStorageOptions } from '../../agents/rgw/index.ts';
import { bucketReconciler } from './bucket.ts';
import { BUCKET_LABEL } from './bucket-access.ts';
import { SecretResource } from '../../apis/client/index.ts';
import type { ApiClient } from '../../apis/client/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { Controller, requestsFor, watchOf } from '../runtime/controller.ts';
import type { InformerCache } from '../runtime/informer.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { concernsVolume } from './attachment.ts';
import { storageInformers } from './informers.ts';
import { sweepOrphanImages } from './sweep.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import { storageClassReconciler } from './storageclass.ts';
import { volumeReconciler } from './volume.ts';
import { volumeSnapshotReconciler } from './volumesnapshot.ts';

export { VOLUME_FINALIZER } from './volume.ts';
export { SNAPSHOT_FINALIZER } from './volumesnapshot.ts';

export interface StorageOptions {
  /** The Ceph cluster ceph-rbd classes live in; without it their Volumes report CephUnavailable. */
  ceph?: CephClientConfig;
  /** Where Images are fetched and verified before they are imported into Ceph (absolute). */
  imageCacheDir?: string;
  /** How often images left by Volumes and Images gone without cleanup are looked for (default 10 min). */
  orphanSweepMs?: number;
  /** The RGW gateway Buckets live on; without it they report ObjectStorageUnavailable. */
  objectStorage?: RgwObjectStorageOptions;
  /** How often each Bucket's usage is read from RGW (default 60 s). */
  bucketResyncMs?: number;
}

export interface StorageControllerDeps {
  client: ApiClient;
  informers: InformerCache;
  rbd?: BlockStorageDriver;
  imageCache?: DiskDriver;
  objects?: ObjectStorageDriver;
}

/** The drivers the options describe: RBD for the Ceph cluster, the image cache for Volumes from Images. */
export const storageDriversFrom = (options: StorageOptions): { rbd?: BlockStorageDriver; imageCache?: DiskDriver; objects?: ObjectStorageDriver } => ({
  ...(options.ceph ? { rbd: new CephRbdDriver(options.ceph) } : {}),
  ...(options.imageCacheDir ? { imageCache: new QemuImgDiskDriver({ stateDir: options.imageCacheDir }) } : {}),
  ...(options.objectStorage ? { objects: new RgwObjectStorage(options.objectStorage) } : {}),
});

export function bucketController(deps: StorageControllerDeps, log: Logger, metrics?: RuntimeMetrics, options: StorageOptions = {}): Controller {
  const buckets = deps.informers.informerFor<Bucket>(BucketResource);
  // The Secrets Buckets write (labelled with the Bucket's name): one deleted or edited by hand is written again at once. The
  // manager's one Secret informer (the garbage collector's), so no second watch.
  const secrets = deps.informers.informerFor(SecretResource);
  return new Controller({
    name: 'bucket-controller',
    client: deps.client,
    informers: deps.informers,
    resource: BucketResource,
    logger: log,
    metrics,
    reconciler: bucketReconciler(deps, buckets, options.bucketResyncMs),
    watches: [
      watchOf(secrets, (secret) => {
        const bucket = secret.metadata.labels?.[BUCKET_LABEL];
        return bucket ? [{ namespace: secret.metadata.namespace, name: bucket }] : [];
      }),
    ],
  });
}


export function storageClassController(deps: StorageControllerDeps, log: Logger, metrics?: RuntimeMetrics): Controller {
  const informers = storageInformers(deps.informers);
  return new Controller({ name: 'storageclass-controller', client: deps.client, informers: deps.informers, resource: StorageClassResource, logger: log, metrics, reconciler: storageClassReconciler(deps, informers) });
}

/** The volume controller with its sweep of orphaned RBD images (started and stopped with it). */
export function volumeController(deps: StorageControllerDeps, log: Logger, metrics?: RuntimeMetrics, options: StorageOptions = {}) {
  const informers = storageInformers(deps.informers);
  const controller = volumeControllerOnly(deps, informers, log, metrics);
  const rbd = deps.rbd;
  const sweep = rbd ? new PeriodicTask('RBD orphan sweep', options.orphanSweepMs ?? 10 * 60_000, () => sweepOrphanImages(rbd, informers, log).then(() => undefined), log) : undefined;
  return {
    controller,
    // The manager announces them (see ManagedController).
    finalizers: controller.finalizers,
    async start() {
      sweep?.start(30_000);
      await controller.start();
    },
    async stop() {
      sweep?.stop();
      await controller.stop();
    },
  };
}

function volumeControllerOnly(deps: StorageControllerDeps, informers: ReturnType<typeof storageInformers>, log: Logger, metrics?: RuntimeMetrics): Controller {
  return new Controller({
    name: 'volume-controller',
    client: deps.client,
    informers: deps.informers,
    resource: VolumeResource,
    logger: log,
    metrics,
    reconciler: volumeReconciler(deps, informers),
    watches: [
      // A class becoming ready (or appearing) lets its waiting Volumes be made.
      watchOf(informers.storageClasses, (storageClass) => requestsFor(informers.volumes.list().filter((volume) => volume.spec.storageClassName === storageClass.metadata.name && !volume.status?.backend))),
      // A snapshot: its Volume (deletion waits for it) and the Volumes restored from it (waiting for it to be ready).
      watchOf(informers.snapshots, (snapshot) =>
        requestsFor(informers.volumes.list(snapshot.metadata.namespace).filter((volume) => volume.metadata.name === snapshot.spec.volumeRef || volume.spec.source?.snapshotRef === snapshot.metadata.name)),
      ),
      // An Image appearing (or changing) lets the Volumes made from it be made.
      watchOf(informers.images, (image) => requestsFor(informers.volumes.list(image.metadata.namespace).filter((volume) => volume.spec.source?.imageRef === image.metadata.name && !volume.status?.capacityBytes))),
      // A VM claiming, plugging or letting go of Volumes (its delete event included) moves their attachment.
      watchOf(informers.virtualMachines, (vm) =>
        requestsFor(informers.volumes.list(vm.metadata.namespace).filter((volume) => concernsVolume(vm, volume.metadata.name!) || volume.status?.attachedTo?.uid === vm.metadata.uid)),
      ),
    ],
  });
}

export function volumeSnapshotController(deps: StorageControllerDeps, log: Logger, metrics?: RuntimeMetrics): Controller {
  const informers = storageInformers(deps.informers);
  return new Controller({
    name: 'volumesnapshot-controller',
    client: deps.client,
    informers: deps.informers,
    resource: VolumeSnapshotResource,
    logger: log,
    metrics,
    reconciler: volumeSnapshotReconciler(deps, informers),
    watches: [
      // A Volume: its snapshots (waiting for it to be ready) and the snapshot it was restored from (dependents).
      watchOf(informers.volumes, (volume) =>
        requestsFor(informers.snapshots.list(volume.metadata.namespace).filter((snapshot) => snapshot.spec.volumeRef === volume.metadata.name || snapshot.metadata.name === volume.spec.source?.snapshotRef)),
      ),
    ],
  });
}
