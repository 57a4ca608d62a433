import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { UsageError } from '../../lib/cli.ts';
import { bucketPolicy, MODE_ACTIONS } from './driver.ts';
import { rgwFromFlags } from './flags.ts';

describe('bucketPolicy', () => {
  it('grants each user its mode on the bucket and its objects, and nothing else', () => {
    const policy = bucketPolicy('backups-1', [{ user: 'w', mode: 'ReadWrite' }, { user: 'r2', mode: 'ReadOnly' }, { user: 'r1', mode: 'ReadOnly' }]) as { Statement: Array<{ Sid: string; Effect: string; Principal: { AWS: string[] }; Action: string[]; Resource: string[] }> };
    expect(policy.Statement).toEqual([
      { Sid: 'ReadOnly', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam:::user/r1', 'arn:aws:iam:::user/r2'] }, Action: MODE_ACTIONS.ReadOnly, Resource: ['arn:aws:s3:::backups-1', 'arn:aws:s3:::backups-1/*'] },
      { Sid: 'ReadWrite', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam:::user/w'] }, Action: MODE_ACTIONS.ReadWrite, Resource: ['arn:aws:s3:::backups-1', 'arn:aws:s3:::backups-1/*'] },
    ]);
    expect(MODE_ACTIONS.ReadOnly.some((action) => /Put|Delete/.test(action))).toBe(false);
    expect(MODE_ACTIONS.ReadWrite).toEqual(expect.arrayContaining(['s3:PutObject', 's3:DeleteObject', ...MODE_ACTIONS.ReadOnly]));
    expect([...MODE_ACTIONS.ReadOnly, ...MODE_ACTIONS.ReadWrite].some((action) => /Bucket(Policy|Acl)|CreateBucket|\*/.test(action) && !/ListBucket|GetBucket(Location|Versioning)/.test(action))).toBe(false);
  });
});

describe('rgwFromFlags', () => {
  const file = (content: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rgw-flags-'));
    fs.writeFileSync(path.join(dir, 'c.json'), content);
    return path.join(dir, 'c.json');
  };
  it('reads the admin key from a file; the public endpoint and region are optional', () => {
    const credentials = file('{"accessKeyId":"AK","secretAccessKey":"SK"}');
    expect(rgwFromFlags({})).toBeUndefined();
    expect(rgwFromFlags({ 'rgw-endpoint': 'http://10.0.0.5:7480/', 'rgw-credentials': credentials })).toEqual({ endpoint: 'http://10.0.0.5:7480', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } });
    expect(rgwFromFlags({ 'rgw-endpoint': 'http://10.0.0.5:7480', 'rgw-credentials': credentials, 's3-endpoint': 'https://s3.example.com', 's3-region': 'eu' })).toMatchObject({ publicEndpoint: 'https://s3.example.com', region: 'eu' });
  });
  it('refuses what cannot work, saying which flag', () => {
    const credentials = file('{"accessKeyId":"AK","secretAccessKey":"SK"}');
    expect(() => rgwFromFlags({ 'rgw-credentials': credentials })).toThrow(new UsageError('--rgw-credentials needs --rgw-endpoint'));
    expect(() => rgwFromFlags({ 'rgw-endpoint': 'http://x:1' })).toThrow(/--rgw-endpoint needs --rgw-credentials/);
    expect(() => rgwFromFlags({ 'rgw-endpoint': 'ftp://x', 'rgw-credentials': credentials })).toThrow(/--rgw-endpoint must be http/);
    expect(() => rgwFromFlags({ 'rgw-endpoint': 'http://x:1', 'rgw-credentials': file('{"accessKeyId":1}') })).toThrow(/needs string accessKeyId and secretAccessKey/);
    expect(() => rgwFromFlags({ 'rgw-endpoint': 'http://x:1', 'rgw-credentials': '/nonexistent/c.json' })).toThrow(/--rgw-credentials \/nonexistent\/c.json/);
  });
});
