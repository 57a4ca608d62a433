import { describe, expect, it } from '@jest/globals';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { VolumeAttachedTo } from '../../apis/storage/v1alpha1/index.ts';
import { concernsVolume, nextAttachment, volumeHolder } from './attachment.ts';
import type { VolumeObject } from './informers.ts';

const volume = (attachedTo?: VolumeAttachedTo, name = 'data'): VolumeObject => ({
  apiVersion: 'storage.photoncloud.io/v1alpha1',
  kind: 'Volume',
  metadata: { name, namespace: 'acme', uid: `${name}-uid` },
  spec: { size: '10Gi' },
  ...(attachedTo ? { status: { attachedTo } } : {}),
});

interface VmOptions {
  /** Volumes named in spec.volumes. */
  claims?: string[];
  /** Volumes the node reports plugged (status.runtime.volumes). */
  plugs?: string[];
  created?: string;
  node?: string;
  deleting?: boolean;
}
const vm = (name: string, { claims = [], plugs = [], created = '2026-01-01T00:00:00Z', node, deleting }: VmOptions = {}): VirtualMachine => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'acme', uid: `${name}-uid`, creationTimestamp: created, ...(deleting ? { deletionTimestamp: '2026-02-01T00:00:00Z' } : {}) },
  spec: { memory: '256Mi', boot: { kernel: { imageRef: 'k' } }, volumes: claims.map((volumeRef, n) => ({ name: `v${n}`, volumeRef })) },
  status: {
    ...(node ? { nodeName: node } : {}),
    ...(plugs.length ? { runtime: { node, state: 'Running' as const, volumes: plugs.map((volumeRef, n) => ({ name: `v${n}`, volumeRef, device: `vol-v${n}-dev` })) } } : {}),
  },
});
const held = (name: string, node?: string): VolumeAttachedTo => ({ virtualMachine: name, uid: `${name}-uid`, ...(node ? { node } : {}) });

describe('volumeHolder', () => {
  it('nobody claims or plugs it: no holder', () => {
    expect(volumeHolder(volume(), [])).toBeUndefined();
    expect(volumeHolder(volume(), [vm('a', { claims: ['other'], plugs: ['another'] })])).toBeUndefined();
    // A stale attachedTo naming a VM that let go is dropped too.
    expect(volumeHolder(volume(held('a', 'hv-1')), [vm('a', { node: 'hv-1' })])).toBeUndefined();
  });

  it('a single claimant holds it, with the node it is scheduled to', () => {
    expect(volumeHolder(volume(), [vm('a', { claims: ['data'], node: 'hv-1' })])).toEqual({ virtualMachine: 'a', uid: 'a-uid', node: 'hv-1' });
    // Not scheduled yet: no node field at all.
    expect(volumeHolder(volume(), [vm('a', { claims: ['data'] })])).toEqual({ virtualMachine: 'a', uid: 'a-uid' });
  });

  it('among claimants the oldest wins, then the first by name', () => {
    const older = vm('zeta', { claims: ['data'], created: '2026-01-01T00:00:00Z' });
    const newer = vm('alpha', { claims: ['data'], created: '2026-01-02T00:00:00Z' });
    expect(volumeHolder(volume(), [newer, older])?.virtualMachine).toBe('zeta');
    expect(volumeHolder(volume(), [older, newer])?.virtualMachine).toBe('zeta');
    const tieB = vm('b', { claims: ['data'] });
    const tieA = vm('a', { claims: ['data'] });
    expect(volumeHolder(volume(), [tieB, tieA])?.virtualMachine).toBe('a');
  });

  it('the current holder keeps it while it still claims it, even when an older VM claims it too', () => {
    const older = vm('old', { claims: ['data'], created: '2025-01-01T00:00:00Z' });
    const current = vm('cur', { claims: ['data'], created: '2026-01-01T00:00:00Z', node: 'hv-2' });
    expect(volumeHolder(volume(held('cur', 'hv-2')), [older, current])).toEqual({ virtualMachine: 'cur', uid: 'cur-uid', node: 'hv-2' });
  });

  it('the current holder keeps it while it still has it plugged after dropping it from its spec', () => {
    const current = vm('cur', { plugs: ['data'], node: 'hv-1' });
    const waiting = vm('next', { claims: ['data'], created: '2020-01-01T00:00:00Z' });
    expect(volumeHolder(volume(held('cur', 'hv-1')), [waiting, current])?.virtualMachine).toBe('cur');
    // Once the node reports it unplugged, the claimant gets it.
    const unplugged = vm('cur', { node: 'hv-1' });
    expect(volumeHolder(volume(held('cur', 'hv-1')), [waiting, unplugged])?.virtualMachine).toBe('next');
  });

  it('the current holder keeps it while it is being deleted', () => {
    const deleting = vm('cur', { claims: ['data'], deleting: true });
    const other = vm('other', { claims: ['data'], created: '2020-01-01T00:00:00Z' });
    expect(volumeHolder(volume(held('cur')), [other, deleting])?.virtualMachine).toBe('cur');
  });

  it('without a current holder, a VM that has it plugged wins over older mere claimants', () => {
    const claimant = vm('claimant', { claims: ['data'], created: '2020-01-01T00:00:00Z' });
    const plugger = vm('plugger', { plugs: ['data'], created: '2026-01-01T00:00:00Z', node: 'hv-3' });
    expect(volumeHolder(volume(), [claimant, plugger])).toEqual({ virtualMachine: 'plugger', uid: 'plugger-uid', node: 'hv-3' });
    // Also when attachedTo names a VM that no longer wants it.
    expect(volumeHolder(volume(held('gone')), [claimant, plugger])?.virtualMachine).toBe('plugger');
  });

  it('a VM that plugs it wins even while being deleted (it is still writing to it)', () => {
    const claimant = vm('claimant', { claims: ['data'], created: '2020-01-01T00:00:00Z' });
    const plugger = vm('plugger', { plugs: ['data'], deleting: true });
    expect(volumeHolder(volume(), [claimant, plugger])?.virtualMachine).toBe('plugger');
  });

  it('a deleting VM does not become a new holder by claiming it', () => {
    const deleting = vm('old', { claims: ['data'], created: '2020-01-01T00:00:00Z', deleting: true });
    const live = vm('young', { claims: ['data'], created: '2026-01-01T00:00:00Z' });
    expect(volumeHolder(volume(), [deleting, live])?.virtualMachine).toBe('young');
    expect(volumeHolder(volume(), [deleting])).toBeUndefined();
  });

  it('only the Volume named matters', () => {
    const a = vm('a', { claims: ['other'], created: '2020-01-01T00:00:00Z' });
    const b = vm('b', { claims: ['data'] });
    expect(volumeHolder(volume(undefined, 'other'), [a, b])?.virtualMachine).toBe('a');
    expect(volumeHolder(volume(undefined, 'data'), [a, b])?.virtualMachine).toBe('b');
  });
});

