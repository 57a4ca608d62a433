// The Ceph RBD driver alone against a real one-node Ceph: every operation idempotent, refusals typed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CephRbdDriver, ImageHasSnapshotsError, ShrinkRefusedError, SnapshotHasClonesError } from '../../agents/ceph/rbd.ts';
import { startTestCeph, type TestCeph } from '../env/ceph.ts';

const MiB = 1024 * 1024;
let ceph: TestCeph;
let driver: CephRbdDriver;

beforeAll(async () => {
  ceph = await startTestCeph();
  driver = new CephRbdDriver(ceph.client);
}, 120_000);
afterAll(() => ceph?.stop(), 60_000);

describe('CephRbdDriver on a real Ceph', () => {
  it('makes a pool with the replication asked for, once', async () => {
    await driver.ensurePool('photon-test', 1);
    await driver.ensurePool('photon-test', 1);
    expect(await ceph.ceph('osd', 'pool', 'get', 'photon-test', 'size')).toEqual(expect.objectContaining({ size: 1 }));
    expect(await ceph.ceph('osd', 'pool', 'application', 'get', 'photon-test')).toEqual({ rbd: {} });
    // Replication follows the class: changed by hand, it is put back.
    await ceph.cephText('osd', 'pool', 'set', 'photon-test', 'size', '2');
    expect(await ceph.ceph('osd', 'pool', 'get', 'photon-test', 'size')).toEqual(expect.objectContaining({ size: 2 }));
    await driver.ensurePool('photon-test', 1);
    expect(await ceph.ceph('osd', 'pool', 'get', 'photon-test', 'size')).toEqual(expect.objectContaining({ size: 1 }));
    // More copies than OSDs would leave the pool inactive and every call on it hanging: refused, saying why.
    await expect(driver.ensurePool('photon-three', 3)).rejects.toMatchObject({ reason: 'NotEnoughOSDs', message: 'a pool with 3 copies needs 3 OSDs; the cluster has 1 in' });
  }, 120_000);

  it('creates, grows and removes an image; repeating each is harmless; shrinking is refused', async () => {
    await driver.createImage('photon-test', 'vol-a', 8 * MiB, { 'photoncloud.io/volume': 'ns/a' });
    await driver.createImage('photon-test', 'vol-a', 8 * MiB);
    expect((await ceph.rbdInfo('photon-test', 'vol-a'))?.size).toBe(8 * MiB);
    expect(await ceph.rbd('image-meta', 'get', 'photon-test/vol-a', 'photoncloud.io/volume')).toBe('ns/a\n');
    await driver.growImage('photon-test', 'vol-a', 16 * MiB);
    await driver.growImage('photon-test', 'vol-a', 16 * MiB);
    expect((await driver.image('photon-test', 'vol-a'))?.sizeBytes).toBe(16 * MiB);
    await expect(driver.growImage('photon-test', 'vol-a', 8 * MiB)).rejects.toBeInstanceOf(ShrinkRefusedError);
    await driver.removeImage('photon-test', 'vol-a');
    await driver.removeImage('photon-test', 'vol-a');
    expect(await ceph.rbdInfo('photon-test', 'vol-a')).toBeUndefined();
    expect(await driver.image('photon-test', 'vol-a')).toBeUndefined();
  }, 120_000);

  it('snapshots, clones, refuses to drop what clones depend on until flattened, then removes everything', async () => {
    await driver.createImage('photon-test', 'vol-src', 4 * MiB);
    const snapshot = await driver.createSnapshot('photon-test', 'vol-src', 'snap-1');
    expect(snapshot).toEqual(expect.objectContaining({ name: 'snap-1', sizeBytes: 4 * MiB, protected: true }));
    expect(await driver.createSnapshot('photon-test', 'vol-src', 'snap-1')).toEqual(snapshot);
    await driver.clone({ pool: 'photon-test', image: 'vol-src', snapshot: 'snap-1' }, { pool: 'photon-test', name: 'vol-copy' });
    await driver.clone({ pool: 'photon-test', image: 'vol-src', snapshot: 'snap-1' }, { pool: 'photon-test', name: 'vol-copy' });
    expect((await driver.image('photon-test', 'vol-copy'))?.parent).toEqual({ pool: 'photon-test', image: 'vol-src', snapshot: 'snap-1' });
    expect(await driver.clonesOf('photon-test', 'vol-src', 'snap-1')).toEqual(['photon-test/vol-copy']);

    await expect(driver.removeImage('photon-test', 'vol-src')).rejects.toBeInstanceOf(ImageHasSnapshotsError);
    const refused = driver.removeSnapshot('photon-test', 'vol-src', 'snap-1');
    await expect(refused).rejects.toBeInstanceOf(SnapshotHasClonesError);
    await expect(refused).rejects.toThrow('photon-test/vol-copy');

    await driver.flatten('photon-test', 'vol-copy');
    await driver.flatten('photon-test', 'vol-copy');
    expect((await driver.image('photon-test', 'vol-copy'))?.parent).toBeUndefined();
    await driver.removeSnapshot('photon-test', 'vol-src', 'snap-1');
    await driver.removeSnapshot('photon-test', 'vol-src', 'snap-1');
    expect(await driver.snapshots('photon-test', 'vol-src')).toEqual([]);
    await driver.removeImage('photon-test', 'vol-src');
    await driver.removeImage('photon-test', 'vol-copy');
    expect(await driver.watchers('photon-test', 'vol-copy')).toEqual([]);
  }, 120_000);
});
