// Buckets on a real Ceph RGW (the local Ceph with radosgw), applied with the real kubectl, used through the AWS S3
// SDK with the credentials the controller writes to Secrets: ReadWrite and ReadOnly scoped to one bucket, two
// namespaces' `backups` kept apart, quota enforced by RGW and usage in status, versions kept, keys rotated and
// revoked, Retain and Delete.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretResource } from '../../apis/client/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { BucketResource, type Bucket } from '../../apis/storage/v1alpha1/index.ts';
import { RgwAdmin } from '../../agents/rgw/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';
import { namespace, startStorageEnv, waitGone, waitReady, type StorageEnv } from '../volumes/harness.ts';

let env: StorageEnv;
let admin: RgwAdmin;
const clients: S3Client[] = [];

const bucket = (ns: string, name: string, spec: object) => ({ apiVersion: 'storage.photoncloud.io/v1alpha1', kind: 'Bucket', metadata: { name, namespace: ns }, spec });
const apply = async (...objects: object[]) => kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...objects) }));
const readyBucket = (ns: string, name: string) => waitReady<Bucket>(env, BucketResource, ns, name, 'True', undefined, 60_000);

interface Credentials {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}
/** What the Secret holds, decoded, as an application would read it. */
async function credentials(ns: string, name: string): Promise<Credentials> {
  const secret = await env.client.get<KubeObject & { data?: Record<string, string> }>(SecretResource, name, { namespace: ns });
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')])) as unknown as Credentials;
}
function s3(creds: Credentials): S3Client {
  const client = new S3Client({ endpoint: creds.endpoint, region: creds.region, forcePathStyle: true, credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }, maxAttempts: 1 });
  clients.push(client);
  return client;
}
/** The S3 error name a call fails with ('' when it succeeds). */
const failure = (call: Promise<unknown>) => call.then(() => '', (error: Error) => error.name);
/**
 * Resolves once the key no longer works (InvalidAccessKeyId); otherwise throws what the key got, the keys RGW holds
 * for the user and the Bucket's Ready condition, so a waitFor that times out says which of them lagged.
 */
async function revoked(creds: Credentials, ns: string, bucketName: string, secretName: string): Promise<true> {
  const got = await failure(s3(creds).send(new GetObjectCommand({ Bucket: creds.bucket, Key: 'night-1.tar' })));
  if (got === 'InvalidAccessKeyId') return true;
  const current = await env.client.get<Bucket>(BucketResource, bucketName, { namespace: ns });
  const user = current.status?.access?.find((entry) => entry.secretName === secretName)?.user;
  const keys = user ? ((await admin.user(user))?.keys ?? []).map((key) => key.access_key) : [];
  const condition = findCondition(current.status?.conditions, 'Ready');
  throw new Error(`key ${creds.accessKeyId}: ${got || 'still works'}; RGW keys of ${user}: [${keys.join(', ')}]; Ready ${condition?.status} ${condition?.reason}: ${condition?.message}`);
}
const text = async (client: S3Client, Bucket: string, Key: string, VersionId?: string) => (await client.send(new GetObjectCommand({ Bucket, Key, VersionId }))).Body!.transformToString();

beforeAll(async () => {
  env = await startStorageEnv({ rgw: true, controllers: ['bucket', 'garbage-collector'] });
  admin = new RgwAdmin({ endpoint: env.ceph.s3!.endpoint, credentials: env.ceph.s3!.admin });
  for (const ns of ['team-a', 'team-b']) await namespace(env, ns);
}, 180_000);

afterAll(async () => {
  for (const client of clients) client.destroy();
  await env?.stop();
}, 60_000);

