import { describe, expect, it } from '@jest/globals';
import { DiskBackingMismatch, DiskShrinkRefused } from './errors.ts';
import { planVmDisks, roundToSector, type Backing, type DesiredDisk, type ObservedDisk } from './plan.ts';

const GI = 2 ** 30;
const image: Backing = { path: '/state/images/abc.qcow2', format: 'qcow2', virtualSizeBytes: 2 * GI };
const boot: DesiredDisk = { name: 'boot', file: 'boot.qcow2', backing: image };
const data: DesiredDisk = { name: 'data', file: 'disk-data.qcow2', sizeBytes: 10 * GI };
const seen = (...disks: ObservedDisk[]) => new Map(disks.map((disk) => [disk.file, disk]));

describe('planVmDisks', () => {
  it('creates everything into an empty directory, the overlay at its image size by default', () => {
    expect(planVmDisks([boot, data], [], seen())).toEqual([
      { op: 'create', name: 'boot', file: 'boot.qcow2', sizeBytes: 2 * GI, backing: image },
      { op: 'create', name: 'data', file: 'disk-data.qcow2', sizeBytes: 10 * GI },
    ]);
  });

  it('does nothing when what is there matches', () => {
    const observed = seen({ file: 'boot.qcow2', virtualSizeBytes: 2 * GI, backingFile: image.path, backingFormat: 'qcow2' }, { file: 'disk-data.qcow2', virtualSizeBytes: 10 * GI });
    expect(planVmDisks([boot, data], ['boot.qcow2', 'disk-data.qcow2'], observed)).toEqual([]);
  });

  it('grows what is smaller and refuses to shrink, before any action', () => {
    const grown = { ...data, sizeBytes: 20 * GI };
    const observed = seen({ file: 'disk-data.qcow2', virtualSizeBytes: 10 * GI });
    expect(planVmDisks([grown], ['disk-data.qcow2'], observed)).toEqual([{ op: 'resize', name: 'data', file: 'disk-data.qcow2', fromBytes: 10 * GI, toBytes: 20 * GI }]);
    const shrink = () => planVmDisks([boot, { ...data, sizeBytes: 5 * GI }], ['disk-data.qcow2'], observed);
    expect(shrink).toThrow(DiskShrinkRefused);
    expect(shrink).toThrow(/disk data: 5368709120 bytes asked, 10737418240 bytes present/);
  });

  it('refuses an overlay smaller than its image', () => {
    expect(() => planVmDisks([{ ...boot, sizeBytes: GI }], [], seen())).toThrow(/an overlay cannot be smaller than its image/);
  });

  it('compares sizes in whole sectors, as qemu-img stores them', () => {
    expect(roundToSector(1000)).toBe(1024);
    const odd = { ...data, sizeBytes: 1000 };
    expect(planVmDisks([odd], [], seen())).toEqual([{ op: 'create', name: 'data', file: 'disk-data.qcow2', sizeBytes: 1024 }]);
    expect(planVmDisks([odd], ['disk-data.qcow2'], seen({ file: 'disk-data.qcow2', virtualSizeBytes: 1024 }))).toEqual([]);
  });

  it('never recreates a disk whose backing differs from the desired one', () => {
    expect(() => planVmDisks([boot], ['boot.qcow2'], seen({ file: 'boot.qcow2', virtualSizeBytes: 2 * GI, backingFile: '/state/images/other.qcow2' }))).toThrow(DiskBackingMismatch);
    expect(() => planVmDisks([boot], ['boot.qcow2'], seen({ file: 'boot.qcow2', virtualSizeBytes: 2 * GI }))).toThrow(/is blank, desired an overlay/);
    expect(() => planVmDisks([data], ['disk-data.qcow2'], seen({ file: 'disk-data.qcow2', virtualSizeBytes: 10 * GI, backingFile: image.path }))).toThrow(/desired blank/);
    expect(() => planVmDisks([boot], ['boot.qcow2'], seen({ file: 'boot.qcow2', virtualSizeBytes: 2 * GI, backingFile: image.path, backingFormat: 'raw' }))).toThrow(DiskBackingMismatch);
  });

  it('removes owned disks no longer desired and leftover temporaries, and nothing else', () => {
    const entries = ['disk-data.qcow2', 'disk-old.qcow2', 'boot.qcow2', '.disk-data.qcow2.a1b2.tmp', 'qemu.pid', 'notes.txt', 'disk-UPPER.qcow2'];
    expect(planVmDisks([data], entries, seen({ file: 'disk-data.qcow2', virtualSizeBytes: 10 * GI }))).toEqual([
      { op: 'remove', file: '.disk-data.qcow2.a1b2.tmp' },
      { op: 'remove', file: 'boot.qcow2' },
      { op: 'remove', file: 'disk-old.qcow2' },
    ]);
  });
});
