// The disks driver a node agent prepares a VM's disks through. Everything lives under one node state
// directory:
//
//   <stateDir>/images/<sha256>.<format>        cached images, shared by every VM on the node, read-only
//   <stateDir>/vms/<vm uid>/boot.qcow2          copy-on-write overlay of the boot image (absolute backing path, -F)
//   <stateDir>/vms/<vm uid>/disk-<name>.qcow2   data disks: blank, or an overlay of an image
//
// An image file exists under its final name only after its sha256 was verified (it is written to a
// temporary name, hashed while streaming, and renamed), so the name is the record of verification and a
// cached image is never re-hashed. Disks are created under temporary names and renamed, and resizes are
// re-checked against qemu-img info on every call, so a driver killed at any point converges on the next
// call. One driver (one agent) per state directory is assumed: leftovers of a killed one are removed.
import { KeyedQueue } from '../../lib/keyed-queue.ts';
import { fsyncFile, syncDirectory } from './fsync.ts';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseByteQuantity } from '../../apis/meta/quantity.ts';
import { validUid } from '../qemu/argv.ts';
import { DiskDriverError, DiskSpecInvalid, DisksUnavailable, ImageChecksumMismatch, ImageInvalid } from './errors.ts';
import { fetchToFile, parseSource, redactUrl, type FetchLimits } from './fetch.ts';
import { planVmDisks, BOOT_FILE, dataDiskFile, type Backing, type DesiredDisk, type DiskAction, type ObservedDisk } from './plan.ts';
import { QemuImg } from './qemu-img.ts';

export type ImageFormat = 'qcow2' | 'raw' | 'kernel' | 'initrd';
const IMAGE_FORMATS: readonly string[] = ['qcow2', 'raw', 'kernel', 'initrd'];
const SHA256 = /^[a-f0-9]{64}$/;
const DISK_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface ImageSpec {
  /** https://, http:// or file:// (an Image's spec.source.path becomes pathToFileURL(path)). */
  source: string;
  /** Lower-case hex; required, because it names the cached file and is what makes reuse safe. */
  sha256: string;
  format: ImageFormat;
}

export interface CachedImage {
  path: string;
  format: ImageFormat;
  sha256: string;
  sizeBytes: number;
  /** qemu-img's virtual-size for qcow2; the file size otherwise (as Image.status.virtualSizeBytes says). */
  virtualSizeBytes: number;
  /** true when this call downloaded it, false when it was already cached (or another call fetched it). */
  fetched: boolean;
}

/** A size as a quantity ("20Gi") or a number of bytes. */
export type Size = string | number;

export interface DesiredVmDisks {
  /** An overlay of a qcow2 or raw image; size defaults to the image's virtual size. Omit for kernel boot. */
  boot?: { image: ImageSpec; size?: Size };
  /** Blank (size required) or an overlay of image (size defaults to its virtual size). */
  data: Array<{ name: string; size?: Size; image?: ImageSpec }>;
}

export interface VmDisk {
  /** 'boot' or the data disk's name. */
  name: string;
  path: string;
  format: 'qcow2';
  sizeBytes: number;
  /** The cached image it is an overlay of. */
  backingFile?: string;
}

export interface VmDisks {
  dir: string;
  boot?: VmDisk;
  /** In the order of desired.data (the attach order). */
  data: VmDisk[];
  /** What this call changed; empty when everything already matched. */
  actions: DiskAction[];
}

export interface DiskDriver {
  /** Fetches and verifies an image once per node; concurrent calls for one image share the download. */
  ensureImage(image: ImageSpec): Promise<CachedImage>;
  /** Creates missing disks, grows small ones, removes disks no longer desired; refuses to shrink. Idempotent. */
  ensureVmDisks(vmUid: string, desired: DesiredVmDisks): Promise<VmDisks>;
  /** Deletes every disk of the VM; false when it had none. */
  removeVmDisks(vmUid: string): Promise<boolean>;
  /** VMs that have disks on this node, to clean up those deleted while the agent was down. */
  listVmUids(): Promise<string[]>;
}

export interface QemuImgDiskDriverOptions {
  stateDir: string;
  /** Largest image accepted; default 20 GiB. */
  maxImageBytes?: number;
  /** Whole-download bound; default 1 hour. */
  fetchTimeoutMs?: number;
  /** Longest stall between received chunks; default 60 s. */
  fetchIdleTimeoutMs?: number;
  maxRedirects?: number;
  qemuImg?: string;
  qemuImgTimeoutMs?: number;
}

