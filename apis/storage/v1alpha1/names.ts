// Names of what storage objects own outside the API, shared by the controllers and the node agents: derived
// from UIDs (never reused, unlike names), so an object deleted and made again under the same name never meets
// what its predecessor left (an RBD image, a qcow2 file, a retained bucket). Hand-written, beside generated types.
import type { KubeObject } from '../../meta/types.ts';

/** The object's UID without dashes (32 hex digits). */
export const compactUidOf = (object: KubeObject): string => object.metadata.uid!.replace(/-/g, '');

/** A Volume's RBD image, and the base of its qcow2 file on a local class. */
export const volumeImageNameOf = (volume: KubeObject): string => `vol-${compactUidOf(volume)}`;
/** A VolumeSnapshot's RBD snapshot, or its qcow2 internal snapshot on a local class. */
export const snapshotNameOf = (snapshot: KubeObject): string => `snap-${compactUidOf(snapshot)}`;

/** A local Volume's qcow2 file name in its node's volumes directory. */
export const localFileOf = (volume: KubeObject): string => `${volumeImageNameOf(volume)}.qcow2`;
/** `vol-<uid>.qcow2@snap-<uid>`: a local snapshot's handle (no slash, so never read as an RBD pool/image@snap). */
export const localSnapshotHandleOf = (file: string, snapshot: KubeObject): string => `${file}@${snapshotNameOf(snapshot)}`;

export function parseLocalSnapshotHandle(handle: string | undefined): { file: string; snapshot: string } | undefined {
  const match = /^(vol-[a-z0-9]{1,64}\.qcow2)@(snap-[a-z0-9]{1,64})$/.exec(handle ?? '');
  return match ? { file: match[1], snapshot: match[2] } : undefined;
}

/**
 * The DeletionBlocked reason with which the controllers hand a deleted local Volume or snapshot to its node's
 * agent: nothing holds it any more (no VM, no snapshot, no restore reading it), the agent may remove it now.
 */
export const REMOVING_FROM_NODE = 'RemovingFromNode';
