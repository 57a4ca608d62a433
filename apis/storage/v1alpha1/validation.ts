// What makes a StorageClass or Volume spec wrong whatever else exists, and the few rules that need the class
// (which Volume admission reads). Shared by admission (422 naming the field) and the controllers (a Failed
// Volume for objects stored before a rule existed). Hand-written, beside the generated types.
import { parseByteQuantity } from '../../meta/quantity.ts';
import type { StorageClass, StorageClassSpec } from './storageclass.ts';
import type { VolumeSpec } from './volume.ts';

export interface SpecProblem {
  field: string;
  value: unknown;
  message: string;
}

/** Volumes are whole MiB: RBD and qcow2 take any multiple of 512, but a round size is what users read back. */
export const VOLUME_GRANULE = 1024 * 1024;
/** The largest Volume: 256 TiB (far beyond one OSD, well inside what a size field can say exactly). */
export const MAX_VOLUME_BYTES = 256 * 1024 ** 4;

/** A Volume's size in bytes, rounded up to whole MiB; undefined when it is not a size. */
export function volumeBytes(size: string | undefined): number | undefined {
  const bytes = parseByteQuantity(size);
  return bytes === undefined ? undefined : Math.ceil(bytes / VOLUME_GRANULE) * VOLUME_GRANULE;
}

/** Bytes as the shortest exact binary quantity: 1073741824 → 1Gi, 1572864 → 1536Ki. */
export function formatBytes(bytes: number): string {
  for (const [suffix, unit] of [['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** The Ceph pool a ceph-rbd class keeps its images in. */
export const poolOf = (storageClass: StorageClass): string => storageClass.spec.ceph?.pool ?? `photon-${storageClass.metadata.name}`;

export function storageClassSpecProblems(spec: StorageClassSpec | undefined): SpecProblem[] {
  if (!spec) return [];
  if (spec.backend === 'ceph-rbd' && !spec.ceph) return [{ field: 'spec.ceph', value: null, message: 'required when backend is ceph-rbd (the pool and replication of its Volumes)' }];
  if (spec.backend !== 'ceph-rbd' && spec.ceph) return [{ field: 'spec.ceph', value: spec.ceph, message: `only goes with backend ceph-rbd (this class is ${spec.backend})` }];
  return [];
}

/**
 * Problems of a Volume spec alone and against the one it replaces (old), with its class when known: the size
 * must parse, be positive and bounded, never shrink, and grow only when the class allows it.
 */
export function volumeSpecProblems(spec: VolumeSpec | undefined, old?: VolumeSpec, storageClass?: StorageClass): SpecProblem[] {
  const problems: SpecProblem[] = [];
  if (!spec) return problems;
  const bytes = volumeBytes(spec.size);
  // A well-formed size past 2^53 bytes (10Pi, the CRD's pattern takes it) does not parse at all: it is too big, and
  // telling the user it "must be a positive size" was wrong.
  const wellFormed = typeof spec.size === 'string' && /^0*[1-9][0-9]*(\.[0-9]{1,30})?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.test(spec.size);
  if (bytes === undefined && wellFormed) problems.push({ field: 'spec.size', value: spec.size, message: `must be at most ${formatBytes(MAX_VOLUME_BYTES)}` });
  else if (bytes === undefined || bytes === 0) problems.push({ field: 'spec.size', value: spec.size, message: 'must be a positive size, e.g. 10Gi' });
  else if (bytes > MAX_VOLUME_BYTES) problems.push({ field: 'spec.size', value: spec.size, message: `must be at most ${formatBytes(MAX_VOLUME_BYTES)}` });
  if (spec.source?.imageRef && spec.source.snapshotRef) problems.push({ field: 'spec.source', value: spec.source, message: 'give at most one of imageRef and snapshotRef' });
  const oldBytes = volumeBytes(old?.size);
  if (bytes !== undefined && oldBytes !== undefined && bytes !== oldBytes) {
    if (bytes < oldBytes) problems.push({ field: 'spec.size', value: spec.size, message: `a Volume grows but never shrinks (it is ${old!.size}): copy its data into a smaller Volume instead` });
    else if (storageClass?.spec.allowVolumeExpansion === false) problems.push({ field: 'spec.size', value: spec.size, message: `StorageClass ${storageClass.metadata.name} does not allow Volumes to grow (allowVolumeExpansion is false)` });
  }
  if (old?.flatten && !spec.flatten) problems.push({ field: 'spec.flatten', value: spec.flatten ?? false, message: 'a flattened Volume stays flattened' });
  // A local Volume is a qcow2 file on one node, made blank or copied from a snapshot of another local Volume there.
  if (storageClass?.spec.backend === 'local' && spec.source?.imageRef && !old) {
    problems.push({ field: 'spec.source.imageRef', value: spec.source.imageRef, message: `StorageClass ${storageClass.metadata.name} is local: its Volumes are made blank or from a VolumeSnapshot; use a ceph-rbd class to make a Volume from an Image` });
  }
  return problems;
}

/** The class Volumes without storageClassName get: the oldest marked default (then by name), as Kubernetes picks. */
export function defaultStorageClass(classes: readonly StorageClass[]): StorageClass | undefined {
  return classes
    .filter((storageClass) => storageClass.spec.default && !storageClass.metadata.deletionTimestamp)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name!.localeCompare(b.metadata.name!))[0];
}
