import { describe, expect, it } from '@jest/globals';
import type { VolumeSnapshotStatus, VolumeStatus } from '../../apis/storage/v1alpha1/index.ts';
import type { VolumeObject, VolumeSnapshotObject } from './informers.ts';
import { localBinding, localSnapshotOutcome, localSnapshotRemoved, localVolumeOutcome, localVolumeRemoved, parseLocalSnapshotHandle, restoringFrom } from './local.ts';

const UID = '0e8b6e17-b1ba-4dfe-8d0d-a401b6214300';
const FILE = 'vol-0e8b6e17b1ba4dfe8d0da401b6214300.qcow2';
const volume = (status: VolumeStatus = {}, spec: Partial<VolumeObject['spec']> = {}, name = 'data'): VolumeObject => ({
  apiVersion: 'storage.photoncloud.io/v1alpha1',
  kind: 'Volume',
  metadata: { name, namespace: 'acme', uid: UID },
  spec: { size: '32Mi', storageClassName: 'node-local', ...spec },
  status,
});
const snapshot = (status: VolumeSnapshotStatus = {}, deleting = false): VolumeSnapshotObject => ({
  apiVersion: 'storage.photoncloud.io/v1alpha1',
  kind: 'VolumeSnapshot',
  metadata: { name: 'snap', namespace: 'acme', uid: 'befb303e-9037-4048-ab44-6b0b8240800d', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { volumeRef: 'data' },
  status,
});
const HANDLE = `${FILE}@snap-befb303e90374048ab446b0b8240800d`;

describe('localBinding', () => {
  it('a blank Volume waits for its first consumer, then goes to that VM\'s node', () => {
    expect(localBinding(volume(), undefined, undefined)).toEqual({ waiting: { reason: 'WaitingForFirstConsumer', message: expect.stringContaining('first VirtualMachine') } });
    expect(localBinding(volume(), 'hv-2', undefined)).toEqual({ type: 'local', node: 'hv-2', image: FILE });
  });

  it('a restored Volume goes to its snapshot\'s node, whatever VM holds it, once the snapshot is ready', () => {
    const restored = volume({}, { source: { snapshotRef: 'snap' } });
    expect(localBinding(restored, 'hv-1', undefined)).toMatchObject({ waiting: { reason: 'SnapshotNotFound' } });
    expect(localBinding(restored, 'hv-1', snapshot())).toMatchObject({ waiting: { reason: 'SnapshotNotReady' } });
    expect(localBinding(restored, 'hv-1', snapshot({ node: 'hv-2', snapshotHandle: HANDLE, readyToUse: false }))).toMatchObject({ waiting: { reason: 'SnapshotNotReady' } });
    expect(localBinding(restored, 'hv-1', snapshot({ node: 'hv-2', snapshotHandle: HANDLE, readyToUse: true }, true))).toMatchObject({ waiting: { reason: 'SnapshotDeleting' } });
    expect(localBinding(restored, 'hv-1', snapshot({ node: 'hv-2', snapshotHandle: HANDLE, readyToUse: true }))).toEqual({
      type: 'local',
      node: 'hv-2',
      image: FILE,
      restoreFrom: { image: FILE, snapshot: 'snap-befb303e90374048ab446b0b8240800d' },
    });
    // A Ceph snapshot cannot be restored into a local class.
    expect(localBinding(restored, 'hv-1', snapshot({ snapshotHandle: 'photon-fast/vol-1@snap-1', readyToUse: true }))).toMatchObject({ waiting: { reason: 'Unsupported' } });
  });
});

describe('localVolumeOutcome', () => {
  const backend = { type: 'local' as const, node: 'hv-1', image: FILE };
  it('Provisioning until the agent made the file; then Ready with the size it reports', () => {
    expect(localVolumeOutcome(volume(), {}, backend)).toMatchObject({ readiness: { ready: false, reason: 'Provisioning' }, status: { phase: 'Pending', backend } });
    expect(localVolumeOutcome(volume({ local: { message: 'disk full' } }), {}, backend).readiness.message).toMatch(/node hv-1's agent .*: disk full$/);
    const made = localVolumeOutcome(volume({ local: { made: true, sizeBytes: 32 * 2 ** 20 } }), { attachedTo: { virtualMachine: 'vm', uid: 'u', node: 'hv-1' } }, backend);
    expect(made).toMatchObject({ readiness: { ready: true, reason: 'Provisioned' }, status: { phase: 'InUse', capacity: '32Mi', capacityBytes: 32 * 2 ** 20 } });
  });

  it('a file made and gone is ImageLost, Failed', () => {
    expect(localVolumeOutcome(volume({ local: { made: true, lost: true, message: 'gone' } }), {}, backend)).toMatchObject({ readiness: { ready: false, reason: 'ImageLost', message: 'gone' }, status: { phase: 'Failed' } });
  });
});

describe('deletion hand-over', () => {
  const nodes = new Set(['hv-1']);
  const exists = (name: string) => nodes.has(name);
  it('a Volume waits for its agent to remove the file (RemovingFromNode), unless the node is gone or it was never bound', () => {
    const bound = volume({ backend: { type: 'local', node: 'hv-1', image: FILE }, attachedTo: { virtualMachine: 'old', uid: 'u' } });
    const waiting = localVolumeRemoved(bound, exists);
    expect(waiting).toMatchObject({ conditions: [{ type: 'DeletionBlocked', reason: 'RemovingFromNode' }] });
    // Nothing holds it any more: the stale holder is cleared, or the agent would wait for it.
    expect(waiting !== true && 'attachedTo' in waiting.status! && waiting.status!.attachedTo === undefined).toBe(true);
    expect(localVolumeRemoved(volume({ ...bound.status, local: { removed: true } }), exists)).toBe(true);
    expect(localVolumeRemoved(volume({ backend: { type: 'local', node: 'hv-gone', image: FILE } }), exists)).toBe(true);
    expect(localVolumeRemoved(volume(), exists)).toBe(true);
  });

  it('a snapshot waits while a restore copies from it, then for its agent', () => {
    const taken = snapshot({ node: 'hv-1', snapshotHandle: HANDLE, readyToUse: true });
    const copying = volume({ backend: { type: 'local', node: 'hv-1', image: 'vol-2.qcow2', restoreFrom: { image: FILE, snapshot: 'snap-x' } } }, { source: { snapshotRef: 'snap' } }, 'copy');
    expect(restoringFrom(taken, [copying])).toEqual(['copy']);
    expect(restoringFrom(taken, [volume({ ...copying.status, local: { made: true, sizeBytes: 1 } }, copying.spec, 'copy')])).toEqual([]);
    expect(localSnapshotRemoved(taken, ['copy'], exists)).toMatchObject({ conditions: [{ reason: 'RestoreInProgress', message: 'Volumes are being copied from it: copy' }] });
    expect(localSnapshotRemoved(taken, [], exists)).toMatchObject({ conditions: [{ reason: 'RemovingFromNode' }] });
    expect(localSnapshotRemoved(snapshot({ ...taken.status, local: { removed: true } }), [], exists)).toBe(true);
    expect(localSnapshotRemoved(snapshot({ ...taken.status, node: 'hv-gone' }), [], exists)).toBe(true);
  });
});

describe('localSnapshotOutcome', () => {
  const status = { snapshotHandle: HANDLE, node: 'hv-1' };
  it('waits for the agent, then is ready with what it reports; a snapshot gone after it was ready is lost', () => {
    expect(localSnapshotOutcome(snapshot(), status)).toMatchObject({ readiness: { ready: false, reason: 'Snapshotting' }, status: { readyToUse: false, node: 'hv-1' } });
    const taken = localSnapshotOutcome(snapshot({ local: { taken: true, createdAt: '2026-12-05T20:00:00Z', sizeBytes: 48 * 2 ** 20 } }), status);
    expect(taken).toMatchObject({ readiness: { ready: true, reason: 'Taken' }, status: { readyToUse: true, creationTime: '2026-12-05T20:00:00Z', restoreSize: '48Mi', restoreSizeBytes: 48 * 2 ** 20 } });
    expect(localSnapshotOutcome(snapshot({ readyToUse: true, local: { taken: false, message: 'gone from the file' } }), status)).toMatchObject({ readiness: { reason: 'SnapshotLost', message: 'gone from the file' } });
  });

  it('handles are the file and the snapshot, never a path', () => {
    expect(parseLocalSnapshotHandle(HANDLE)).toEqual({ file: FILE, snapshot: 'snap-befb303e90374048ab446b0b8240800d' });
    for (const bad of ['photon-fast/vol-1@snap-1', '../vol-1.qcow2@snap-1', 'vol-1.qcow2@snap-1;x', undefined]) expect(parseLocalSnapshotHandle(bad)).toBeUndefined();
  });
});