export class QemuImgDiskDriver implements DiskDriver {
  readonly stateDir: string;
  readonly imagesDir: string;
  readonly vmsDir: string;
  private readonly limits: FetchLimits;
  private readonly qemuImg: QemuImg;
  private readonly downloads = new Map<string, Promise<CachedImage>>();
  private readonly known = new Map<string, Omit<CachedImage, 'fetched'>>();
  /** One operation per VM (two reconciles never plan against the same stale listing) at a time. */
  private readonly queue = new KeyedQueue();

  constructor(options: QemuImgDiskDriverOptions) {
    // Absolute, because overlays record the image by this path and QEMU resolves it from anywhere.
    if (!path.isAbsolute(options.stateDir)) throw new DiskSpecInvalid(`state directory ${JSON.stringify(options.stateDir)} must be absolute`);
    this.stateDir = path.resolve(options.stateDir);
    this.imagesDir = path.join(this.stateDir, 'images');
    this.vmsDir = path.join(this.stateDir, 'vms');
    this.limits = {
      maxBytes: options.maxImageBytes ?? 20 * 2 ** 30,
      timeoutMs: options.fetchTimeoutMs ?? 60 * 60_000,
      idleTimeoutMs: options.fetchIdleTimeoutMs ?? 60_000,
      maxRedirects: options.maxRedirects ?? 5,
    };
    this.qemuImg = new QemuImg({ binary: options.qemuImg, timeoutMs: options.qemuImgTimeoutMs });
  }

  imagePath(image: Pick<ImageSpec, 'sha256' | 'format'>): string {
    return path.join(this.imagesDir, `${image.sha256}.${image.format}`);
  }

  vmDir(vmUid: string): string {
    if (typeof vmUid !== 'string' || !validUid(vmUid)) throw new DiskSpecInvalid(`VM uid ${JSON.stringify(vmUid)} must be letters, digits and '-' (at most 63)`);
    return path.join(this.vmsDir, vmUid);
  }

  async ensureImage(image: ImageSpec): Promise<CachedImage> {
    checkImage(image);
    const key = `${image.sha256}.${image.format}`;
    const running = this.downloads.get(key);
    if (running) return running.then((cached) => ({ ...cached, fetched: false }));
    const download = this.ensureImageOnce(image).finally(() => this.downloads.delete(key));
    this.downloads.set(key, download);
    return download;
  }

  private async ensureImageOnce(image: ImageSpec): Promise<CachedImage> {
    const final = this.imagePath(image);
    const known = this.known.get(final);
    if (known && (await isFile(final))) return { ...known, fetched: false };
    if (await isFile(final)) return { ...(await this.describeImage(final, image)), fetched: false };

    await mkdirOrUnavailable(this.imagesDir);
    // Partial downloads of this image by a killed driver: nobody else writes them (one driver per directory,
    // and this.downloads holds concurrent callers in this one).
    for (const entry of await readdirOrEmpty(this.imagesDir)) {
      if (entry.startsWith(`.${image.sha256}.${image.format}.`) && entry.endsWith('.part')) await fs.rm(path.join(this.imagesDir, entry), { force: true });
    }
    const temporary = path.join(this.imagesDir, `.${image.sha256}.${image.format}.${randomBytes(6).toString('hex')}.part`);
    try {
      const fetched = await fetchToFile(image.source, temporary, this.limits);
      if (fetched.sha256 !== image.sha256) throw new ImageChecksumMismatch(redactUrl(image.source), image.sha256, fetched.sha256);
      await this.checkContent(temporary, image);
      // Read-only: overlays must never write into the image every VM on the node shares.
      await fs.chmod(temporary, 0o444);
      await fs.rename(temporary, final);
      await syncDirectory(this.imagesDir);
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw asDriverError(error);
    }
    return { ...(await this.describeImage(final, image)), fetched: true };
  }

  /** Refuses content that would be unsafe or wrong to boot from: a "qcow2" that is not one, or one with its own backing file (a host path a tenant chose). */
  private async checkContent(file: string, image: ImageSpec): Promise<void> {
    if (image.format !== 'qcow2') return; // raw is always opened with -f/-F raw; kernel and initrd are not disks
    const info = await this.qemuImg.info(file, undefined).catch((error: Error) => {
      throw new ImageInvalid(`image ${redactUrl(image.source)} is not a readable disk image: ${error.message}`);
    });
    if (info.format !== 'qcow2') throw new ImageInvalid(`image ${redactUrl(image.source)} is declared qcow2 but qemu-img reads it as ${info.format}`);
    if (info.backingFileRaw !== undefined) throw new ImageInvalid(`image ${redactUrl(image.source)} is a qcow2 with a backing file (${info.backingFileRaw}); only standalone images are accepted`);
  }

