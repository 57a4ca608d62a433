// A Bucket's spec.access entries as RGW users, keys and Secrets. Each entry is one RGW user of its own
// (`<owner>-a-<hash of secretName>`: no buckets, reaching this bucket only through its policy) whose current
// key is in the entry's Secret (owned by the Bucket; endpoint, bucket, region, accessKeyId, secretAccessKey),
// annotated with the rotation it was made for. Level-based, in an order a crash at any line survives:
//   user → (a new key, when the Secret has none that works or the rotation was raised) → Secret → other keys
//   of the user revoked. A key made and never written to a Secret is revoked by the next pass.
// Users of this Bucket that no entry names any more are removed (found by their prefix in RGW, so none leaks),
// with the Secrets this Bucket owns that no entry names.
import { createHash } from 'node:crypto';
import { isNotFound, SecretResource, type ApiClient } from '../../apis/client/index.ts';
import { controllerReference, isControlledBy } from '../../apis/meta/owners.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Bucket, BucketStatusAccess } from '../../apis/storage/v1alpha1/index.ts';
import { compactUidOf } from '../../apis/storage/v1alpha1/names.ts';
import type { BucketGrant, ObjectStorageDriver } from '../../agents/rgw/index.ts';

export const ROTATION_ANNOTATION = 'storage.photoncloud.io/rotation';
export const BUCKET_LABEL = 'storage.photoncloud.io/bucket';

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** The RGW user that owns the bucket (and nothing else). */
export const bucketOwnerOf = (bucket: KubeObject): string => `photon-${compactUidOf(bucket)}`;
/** The prefix of every access user of the Bucket. */
export const accessUserPrefixOf = (bucket: KubeObject): string => `${bucketOwnerOf(bucket)}-a-`;
/** The RGW user of one access entry. */
export const accessUserOf = (bucket: KubeObject, secretName: string): string => `${accessUserPrefixOf(bucket)}${createHash('sha256').update(secretName).digest('hex').slice(0, 16)}`;

const decode = (value: string | undefined) => (value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8'));
const encode = (value: string) => Buffer.from(value, 'utf8').toString('base64');

export interface AccessResult {
  status: BucketStatusAccess[];
  grants: BucketGrant[];
}

/**
 * Makes every entry's user, key and Secret; returns what to report and whom the bucket policy must grant.
 * Call revokeStale after the policy names them (so a new user never meets a policy without it).
 */
export async function ensureAccess(client: ApiClient, driver: ObjectStorageDriver, bucket: Bucket, bucketName: string, signal: AbortSignal): Promise<AccessResult> {
  const namespace = bucket.metadata.namespace!;
  const status: BucketStatusAccess[] = [];
  const grants: BucketGrant[] = [];
  for (const entry of bucket.spec?.access ?? []) {
    const user = accessUserOf(bucket, entry.secretName);
    const mode = entry.mode ?? 'ReadOnly';
    const rotation = entry.rotation ?? 0;
    const report = { secretName: entry.secretName, mode, user, rotation };
    const existing = await client.get<SecretObject>(SecretResource, entry.secretName, { namespace, signal }).catch((error) => (isNotFound(error) ? undefined : Promise.reject(error)));
    if (existing && !isControlledBy(existing, bucket)) {
      status.push({ ...report, ready: false, message: `Secret ${entry.secretName} exists and is not this Bucket's: choose another secretName or delete it` });
      continue;
    }
    const keys = await driver.ensureUser(user, `${namespace}/${bucket.metadata.name} ${entry.secretName}`);
    grants.push({ user, mode });
    const current = decode(existing?.data?.accessKeyId);
    const usable = current !== undefined && keys.some((key) => key.access_key === current) && existing?.metadata.annotations?.[ROTATION_ANNOTATION] === String(rotation);
    let keep = current;
    if (!usable || decode(existing?.data?.bucket) !== bucketName || decode(existing?.data?.endpoint) !== driver.endpoint) {
      const key = usable ? keys.find((candidate) => candidate.access_key === current)! : await driver.createKey(user);
      await writeSecret(client, bucket, entry.secretName, existing, { endpoint: driver.endpoint, bucket: bucketName, region: driver.region, accessKeyId: key.access_key, secretAccessKey: key.secret_key }, rotation, signal);
      keep = key.access_key;
    }
    // Old keys (a rotation, or a key made by a pass that died before its Secret write) stop working now.
    for (const key of keys) if (key.access_key !== keep) await driver.removeKey(user, key.access_key);
    status.push({ ...report, ready: true });
  }
  return { status, grants };
}

/** Removes the RGW users and owned Secrets of entries no longer in the spec (all of them when deleting). */
export async function revokeStale(client: ApiClient, driver: ObjectStorageDriver, bucket: Bucket, keep: readonly string[], signal: AbortSignal): Promise<void> {
  const wanted = new Set(keep.map((secretName) => accessUserOf(bucket, secretName)));
  for (const user of await driver.usersWithPrefix(accessUserPrefixOf(bucket))) if (!wanted.has(user)) await driver.removeUser(user);
  const namespace = bucket.metadata.namespace!;
  for (const previous of bucket.status?.access ?? []) {
    if (keep.includes(previous.secretName)) continue;
    const secret = await client.get<SecretObject>(SecretResource, previous.secretName, { namespace, signal }).catch((error) => (isNotFound(error) ? undefined : Promise.reject(error)));
    if (secret && isControlledBy(secret, bucket)) await client.delete(SecretResource, previous.secretName, { namespace, signal }).catch((error) => (isNotFound(error) ? undefined : Promise.reject(error)));
  }
}

async function writeSecret(client: ApiClient, bucket: Bucket, name: string, existing: SecretObject | undefined, values: Record<string, string>, rotation: number, signal: AbortSignal): Promise<void> {
  const data = Object.fromEntries(Object.entries(values).map(([key, value]) => [key, encode(value)]));
  const metadata = {
    name,
    namespace: bucket.metadata.namespace,
    labels: { [BUCKET_LABEL]: bucket.metadata.name! },
    annotations: { [ROTATION_ANNOTATION]: String(rotation) },
    ownerReferences: [controllerReference(bucket)],
  };
  if (existing) {
    await client.update<SecretObject>(SecretResource, { ...existing, metadata: { ...existing.metadata, ...metadata, labels: { ...existing.metadata.labels, ...metadata.labels }, annotations: { ...existing.metadata.annotations, ...metadata.annotations } }, data, type: 'Opaque' }, { signal });
  } else {
    await client.create<SecretObject>(SecretResource, { apiVersion: 'v1', kind: 'Secret', metadata, type: 'Opaque', data }, { signal });
  }
}
