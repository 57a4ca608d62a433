// Block storage benchmark on a real one-node Ceph (test/env/ceph.ts: a monitor and a BlueStore OSD on a sparse
// file, replicas 1), with the storage controllers as the controller manager runs them against a real API server
// on etcd (test/volumes/harness.ts). Each figure sits beside what Ceph's own `rbd` tool takes for the same thing
// by hand, measured in the same run on the same cluster and pool, one after the other:
//   - Volume (64Mi) create → Ready, against `rbd create --size 64M`;
//   - VolumeSnapshot create → readyToUse, against `rbd snap create` + `rbd snap protect`;
//   - Volume restored from a snapshot (spec.source.snapshotRef) → Ready, against `rbd clone`;
//   - sequential writes from a QEMU guest (TCG, the test guest of hack/guest-image, `bench-write`: dd of 1 MiB
//     O_DIRECT blocks, fsync at the end) to a Volume attached through QEMU's rbd driver (agents/qemu, as the
//     node agent attaches it), against `rbd bench --io-type write --io-size 4M --io-total <N>M --io-pattern seq`
//     (16 writes in flight, rbd's default), and the same with 1M writes one at a time (dd's pattern). QEMU opens
//     the image as the node agent does (librbd's cache on, QEMU's default without cache.direct), so the guest's
//     fsync is what makes the last of its writes durable and is inside its time.
// The `rbd` baselines include starting the tool and connecting to the cluster, as the controllers' calls do.
// Options: --quick (fewer rounds, smaller writes).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findCondition } from '../../apis/meta/conditions.ts';
import { StorageClassResource, VolumeResource, VolumeSnapshotResource, type Volume, type VolumeSnapshot } from '../../apis/storage/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { keyOf } from '../../agents/ceph/index.ts';
import { QemuDriver } from '../../agents/qemu/driver.ts';
import { buildGuestImage, guestKernelAppend } from '../../test/env/guest-image.ts';
import { waitFor } from '../../test/env/process.ts';
import { namespace, startStorageEnv, storageClass, volume, volumeSnapshot, waitReady, type StorageEnv } from '../../test/volumes/harness.ts';
import { fmt, percentile } from './load.ts';
import { record } from './results.ts';
import { inProcessWrites, reportWrites, writesBetween } from './writes.ts';
import { waitForAnnouncedFinalizers } from '../../test/env/announced-finalizers.ts';

const NS = 'bench';
const POOL = 'photon-bench';
const MiB = 1024 * 1024;

const ms = (values: number[]) => `p50 ${fmt(percentile(values, 50))} ms, p95 ${fmt(percentile(values, 95))} ms`;
const ratio = (api: number[], raw: number[]) => `×${fmt(percentile(api, 50) / percentile(raw, 50), 2)}`;

/** Milliseconds `work` takes. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Creates the object and polls (every 10 ms) until `done` holds for it; milliseconds from the create call. */
async function createUntil<T extends KubeObject>(env: StorageEnv, resource: typeof VolumeResource | typeof VolumeSnapshotResource, object: object, done: (found: T) => boolean): Promise<number> {
  const { name, namespace: ns } = (object as KubeObject).metadata;
  const started = performance.now();
  await env.client.create(resource, object as KubeObject);
  await waitFor(`${resource.kind} ${ns}/${name}`, async () => {
    const found = (await env.client.get(resource, name!, { namespace: ns }).catch(() => undefined)) as T | undefined;
    return found && done(found) ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 10 });
  return performance.now() - started;
}

const volumeReady = (found: Volume) => findCondition(found.status?.conditions, 'Ready')?.status === 'True' && found.status?.observedGeneration === found.metadata.generation;
const snapshotReady = (found: VolumeSnapshot) => found.status?.readyToUse === true;

/** MiB/s of one `rbd bench` write run, from its own ops/sec (it times the I/O, not its start-up). */
async function rbdBench(env: StorageEnv, image: string, ioMiB: number, threads: number | undefined, totalMiB: number): Promise<number> {
  const output = await env.ceph.rbd('bench', '--io-type', 'write', '--io-size', `${ioMiB}M`, ...(threads ? ['--io-threads', String(threads)] : []), '--io-total', `${totalMiB}M`, '--io-pattern', 'seq', `${POOL}/${image}`);
  const match = /elapsed:\s*[\d.]+\s+ops:\s*(\d+)\s+ops\/sec:\s*([\d.]+)/.exec(output);
  if (!match) throw new Error(`rbd bench printed no summary: ${output}`);
  if (Number(match[1]) * ioMiB !== totalMiB) throw new Error(`rbd bench wrote ${match[1]} ops of ${ioMiB} MiB, not ${totalMiB} MiB: ${output}`);
  return Number(match[2]) * ioMiB;
}

