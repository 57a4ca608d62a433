// StorageClass → its Ceph pool. The one reconcile shape (LifecycleReconciler): a ceph-rbd class makes its pool
// exist, initialised for RBD, with the class's replication (applied again on every pass, so a changed
// `replicas` reaches Ceph); a local class needs nothing. Deleting a class never deletes its pool: the images of
// Volumes made in it live there, and those Volumes keep working (each remembers its pool in status).
import { RbdError, type BlockStorageDriver } from '../../agents/ceph/index.ts';
import type { DiskDriver } from '../../agents/disks/index.ts';
import { StorageClassResource } from '../../apis/storage/v1alpha1/index.ts';
import { poolOf, storageClassSpecProblems } from '../../apis/storage/v1alpha1/validation.ts';
import type { ApiClient } from '../../apis/client/index.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import { TerminalError } from '../runtime/reconciler.ts';
import type { StorageClassObject, StorageInformers } from './informers.ts';

export const STORAGE_CLASS_FINALIZER = 'storage.photoncloud.io/class';
export const CEPH_RETRY_MS = 10_000;

export interface StorageDeps {
  client: ApiClient;
  /** The Ceph cluster's RBD driver; undefined when PhotonCloud was given no Ceph (ceph-rbd Volumes wait). */
  rbd?: BlockStorageDriver;
  /** Where Images are fetched and verified before they are imported into Ceph (Volumes from Images). */
  imageCache?: DiskDriver;
}

export const CEPH_UNCONFIGURED = 'no Ceph cluster is configured: start the controller manager with --ceph-conf and --ceph-keyring (npm start does when Ceph is installed)';

export function storageClassReconciler(deps: StorageDeps, informers: StorageInformers): LifecycleReconciler<StorageClassObject> {
  return new LifecycleReconciler<StorageClassObject>({
    client: deps.client,
    resource: StorageClassResource,
    informer: informers.storageClasses,
    finalizer: STORAGE_CLASS_FINALIZER,
    fieldManager: 'storageclass-controller',
    apply: async (storageClass): Promise<Outcome> => {
      const [problem] = storageClassSpecProblems(storageClass.spec);
      if (problem) throw new TerminalError('InvalidSpec', `${problem.field}: ${problem.message}`);
      if (storageClass.spec.backend === 'local') return { readiness: ready('Local', "Volumes are qcow2 files on the node of the first VirtualMachine that uses them") };
      const pool = poolOf(storageClass);
      const replicas = storageClass.spec.ceph?.replicas ?? 3;
      if (!deps.rbd) return { readiness: notReady('CephUnavailable', CEPH_UNCONFIGURED), status: { pool }, requeueAfterMs: 30_000 };
      try {
        await deps.rbd.ensurePool(pool, replicas);
      } catch (error) {
        if (error instanceof RbdError) return { readiness: notReady(error.reason, error.message), status: { pool }, requeueAfterMs: CEPH_RETRY_MS };
        throw error;
      }
      return { readiness: ready('PoolReady', `Ceph pool ${pool} holds ${replicas} ${replicas === 1 ? 'copy' : 'copies'} of every block`), status: { pool } };
    },
    // The pool stays: it holds the images of the Volumes made in this class.
    cleanup: async () => 'done',
  });
}
