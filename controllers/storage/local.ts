// Local Volumes (StorageClass backend `local`) as the controllers see them: a qcow2 file on one node, which that
// node's agent makes, grows, snapshots and removes (agents/node/local-volumes.ts), reporting in status.local.
// The controllers decide where (binding) and turn the agent's report into conditions:
//   - binding, as Kubernetes' WaitForFirstConsumer: a blank Volume waits until a VM that holds it is scheduled,
//     then lives on that VM's node for good; a Volume restored from a snapshot lives where the snapshot is;
//   - the scheduler then places every VM naming it on that node (controllers/compute/scheduler.ts);
//   - deletion waits for the agent to remove the file, unless the node itself is gone (and the file with it).
// Pure functions over the objects: volume.ts and volumesnapshot.ts call them from their one reconcile shape.
import { formatBytes } from '../../apis/storage/v1alpha1/validation.ts';
import type { VolumeBackend, VolumeSnapshotStatus, VolumeStatus } from '../../apis/storage/v1alpha1/index.ts';
import { notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import type { VolumeObject, VolumeSnapshotObject } from './informers.ts';
import { localFileOf, parseLocalSnapshotHandle, REMOVING_FROM_NODE } from '../../apis/storage/v1alpha1/names.ts';

export { localFileOf, localSnapshotHandleOf, parseLocalSnapshotHandle } from '../../apis/storage/v1alpha1/names.ts';

type Waiting = { waiting: { reason: string; message: string } };

/**
 * Where a local Volume goes, or what it waits for: the node of the VM holding it (blank), or of the local
 * snapshot it is restored from.
 */
export function localBinding(volume: VolumeObject, holderNode: string | undefined, snapshot: VolumeSnapshotObject | undefined): VolumeBackend | Waiting {
  const file = localFileOf(volume);
  const snapshotRef = volume.spec.source?.snapshotRef;
  if (snapshotRef) {
    if (!snapshot) return { waiting: { reason: 'SnapshotNotFound', message: `VolumeSnapshot ${snapshotRef} does not exist` } };
    if (snapshot.metadata.deletionTimestamp) return { waiting: { reason: 'SnapshotDeleting', message: `VolumeSnapshot ${snapshotRef} is being deleted` } };
    const handle = parseLocalSnapshotHandle(snapshot.status?.snapshotHandle);
    if (!handle || !snapshot.status?.node) {
      if (snapshot.status?.snapshotHandle) return { waiting: { reason: 'Unsupported', message: `VolumeSnapshot ${snapshotRef} is of a ceph-rbd Volume: restore it into a ceph-rbd class` } };
      return { waiting: { reason: 'SnapshotNotReady', message: `VolumeSnapshot ${snapshotRef} is not ready to use yet` } };
    }
    if (!snapshot.status.readyToUse) return { waiting: { reason: 'SnapshotNotReady', message: `VolumeSnapshot ${snapshotRef} is not ready to use yet` } };
    return { type: 'local', node: snapshot.status.node, image: file, restoreFrom: { image: handle.file, snapshot: handle.snapshot } };
  }
  if (!holderNode) return { waiting: { reason: 'WaitingForFirstConsumer', message: 'a local Volume is made on the node of the first VirtualMachine that attaches it' } };
  return { type: 'local', node: holderNode, image: file };
}

/** The Volume's readiness from its agent's report on the file. */
export function localVolumeOutcome(volume: VolumeObject, base: VolumeStatus, backend: VolumeBackend): Outcome {
  const report = volume.status?.local;
  const where = `qcow2 file ${backend.image} on node ${backend.node}`;
  if (report?.lost) return { readiness: notReady('ImageLost', report.message ?? `${where} is gone: its data is lost; delete this Volume`), status: { ...base, backend, phase: 'Failed' } };
  if (!report?.made || report.sizeBytes === undefined) {
    const why = report?.message ? `: ${report.message}` : '';
    return { readiness: notReady('Provisioning', `waiting for node ${backend.node}'s agent to make the ${where}${why}`), status: { ...base, backend, phase: 'Pending' } };
  }
  const growing = report.message ? ` (${report.message})` : '';
  return {
    readiness: ready('Provisioned', `${where} of ${formatBytes(report.sizeBytes)}${growing}`),
    status: { ...base, backend, capacity: formatBytes(report.sizeBytes), capacityBytes: report.sizeBytes, phase: base.attachedTo ? 'InUse' : 'Available' },
  };
}

/**
 * Whether deletion may finish: the agent removed the file, or the node (and the file with it) is gone. Called
 * once nothing holds the Volume: the DeletionBlocked reason RemovingFromNode is the agent's go-ahead.
 */
export function localVolumeRemoved(volume: VolumeObject, nodeExists: (name: string) => boolean): true | Outcome {
  const node = volume.status?.backend?.node;
  if (!node || volume.status?.local?.removed || !nodeExists(node)) return true;
  const message = `waiting for node ${node}'s agent to remove ${volume.status?.backend?.image} (a node that is gone for good: delete its Node)`;
  return { readiness: notReady('Deleting', message), status: { phase: 'Deleting', attachedTo: undefined }, conditions: [{ type: 'DeletionBlocked', status: 'True', reason: REMOVING_FROM_NODE, message }], requeueAfterMs: 30_000 };
}

/** A local snapshot's readiness from its agent's report. */
export function localSnapshotOutcome(snapshot: VolumeSnapshotObject, status: VolumeSnapshotStatus): Outcome {
  const report = snapshot.status?.local;
  if (report?.taken && report.sizeBytes !== undefined) {
    return {
      readiness: ready('Taken', `qcow2 internal snapshot ${status.snapshotHandle} on node ${status.node} of ${formatBytes(report.sizeBytes)}`),
      status: { ...status, readyToUse: true, creationTime: report.createdAt, restoreSize: formatBytes(report.sizeBytes), restoreSizeBytes: report.sizeBytes },
    };
  }
  if (snapshot.status?.readyToUse) {
    return { readiness: notReady('SnapshotLost', report?.message ?? `internal snapshot ${status.snapshotHandle} is gone; delete this VolumeSnapshot and take a new one`), status: { ...status, readyToUse: false } };
  }
  const why = report?.message ? `: ${report.message}` : '';
  return { readiness: notReady('Snapshotting', `waiting for node ${status.node}'s agent to take ${status.snapshotHandle}${why}`), status: { ...status, readyToUse: false } };
}

/**
 * Whether a local snapshot's deletion may finish: not while a Volume restored from it is still being copied
 * (restoring: their names); then once its agent removed it (RemovingFromNode is the go-ahead), or its node is gone.
 */
export function localSnapshotRemoved(snapshot: VolumeSnapshotObject, restoring: readonly string[], nodeExists: (name: string) => boolean): true | Outcome {
  const node = snapshot.status?.node;
  if (!node || snapshot.status?.local?.removed || !snapshot.status?.snapshotHandle || !nodeExists(node)) return true;
  const blocked = (reason: string, message: string): Outcome => ({ readiness: notReady('Deleting', message), status: {}, conditions: [{ type: 'DeletionBlocked', status: 'True', reason, message }], requeueAfterMs: 30_000 });
  if (restoring.length > 0) return blocked('RestoreInProgress', `Volumes are being copied from it: ${restoring.join(', ')}`);
  return blocked(REMOVING_FROM_NODE, `waiting for node ${node}'s agent to remove ${snapshot.status.snapshotHandle}`);
}

/** Volumes (names) being restored from a local snapshot whose copy is not made yet. */
export function restoringFrom(snapshot: VolumeSnapshotObject, volumes: readonly VolumeObject[]): string[] {
  return volumes
    .filter((volume) => volume.spec.source?.snapshotRef === snapshot.metadata.name && volume.status?.backend?.restoreFrom && !volume.status.local?.made && !volume.status.local?.removed)
    .map((volume) => volume.metadata.name!)
    .sort();
}