describe('Buckets on RGW', () => {
  test('ReadWrite and ReadOnly Secrets reach their bucket, with their mode, and no other', async () => {
    await apply(
      bucket('team-a', 'backups', { versioning: 'Enabled', access: [{ secretName: 'backups-rw', mode: 'ReadWrite' }, { secretName: 'backups-ro', mode: 'ReadOnly' }] }),
      bucket('team-a', 'other', { access: [{ secretName: 'other-rw', mode: 'ReadWrite' }] }),
    );
    const made = await readyBucket('team-a', 'backups');
    await readyBucket('team-a', 'other');
    expect(made.status?.bucketName).toMatch(/^backups-[0-9a-f]{16}$/);
    expect(made.status?.endpoint).toBe(env.ceph.s3!.endpoint);
    expect(made.status?.access).toEqual([
      { secretName: 'backups-rw', mode: 'ReadWrite', user: expect.stringMatching(/^photon-[0-9a-f]{32}-a-/), rotation: 0, ready: true },
      { secretName: 'backups-ro', mode: 'ReadOnly', user: expect.stringMatching(/^photon-[0-9a-f]{32}-a-/), rotation: 0, ready: true },
    ]);
    const rwCreds = await credentials('team-a', 'backups-rw');
    expect(rwCreds).toMatchObject({ endpoint: env.ceph.s3!.endpoint, bucket: made.status!.bucketName, region: 'default' });
    const secret = await env.client.get(SecretResource, 'backups-rw', { namespace: 'team-a' });
    expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Bucket', name: 'backups', controller: true })]);

    const rw = s3(rwCreds);
    const ro = s3(await credentials('team-a', 'backups-ro'));
    const name = rwCreds.bucket;
    await rw.send(new PutObjectCommand({ Bucket: name, Key: 'night-1.tar', Body: 'first backup' }));
    expect(await text(rw, name, 'night-1.tar')).toBe('first backup');
    expect((await rw.send(new ListObjectsV2Command({ Bucket: name }))).Contents?.map((entry) => entry.Key)).toEqual(['night-1.tar']);
    expect(await text(ro, name, 'night-1.tar')).toBe('first backup');
    expect((await ro.send(new ListObjectsV2Command({ Bucket: name }))).KeyCount).toBe(1);
    expect(await failure(ro.send(new PutObjectCommand({ Bucket: name, Key: 'evil', Body: 'x' })))).toBe('AccessDenied');
    expect(await failure(ro.send(new DeleteObjectCommand({ Bucket: name, Key: 'night-1.tar' })))).toBe('AccessDenied');
    await rw.send(new PutObjectCommand({ Bucket: name, Key: 'scratch', Body: 'x' }));
    await rw.send(new DeleteObjectCommand({ Bucket: name, Key: 'scratch' }));
    expect((await rw.send(new ListObjectsV2Command({ Bucket: name }))).KeyCount).toBe(1);

    // Not another bucket of the same namespace, and no bucket of their own.
    const otherName = (await credentials('team-a', 'other-rw')).bucket;
    await s3(await credentials('team-a', 'other-rw')).send(new PutObjectCommand({ Bucket: otherName, Key: 'k', Body: 'other' }));
    for (const client of [rw, ro]) {
      expect(await failure(client.send(new GetObjectCommand({ Bucket: otherName, Key: 'k' })))).toBe('AccessDenied');
      expect(await failure(client.send(new ListObjectsV2Command({ Bucket: otherName })))).toBe('AccessDenied');
      expect(await failure(client.send(new PutObjectCommand({ Bucket: otherName, Key: 'k', Body: 'x' })))).toBe('AccessDenied');
      expect(await failure(client.send(new CreateBucketCommand({ Bucket: `mine-${Date.now()}` })))).not.toBe('');
    }
  }, 120_000);

  test('two namespaces\' backups are different buckets; one\'s credentials cannot read the other\'s', async () => {
    await apply(bucket('team-b', 'backups', { deletionPolicy: 'Retain', access: [{ secretName: 'backups-rw', mode: 'ReadWrite' }] }));
    const b = await readyBucket('team-b', 'backups');
    const a = await env.client.get<Bucket>(BucketResource, 'backups', { namespace: 'team-a' });
    expect(b.status?.bucketName).not.toBe(a.status?.bucketName);
    const teamB = s3(await credentials('team-b', 'backups-rw'));
    await teamB.send(new PutObjectCommand({ Bucket: b.status!.bucketName!, Key: 'b-only', Body: 'team b' }));
    const teamA = s3(await credentials('team-a', 'backups-rw'));
    expect(await failure(teamB.send(new GetObjectCommand({ Bucket: a.status!.bucketName!, Key: 'night-1.tar' })))).toBe('AccessDenied');
    expect(await failure(teamA.send(new GetObjectCommand({ Bucket: b.status!.bucketName!, Key: 'b-only' })))).toBe('AccessDenied');
    expect(kubectlOk(await env.api.kubectl(['get', 'buckets', '-n', 'team-b']))).toMatch(new RegExp(`\\nbackups\\s+${b.status!.bucketName}\\s+True`));
  }, 60_000);

  test('versioning keeps the overwritten object readable by its version id', async () => {
    const creds = await credentials('team-a', 'backups-rw');
    const rw = s3(creds);
    const first = await rw.send(new PutObjectCommand({ Bucket: creds.bucket, Key: 'config', Body: 'version one' }));
    await rw.send(new PutObjectCommand({ Bucket: creds.bucket, Key: 'config', Body: 'version two' }));
    expect(await text(rw, creds.bucket, 'config')).toBe('version two');
    expect(await text(rw, creds.bucket, 'config', first.VersionId)).toBe('version one');
    const versions = await s3(await credentials('team-a', 'backups-ro')).send(new ListObjectVersionsCommand({ Bucket: creds.bucket, Prefix: 'config' }));
    expect(versions.Versions?.map((version) => version.VersionId)).toContain(first.VersionId);
    expect(versions.Versions).toHaveLength(2);
  }, 60_000);

  test('the size quota stops uploads past it; usage shows in status', async () => {
    await apply(bucket('team-a', 'small', { quota: { maxSize: '1Mi' }, access: [{ secretName: 'small-rw', mode: 'ReadWrite' }] }));
    await readyBucket('team-a', 'small');
    const creds = await credentials('team-a', 'small-rw');
    const rw = s3(creds);
    await rw.send(new PutObjectCommand({ Bucket: creds.bucket, Key: 'a', Body: Buffer.alloc(700 * 1024, 1) }));
    expect(await failure(rw.send(new PutObjectCommand({ Bucket: creds.bucket, Key: 'b', Body: Buffer.alloc(700 * 1024, 2) })))).toBe('QuotaExceeded');
    const used = await waitFor('usage in status', async () => {
      const current = await env.client.get<Bucket>(BucketResource, 'small', { namespace: 'team-a' });
      return current.status?.usage?.objectCount === 1 ? current : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(used.status?.usage?.sizeBytes).toBe(700 * 1024);
  }, 60_000);

  test('rotation replaces the key and the old one stops working; removing an entry deletes its Secret and its key', async () => {
    const before = await credentials('team-a', 'backups-rw');
    kubectlOk(await env.api.kubectl(['patch', 'bucket', 'backups', '-n', 'team-a', '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/access/0/rotation', value: 1 }])]));
    const after = await waitFor('a new key in the Secret', async () => {
      const current = await credentials('team-a', 'backups-rw');
      return current.accessKeyId !== before.accessKeyId ? current : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(await text(s3(after), after.bucket, 'night-1.tar')).toBe('first backup');
    await waitFor('the old key revoked', () => revoked(before, 'team-a', 'backups', 'backups-rw'), { timeoutMs: 30_000, intervalMs: 250 });
    const rotated = await readyBucket('team-a', 'backups');
    // A Secret deleted by hand is written again (the controller watches the Secrets it writes) with a new key: the
    // Secret was the only copy of the old one, which is revoked.
    await env.client.delete(SecretResource, 'backups-rw', { namespace: 'team-a' });
    const rewritten = await waitFor('the Secret written again', () => credentials('team-a', 'backups-rw').catch(() => undefined), { timeoutMs: 10_000, intervalMs: 100 });
    expect(rewritten.accessKeyId).not.toBe(after.accessKeyId);
    expect(await text(s3(rewritten), rewritten.bucket, 'night-1.tar')).toBe('first backup');
    await waitFor('the lost key revoked', () => revoked(after, 'team-a', 'backups', 'backups-rw'), { timeoutMs: 30_000, intervalMs: 250 });
    expect(rotated.status?.access?.[0]).toMatchObject({ secretName: 'backups-rw', rotation: 1, ready: true });

    const readOnly = await credentials('team-a', 'backups-ro');
    kubectlOk(await env.api.kubectl(['patch', 'bucket', 'backups', '-n', 'team-a', '--type', 'json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/access/1' }])]));
    await waitGone(env, SecretResource, 'team-a', 'backups-ro', 30_000);
    await waitFor('the read-only key revoked', () => revoked(readOnly, 'team-a', 'backups', 'backups-ro'), { timeoutMs: 30_000, intervalMs: 250 });
    expect(await admin.user(rotated.status!.access![1].user!)).toBeUndefined();
  }, 90_000);

  test('a Secret name already taken is reported and left alone; bad specs are refused naming the field', async () => {
    await env.client.create(SecretResource, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'taken', namespace: 'team-a' }, data: { mine: Buffer.from('keep').toString('base64') } } as KubeObject);
    await apply(bucket('team-a', 'clash', { access: [{ secretName: 'taken', mode: 'ReadOnly' }] }));
    const clash = await waitReady<Bucket>(env, BucketResource, 'team-a', 'clash', 'False', 'AccessNotReady');
    expect(findCondition(clash.status?.conditions, 'Ready')?.message).toMatch(/Secret taken exists and is not this Bucket's/);
    expect((await env.client.get<KubeObject & { data?: Record<string, string> }>(SecretResource, 'taken', { namespace: 'team-a' })).data).toEqual({ mine: Buffer.from('keep').toString('base64') });

    for (const [spec, field] of [
      [{ quota: { maxSize: 'lots' } }, 'spec.quota.maxSize'],
      [{ access: [{ secretName: 'Not_A_Name' }] }, 'spec.access[0].secretName'],
      [{ versioning: 'Sometimes' }, 'spec.versioning'],
    ] as const) {
      const refused = await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(bucket('team-a', 'bad', spec)) });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(field);
    }
    await expect(env.client.get(BucketResource, 'bad', { namespace: 'team-a' })).rejects.toMatchObject({ code: 404 });
  }, 60_000);

  test('a namespace\'s quota counts Buckets and their bytes; a Bucket without a size is refused where bytes are limited', async () => {
    await namespace(env, 'team-q');
    await apply({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'project-quota', namespace: 'team-q' }, spec: { hard: { 'count/buckets.storage.photoncloud.io': '3', 'buckets.storage.photoncloud.io/requests.storage': '3Gi' } } });
    const unbounded = await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(bucket('team-q', 'unbounded', {})) });
    expect(unbounded.code).not.toBe(0);
    expect(unbounded.stderr).toMatch(/must specify spec\.quota\.maxSize/);
    await apply(bucket('team-q', 'one', { quota: { maxSize: '2Gi' } }));
    const over = await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(bucket('team-q', 'two', { quota: { maxSize: '2Gi' } })) });
    expect(over.code).not.toBe(0);
    expect(over.stderr).toMatch(/exceeded quota: project-quota, requested: buckets.storage.photoncloud.io\/requests.storage=2Gi, used: buckets.storage.photoncloud.io\/requests.storage=2Gi, limited: buckets.storage.photoncloud.io\/requests.storage=3Gi/);
    await apply(bucket('team-q', 'two', { quota: { maxSize: '1Gi' } }));
    await readyBucket('team-q', 'two');
  }, 60_000);

  test('Retain leaves the S3 bucket and its objects; Delete empties it, every version, and removes it', async () => {
    const retained = await env.client.get<Bucket>(BucketResource, 'backups', { namespace: 'team-b' });
    const oldKey = await credentials('team-b', 'backups-rw');
    kubectlOk(await env.api.kubectl(['delete', 'bucket', 'backups', '-n', 'team-b', '--timeout=60s']));
    expect(await admin.bucketStats(retained.status!.bucketName!)).toMatchObject({ objects: 1 });
    expect(await failure(s3(oldKey).send(new GetObjectCommand({ Bucket: oldKey.bucket, Key: 'b-only' })))).toBe('InvalidAccessKeyId');
    await waitGone(env, SecretResource, 'team-b', 'backups-rw', 30_000);

    // team-a/backups: versioned, with old versions; deletionPolicy Delete.
    kubectlOk(await env.api.kubectl(['patch', 'bucket', 'backups', '-n', 'team-a', '--type', 'merge', '-p', '{"spec":{"deletionPolicy":"Delete"}}']));
    const doomed = await readyBucket('team-a', 'backups');
    expect((await admin.bucketStats(doomed.status!.bucketName!))!.objects).toBeGreaterThanOrEqual(3);
    kubectlOk(await env.api.kubectl(['delete', 'bucket', 'backups', '-n', 'team-a', '--timeout=60s']));
    expect(await admin.bucketStats(doomed.status!.bucketName!)).toBeUndefined();
    expect(await admin.user(doomed.status!.access![0].user!)).toBeUndefined();
  }, 120_000);
});
