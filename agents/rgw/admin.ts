// RGW's admin REST API (`/admin/...`), the documented way to manage users, keys, bucket quotas and buckets of a
// Ceph object gateway without a shell: requests signed with AWS Signature V4 (service s3) by a user with the
// users=* and buckets=* capabilities. Every call is bounded in time; answers RGW gives for "already so" or
// "already gone" are results, not errors, so callers stay idempotent.
import { createHash } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { RgwError } from './errors.ts';

export interface RgwCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RgwAdminOptions {
  /** The gateway, e.g. http://127.0.0.1:7480. */
  endpoint: string;
  credentials: RgwCredentials;
  /** Region named in signatures (RGW accepts its zonegroup's, and any for the admin API). Default `default`. */
  region?: string;
  timeoutMs?: number;
}

export interface RgwKey {
  user: string;
  access_key: string;
  secret_key: string;
}

export interface RgwUser {
  user_id: string;
  display_name?: string;
  max_buckets?: number;
  keys: RgwKey[];
}

export interface RgwBucketStats {
  bucket: string;
  owner: string;
  /** Bytes stored (every version) and objects, from RGW's bucket index. */
  sizeBytes: number;
  objects: number;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

export class RgwAdmin {
  private readonly signer: SignatureV4;
  private readonly endpoint: URL;
  private readonly timeoutMs: number;

  constructor(options: RgwAdminOptions) {
    this.endpoint = new URL(options.endpoint);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.signer = new SignatureV4({ credentials: options.credentials, region: options.region ?? 'default', service: 's3', sha256: Hash.bind(null, 'sha256') });
  }

  /** The user, or undefined when there is none. */
  async user(uid: string): Promise<RgwUser | undefined> {
    return this.request<RgwUser>('GET', '/admin/user', { uid }, { missing: ['NoSuchUser', 'NoSuchKey'] });
  }

  /** Makes the user (no key: keys are made one by one); the existing one when it is there. maxBuckets -1: may make no bucket. */
  async createUser(uid: string, displayName: string, maxBuckets: number): Promise<RgwUser> {
    const existing = await this.user(uid);
    if (existing) return existing;
    const made = await this.request<RgwUser>('PUT', '/admin/user', { uid, 'display-name': displayName, 'max-buckets': String(maxBuckets), 'generate-key': 'false' }, { already: ['UserAlreadyExists'] });
    return made ?? (await this.user(uid))!;
  }

  /** Removes the user and its keys (not its buckets: purge-data false); false when there was none. */
  async removeUser(uid: string): Promise<boolean> {
    const answer = await this.request('DELETE', '/admin/user', { uid, 'purge-data': 'false' }, { missing: ['NoSuchUser', 'NoSuchKey'], empty: true });
    return answer !== undefined;
  }

  /** Generates a new S3 key for the user; resolves with it. */
  async createKey(uid: string): Promise<RgwKey> {
    const before = new Set(((await this.user(uid))?.keys ?? []).map((key) => key.access_key));
    const keys = (await this.request<RgwKey[]>('PUT', '/admin/user', { key: '', uid, 'key-type': 's3', 'generate-key': 'true' })) ?? [];
    const made = keys.find((key) => key.user === uid && !before.has(key.access_key));
    if (!made) throw new RgwError('RgwError', `RGW made no new key for ${uid}`);
    return made;
  }

  async removeKey(uid: string, accessKey: string): Promise<void> {
    await this.request('DELETE', '/admin/user', { key: '', uid, 'key-type': 's3', 'access-key': accessKey }, { missing: ['InvalidAccessKeyId', 'NoSuchKey', 'NoSuchUser'], empty: true });
  }

  /** Every user id (metadata listing). */
  async userIds(): Promise<string[]> {
    return (await this.request<string[]>('GET', '/admin/metadata/user', {})) ?? [];
  }

  async bucketStats(bucket: string): Promise<RgwBucketStats | undefined> {
    const info = await this.request<{ bucket: string; owner: string; usage?: Record<string, { size_actual?: number; size?: number; num_objects?: number }> }>('GET', '/admin/bucket', { bucket, stats: 'true' }, { missing: ['NoSuchBucket'] });
    if (!info) return undefined;
    const usage = Object.values(info.usage ?? {});
    return {
      bucket: info.bucket,
      owner: info.owner,
      sizeBytes: usage.reduce((sum, entry) => sum + (entry.size ?? entry.size_actual ?? 0), 0),
      objects: usage.reduce((sum, entry) => sum + (entry.num_objects ?? 0), 0),
    };
  }

  /**
   * Sets (or, with no limit, disables) the per-bucket quota of every bucket the user owns, enforced by RGW on
   * writes. (Pacific's admin API has no per-bucket quota call: `PUT /admin/bucket?quota` answers 501.)
   */
  async setBucketQuota(owner: string, quota: { maxSizeBytes?: number; maxObjects?: number }): Promise<void> {
    const enabled = quota.maxSizeBytes !== undefined || quota.maxObjects !== undefined;
    // As query parameters: RGW reads them when the request has no body.
    const limits = { enabled: String(enabled), 'max-size-kb': String(quota.maxSizeBytes !== undefined ? Math.ceil(quota.maxSizeBytes / 1024) : -1), 'max-objects': String(quota.maxObjects ?? -1) };
    await this.request('PUT', '/admin/user', { quota: '', uid: owner, 'quota-type': 'bucket', ...limits }, { empty: true });
  }

  /** Removes the bucket with every object and version in it; false when there was none. */
  async removeBucket(bucket: string): Promise<boolean> {
    const answer = await this.request('DELETE', '/admin/bucket', { bucket, 'purge-objects': 'true' }, { missing: ['NoSuchBucket'], empty: true });
    return answer !== undefined;
  }

  private async request<T>(method: string, path: string, query: Record<string, string>, options: { missing?: string[]; already?: string[]; empty?: boolean } = {}): Promise<T | undefined> {
    const request = {
      method,
      protocol: this.endpoint.protocol,
      hostname: this.endpoint.hostname,
      port: this.endpoint.port ? Number(this.endpoint.port) : undefined,
      path,
      query: { ...query, format: 'json' },
      // Every call carries its arguments in the query (no body): the payload hash is the empty string's.
      headers: { host: this.endpoint.host, 'x-amz-content-sha256': EMPTY_SHA256 },
    };
    const signed = await this.signer.sign(request);
    const search = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/=(&|$)/g, '$1');
    const url = `${this.endpoint.origin}${path}?${search}`;
    let response: Response;
    try {
      response = await fetch(url, { method, headers: signed.headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new RgwError('RgwUnavailable', `RGW admin ${method} ${path}: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (response.ok) {
      if (!text.trim()) return (options.empty ? (true as T) : undefined) as T | undefined;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new RgwError('RgwError', `RGW admin ${method} ${path}: not JSON: ${text.slice(0, 200)}`);
      }
    }
    const code = parseCode(text);
    if (options.missing?.includes(code)) return undefined;
    if (options.already?.includes(code)) return undefined;
    throw new RgwError(response.status >= 500 ? 'RgwUnavailable' : 'RgwError', `RGW admin ${method} ${path}${query.uid ? ` (${query.uid})` : ''}${query.bucket ? ` (${query.bucket})` : ''}: ${response.status} ${code || text.slice(0, 200)}`);
  }
}

/** RGW's error code, from its JSON ({"Code": ...}) or XML (<Code>...</Code>) answer. */
function parseCode(text: string): string {
  try {
    return (JSON.parse(text) as { Code?: string }).Code ?? '';
  } catch {
    return /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? '';
  }
}
