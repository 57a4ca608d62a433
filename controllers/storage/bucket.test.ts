import { describe, expect, it } from '@jest/globals';
import type { Bucket } from '../../apis/storage/v1alpha1/index.ts';
import { accessUserOf, accessUserPrefixOf, bucketOwnerOf } from './bucket-access.ts';
import { bucketNameOf } from './bucket.ts';

const bucket = (name: string, uid = '6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f'): Bucket => ({ apiVersion: 'storage.photoncloud.io/v1alpha1', kind: 'Bucket', metadata: { name, namespace: 'acme', uid }, spec: {} });

describe('bucket names', () => {
  it('real names: the object name and 16 hex of its UID, a valid S3 name of at most 57 characters', () => {
    expect(bucketNameOf(bucket('backups'))).toBe('backups-6f1c2d3e4b5a4c7d');
    // Another object (another project's, or this one made again) with the same name: another bucket.
    expect(bucketNameOf(bucket('backups', '0a1b2c3d-0000-4000-8000-000000000000'))).toBe('backups-0a1b2c3d00004000');
    const long = bucketNameOf(bucket(`${'a'.repeat(39)}.b.example`));
    expect(long).toMatch(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/);
    expect(long.length).toBeLessThanOrEqual(57);
    expect(bucketNameOf(bucket('web.assets'))).toBe('web-assets-6f1c2d3e4b5a4c7d');
  });

  it('RGW users: one owner per Bucket, one user per access entry under its prefix', () => {
    const b = bucket('backups');
    expect(bucketOwnerOf(b)).toBe('photon-6f1c2d3e4b5a4c7d8e9f0a1b2c3d4e5f');
    const writer = accessUserOf(b, 'backups-writer');
    expect(writer.startsWith(accessUserPrefixOf(b))).toBe(true);
    expect(writer).not.toBe(accessUserOf(b, 'backups-reader'));
    expect(accessUserOf(b, 'backups-writer')).toBe(writer);
    // The owner is not under the access prefix: revoking every access user never removes the owner.
    expect(bucketOwnerOf(b).startsWith(accessUserPrefixOf(b))).toBe(false);
  });
});