describe('concernsVolume', () => {
  it('is true for a VM that names the Volume in its spec or has it plugged, false otherwise', () => {
    expect(concernsVolume(vm('a', { claims: ['data'] }), 'data')).toBe(true);
    expect(concernsVolume(vm('a', { plugs: ['data'] }), 'data')).toBe(true);
    expect(concernsVolume(vm('a', { claims: ['other'], plugs: ['another'] }), 'data')).toBe(false);
    expect(concernsVolume(vm('a'), 'data')).toBe(false);
  });
});

describe('nextAttachment', () => {
  const on = (node?: string, name = 'mover'): VolumeAttachedTo => ({ virtualMachine: name, uid: `${name}-uid`, ...(node ? { node } : {}) });

  it('takes the holder when nothing ran with the Volume before, or nobody holds it now', () => {
    expect(nextAttachment(undefined, on('hv-1'))).toEqual({ attachedTo: on('hv-1'), handover: false });
    expect(nextAttachment(on(), on('hv-1'))).toEqual({ attachedTo: on('hv-1'), handover: false });
    expect(nextAttachment(on('hv-1'), undefined)).toEqual({ attachedTo: undefined, handover: false });
    expect(nextAttachment(on('hv-1'), on('hv-1'))).toEqual({ attachedTo: on('hv-1'), handover: false });
  });

  it('a move to another node or another VM is a handover that keeps the old record until fenced', () => {
    expect(nextAttachment(on('hv-1'), on('hv-2'))).toEqual({ attachedTo: on('hv-1'), handover: true });
    expect(nextAttachment(on('hv-1'), on('hv-1', 'other'))).toEqual({ attachedTo: on('hv-1'), handover: true });
  });

  it('a holder released from a dead node keeps the record with the old node, so landing elsewhere fences the old QEMU', () => {
    const released = nextAttachment(on('hv-1'), on(undefined));
    expect(released).toEqual({ attachedTo: on('hv-1'), handover: false });
    expect(nextAttachment(released.attachedTo, on('hv-2'))).toEqual({ attachedTo: on('hv-1'), handover: true });
    expect(nextAttachment(on('hv-1'), on(undefined, 'other'))).toEqual({ attachedTo: on('hv-1'), handover: false });
  });
});