  private async describeImage(file: string, image: ImageSpec): Promise<Omit<CachedImage, 'fetched'>> {
    const stat = await fs.stat(file);
    const virtualSizeBytes = image.format === 'qcow2' || image.format === 'raw' ? (await this.qemuImg.info(file, image.format)).virtualSizeBytes : stat.size;
    const described = { path: file, format: image.format, sha256: image.sha256, sizeBytes: stat.size, virtualSizeBytes };
    this.known.set(file, described);
    return described;
  }

  async ensureVmDisks(vmUid: string, desired: DesiredVmDisks): Promise<VmDisks> {
    const dir = this.vmDir(vmUid);
    const specs = checkDesired(desired);
    // Images first: a bad checksum or an unreachable source fails here, before the VM directory exists.
    const backings = new Map<ImageSpec, Backing>();
    for (const spec of specs) {
      if (spec.image && !backings.has(spec.image)) {
        const cached = await this.ensureImage(spec.image);
        backings.set(spec.image, { path: cached.path, format: spec.image.format as Backing['format'], virtualSizeBytes: cached.virtualSizeBytes });
      }
    }
    const disks: DesiredDisk[] = specs.map((spec) => ({
      name: spec.name,
      file: spec.file,
      ...(spec.sizeBytes !== undefined ? { sizeBytes: spec.sizeBytes } : {}),
      ...(spec.image ? { backing: backings.get(spec.image)! } : {}),
    }));
    return this.queue.run(vmUid, async () => {
      const entries = await readdirOrEmpty(dir);
      const observed = new Map<string, ObservedDisk>();
      for (const disk of disks) {
        if (!entries.includes(disk.file)) continue;
        const info = await this.qemuImg.info(path.join(dir, disk.file), 'qcow2');
        observed.set(disk.file, {
          file: disk.file,
          virtualSizeBytes: info.virtualSizeBytes,
          ...(info.backingFile !== undefined ? { backingFile: info.backingFile } : {}),
          ...(info.backingFormat !== undefined ? { backingFormat: info.backingFormat } : {}),
        });
      }
      const actions = planVmDisks(disks, entries, observed); // throws before anything changes
      if (actions.length > 0) await mkdirOrUnavailable(dir);
      for (const action of actions) await this.apply(dir, action);
      if (actions.length > 0) await syncDirectory(dir);
      const result = (disk: DesiredDisk): VmDisk => {
        const created = actions.find((action) => action.op !== 'remove' && action.file === disk.file);
        const sizeBytes = created?.op === 'create' ? created.sizeBytes : created?.op === 'resize' ? created.toBytes : observed.get(disk.file)!.virtualSizeBytes;
        return { name: disk.name, path: path.join(dir, disk.file), format: 'qcow2', sizeBytes, ...(disk.backing ? { backingFile: disk.backing.path } : {}) };
      };
      const boot = disks.find((disk) => disk.file === BOOT_FILE);
      return { dir, ...(boot ? { boot: result(boot) } : {}), data: disks.filter((disk) => disk.file !== BOOT_FILE).map(result), actions };
    });
  }

  private async apply(dir: string, action: DiskAction): Promise<void> {
    const file = path.join(dir, action.file);
    try {
      if (action.op === 'create') {
        // Created complete under a temporary name, then renamed: a disk under its real name is always whole.
        const temporary = path.join(dir, `.${action.file}.${randomBytes(6).toString('hex')}.tmp`);
        try {
          await this.qemuImg.create(temporary, action.sizeBytes, action.backing);
          await fsyncFile(temporary);
          await fs.rename(temporary, file);
        } catch (error) {
          await fs.rm(temporary, { force: true });
          throw error;
        }
      } else if (action.op === 'resize') {
        // In place (copying a disk to grow it would cost its whole size); qemu-img updates the header last,
        // and the next call re-reads virtual-size, so an interrupted resize is simply done again.
        await this.qemuImg.resize(file, action.toBytes);
      } else {
        await fs.rm(file, { force: true });
      }
    } catch (error) {
      throw asDriverError(error);
    }
  }

