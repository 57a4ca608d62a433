// Object storage benchmark on a real one-node Ceph with radosgw (test/env/ceph.ts), with the bucket controller as
// the controller manager runs it against a real API server on etcd (test/volumes/harness.ts):
//   - Bucket (one ReadWrite access entry) create → Ready with its Secret, against the same RGW work done by hand
//     through the driver in the same run (owner user, bucket, versioning, access user, key, policy);
//   - PUT and GET throughput of 1 MiB objects (4 in flight) with the Bucket's scoped credentials (an access user
//     reaching the bucket through its policy), against the same client with an RGW system user's key (an admin
//     key: no policy evaluated). The cost of scoping should be nothing.
// Options: --quick (fewer rounds and objects).
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runChecked } from '../../agents/ovn-local/commands.ts';
import { RgwObjectStorage } from '../../agents/rgw/index.ts';
import { SecretResource } from '../../apis/client/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { BucketResource, type Bucket } from '../../apis/storage/v1alpha1/index.ts';
import { waitFor } from '../../test/env/process.ts';
import { namespace, startStorageEnv, type StorageEnv } from '../../test/volumes/harness.ts';
import { fmt, percentile, runConcurrent } from './load.ts';
import { record } from './results.ts';
import { inProcessWrites, reportWrites, writesBetween } from './writes.ts';
import { waitForAnnouncedFinalizers } from '../../test/env/announced-finalizers.ts';

const NS = 'bench';
const MiB = 1024 * 1024;

export interface BucketBenchOptions {
  rounds: number;
  objects: number;
  passes: number;
}

const ms = (values: number[]) => `p50 ${fmt(percentile(values, 50))} ms, p95 ${fmt(percentile(values, 95))} ms`;

async function createReady(env: StorageEnv, name: string): Promise<number> {
  const started = performance.now();
  await env.client.create(BucketResource, { apiVersion: 'storage.photoncloud.io/v1alpha1', kind: 'Bucket', metadata: { name, namespace: NS }, spec: { access: [{ secretName: `${name}-rw`, mode: 'ReadWrite' }] } } as KubeObject);
  await waitFor(`Bucket ${name} Ready`, async () => {
    const found = await env.client.get<Bucket>(BucketResource, name, { namespace: NS }).catch(() => undefined);
    return findCondition(found?.status?.conditions, 'Ready')?.status === 'True' ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 10 });
  return performance.now() - started;
}

/** MiB/s of `count` PUTs (or GETs) of 1 MiB objects, 4 in flight. */
async function throughput(client: S3Client, bucket: string, count: number, verb: 'PUT' | 'GET', body: Buffer): Promise<number> {
  const started = performance.now();
  await runConcurrent(count, 4, async (index) => {
    if (verb === 'PUT') await client.send(new PutObjectCommand({ Bucket: bucket, Key: `object-${index}`, Body: body }));
    else await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `object-${index}` }))).Body!.transformToByteArray();
  });
  return (count * body.length) / MiB / ((performance.now() - started) / 1000);
}

