// How a process reaches an RGW gateway for Buckets: its admin endpoint and the admin user's key in a file
// (never on a command line), and what clients are told (endpoint, region).
import fs from 'node:fs';
import { UsageError } from '../../lib/cli.ts';
import type { RgwObjectStorageOptions } from './driver.ts';

export const RGW_FLAGS = {
  'rgw-endpoint': { type: 'string' },
  'rgw-credentials': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
} as const;

export const RGW_USAGE = `  --rgw-endpoint URL          Ceph RGW gateway Buckets live on, e.g. http://127.0.0.1:7480 (without it Buckets report
                              ObjectStorageUnavailable)
  --rgw-credentials FILE      JSON {"accessKeyId": ..., "secretAccessKey": ...} of an RGW user with the caps
                              users=*;buckets=* (radosgw-admin caps add), for the admin API
  --s3-endpoint URL           the S3 endpoint written to Buckets' status and Secrets (default: --rgw-endpoint)
  --s3-region NAME            the region clients sign with: RGW's zonegroup (default: default)
`;

/** The object storage options the flags describe; undefined without --rgw-endpoint. */
export function rgwFromFlags(values: Partial<Record<keyof typeof RGW_FLAGS, string | undefined>>): RgwObjectStorageOptions | undefined {
  const endpoint = values['rgw-endpoint'];
  if (!endpoint) {
    if (values['rgw-credentials']) throw new UsageError('--rgw-credentials needs --rgw-endpoint');
    return undefined;
  }
  for (const flag of ['rgw-endpoint', 's3-endpoint'] as const) {
    const value = values[flag];
    if (value !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(value)) throw new UsageError(`--${flag} must be http(s)://host[:port], got ${JSON.stringify(value)}`);
  }
  const file = values['rgw-credentials'];
  if (!file) throw new UsageError('--rgw-endpoint needs --rgw-credentials');
  let credentials: { accessKeyId?: unknown; secretAccessKey?: unknown };
  try {
    credentials = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--rgw-credentials ${file}: ${(error as Error).message}`);
  }
  if (typeof credentials.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') throw new UsageError(`--rgw-credentials ${file}: needs string accessKeyId and secretAccessKey`);
  return {
    endpoint: endpoint.replace(/\/$/, ''),
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    ...(values['s3-endpoint'] ? { publicEndpoint: values['s3-endpoint'].replace(/\/$/, '') } : {}),
    ...(values['s3-region'] ? { region: values['s3-region'] } : {}),
  };
}
