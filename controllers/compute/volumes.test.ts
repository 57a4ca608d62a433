import { describe, expect, it } from '@jest/globals';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Volume, VolumeStatus } from '../../apis/storage/v1alpha1/index.ts';
import { volumeAttachments, volumesCondition } from './volumes.ts';

const T = '2026-01-01T00:00:00Z';
const vm = (volumes: Array<[string, string]>, nodeName: string | null = 'hv-1'): VirtualMachine => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web-1', namespace: 'acme', uid: 'vm-uid' },
  spec: { memory: '256Mi', boot: { kernel: { imageRef: 'k' } }, volumes: volumes.map(([name, volumeRef]) => ({ name, volumeRef })) },
  status: nodeName ? { nodeName } : {},
});

const ready = { type: 'Ready', status: 'True' as const, reason: 'Provisioned', message: 'RBD image photon-fast/vol-1 of 10Gi', lastTransitionTime: T };
/** A Volume Ready on Ceph and held by web-1 on hv-1; `status` overrides parts of that. */
const volume = (name: string, status: Partial<VolumeStatus> = {}, deleting = false): Volume => ({
  apiVersion: 'storage.photoncloud.io/v1alpha1',
  kind: 'Volume',
  metadata: { name, namespace: 'acme', uid: `${name}-uid`, ...(deleting ? { deletionTimestamp: T } : {}) },
  spec: { size: '10Gi' },
  status: {
    conditions: [ready],
    backend: { type: 'ceph-rbd', pool: 'photon-fast', image: `img-${name}` },
    attachedTo: { virtualMachine: 'web-1', uid: 'vm-uid', node: 'hv-1' },
    ...status,
  },
});
const lookup = (...volumes: Volume[]) => (name: string) => volumes.find((entry) => entry.metadata.name === name);

describe('volumeAttachments', () => {
  it('a Volume that is ready, on Ceph and held by this VM on its node is attachable with its pool and image', () => {
    expect(volumeAttachments(vm([['data', 'db']]), lookup(volume('db')))).toEqual([{ name: 'data', volumeRef: 'db', attachable: true, pool: 'photon-fast', image: 'img-db', node: 'hv-1' }]);
  });

  it('no spec.volumes: nothing to resolve', () => {
    const bare = vm([]);
    delete bare.spec.volumes;
    expect(volumeAttachments(bare, lookup())).toEqual([]);
  });

  it('keeps spec order and resolves each entry on its own', () => {
    const result = volumeAttachments(vm([['a', 'one'], ['b', 'missing'], ['c', 'two']]), lookup(volume('one'), volume('two')));
    expect(result.map((entry) => [entry.name, entry.attachable, entry.reason])).toEqual([
      ['a', true, undefined],
      ['b', false, 'VolumeNotFound'],
      ['c', true, undefined],
    ]);
  });

  it.each<[string, Array<[string, string]>, Volume[], string, string]>([
    ['the same Volume named twice', [['a', 'db'], ['b', 'db']], [volume('db')], 'DuplicateVolume', 'Volume db is attached by an earlier entry of this VM'],
    ['a Volume that does not exist', [['a', 'db']], [], 'VolumeNotFound', 'Volume db does not exist yet'],
    ['a Volume being deleted', [['a', 'db']], [volume('db', {}, true)], 'VolumeDeleting', 'Volume db is being deleted'],
    ['a Volume another VM holds', [['a', 'db']], [volume('db', { attachedTo: { virtualMachine: 'web-2', uid: 'other-uid', node: 'hv-1' } })], 'VolumeInUse', 'Volume db is attached to VirtualMachine web-2'],
    ['a Volume nobody holds yet', [['a', 'db']], [volume('db', { attachedTo: undefined })], 'WaitingForAttachment', 'Volume db is not attached to this VM yet'],
    ['a Volume held by this VM on its previous node', [['a', 'db']], [volume('db', { attachedTo: { virtualMachine: 'web-1', uid: 'vm-uid', node: 'hv-0' } })], 'VolumeMoving', 'Volume db is still attached on node hv-0: waiting for it to follow this VM to hv-1'],
    ['a Volume held by this VM without a node while the VM has one', [['a', 'db']], [volume('db', { attachedTo: { virtualMachine: 'web-1', uid: 'vm-uid' } })], 'VolumeMoving', 'Volume db is still attached on node (none): waiting for it to follow this VM to hv-1'],
    ['a Volume whose Ready is False', [['a', 'db']], [volume('db', { conditions: [{ ...ready, status: 'False', reason: 'Provisioning', message: 'creating RBD image' }] })], 'VolumeNotReady', 'Volume db: creating RBD image'],
    ['a Volume without conditions or backend yet', [['a', 'db']], [volume('db', { conditions: undefined, backend: undefined })], 'VolumeNotReady', 'Volume db: not provisioned yet'],
    ['a Ready Volume without an image', [['a', 'db']], [volume('db', { backend: { type: 'ceph-rbd', pool: 'photon-fast' } })], 'VolumeNotReady', `Volume db: ${ready.message}`],
    ['a local Volume on another node', [['a', 'db']], [volume('db', { backend: { type: 'local', image: 'vol-db.qcow2', node: 'hv-2' } })], 'VolumeOnOtherNode', 'Volume db is a local Volume on node hv-2: the VM must run there'],
  ])('refuses %s', (_what, entries, volumes, reason, message) => {
    const result = volumeAttachments(vm(entries), lookup(...volumes));
    const last = result[result.length - 1];
    expect(last).toEqual({ name: entries[entries.length - 1][0], volumeRef: entries[entries.length - 1][1], attachable: false, reason, message });
    expect(last).not.toHaveProperty('pool');
  });

  it('the first of two entries naming the same Volume is still resolved normally', () => {
    const [first, second] = volumeAttachments(vm([['a', 'db'], ['b', 'db']]), lookup(volume('db')));
    expect(first).toMatchObject({ name: 'a', attachable: true });
    expect(second).toMatchObject({ name: 'b', attachable: false, reason: 'DuplicateVolume' });
  });

  it('a VM not scheduled yet attaches nothing: an entry resolved before scheduling would let the node attach before the Volume follows it', () => {
    const [entry] = volumeAttachments(vm([['a', 'db']], null), lookup(volume('db', { attachedTo: { virtualMachine: 'web-1', uid: 'vm-uid' } })));
    expect(entry).toMatchObject({ attachable: false, reason: 'WaitingForNode', message: 'the VM is not scheduled to a node yet' });
  });

  it('a holder record without a node (the VM was claimed before it was scheduled) is not this node yet', () => {
    const [entry] = volumeAttachments(vm([['a', 'db']]), lookup(volume('db', { attachedTo: { virtualMachine: 'web-1', uid: 'vm-uid' } })));
    expect(entry).toMatchObject({ attachable: false, reason: 'VolumeMoving', message: 'Volume db is still attached on node (none): waiting for it to follow this VM to hv-1' });
  });

  it('deletion is reported before who holds it, and who holds it before readiness', () => {
    const deletingElsewhere = volume('db', { attachedTo: { virtualMachine: 'web-2', uid: 'other-uid' } }, true);
    expect(volumeAttachments(vm([['a', 'db']]), lookup(deletingElsewhere))[0].reason).toBe('VolumeDeleting');
    const notReadyElsewhere = volume('db', { conditions: [], attachedTo: { virtualMachine: 'web-2', uid: 'other-uid' } });
    expect(volumeAttachments(vm([['a', 'db']]), lookup(notReadyElsewhere))[0].reason).toBe('VolumeInUse');
  });
});