export async function benchBuckets(options: BucketBenchOptions): Promise<void> {
  console.log(`\n## Buckets on a one-node Ceph's RGW: create → Ready (${options.rounds} each) against the RGW calls by hand; 1 MiB PUT/GET throughput, scoped credentials against an admin key`);
  const env = await startStorageEnv({ rgw: true, controllers: ['bucket'], leaderElect: true });
  const clients: S3Client[] = [];
  try {
    await namespace(env, NS);
    const s3 = env.ceph.s3!;
    const driver = new RgwObjectStorage({ endpoint: s3.endpoint, credentials: s3.admin });
    const byHand = async (round: number) => {
      const bucket = `hand-${round}-bench`;
      const started = performance.now();
      await driver.ensureBucket(bucket, `hand-owner-${round}`, 'by hand');
      await driver.setVersioning(bucket, `hand-owner-${round}`, 'Suspended');
      await driver.ensureUser(`hand-user-${round}`, 'by hand');
      await driver.createKey(`hand-user-${round}`);
      await driver.setGrants(bucket, `hand-owner-${round}`, [{ user: `hand-user-${round}`, mode: 'ReadWrite' }]);
      return performance.now() - started;
    };
    await waitForAnnouncedFinalizers(env.client, ['buckets.storage.photoncloud.io']);
    // Warm-up both ways (informers, the SDK, RGW's first bucket), not counted.
    await byHand(-1);
    await createReady(env, 'warmup');
    const hand: number[] = [];
    const api: number[] = [];
    const writes = inProcessWrites(env.api.server);
    const writesBefore = await writes();
    for (let round = 0; round < options.rounds; round++) {
      hand.push(await byHand(round));
      api.push(await createReady(env, `b-${round}`));
    }
    reportWrites('Bucket', 'buckets', options.rounds, writesBetween(writesBefore, await writes()));
    console.log(`Bucket create → Ready (Secret written): ${ms(api)}; the same RGW calls by hand: ${ms(hand)} (×${fmt(percentile(api, 50) / percentile(hand, 50), 2)})`);

    // Throughput: the Bucket's scoped key against a system user's (admin) key, on the same bucket, alternating.
    const secret = await env.client.get<KubeObject & { data?: Record<string, string> }>(SecretResource, 'b-0-rw', { namespace: NS });
    const value = (key: string) => Buffer.from(secret.data![key], 'base64').toString('utf8');
    const bucket = value('bucket');
    const system = JSON.parse(await runChecked('radosgw-admin', ['--conf', env.ceph.client.conf, '--id', env.ceph.client.id, '--keyring', env.ceph.client.keyring, 'user', 'create', '--uid=bench-system', '--display-name=bench', '--system'])) as { keys: { access_key: string; secret_key: string }[] };
    const client = (accessKeyId: string, secretAccessKey: string) => {
      const made = new S3Client({ endpoint: s3.endpoint, region: 'default', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
      clients.push(made);
      return made;
    };
    const scoped = client(value('accessKeyId'), value('secretAccessKey'));
    const admin = client(system.keys[0].access_key, system.keys[0].secret_key);
    const body = Buffer.alloc(MiB, 7);
    await throughput(scoped, bucket, 4, 'PUT', body); // warm-up
    const result = { scopedPut: [] as number[], adminPut: [] as number[], scopedGet: [] as number[], adminGet: [] as number[] };
    for (let pass = 0; pass < options.passes; pass++) {
      result.scopedPut.push(await throughput(scoped, bucket, options.objects, 'PUT', body));
      result.adminPut.push(await throughput(admin, bucket, options.objects, 'PUT', body));
      result.scopedGet.push(await throughput(scoped, bucket, options.objects, 'GET', body));
      result.adminGet.push(await throughput(admin, bucket, options.objects, 'GET', body));
    }
    const line = (what: string, mine: number[], theirs: number[]) =>
      console.log(`${what} 1 MiB × ${options.objects}, 4 in flight: scoped credentials p50 ${fmt(percentile(mine, 50))} MiB/s, admin key p50 ${fmt(percentile(theirs, 50))} MiB/s (${fmt(percentile(mine, 50) / percentile(theirs, 50), 2)})`);
    record('buckets', 'createP50Ms', percentile(api, 50));
    record('buckets', 'byHandP50Ms', percentile(hand, 50));
    record('buckets', 'putScopedMiBps', percentile(result.scopedPut, 50));
    record('buckets', 'putAdminMiBps', percentile(result.adminPut, 50));
    record('buckets', 'getScopedMiBps', percentile(result.scopedGet, 50));
    record('buckets', 'getAdminMiBps', percentile(result.adminGet, 50));
    line('PUT', result.scopedPut, result.adminPut);
    line('GET', result.scopedGet, result.adminGet);
  } finally {
    for (const made of clients) made.destroy();
    await env.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const quick = process.argv.includes('--quick');
  // Alone, only the figures (and warnings): the API server and controllers log in this process.
  process.env.PHOTON_LOG_LEVEL ??= 'warn';
  benchBuckets({ rounds: quick ? 3 : 10, objects: quick ? 16 : 64, passes: quick ? 2 : 3 }).then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
