// Local Volumes: one qcow2 file per Volume in the node's volumes directory (`<stateDir>/volumes/vol-<uid>.qcow2`),
// snapshots as qcow2 internal snapshots inside it, and a restore as a standalone copy of one of them. Every call
// is idempotent and works on names it validated itself (never a path a client chose); qemu-img runs through
// argument arrays. A file is made under a temporary name and renamed when complete, so a crash half-way never
// leaves a half-made Volume under the real name.
//
// qemu-img takes the image's write lock for everything but reads: while a running QEMU has the file plugged,
// grow and snapshot fail with DisksUnavailable ("in use") — the caller does those through QMP then.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { KeyedQueue } from '../../lib/keyed-queue.ts';
import { DiskShrinkRefused, DiskSpecInvalid } from './errors.ts';
import { fsyncFile, syncDirectory } from './fsync.ts';
import { QemuImg } from './qemu-img.ts';

const FILE_NAME = /^vol-[a-z0-9]{1,64}\.qcow2$/;
const SNAPSHOT_NAME = /^snap-[a-z0-9]{1,64}$/;
const TEMPORARY_SUFFIX = '.making';

export interface LocalVolumeFile {
  file: string;
  sizeBytes: number;
  snapshots: Array<{ name: string; createdAt: string }>;
}

export interface LocalVolumeDriver {
  /** Absolute path of a Volume's file (what QEMU opens). */
  pathOf(file: string): string;
  /** The file's size and snapshots, or undefined when there is no such file. */
  inspect(file: string): Promise<LocalVolumeFile | undefined>;
  /** Makes the file: blank, or a copy of another file's internal snapshot; then at least sizeBytes. No-op when it exists. */
  create(file: string, sizeBytes: number, from?: { file: string; snapshot: string }): Promise<void>;
  /** Grows the file to sizeBytes; refuses to shrink. Fails (DisksUnavailable) while a QEMU has it open. */
  grow(file: string, sizeBytes: number): Promise<void>;
  /** Deletes the file; false when there was none. */
  remove(file: string): Promise<boolean>;
  /** The Volume files present. */
  list(): Promise<string[]>;
  /** Takes an internal snapshot (offline). No-op when it exists. */
  createSnapshot(file: string, snapshot: string): Promise<void>;
  /** Deletes an internal snapshot (offline). No-op when it is gone. */
  deleteSnapshot(file: string, snapshot: string): Promise<void>;
}

export interface QcowLocalVolumeDriverOptions {
  /** The volumes directory; absolute. */
  dir: string;
  qemuImg?: string;
  qemuImgTimeoutMs?: number;
}

/** Whether `file` is a name this driver makes (vol-<letters and digits>.qcow2): never a path. */
export const isVolumeFileName = (file: unknown): file is string => typeof file === 'string' && FILE_NAME.test(file);

export const checkVolumeFileName = (file: string): string => {
  if (!isVolumeFileName(file)) throw new DiskSpecInvalid(`local Volume file ${JSON.stringify(file)} must be vol-<letters and digits>.qcow2`);
  return file;
};
export const checkSnapshotName = (snapshot: string): string => {
  if (typeof snapshot !== 'string' || !SNAPSHOT_NAME.test(snapshot)) throw new DiskSpecInvalid(`local snapshot name ${JSON.stringify(snapshot)} must be snap-<letters and digits>`);
  return snapshot;
};

export class QcowLocalVolumeDriver implements LocalVolumeDriver {
  readonly dir: string;
  private readonly qemuImg: QemuImg;
  /** One operation per file at a time (a grow never races the snapshot of the same file). */
  private readonly queue = new KeyedQueue();

  constructor(options: QcowLocalVolumeDriverOptions) {
    if (!path.isAbsolute(options.dir)) throw new DiskSpecInvalid(`volumes directory ${JSON.stringify(options.dir)} must be absolute`);
    this.dir = path.resolve(options.dir);
    this.qemuImg = new QemuImg({ binary: options.qemuImg, timeoutMs: options.qemuImgTimeoutMs });
  }

  pathOf(file: string): string {
    return path.join(this.dir, checkVolumeFileName(file));
  }

  async inspect(file: string): Promise<LocalVolumeFile | undefined> {
    const target = this.pathOf(file);
    if (!(await exists(target))) return undefined;
    const info = await this.qemuImg.info(target, 'qcow2');
    return { file, sizeBytes: info.virtualSizeBytes, snapshots: (info.snapshots ?? []).map((entry) => ({ name: entry.name, createdAt: new Date(entry.createdAtSeconds * 1000).toISOString() })) };
  }

  async create(file: string, sizeBytes: number, from?: { file: string; snapshot: string }): Promise<void> {
    const target = this.pathOf(file);
    return await this.queue.run(file, async () => {
      if (await exists(target)) return;
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      const temporary = `${target}${TEMPORARY_SUFFIX}`;
      await fsp.rm(temporary, { force: true }); // a make killed half-way starts over
      if (from) {
        // Under the source's turn too: its snapshot is not deleted half-way through the copy.
        await this.queue.run(from.file, () => this.qemuImg.copyOfSnapshot(this.pathOf(from.file), checkSnapshotName(from.snapshot), temporary));
        const copied = await this.qemuImg.info(temporary, 'qcow2');
        if (copied.virtualSizeBytes < sizeBytes) await this.qemuImg.resize(temporary, sizeBytes);
      } else {
        await this.qemuImg.create(temporary, sizeBytes);
      }
      await fsyncFile(temporary);
      await fsp.rename(temporary, target);
      await syncDirectory(this.dir);
    });
  }

  async grow(file: string, sizeBytes: number): Promise<void> {
    const target = this.pathOf(file);
    return await this.queue.run(file, async () => {
      const info = await this.qemuImg.info(target, 'qcow2');
      if (info.virtualSizeBytes > sizeBytes) throw new DiskShrinkRefused(file, info.virtualSizeBytes, sizeBytes, 'Volumes only grow');
      if (info.virtualSizeBytes < sizeBytes) await this.qemuImg.resize(target, sizeBytes);
    });
  }

  async remove(file: string): Promise<boolean> {
    const target = this.pathOf(file);
    return await this.queue.run(file, async () => {
      await fsp.rm(`${target}${TEMPORARY_SUFFIX}`, { force: true });
      if (!(await exists(target))) return false;
      await fsp.rm(target, { force: true });
      return true;
    });
  }

  async list(): Promise<string[]> {
    const entries = await fsp.readdir(this.dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    return entries.filter(isVolumeFileName).sort();
  }

  async createSnapshot(file: string, snapshot: string): Promise<void> {
    const target = this.pathOf(file);
    checkSnapshotName(snapshot);
    return await this.queue.run(file, async () => {
      const info = await this.qemuImg.info(target, 'qcow2');
      if ((info.snapshots ?? []).some((entry) => entry.name === snapshot)) return;
      await this.qemuImg.createSnapshot(target, snapshot);
    });
  }

  async deleteSnapshot(file: string, snapshot: string): Promise<void> {
    const target = this.pathOf(file);
    checkSnapshotName(snapshot);
    return await this.queue.run(file, async () => {
      if (!(await exists(target))) return;
      const info = await this.qemuImg.info(target, 'qcow2');
      if (!(info.snapshots ?? []).some((entry) => entry.name === snapshot)) return;
      await this.qemuImg.deleteSnapshot(target, snapshot);
    });
  }
}

async function exists(file: string): Promise<boolean> {
  return fsp.stat(file).then(
    () => true,
    () => false,
  );
}
