// Names shared by the controllers and the node agents for local Volumes (StorageClass backend `local`): the
// qcow2 file a Volume lives in on its node, and the handle of a qcow2 internal snapshot of it. Derived from UIDs
// (never reused), like the RBD names in controllers/storage/names.ts.
import type { KubeObject } from '../../meta/types.ts';

const compact = (uid: string) => uid.replace(/-/g, '');

/** A local Volume's qcow2 file name in its node's volumes directory. */
export const localFileOf = (volume: KubeObject): string => `vol-${compact(volume.metadata.uid!)}.qcow2`;
/** A local snapshot's name inside the file. */
export const localSnapshotNameOf = (snapshot: KubeObject): string => `snap-${compact(snapshot.metadata.uid!)}`;
/** `vol-<uid>.qcow2@snap-<uid>`: a local snapshot's handle (no slash, so never read as an RBD pool/image@snap). */
export const localSnapshotHandleOf = (file: string, snapshot: KubeObject): string => `${file}@${localSnapshotNameOf(snapshot)}`;

export function parseLocalSnapshotHandle(handle: string | undefined): { file: string; snapshot: string } | undefined {
  const match = /^(vol-[a-z0-9]{1,64}\.qcow2)@(snap-[a-z0-9]{1,64})$/.exec(handle ?? '');
  return match ? { file: match[1], snapshot: match[2] } : undefined;
}

/**
 * The DeletionBlocked reason with which the controllers hand a deleted local Volume or snapshot to its node's
 * agent: nothing holds it any more (no VM, no snapshot, no restore reading it), the agent may remove it now.
 */
export const REMOVING_FROM_NODE = 'RemovingFromNode';
