// The object storage driver (`ObjectStorageDriver`, implemented on Ceph RGW by `RgwObjectStorage`): a bucket
// owned by an RGW user of its own (who may own no other), versioning and the access policy set through S3 as that
// owner, quotas, keys, users and bucket removal through the admin REST API (admin.ts). Access users own no
// bucket (max-buckets -1) and reach a bucket only through its policy, which names them and the actions of their
// mode. Every method is idempotent and compares before it writes.
import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, GetBucketVersioningCommand, CreateBucketCommand, PutBucketPolicyCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { RgwAdmin, type RgwBucketStats, type RgwCredentials, type RgwKey } from './admin.ts';
import { RgwError } from './errors.ts';

// Pinned on purpose (package.json): the warning is about SDK releases after this one.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export type AccessMode = 'ReadOnly' | 'ReadWrite';

export interface BucketGrant {
  user: string;
  mode: AccessMode;
}

export interface ObjectStorageDriver {
  /** Where clients reach S3, and the region to sign with. */
  readonly endpoint: string;
  readonly region: string;
  /** Makes the bucket's owner user (if missing) and the bucket as that owner; refuses a name someone else owns. */
  ensureBucket(bucket: string, owner: string, displayName: string): Promise<void>;
  setVersioning(bucket: string, owner: string, status: 'Enabled' | 'Suspended'): Promise<void>;
  /** The bucket's quota (its owner's per-bucket quota: the owner owns this bucket only); undefined limits: none. */
  setQuota(owner: string, quota: { maxSizeBytes?: number; maxObjects?: number }): Promise<void>;
  /** The bucket policy: exactly these users with these modes (none: no policy). */
  setGrants(bucket: string, owner: string, grants: readonly BucketGrant[]): Promise<void>;
  /** Makes an access user (no buckets of its own); its keys. */
  ensureUser(uid: string, displayName: string): Promise<RgwKey[]>;
  createKey(uid: string): Promise<RgwKey>;
  removeKey(uid: string, accessKey: string): Promise<void>;
  removeUser(uid: string): Promise<boolean>;
  /** Users whose id starts with prefix. */
  usersWithPrefix(prefix: string): Promise<string[]>;
  usage(bucket: string): Promise<RgwBucketStats | undefined>;
  /** Removes the bucket with every object version; false when it was gone. */
  removeBucket(bucket: string): Promise<boolean>;
}

export interface RgwObjectStorageOptions {
  /** The gateway the driver speaks to. */
  endpoint: string;
  /** The admin user's key (users=*, buckets=* capabilities). */
  credentials: RgwCredentials;
  /** What clients are told to use (default: endpoint). */
  publicEndpoint?: string;
  /** RGW's zonegroup (default `default`). */
  region?: string;
  timeoutMs?: number;
}

/** What each mode may do on the bucket and its objects (and their versions). */
export const MODE_ACTIONS: Record<AccessMode, string[]> = {
  ReadOnly: ['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketLocation', 's3:GetBucketVersioning'],
  ReadWrite: [
    's3:GetObject',
    's3:GetObjectVersion',
    's3:ListBucket',
    's3:ListBucketVersions',
    's3:GetBucketLocation',
    's3:GetBucketVersioning',
    's3:PutObject',
    's3:DeleteObject',
    's3:DeleteObjectVersion',
    's3:AbortMultipartUpload',
    's3:ListMultipartUploadParts',
    's3:ListBucketMultipartUploads',
  ],
};

/** The bucket policy granting each user its mode's actions on the bucket and its objects. */
export function bucketPolicy(bucket: string, grants: readonly BucketGrant[]): object {
  const statements = (['ReadOnly', 'ReadWrite'] as const).flatMap((mode) => {
    const users = grants.filter((grant) => grant.mode === mode).map((grant) => `arn:aws:iam:::user/${grant.user}`).sort();
    if (users.length === 0) return [];
    return [{ Sid: mode, Effect: 'Allow', Principal: { AWS: users }, Action: MODE_ACTIONS[mode], Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }];
  });
  return { Version: '2012-10-17', Statement: statements };
}

export class RgwObjectStorage implements ObjectStorageDriver {
  readonly endpoint: string;
  readonly region: string;
  private readonly admin: RgwAdmin;

