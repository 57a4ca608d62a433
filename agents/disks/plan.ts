// What a VM's disk directory should contain, as plain data, and the pure diff from what qemu-img observed
// there to the actions that make it so. No I/O here: the driver observes, calls planVmDisks, and applies.
// Everything that makes the desired state impossible (a shrink, an overlay of another image) throws before
// any action exists, so a refused spec changes nothing on disk.
import { DiskBackingMismatch, DiskShrinkRefused } from './errors.ts';

/** qcow2 virtual sizes are whole 512-byte sectors; qemu-img rounds up, so desired sizes are compared rounded. */
export const SECTOR = 512;
export const roundToSector = (bytes: number): number => Math.ceil(bytes / SECTOR) * SECTOR;

export const BOOT_FILE = 'boot.qcow2';
export const dataDiskFile = (name: string): string => `disk-${name}.qcow2`;
/** Files this driver writes in a VM directory; anything else there is left alone. */
const OWNED_FILE = /^(boot\.qcow2|disk-[a-z0-9]([-a-z0-9]*[a-z0-9])?\.qcow2)$/;
/** Temporary files of a create that did not reach its rename (the driver was killed). */
export const TEMP_FILE = /^\..+\.tmp$/;

export interface Backing {
  /** Absolute path of the cached image, as recorded in the overlay. */
  path: string;
  format: 'qcow2' | 'raw';
  virtualSizeBytes: number;
}

export interface DesiredDisk {
  /** 'boot' or the data disk's name, for messages and results. */
  name: string;
  file: string;
  /** Undefined: the backing image's virtual size (an overlay only). */
  sizeBytes?: number;
  backing?: Backing;
}

export interface ObservedDisk {
  file: string;
  virtualSizeBytes: number;
  backingFile?: string;
  backingFormat?: string;
}

export type DiskAction =
  | { op: 'create'; name: string; file: string; sizeBytes: number; backing?: Backing }
  | { op: 'resize'; name: string; file: string; fromBytes: number; toBytes: number }
  | { op: 'remove'; file: string };

/** The size a desired disk must have at least, rounded to sectors; throws when it is below its image. */
export function targetSize(disk: DesiredDisk): number {
  if (disk.sizeBytes === undefined) {
    if (!disk.backing) throw new Error(`disk ${disk.name}: a blank disk needs a size`);
    return roundToSector(disk.backing.virtualSizeBytes);
  }
  const size = roundToSector(disk.sizeBytes);
  if (disk.backing && size < disk.backing.virtualSizeBytes) {
    throw new DiskShrinkRefused(disk.name, disk.backing.virtualSizeBytes, disk.sizeBytes, 'an overlay cannot be smaller than its image');
  }
  return size;
}

/**
 * Actions turning `entries` (file names in the VM directory; `observed` for the disk files among them) into
 * `desired`: create the missing, grow the too small, remove owned disks no longer desired and leftover
 * temporaries. Throws DiskShrinkRefused / DiskBackingMismatch and returns nothing in that case.
 */
export function planVmDisks(desired: readonly DesiredDisk[], entries: readonly string[], observed: ReadonlyMap<string, ObservedDisk>): DiskAction[] {
  const actions: DiskAction[] = [];
  const wanted = new Set(desired.map((disk) => disk.file));
  for (const disk of desired) {
    const size = targetSize(disk);
    const present = observed.get(disk.file);
    if (!present) {
      actions.push({ op: 'create', name: disk.name, file: disk.file, sizeBytes: size, ...(disk.backing ? { backing: disk.backing } : {}) });
      continue;
    }
    const wantBacking = disk.backing?.path;
    if (present.backingFile !== wantBacking || (disk.backing && present.backingFormat !== undefined && present.backingFormat !== disk.backing.format)) {
      throw new DiskBackingMismatch(
        `disk ${disk.name}: ${present.backingFile ? `is an overlay of ${present.backingFile}` : 'is blank'}, ` +
          `${wantBacking ? `desired an overlay of ${wantBacking}` : 'desired blank'}; left as it is because it holds guest data`,
      );
    }
    if (present.virtualSizeBytes > size) throw new DiskShrinkRefused(disk.name, present.virtualSizeBytes, disk.sizeBytes ?? size);
    if (present.virtualSizeBytes < size) actions.push({ op: 'resize', name: disk.name, file: disk.file, fromBytes: present.virtualSizeBytes, toBytes: size });
  }
  for (const entry of [...entries].sort()) {
    if ((OWNED_FILE.test(entry) && !wanted.has(entry)) || TEMP_FILE.test(entry)) actions.push({ op: 'remove', file: entry });
  }
  return actions;
}
