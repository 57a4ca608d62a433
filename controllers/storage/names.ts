// Names of what Volumes and snapshots own in Ceph: derived from UIDs (never reused, unlike names), so a Volume
// deleted and made again with the same name never meets its predecessor's image, and an operator reading
// `rbd ls` finds the owner by `rbd image-meta get <image> photoncloud.io/volume`.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { VolumeObject, VolumeSnapshotObject } from './informers.ts';

const compact = (uid: string) => uid.replace(/-/g, '');

/** A Volume's RBD image. */
export const imageNameOf = (volume: KubeObject): string => `vol-${compact(volume.metadata.uid!)}`;
/** An Image's golden RBD image (images.ts), one per pool. */
export const goldenNameOf = (image: KubeObject): string => `img-${compact(image.metadata.uid!)}`;
export const snapshotNameOf = (snapshot: VolumeSnapshotObject): string => `snap-${compact(snapshot.metadata.uid!)}`;

/** The Volume (among these) whose image is `pool/name` or `name`. */
export function volumeOfImage<T extends KubeObject>(image: string, volumes: readonly T[]): T | undefined {
  const name = image.slice(image.lastIndexOf('/') + 1);
  return volumes.find((volume) => imageNameOf(volume) === name);
}

/** Metadata written on every image: who it belongs to, for operators reading Ceph directly. */
export const imageMetadataOf = (volume: VolumeObject): Record<string, string> => ({ 'photoncloud.io/volume': `${volume.metadata.namespace}/${volume.metadata.name}` });