describe('volumesCondition', () => {
  it('no Volumes: True, NoVolumes', () => {
    expect(volumesCondition([])).toEqual({ type: 'VolumesReady', status: 'True', reason: 'NoVolumes', message: 'no Volumes' });
  });

  it('every entry attachable: True, VolumesAttachable, with the count', () => {
    const entries = volumeAttachments(vm([['a', 'one'], ['b', 'two']]), lookup(volume('one'), volume('two')));
    expect(volumesCondition(entries)).toEqual({ type: 'VolumesReady', status: 'True', reason: 'VolumesAttachable', message: '2 Volume(s) held by this VM and ready' });
  });

  it('False with the reason and message of the first entry that is not attachable, prefixed by its name', () => {
    const entries = volumeAttachments(vm([['a', 'one'], ['b', 'missing'], ['c', 'three']]), lookup(volume('one'), volume('three', { attachedTo: undefined })));
    expect(volumesCondition(entries)).toEqual({ type: 'VolumesReady', status: 'False', reason: 'VolumeNotFound', message: 'b: Volume missing does not exist yet' });
  });
});

describe('volumeAttachments of local Volumes', () => {
  it('attaches a local Volume on the VM\'s node by its file, sized as the spec asks (QEMU grows the file it holds)', () => {
    const local = volume('db', { backend: { type: 'local', image: 'vol-db.qcow2', node: 'hv-1' }, capacityBytes: 5 * 2 ** 30 });
    expect(volumeAttachments(vm([['a', 'db']]), lookup(local))).toEqual([{ name: 'a', volumeRef: 'db', attachable: true, file: 'vol-db.qcow2', capacityBytes: 10 * 2 ** 30, node: 'hv-1' }]);
  });

  it('a local Volume not made yet is not attachable', () => {
    const making = volume('db', { backend: { type: 'local', image: 'vol-db.qcow2', node: 'hv-1' }, conditions: [{ ...ready, status: 'False', reason: 'Provisioning', message: 'waiting for the agent' }] });
    expect(volumeAttachments(vm([['a', 'db']]), lookup(making))[0]).toMatchObject({ attachable: false, reason: 'VolumeNotReady' });
  });
});
