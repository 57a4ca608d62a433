// Bucket → an S3 bucket on Ceph RGW (agents/rgw). The one reconcile shape (LifecycleReconciler):
//   apply: the real bucket name is committed to status first (S3 names are global, so it is derived from the
//     object's name and UID: two projects' `backups` never collide, and a name reused after a deletion never
//     meets the bucket a Retain policy kept); then the bucket's owner user and the bucket, versioning, quota,
//     each access entry's user, key and Secret (bucket-access.ts), the bucket policy granting exactly those
//     users their mode, and revocation of entries no longer there. Usage is read on every pass and the pass
//     repeats every minute (RGW raises no events).
//   cleanup: every access user and Secret revoked; deletionPolicy Delete also removes the bucket with every
//     object version, and its owner; Retain leaves bucket, data and owner in RGW.
import { BucketResource, type Bucket, type BucketStatus } from '../../apis/storage/v1alpha1/index.ts';
import { compactUidOf } from '../../apis/storage/v1alpha1/names.ts';
import { parseByteQuantity } from '../../apis/meta/quantity.ts';
import { RgwError, type ObjectStorageDriver } from '../../agents/rgw/index.ts';
import type { ApiClient } from '../../apis/client/index.ts';
import type { Informer } from '../runtime/informer.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import { bucketOwnerOf, ensureAccess, revokeStale } from './bucket-access.ts';

export const BUCKET_FINALIZER = 'storage.photoncloud.io/bucket';
/** How often usage is refreshed (and everything checked again), by default. */
export const BUCKET_RESYNC_MS = 60_000;
const RETRY_MS = 10_000;
export const RGW_UNCONFIGURED = 'no object storage is configured: start the controller manager with --rgw-endpoint and --rgw-credentials (npm start does when radosgw is installed)';

/** `<name>-<16 hex of the UID>`: lower case, at most 57 characters, a valid S3 bucket name. */
export function bucketNameOf(bucket: Bucket): string {
  const base = bucket.metadata.name!.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40).replace(/-+$/, '') || 'bucket';
  return `${base}-${compactUidOf(bucket).slice(0, 16)}`;
}

export interface BucketDeps {
  client: ApiClient;
  objects?: ObjectStorageDriver;
}

export function bucketReconciler(deps: BucketDeps, informer: Informer<Bucket>, resyncMs = BUCKET_RESYNC_MS): LifecycleReconciler<Bucket> {
  const failing = (error: unknown, status: Record<string, unknown> = {}): Outcome => {
    if (!(error instanceof RgwError)) throw error;
    return { readiness: notReady(error.reason, error.message), status, ...(error.reason === 'BucketNameTaken' ? {} : { requeueAfterMs: RETRY_MS }) };
  };
  return new LifecycleReconciler<Bucket>({
    client: deps.client,
    resource: BucketResource,
    informer,
    finalizer: BUCKET_FINALIZER,
    fieldManager: 'bucket-controller',
    apply: async (bucket, context): Promise<Outcome> => {
      const objects = deps.objects;
      if (!objects) return { readiness: notReady('ObjectStorageUnavailable', RGW_UNCONFIGURED), requeueAfterMs: 60_000 };
      let bucketName = bucket.status?.bucketName;
      const base = { endpoint: objects.endpoint, region: objects.region };
      if (!bucketName) {
        // Committed before RGW is asked, so a crash in between finds the same bucket (and deletion knows it).
        bucketName = bucketNameOf(bucket);
        bucket = await context.progress({ readiness: notReady('Creating', `making S3 bucket ${bucketName}`), status: { ...base, bucketName } });
      }
      const owner = bucketOwnerOf(bucket);
      const status = { ...base, bucketName };
      try {
        await objects.ensureBucket(bucketName, owner, `${bucket.metadata.namespace}/${bucket.metadata.name}`);
        await objects.setVersioning(bucketName, owner, bucket.spec?.versioning ?? 'Suspended');
        const maxSizeBytes = bucket.spec?.quota?.maxSize ? parseByteQuantity(bucket.spec.quota.maxSize) : undefined;
        await objects.setQuota(owner, { ...(maxSizeBytes !== undefined ? { maxSizeBytes } : {}), ...(bucket.spec?.quota?.maxObjects !== undefined ? { maxObjects: bucket.spec.quota.maxObjects } : {}) });
        const access = await ensureAccess(deps.client, objects, bucket, bucketName, context.signal);
        await objects.setGrants(bucketName, owner, access.grants);
        await revokeStale(deps.client, objects, bucket, (bucket.spec?.access ?? []).map((entry) => entry.secretName), context.signal);
        const usage = await objects.usage(bucketName);
        const previous = bucket.status?.usage;
        // Written only when it changed (with when it was seen): a status write is an event and another pass.
        const changed = usage && (usage.sizeBytes !== previous?.sizeBytes || usage.objects !== previous?.objectCount);
        const full: BucketStatus & Record<string, unknown> = {
          ...status,
          access: access.status.length > 0 ? access.status : undefined,
          usage: changed ? { sizeBytes: usage.sizeBytes, objectCount: usage.objects, updatedAt: new Date().toISOString() } : previous,
        };
        const blocked = access.status.find((entry) => !entry.ready);
        if (blocked) return { readiness: notReady('AccessNotReady', `${blocked.secretName}: ${blocked.message}`), status: full, requeueAfterMs: resyncMs };
        const grants = access.status.length ? `, ${access.status.length} access Secret(s)` : '';
        return { readiness: ready('BucketReady', `S3 bucket ${bucketName} on ${objects.endpoint}${grants}`), status: full, requeueAfterMs: resyncMs };
      } catch (error) {
        return failing(error, status);
      }
    },
    cleanup: async (bucket, context): Promise<Outcome | 'done'> => {
      const objects = deps.objects;
      const bucketName = bucket.status?.bucketName;
      if (!bucketName) return 'done';
      if (!objects) return { readiness: notReady('ObjectStorageUnavailable', RGW_UNCONFIGURED), requeueAfterMs: 60_000 };
      try {
        await revokeStale(deps.client, objects, bucket, [], context.signal);
        if ((bucket.spec?.deletionPolicy ?? 'Retain') === 'Delete') {
          await objects.removeBucket(bucketName);
          await objects.removeUser(bucketOwnerOf(bucket));
        } else {
          // Retained: the data and its owner stay in RGW; nobody else's keys reach it any more.
          await objects.setGrants(bucketName, bucketOwnerOf(bucket), []).catch((error) => ((error as { reason?: string }).reason === 'RgwError' ? undefined : Promise.reject(error)));
          context.log.info('S3 bucket retained', { bucket: bucketName, owner: bucketOwnerOf(bucket) });
        }
        return 'done';
      } catch (error) {
        return failing(error);
      }
    },
  });
}