export interface VolumeBenchOptions {
  /** Rounds of each control-plane figure. */
  rounds: number;
  /** MiB written per pass, by the guest and by rbd bench. */
  writeMiB: number;
  /** Write passes each way: the first onto a fresh image (RADOS objects made), the rest overwrite it. */
  passes: number;
}

export async function benchVolumes(options: VolumeBenchOptions): Promise<void> {
  console.log(`\n## Volumes on a one-node Ceph: create, snapshot, restore → ready (${options.rounds} each), against rbd by hand; sequential writes from a TCG guest against rbd bench`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-vol-'));
  const [started, built] = await Promise.allSettled([startStorageEnv({ leaderElect: true }), buildGuestImage(path.join(dir, 'guest.img'))]);
  if (started.status === 'rejected' || built.status === 'rejected') {
    if (started.status === 'fulfilled') await started.value.stop();
    await fs.rm(dir, { recursive: true, force: true });
    throw started.status === 'rejected' ? started.reason : (built as PromiseRejectedResult).reason;
  }
  const env = started.value;
  const guest = built.value;
  let driver: QemuDriver | undefined;
  const uid = 'bench-writer';
  try {
    await namespace(env, NS);
    await env.client.create(StorageClassResource, storageClass('bench', { backend: 'ceph-rbd', ceph: { pool: POOL, replicas: 1 }, default: true }) as KubeObject);
    await waitReady(env, StorageClassResource, undefined, 'bench', 'True', undefined, 120_000);

    // One warm-up each way (the pool's first image, the controllers' informers, Node's JIT), not counted.
    await env.ceph.rbd('create', '--size', '64M', `${POOL}/warmup`);
    await createUntil(env, VolumeResource, volume(NS, 'warmup', { size: '64Mi' }), volumeReady);

    const raw = { create: [] as number[], snapshot: [] as number[], clone: [] as number[] };
    const api = { create: [] as number[], snapshot: [] as number[], restore: [] as number[] };
    await waitForAnnouncedFinalizers(env.client, ['volumes.storage.photoncloud.io', 'volumesnapshots.storage.photoncloud.io']);
    const writes = inProcessWrites(env.api.server);
    let writesBefore = await writes();
    for (let round = 0; round < options.rounds; round++) {
      raw.create.push(await timed(() => env.ceph.rbd('create', '--size', '64M', `${POOL}/raw-${round}`)));
      api.create.push(await createUntil(env, VolumeResource, volume(NS, `v-${round}`, { size: '64Mi' }), volumeReady));
    }
    reportWrites('Volume', 'volumes', options.rounds, writesBetween(writesBefore, (writesBefore = await writes())));
    for (let round = 0; round < options.rounds; round++) {
      raw.snapshot.push(await timed(async () => {
        await env.ceph.rbd('snap', 'create', '--no-progress', `${POOL}/raw-${round}@snap`);
        await env.ceph.rbd('snap', 'protect', `${POOL}/raw-${round}@snap`);
      }));
      api.snapshot.push(await createUntil(env, VolumeSnapshotResource, volumeSnapshot(NS, `s-${round}`, `v-${round}`), snapshotReady));
    }
    reportWrites('VolumeSnapshot', 'volumesnapshots', options.rounds, writesBetween(writesBefore, await writes()));
    for (let round = 0; round < options.rounds; round++) {
      raw.clone.push(await timed(() => env.ceph.rbd('clone', `${POOL}/raw-${round}@snap`, `${POOL}/raw-clone-${round}`)));
      api.restore.push(await createUntil(env, VolumeResource, volume(NS, `r-${round}`, { size: '64Mi', source: { snapshotRef: `s-${round}` } }), volumeReady));
    }
    console.log(`  Volume create → Ready:            rbd create ${ms(raw.create)};  through the API ${ms(api.create)}  (${ratio(api.create, raw.create)} at p50)`);
    console.log(`  VolumeSnapshot → readyToUse:      rbd snap create + protect ${ms(raw.snapshot)};  through the API ${ms(api.snapshot)}  (${ratio(api.snapshot, raw.snapshot)})`);
    console.log(`  restore (snapshotRef) → Ready:    rbd clone ${ms(raw.clone)};  through the API ${ms(api.restore)}  (${ratio(api.restore, raw.clone)})`);
    record('volumes', 'createP50Ms', percentile(api.create, 50));
    record('volumes', 'rbdCreateP50Ms', percentile(raw.create, 50));
    record('volumes', 'snapshotP50Ms', percentile(api.snapshot, 50));
    record('volumes', 'restoreP50Ms', percentile(api.restore, 50));

    // Writes: rbd bench on an image of its own (fresh, then overwritten), ...
    await env.ceph.rbd('create', '--size', `${options.writeMiB}M`, `${POOL}/raw-bench`);
    await env.ceph.rbd('create', '--size', `${options.writeMiB}M`, `${POOL}/raw-bench-1m`);
    const rbdMiBs: number[] = [];
    const rbdSerialMiBs: number[] = [];
    for (let pass = 0; pass < options.passes; pass++) {
      rbdMiBs.push(await rbdBench(env, 'raw-bench', 4, undefined, options.writeMiB));
      rbdSerialMiBs.push(await rbdBench(env, 'raw-bench-1m', 1, 1, options.writeMiB));
    }
    // ... and a guest writing to a Volume made through the API, attached as QEMU's second virtio disk (vdb): the
    // first (vda) is a local scratch file, which the guest formats and mounts as its data disk, so dd never
    // writes under a mounted filesystem. Host network namespace (Ceph listens on the host's lo), no NICs.
    await createUntil(env, VolumeResource, volume(NS, 'writes', { size: `${options.writeMiB}Mi` }), volumeReady);
    const target = await env.client.get<Volume>(VolumeResource, 'writes', { namespace: NS });
    const keyFile = path.join(dir, 'ceph.key');
    await fs.writeFile(keyFile, keyOf(env.ceph.client), { mode: 0o600 });
    const scratch = path.join(dir, 'scratch.img');
    await fs.writeFile(scratch, '');
    await fs.truncate(scratch, 16 * MiB);
    driver = new QemuDriver({ stateRoot: path.join(dir, 'qemu'), accelerator: 'tcg', ceph: { conf: env.ceph.client.conf, user: env.ceph.client.id, keyFile } });
    const userData = Array.from({ length: options.passes }, () => `bench-write vdb ${options.writeMiB}`).join('\n') + '\n';
    const booted = performance.now();
    await driver.start({
      uid,
      name: uid,
      cpuCores: 1,
      memoryBytes: 256 * MiB,
      boot: { kernel: guest.kernel, initrd: guest.initrd, append: guestKernelAppend(userData) },
      disks: [{ path: scratch }],
      volumes: [{ name: 'writes', pool: target.status!.backend!.pool!, image: target.status!.backend!.image! }],
      noReboot: true,
    });
    const consolePath = driver.consolePath(uid);
    const guestMs = await waitFor('the guest reports its writes', async () => {
      const text = await fs.readFile(consolePath, 'utf8').catch(() => '');
      const failed = /photon-guest: (bench-write[^\n]*failed[^\n]*|userdata-error[^\n]*)/.exec(text);
      if (failed) throw new Error(`guest: ${failed[1]}`);
      const times = [...text.matchAll(/photon-guest: bench-write vdb (\d+) (\d+)\r?\n/g)].map((match) => Number(match[2]));
      return times.length === options.passes && /photon-guest: ready/.test(text) ? times : undefined;
    }, { timeoutMs: 150_000, intervalMs: 200 });
    const readyAfter = performance.now() - booted;
    const guestMiBs = guestMs.map((millis) => options.writeMiB / (millis / 1000));
    const list = (values: number[]) => values.map((value) => fmt(value)).join(', ');
    const median = (values: number[]) => percentile(values, 50);
    console.log(`  sequential writes, ${options.writeMiB} MiB a pass (fresh image, then overwrites), MiB/s:`);
    console.log(`    rbd bench 4M × 16 in flight:     ${list(rbdMiBs)}  (p50 ${fmt(median(rbdMiBs))})`);
    console.log(`    rbd bench 1M × 1 in flight:      ${list(rbdSerialMiBs)}  (p50 ${fmt(median(rbdSerialMiBs))})`);
    console.log(`    TCG guest dd 1M O_DIRECT + fsync: ${list(guestMiBs)}  (p50 ${fmt(median(guestMiBs))}; guest started → all passes reported ${fmt(readyAfter / 1000)} s)`);
    record('volumes', 'guestWriteMiBps', median(guestMiBs));
    record('volumes', 'rbdBenchMiBps', median(rbdMiBs));
    console.log(`  summary: create ${ratio(api.create, raw.create)}, snapshot ${ratio(api.snapshot, raw.snapshot)}, restore ${ratio(api.restore, raw.clone)} the rbd tool's p50 (+${fmt(percentile(api.create, 50) - percentile(raw.create, 50))}, +${fmt(percentile(api.snapshot, 50) - percentile(raw.snapshot, 50))}, +${fmt(percentile(api.restore, 50) - percentile(raw.clone, 50))} ms); guest writes ${fmt(median(guestMiBs) / median(rbdMiBs), 3)} of rbd bench's MiB/s (${fmt(median(guestMiBs) / median(rbdSerialMiBs), 3)} of its 1M × 1 pattern)`);
  } finally {
    await driver?.remove(uid).catch((error) => console.error(`removing the guest: ${error}`));
    await env.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const quick = process.argv.includes('--quick');
  // Alone, only the figures (and warnings): the API server and controllers log in this process.
  process.env.PHOTON_LOG_LEVEL ??= 'warn';
  benchVolumes({ rounds: quick ? 3 : 10, writeMiB: quick ? 64 : 256, passes: quick ? 2 : 3 }).then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