  constructor(private readonly options: RgwObjectStorageOptions) {
    this.endpoint = options.publicEndpoint ?? options.endpoint;
    this.region = options.region ?? 'default';
    this.admin = new RgwAdmin({ endpoint: options.endpoint, credentials: options.credentials, region: this.region, timeoutMs: options.timeoutMs });
  }

  async ensureBucket(bucket: string, owner: string, displayName: string): Promise<void> {
    const existing = await this.admin.bucketStats(bucket);
    if (existing && existing.owner !== owner) throw new RgwError('BucketNameTaken', `S3 bucket ${bucket} exists and belongs to ${existing.owner}`);
    await this.admin.createUser(owner, displayName, 1);
    if (existing) return;
    await this.s3As(owner, (s3) => s3.send(new CreateBucketCommand({ Bucket: bucket }))).catch((error) => {
      if ((error as Error).name === 'BucketAlreadyOwnedByYou') return;
      if ((error as Error).name === 'BucketAlreadyExists') throw new RgwError('BucketNameTaken', `S3 bucket ${bucket} already exists`);
      throw error;
    });
  }

  async setVersioning(bucket: string, owner: string, status: 'Enabled' | 'Suspended'): Promise<void> {
    await this.s3As(owner, async (s3) => {
      const current = (await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status;
      // A bucket never versioned stays so when Suspended is asked: the same behaviour, and S3 cannot go back.
      if (current === status || (status === 'Suspended' && current === undefined)) return;
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
    });
  }

  async setQuota(owner: string, quota: { maxSizeBytes?: number; maxObjects?: number }): Promise<void> {
    await this.admin.setBucketQuota(owner, quota);
  }

  async setGrants(bucket: string, owner: string, grants: readonly BucketGrant[]): Promise<void> {
    await this.s3As(owner, async (s3) => {
      const current = await s3.send(new GetBucketPolicyCommand({ Bucket: bucket })).then(
        (answer) => answer.Policy,
        (error) => ((error as Error).name === 'NoSuchBucketPolicy' ? undefined : Promise.reject(error)),
      );
      if (grants.length === 0) {
        if (current !== undefined) await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
        return;
      }
      const desired = JSON.stringify(bucketPolicy(bucket, grants));
      if (current === desired) return;
      await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: desired }));
    });
  }

  async ensureUser(uid: string, displayName: string): Promise<RgwKey[]> {
    return (await this.admin.createUser(uid, displayName, -1)).keys ?? [];
  }

  createKey(uid: string): Promise<RgwKey> {
    return this.admin.createKey(uid);
  }

  removeKey(uid: string, accessKey: string): Promise<void> {
    return this.admin.removeKey(uid, accessKey);
  }

  removeUser(uid: string): Promise<boolean> {
    return this.admin.removeUser(uid);
  }

  async usersWithPrefix(prefix: string): Promise<string[]> {
    return (await this.admin.userIds()).filter((uid) => uid.startsWith(prefix)).sort();
  }

  usage(bucket: string): Promise<RgwBucketStats | undefined> {
    return this.admin.bucketStats(bucket);
  }

  removeBucket(bucket: string): Promise<boolean> {
    return this.admin.removeBucket(bucket);
  }

  /** Runs S3 calls as the bucket's owner (its first key, made when it has none). */
  private async s3As<T>(owner: string, work: (s3: S3Client) => Promise<T>): Promise<T> {
    const user = await this.admin.user(owner);
    if (!user) throw new RgwError('RgwError', `RGW user ${owner} does not exist`);
    const key = user.keys[0] ?? (await this.admin.createKey(owner));
    const s3 = new S3Client({
      endpoint: this.options.endpoint,
      region: this.region,
      forcePathStyle: true,
      credentials: { accessKeyId: key.access_key, secretAccessKey: key.secret_key },
      maxAttempts: 2,
    });
    try {
      return await work(s3);
    } catch (error) {
      if (error instanceof RgwError) throw error;
      const name = (error as Error).name;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw new RgwError(status === undefined || status >= 500 ? 'RgwUnavailable' : name === 'AccessDenied' ? 'AccessDenied' : 'RgwError', `S3 ${name} on ${owner}'s bucket: ${(error as Error).message}`);
    } finally {
      s3.destroy();
    }
  }
}
