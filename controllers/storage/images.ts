// Volumes made from an Image on Ceph, as OpenStack keeps Glance images in RBD: each Image is imported once per
// pool into a "golden" RBD image `img-<image uid>` with a protected snapshot `base`, and every Volume made from
// it is a copy-on-write clone of that snapshot (instant, sharing the image's blocks until written). The file is
// fetched and verified by its sha256 through the disks driver's cache (agents/disks: bounded downloads, http(s)
// or file://), converted to raw blocks by qemu-img straight into Ceph, then snapshotted. A pass killed mid-import
// leaves a golden image without its snapshot: the next one removes it and imports again. Imports of one golden
// image are serialised within the manager (leader election keeps it to one manager).
import { pathToFileURL } from 'node:url';
import type { BlockStorageDriver } from '../../agents/ceph/index.ts';
import type { DiskDriver, ImageSpec } from '../../agents/disks/index.ts';
import type { Image } from '../../apis/compute/v1alpha1/index.ts';
import { KeyedQueue } from '../../lib/keyed-queue.ts';
import { goldenNameOf } from './names.ts';

export const GOLDEN_SNAPSHOT = 'base';


/** An Image that can never become a Volume as specified (wrong format, no checksum, no source). */
export class ImageUnusableError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface GoldenImage {
  pool: string;
  image: string;
  snapshot: string;
  /** The Image's virtual size: the smallest Volume made from it. */
  sizeBytes: number;
}

export class GoldenImages {
  private readonly queue = new KeyedQueue();

  constructor(
    private readonly rbd: BlockStorageDriver,
    /** Where Images are fetched and verified before import; undefined: Volumes from Images cannot be made. */
    private readonly cache: DiskDriver | undefined,
  ) {}

  /** The protected snapshot Volumes from this Image clone, importing the Image into the pool first if needed. */
  ensure(pool: string, image: Image): Promise<GoldenImage> {
    const name = goldenNameOf(image);
    return this.queue.run(`${pool}/${name}`, async () => {
      const base = (await this.rbd.snapshots(pool, name)).find((snapshot) => snapshot.name === GOLDEN_SNAPSHOT);
      if (base) return { pool, image: name, snapshot: GOLDEN_SNAPSHOT, sizeBytes: base.sizeBytes };
      const spec = imageSpecOf(image);
      if (!this.cache) throw new ImageUnusableError('ImageCacheUnconfigured', 'the controller manager has no image cache directory (--image-cache-dir) to fetch Images into');
      const cached = await this.cache.ensureImage(spec);
      // A golden image without its snapshot is a crashed import: made again from the start.
      await this.rbd.removeImage(pool, name);
      await this.rbd.importImage(pool, name, { path: cached.path, format: spec.format as 'qcow2' | 'raw' }, Math.ceil(cached.virtualSizeBytes / 512) * 512);
      const taken = await this.rbd.createSnapshot(pool, name, GOLDEN_SNAPSHOT);
      return { pool, image: name, snapshot: GOLDEN_SNAPSHOT, sizeBytes: taken.sizeBytes };
    });
  }
}

function imageSpecOf(image: Image): ImageSpec {
  const name = image.metadata.name;
  if (image.spec.format !== 'qcow2' && image.spec.format !== 'raw') throw new ImageUnusableError('ImageFormatMismatch', `Image ${name} is ${image.spec.format}: a Volume needs a qcow2 or raw disk image`);
  if (!image.spec.sha256) throw new ImageUnusableError('ImageChecksumRequired', `Image ${name} has no spec.sha256`);
  const source = image.spec.source.url ?? (image.spec.source.path ? pathToFileURL(image.spec.source.path).href : undefined);
  if (!source) throw new ImageUnusableError('ImageSourceMissing', `Image ${name} has neither source.url nor source.path`);
  return { source, sha256: image.spec.sha256, format: image.spec.format };
}