  async removeVmDisks(vmUid: string): Promise<boolean> {
    const dir = this.vmDir(vmUid);
    return this.queue.run(vmUid, async () => {
      if (!(await exists(dir))) return false;
      await fs.rm(dir, { recursive: true, force: true }).catch((error: Error) => {
        throw new DisksUnavailable(`removing ${dir}: ${error.message}`);
      });
      return true;
    });
  }

  async listVmUids(): Promise<string[]> {
    const uids: string[] = [];
    for (const entry of await fs.readdir(this.vmsDir, { withFileTypes: true }).catch(ignoreMissing([]))) {
      if (entry.isDirectory() && validUid(entry.name)) uids.push(entry.name);
    }
    return uids.sort();
  }

}

interface DiskRequest {
  name: string;
  file: string;
  sizeBytes?: number;
  image?: ImageSpec;
}

function checkImage(image: ImageSpec): void {
  if (!image || typeof image !== 'object') throw new DiskSpecInvalid('image must be an object with source, sha256 and format');
  if (typeof image.sha256 !== 'string' || !SHA256.test(image.sha256)) throw new DiskSpecInvalid(`image sha256 ${JSON.stringify(image.sha256)} must be 64 lower-case hex digits`);
  if (!IMAGE_FORMATS.includes(image.format)) throw new DiskSpecInvalid(`image format ${JSON.stringify(image.format)} must be one of ${IMAGE_FORMATS.join(', ')}`);
  if (typeof image.source !== 'string') throw new DiskSpecInvalid('image source must be a URL');
  parseSource(image.source);
}

function checkSize(what: string, size: Size | undefined): number | undefined {
  if (size === undefined) return undefined;
  const bytes = parseByteQuantity(size);
  if (bytes === undefined || bytes === 0) throw new DiskSpecInvalid(`${what} size ${JSON.stringify(size)} is not a positive byte quantity (e.g. 20Gi)`);
  return bytes;
}

function checkDiskImage(what: string, image: ImageSpec): ImageSpec {
  checkImage(image);
  if (image.format !== 'qcow2' && image.format !== 'raw') throw new DiskSpecInvalid(`${what} image has format ${image.format}; disks are made from qcow2 or raw images`);
  return image;
}

/** The desired disks as requests with parsed sizes; throws DiskSpecInvalid on anything malformed. */
export function checkDesired(desired: DesiredVmDisks): DiskRequest[] {
  if (!desired || typeof desired !== 'object' || !Array.isArray(desired.data)) throw new DiskSpecInvalid('desired disks must be { boot?, data: [] }');
  const requests: DiskRequest[] = [];
  if (desired.boot !== undefined) {
    const sizeBytes = checkSize('boot disk', desired.boot.size);
    requests.push({ name: 'boot', file: BOOT_FILE, image: checkDiskImage('boot disk', desired.boot.image), ...(sizeBytes !== undefined ? { sizeBytes } : {}) });
  }
  const names = new Set<string>();
  for (const disk of desired.data) {
    if (typeof disk?.name !== 'string' || disk.name.length > 63 || !DISK_NAME.test(disk.name)) throw new DiskSpecInvalid(`data disk name ${JSON.stringify(disk?.name)} must be a DNS label`);
    if (names.has(disk.name)) throw new DiskSpecInvalid(`data disk name ${disk.name} appears twice`);
    names.add(disk.name);
    const sizeBytes = checkSize(`disk ${disk.name}`, disk.size);
    if (sizeBytes === undefined && disk.image === undefined) throw new DiskSpecInvalid(`data disk ${disk.name} needs a size or an image`);
    requests.push({
      name: disk.name,
      file: dataDiskFile(disk.name),
      ...(sizeBytes !== undefined ? { sizeBytes } : {}),
      ...(disk.image !== undefined ? { image: checkDiskImage(`disk ${disk.name}`, disk.image) } : {}),
    });
  }
  return requests;
}

function asDriverError(error: unknown): DiskDriverError {
  if (error instanceof DiskDriverError) return error;
  return new DisksUnavailable((error as Error)?.message ?? String(error));
}

function ignoreMissing<T>(fallback: T) {
  return (error: NodeJS.ErrnoException): T => {
    if (error.code === 'ENOENT') return fallback;
    throw new DisksUnavailable(error.message);
  };
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(ignoreMissing<string[]>([]));
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

async function isFile(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    (stat) => stat.isFile(),
    () => false,
  );
}

async function mkdirOrUnavailable(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: Error) => {
    throw new DisksUnavailable(`creating ${dir}: ${error.message}`);
  });
}
