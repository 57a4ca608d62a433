// Names of what Volumes, Images and snapshots own in Ceph, derived from UIDs (the derivation shared with the node
// agents is in apis/storage/v1alpha1/names.ts), and the metadata by which an operator reading `rbd ls` finds the
// owner (`rbd image-meta get <image> photoncloud.io/volume`).
import type { KubeObject } from '../../apis/meta/types.ts';
import { compactUidOf, snapshotNameOf, volumeImageNameOf } from '../../apis/storage/v1alpha1/names.ts';
import type { VolumeObject } from './informers.ts';

/** A Volume's RBD image. */
export const imageNameOf = volumeImageNameOf;
/** An Image's golden RBD image (images.ts), one per pool. */
export const goldenNameOf = (image: KubeObject): string => `img-${compactUidOf(image)}`;
export { snapshotNameOf };

/** The Volume (among these) whose image is `pool/name` or `name`. */
export function volumeOfImage<T extends KubeObject>(image: string, volumes: readonly T[]): T | undefined {
  const name = image.slice(image.lastIndexOf('/') + 1);
  return volumes.find((volume) => imageNameOf(volume) === name);
}

/** Metadata written on every image: who it belongs to, for operators reading Ceph directly. */
export const imageMetadataOf = (volume: VolumeObject): Record<string, string> => ({ 'photoncloud.io/volume': `${volume.metadata.namespace}/${volume.metadata.name}` });
