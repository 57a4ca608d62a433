// The local Volume driver against the real qemu-img (and qemu-io to write and read back guest data): files made
// blank or from an internal snapshot with that moment's data, grown never shrunk, snapshots idempotent, names
// that are not the driver's refused before anything runs.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DiskShrinkRefused, DiskSpecInvalid } from './errors.ts';
import { QcowLocalVolumeDriver } from './local-volumes.ts';

const run = promisify(execFile);
const MI = 1024 * 1024;
let dir: string;
let driver: QcowLocalVolumeDriver;

/** qemu-io on a file: write or verify a byte pattern. */
const qemuIo = (file: string, command: string) => run('qemu-io', ['-f', 'qcow2', '-c', command, file]);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-volumes-'));
  driver = new QcowLocalVolumeDriver({ dir: path.join(dir, 'volumes') });
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('QcowLocalVolumeDriver', () => {
  it('makes a blank file once, grows it, refuses to shrink it, and removes it', async () => {
    expect(await driver.inspect('vol-a1.qcow2')).toBeUndefined();
    await driver.create('vol-a1.qcow2', 16 * MI);
    await driver.create('vol-a1.qcow2', 8 * MI); // exists: untouched
    expect(await driver.inspect('vol-a1.qcow2')).toEqual({ file: 'vol-a1.qcow2', sizeBytes: 16 * MI, snapshots: [] });
    await driver.grow('vol-a1.qcow2', 24 * MI);
    expect((await driver.inspect('vol-a1.qcow2'))?.sizeBytes).toBe(24 * MI);
    await expect(driver.grow('vol-a1.qcow2', 8 * MI)).rejects.toBeInstanceOf(DiskShrinkRefused);
    expect(await driver.list()).toEqual(['vol-a1.qcow2']);
    expect(await driver.remove('vol-a1.qcow2')).toBe(true);
    expect(await driver.remove('vol-a1.qcow2')).toBe(false);
    expect(await driver.list()).toEqual([]);
  });

  it('a copy of an internal snapshot holds the data of that moment, not what was written after', async () => {
    await driver.create('vol-src.qcow2', 16 * MI);
    const source = driver.pathOf('vol-src.qcow2');
    await qemuIo(source, 'write -P 0xaa 0 64k');
    await driver.createSnapshot('vol-src.qcow2', 'snap-one');
    await driver.createSnapshot('vol-src.qcow2', 'snap-one'); // taken: no second one
    await qemuIo(source, 'write -P 0xbb 0 64k');
    const inspected = await driver.inspect('vol-src.qcow2');
    expect(inspected?.snapshots.map((entry) => entry.name)).toEqual(['snap-one']);
    expect(Date.parse(inspected!.snapshots[0].createdAt)).toBeGreaterThan(Date.now() - 60_000);

    await driver.create('vol-copy.qcow2', 32 * MI, { file: 'vol-src.qcow2', snapshot: 'snap-one' });
    const copy = await driver.inspect('vol-copy.qcow2');
    expect(copy).toEqual({ file: 'vol-copy.qcow2', sizeBytes: 32 * MI, snapshots: [] });
    const read = await qemuIo(driver.pathOf('vol-copy.qcow2'), 'read -P 0xaa 0 64k');
    expect(read.stdout).not.toMatch(/Pattern verification failed/);
    // Standalone: no backing file, so deleting the snapshot (or the source) leaves it whole.
    expect(JSON.parse((await run('qemu-img', ['info', '--output=json', driver.pathOf('vol-copy.qcow2')])).stdout)['backing-filename']).toBeUndefined();
    await driver.deleteSnapshot('vol-src.qcow2', 'snap-one');
    await driver.deleteSnapshot('vol-src.qcow2', 'snap-one');
    expect((await driver.inspect('vol-src.qcow2'))?.snapshots).toEqual([]);
    expect((await qemuIo(driver.pathOf('vol-copy.qcow2'), 'read -P 0xaa 0 64k')).stdout).not.toMatch(/Pattern verification failed/);
    // No temporary file left behind.
    expect(fs.readdirSync(path.join(dir, 'volumes')).sort()).toEqual(['vol-copy.qcow2', 'vol-src.qcow2']);
  });

  it('refuses names that are not its own before running anything', async () => {
    for (const name of ['../etc/passwd', 'vol-a.raw', 'vol-A.qcow2', 'vol-a.qcow2/x', '']) expect(() => driver.pathOf(name)).toThrow(DiskSpecInvalid);
    await expect(driver.createSnapshot('vol-src.qcow2', '-d')).rejects.toBeInstanceOf(DiskSpecInvalid);
    await expect(driver.create('vol-x.qcow2', MI, { file: 'vol-src.qcow2', snapshot: 'snap; rm -rf /' })).rejects.toBeInstanceOf(DiskSpecInvalid);
    expect(fs.existsSync(driver.pathOf('vol-x.qcow2'))).toBe(false);
  });
});
