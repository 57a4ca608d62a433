// Volumes and snapshots on a real Ceph, applied with the real kubectl: a Volume is an RBD image of its size
// (rbd info), grows, and is removed with its object; bad specs are refused naming the field; a snapshot
// restores into a clone that holds the source's data (written and read through QEMU's rbd driver); the source
// cannot be deleted while a restored Volume depends on it, and can once that Volume is flattened; a Volume
// restored from a snapshot that does not exist yet waits and converges; Volumes count against storage quota.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CephRbdDriver } from '../../agents/ceph/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { InformerCache } from '../../controllers/runtime/informer.ts';
import { storageInformers } from '../../controllers/storage/informers.ts';
import { sweepOrphanImages, SWEEP_GRACE_MS } from '../../controllers/storage/sweep.ts';
import { createLogger } from '../../lib/logging.ts';
import { StorageClassResource, VolumeResource, VolumeSnapshotResource, type StorageClass, type Volume, type VolumeSnapshot } from '../../apis/storage/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';
import { namespace, startStorageEnv, storageClass, volume, volumeSnapshot, waitGone, waitReady, type StorageEnv } from './harness.ts';

const MiB = 1024 * 1024;
const json = (object: object) => JSON.stringify(object);
const POOL = 'photon-fast';

describe('Volumes on Ceph RBD', () => {
  let env: StorageEnv;
  const apply = async (object: object) => kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: json(object) }));
  const getVolume = (name: string) => env.client.get(VolumeResource, name, { namespace: 'acme' }) as Promise<Volume>;
  const imageOf = (object: Volume) => object.status!.backend!.image!;

  beforeAll(async () => {
    env = await startStorageEnv();
    await namespace(env, 'acme');
    await apply(storageClass('fast', { backend: 'ceph-rbd', ceph: { pool: POOL, replicas: 1 }, default: true }));
    await waitReady<StorageClass>(env, StorageClassResource, undefined, 'fast', 'True', 'PoolReady');
  }, 180_000);
  afterAll(async () => {
    await env?.stop();
  }, 60_000);

  it('makes the class its pool with the replication asked for', async () => {
    const fast = (await env.client.get(StorageClassResource, 'fast')) as StorageClass;
    expect(fast.status?.pool).toBe(POOL);
    expect(await env.ceph.ceph('osd', 'pool', 'get', POOL, 'size')).toEqual(expect.objectContaining({ size: 1 }));
  });

  it('creates an RBD image of the Volume size, grows it, and removes it with the Volume', async () => {
    await apply(volume('acme', 'data', { size: '64Mi', storageClassName: 'fast' }));
    const made = await waitReady<Volume>(env, VolumeResource, 'acme', 'data', 'True', 'Provisioned');
    expect(made.status).toEqual(expect.objectContaining({ phase: 'Available', capacity: '64Mi', capacityBytes: 64 * MiB, storageClassName: 'fast', backend: { type: 'ceph-rbd', pool: POOL, image: expect.stringMatching(/^vol-[0-9a-f]{32}$/) } }));
    expect((await env.ceph.rbdInfo(POOL, imageOf(made)))?.size).toBe(64 * MiB);
    expect(await env.ceph.rbd('image-meta', 'get', `${POOL}/${imageOf(made)}`, 'photoncloud.io/volume')).toBe('acme/data\n');
    const listed = kubectlOk(await env.api.kubectl(['get', 'volumes', '-n', 'acme']));
    expect(listed).toMatch(/^NAME\s+STATUS\s+CAPACITY\s+CLASS\s+ATTACHED-TO\s+READY\s+AGE\n/);
    expect(listed).toMatch(/\ndata\s+Available\s+64Mi\s+fast\s+True\s+/);

    kubectlOk(await env.api.kubectl(['patch', 'volume', 'data', '-n', 'acme', '--type', 'merge', '-p', json({ spec: { size: '100Mi' } })]));
    await waitFor('the image grown to 100Mi', async () => (await env.ceph.rbdInfo(POOL, imageOf(made)))?.size === 100 * MiB, { timeoutMs: 30_000 });
    const grown = await waitReady<Volume>(env, VolumeResource, 'acme', 'data', 'True');
    expect(grown.status?.capacity).toBe('100Mi');

    kubectlOk(await env.api.kubectl(['delete', 'volume', 'data', '-n', 'acme', '--wait=true', '--timeout=60s']));
    expect(await env.ceph.rbdInfo(POOL, imageOf(made))).toBeUndefined();
  }, 120_000);

  it('a Volume whose image was deleted in Ceph by hand says so, and is never replaced by a blank one', async () => {
    await apply(volume('acme', 'lost', { size: '8Mi' }));
    const made = await waitReady<Volume>(env, VolumeResource, 'acme', 'lost', 'True');
    await env.ceph.rbd('rm', '--no-progress', `${POOL}/${imageOf(made)}`);
    // Any change brings the Volume back to the controller: here a label.
    kubectlOk(await env.api.kubectl(['label', 'volume', 'lost', '-n', 'acme', 'checked=yes']));
    kubectlOk(await env.api.kubectl(['patch', 'volume', 'lost', '-n', 'acme', '--type', 'merge', '-p', json({ spec: { size: '9Mi' } })]));
    const lost = await waitReady<Volume>(env, VolumeResource, 'acme', 'lost', 'False', 'ImageLost');
    expect(lost.status?.phase).toBe('Failed');
    expect(await env.ceph.rbdInfo(POOL, imageOf(made))).toBeUndefined();
    kubectlOk(await env.api.kubectl(['delete', 'volume', 'lost', '-n', 'acme', '--wait=true', '--timeout=60s']));
  }, 60_000);

  it('refuses bad specs with an error naming the field, and stores nothing', async () => {
    await apply(volume('acme', 'fixed', { size: '32Mi' }));
    const fixed = await waitReady<Volume>(env, VolumeResource, 'acme', 'fixed', 'True');
    // A Volume without a class gets the default one written in.
    expect(fixed.spec.storageClassName).toBe('fast');

    const shrink = await env.api.kubectl(['patch', 'volume', 'fixed', '-n', 'acme', '--type', 'merge', '-p', json({ spec: { size: '16Mi' } })]);
    expect(shrink.code).not.toBe(0);
    expect(shrink.stderr).toMatch(/spec\.size: Invalid value: "16Mi": a Volume grows but never shrinks/);
    expect((await getVolume('fixed')).spec.size).toBe('32Mi');

    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ size: '32Mi', storageClassName: 'gold' }, /spec\.storageClassName: Not found: "gold"/],
      [{ size: '0' }, /spec\.size: Invalid value: "0": must be a positive size/],
      [{ size: '32Mi', source: { imageRef: 'debian', snapshotRef: 'snap' } }, /spec\.source: Invalid value: .*give at most one of imageRef and snapshotRef/],
      [{ size: 'lots' }, /spec\.size/],
    ];
    for (const [spec, message] of cases) {
      const result = await env.api.kubectl(['apply', '-f', '-'], { stdin: json(volume('acme', 'bad', spec)) });
      expect([spec, result.code !== 0, result.stderr]).toEqual([spec, true, expect.stringMatching(message)]);
    }
    const badClass = await env.api.kubectl(['apply', '-f', '-'], { stdin: json(storageClass('bad', { backend: 'ceph-rbd' })) });
    expect(badClass.stderr).toMatch(/spec\.ceph: Invalid value: null: required when backend is ceph-rbd/);
    await expect(env.client.get(VolumeResource, 'bad', { namespace: 'acme' })).rejects.toThrow(/not found/);
    await expect(env.client.get(StorageClassResource, 'bad')).rejects.toThrow(/not found/);
  }, 120_000);

  it('restores a snapshot into a clone holding the data; the source stays while the clone depends on it, until flattened', async () => {
    await apply(volume('acme', 'source', { size: '16Mi' }));
    const source = await waitReady<Volume>(env, VolumeResource, 'acme', 'source', 'True');
    await env.ceph.qemuIo(POOL, imageOf(source), 'write -P 0x5a 1M 1M');
    await apply(volumeSnapshot('acme', 'before', 'source'));
    const snapshot = await waitReady<VolumeSnapshot>(env, VolumeSnapshotResource, 'acme', 'before', 'True', 'Taken');
    expect(snapshot.status).toEqual(expect.objectContaining({ readyToUse: true, restoreSize: '16Mi', restoreSizeBytes: 16 * MiB }));
    expect(snapshot.status?.snapshotHandle).toMatch(new RegExp(`^${POOL}/${imageOf(source)}@snap-[0-9a-f]{32}$`));
    expect(Date.parse(snapshot.status!.creationTime!)).toBeGreaterThan(Date.now() - 120_000);
    // Written after the snapshot: the restored Volume must not see it.
    await env.ceph.qemuIo(POOL, imageOf(source), 'write -P 0x77 1M 1M');

    await apply(volume('acme', 'restored', { size: '32Mi', source: { snapshotRef: 'before' } }));
    const restored = await waitReady<Volume>(env, VolumeResource, 'acme', 'restored', 'True');
    expect(restored.status?.parent).toEqual({ snapshot: 'before' });
    expect(restored.status?.capacity).toBe('32Mi');
    const info = await env.ceph.rbdInfo(POOL, imageOf(restored));
    expect(info).toEqual(expect.objectContaining({ size: 32 * MiB, parent: expect.objectContaining({ pool: POOL, image: imageOf(source) }) }));
    await env.ceph.qemuIo(POOL, imageOf(restored), 'read -P 0x5a 1M 1M');
    await waitFor('the snapshot lists its dependent', async () => ((await env.client.get(VolumeSnapshotResource, 'before', { namespace: 'acme' })) as VolumeSnapshot).status?.dependents?.includes('restored'));

    // Deleting the source waits, naming the Volume that depends on it.
    kubectlOk(await env.api.kubectl(['delete', 'volume', 'source', '-n', 'acme', '--wait=false']));
    const blocked = await waitFor('the source Volume blocked', async () => {
      const current = await getVolume('source');
      const condition = findCondition(current.status?.conditions, 'DeletionBlocked');
      return condition?.reason === 'ClonesDependOnIt' ? condition : undefined;
    }, { timeoutMs: 60_000 });
    expect(blocked.message).toMatch(/restored \(from before\).*flatten them \(spec\.flatten: true\) or delete them/);
    const snapshotBlocked = await waitFor('the snapshot blocked', async () => findCondition(((await env.client.get(VolumeSnapshotResource, 'before', { namespace: 'acme' })) as VolumeSnapshot).status?.conditions, 'DeletionBlocked'));
    expect(snapshotBlocked).toEqual(expect.objectContaining({ status: 'True', reason: 'ClonesDependOnIt', message: expect.stringContaining('restored') }));
    expect(await env.ceph.rbdInfo(POOL, imageOf(source))).toBeDefined();

    // Flattening the clone frees them: snapshot and source go, the clone keeps the data.
    kubectlOk(await env.api.kubectl(['patch', 'volume', 'restored', '-n', 'acme', '--type', 'merge', '-p', json({ spec: { flatten: true } })]));
    await waitGone(env, VolumeResource, 'acme', 'source', 90_000);
    await waitGone(env, VolumeSnapshotResource, 'acme', 'before');
    expect(await env.ceph.rbdInfo(POOL, imageOf(source))).toBeUndefined();
    const flattened = await waitReady<Volume>(env, VolumeResource, 'acme', 'restored', 'True');
    expect(flattened.status?.parent).toBeUndefined();
    expect((await env.ceph.rbdInfo(POOL, imageOf(restored)))?.parent).toBeUndefined();
    await env.ceph.qemuIo(POOL, imageOf(restored), 'read -P 0x5a 1M 1M');
    // Un-flattening is refused: the Volume no longer has a parent to go back to.
    const unflatten = await env.api.kubectl(['patch', 'volume', 'restored', '-n', 'acme', '--type', 'merge', '-p', json({ spec: { flatten: false } })]);
    expect(unflatten.stderr).toMatch(/spec\.flatten: .*a flattened Volume stays flattened/);
  }, 180_000);

  it('a Volume restored from a snapshot that does not exist yet waits for it, then converges', async () => {
    await apply(volume('acme', 'later', { size: '16Mi', source: { snapshotRef: 'not-yet' } }));
    await waitReady<Volume>(env, VolumeResource, 'acme', 'later', 'False', 'SnapshotNotFound');
    await apply(volume('acme', 'origin', { size: '16Mi' }));
    await apply(volumeSnapshot('acme', 'not-yet', 'origin'));
    const later = await waitReady<Volume>(env, VolumeResource, 'acme', 'later', 'True');
    expect(later.status?.parent).toEqual({ snapshot: 'not-yet' });

    // A snapshot smaller than asked is fine, larger is not: the Volume waits for its size to be raised.
    await apply(volume('acme', 'small', { size: '8Mi', source: { snapshotRef: 'not-yet' } }));
    const small = await waitReady<Volume>(env, VolumeResource, 'acme', 'small', 'False', 'SizeTooSmall');
    expect(findCondition(small.status?.conditions, 'Ready')?.message).toMatch(/at least the snapshot's restoreSize 16Mi/);
    kubectlOk(await env.api.kubectl(['patch', 'volume', 'small', '-n', 'acme', '--type', 'merge', '-p', json({ spec: { size: '16Mi' } })]));
    await waitReady<Volume>(env, VolumeResource, 'acme', 'small', 'True');

    // Deleting the restored Volumes leaves the snapshot deletable: the source goes with everything.
    kubectlOk(await env.api.kubectl(['delete', 'volume', 'later', 'small', '-n', 'acme', '--wait=true', '--timeout=60s']));
    kubectlOk(await env.api.kubectl(['delete', 'volume', 'origin', '-n', 'acme', '--wait=true', '--timeout=60s']));
    await waitGone(env, VolumeSnapshotResource, 'acme', 'not-yet');
  }, 180_000);

  it('makes Volumes from an Image: imported once into the pool, each Volume a clone holding its data', async () => {
    // A qcow2 disk image with a pattern at 1 MiB, published as an Image (a file an operator placed).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-image-'));
    const file = path.join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '24M']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x3c 1M 1M', file]);
    const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const image = (name: string, sha: string) => ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Image', metadata: { name, namespace: 'acme' }, spec: { source: { path: file }, format: 'qcow2', sha256: sha } });
    try {
      // The Volume first, the Image after: it waits, then converges.
      await apply(volume('acme', 'from-image', { size: '32Mi', source: { imageRef: 'disk' } }));
      await waitReady<Volume>(env, VolumeResource, 'acme', 'from-image', 'False', 'ImageNotFound');
      await apply(image('disk', sha256));
      const made = await waitReady<Volume>(env, VolumeResource, 'acme', 'from-image', 'True', 'Provisioned', 120_000);
      expect(made.status?.parent).toEqual({ image: 'disk' });
      expect(findCondition(made.status?.conditions, 'Ready')?.message).toMatch(/a clone of Image disk until flattened/);
      const info = await env.ceph.rbdInfo(POOL, imageOf(made));
      expect(info).toEqual(expect.objectContaining({ size: 32 * MiB, parent: expect.objectContaining({ pool: POOL, image: expect.stringMatching(/^img-[0-9a-f]{32}$/), snapshot: 'base' }) }));
      await env.ceph.qemuIo(POOL, imageOf(made), 'read -P 0x3c 1M 1M');

      // A second Volume from it clones the same golden image: one import per pool.
      await apply(volume('acme', 'from-image-2', { size: '24Mi', source: { imageRef: 'disk' } }));
      const second = await waitReady<Volume>(env, VolumeResource, 'acme', 'from-image-2', 'True');
      expect((await env.ceph.rbdInfo(POOL, imageOf(second)))?.parent?.image).toBe(info!.parent!.image);
      expect((await env.ceph.rbd('ls', POOL)).split('\n').filter((name) => name.startsWith('img-'))).toEqual([info!.parent!.image]);

      // Smaller than the image: waits for its size to be raised. A checksum that does not match: never imported.
      await apply(volume('acme', 'too-small', { size: '16Mi', source: { imageRef: 'disk' } }));
      const small = await waitReady<Volume>(env, VolumeResource, 'acme', 'too-small', 'False', 'SizeTooSmall');
      expect(findCondition(small.status?.conditions, 'Ready')?.message).toMatch(/at least Image disk's virtual size 24Mi/);
      await apply(image('tampered', '0'.repeat(64)));
      await apply(volume('acme', 'from-tampered', { size: '32Mi', source: { imageRef: 'tampered' } }));
      const tampered = await waitReady<Volume>(env, VolumeResource, 'acme', 'from-tampered', 'False', 'ChecksumMismatch', 60_000);
      expect(findCondition(tampered.status?.conditions, 'Ready')?.message).toContain('0'.repeat(64));
      kubectlOk(await env.api.kubectl(['delete', 'volume', 'from-image', 'from-image-2', 'too-small', 'from-tampered', '-n', 'acme', '--wait=true', '--timeout=60s']));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('sweeps images left in Ceph by Volumes and Images that are gone, and nothing else', async () => {
    await apply(volume('acme', 'kept', { size: '8Mi' }));
    const kept = await waitReady<Volume>(env, VolumeResource, 'acme', 'kept', 'True');
    // Left behind as a force-removed Volume or Image would leave them (UID-named, nobody's).
    const stray = (prefix: string) => `${prefix}-${randomBytes(16).toString('hex')}`;
    const [orphanVolume, orphanGolden, cloned] = [stray('vol'), stray('img'), stray('img')];
    await env.ceph.rbd('create', '--size', '4M', `${POOL}/${orphanVolume}`);
    await env.ceph.rbd('create', '--size', '4M', `${POOL}/${orphanGolden}`);
    await env.ceph.rbd('snap', 'create', `${POOL}/${orphanGolden}@base`);
    await env.ceph.rbd('snap', 'protect', `${POOL}/${orphanGolden}@base`);
    // A golden image something still clones from stays, whatever its Image.
    await env.ceph.rbd('create', '--size', '4M', `${POOL}/${cloned}`);
    await env.ceph.rbd('snap', 'create', `${POOL}/${cloned}@base`);
    await env.ceph.rbd('snap', 'protect', `${POOL}/${cloned}@base`);
    await env.ceph.rbd('clone', `${POOL}/${cloned}@base`, `${POOL}/someone-elses`);

    const informers = new InformerCache(env.client);
    try {
      const watched = storageInformers(informers);
      informers.start();
      // Within the grace period nothing is touched: its object may just not have been seen yet.
      expect(await sweepOrphanImages(new CephRbdDriver(env.ceph.client), watched, createLogger('sweep-test'))).toEqual([]);
      const later = Date.now() + SWEEP_GRACE_MS + 60_000;
      const removed = await sweepOrphanImages(new CephRbdDriver(env.ceph.client), watched, createLogger('sweep-test'), later);
      expect(removed.sort()).toEqual([`${POOL}/${orphanGolden}`, `${POOL}/${orphanVolume}`].sort());
      const left = (await env.ceph.rbd('ls', POOL)).split('\n');
      expect(left).toEqual(expect.arrayContaining([imageOf(kept), cloned, 'someone-elses']));
      expect(left).not.toEqual(expect.arrayContaining([orphanVolume]));
    } finally {
      await informers.stop();
      await env.ceph.rbd('rm', `${POOL}/someone-elses`);
    }
  }, 120_000);

  it('counts Volume sizes against the namespace storage quota', async () => {
    await namespace(env, 'quota');
    await apply({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'storage', namespace: 'quota' }, spec: { hard: { 'requests.storage': '100Mi' } } });
    await waitFor('the quota counted', async () => ((await env.api.kubectl(['get', 'resourcequota', 'storage', '-n', 'quota', '-o', 'jsonpath={.status.hard}'])).stdout.includes('100Mi')));
    await apply(volume('quota', 'first', { size: '64Mi' }));
    const over = await env.api.kubectl(['apply', '-f', '-'], { stdin: json(volume('quota', 'second', { size: '64Mi' })) });
    expect(over.code).not.toBe(0);
    expect(over.stderr).toMatch(/exceeded quota: storage, requested: requests\.storage=64Mi, used: requests\.storage=64Mi, limited: requests\.storage=100Mi/);
    // Growing past it is refused as well.
    const grow = await env.api.kubectl(['patch', 'volume', 'first', '-n', 'quota', '--type', 'merge', '-p', json({ spec: { size: '128Mi' } })]);
    expect(grow.stderr).toMatch(/exceeded quota/);
  }, 60_000);
});
