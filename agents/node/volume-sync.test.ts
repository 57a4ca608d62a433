import { describe, expect, it } from '@jest/globals';
import type { VirtualMachine, VirtualMachineStatusRuntimeVolume, VirtualMachineStatusVolume } from '../../apis/compute/v1alpha1/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { UnplugPendingError, type HypervisorDriver, type PluggedVolume, type VolumeSpec } from '../qemu/index.ts';
import { attachableVolumes, syncVolumes, volumesBlocker, volumesReport } from './volume-sync.ts';

const UID = '0b5c4d4e-8f1a-4c3e-9d2b-1a2b3c4d5e6f';
const vm = (entries: Array<[string, string]>, resolved: VirtualMachineStatusVolume[] = [], runtime?: VirtualMachineStatusRuntimeVolume[]): VirtualMachine => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web-1', namespace: 'acme', uid: UID },
  spec: { memory: '256Mi', boot: { kernel: { imageRef: 'k' } }, volumes: entries.map(([name, volumeRef]) => ({ name, volumeRef })) },
  status: { nodeName: 'hv-1', volumes: resolved, ...(runtime ? { runtime: { node: 'hv-1', state: 'Running', volumes: runtime } } : {}) },
});
const ok = (name: string, volumeRef: string, image = `img-${volumeRef}`, pool = 'rbd'): VirtualMachineStatusVolume => ({ name, volumeRef, attachable: true, pool, image, node: 'hv-1' });
const no = (name: string, volumeRef: string, reason = 'VolumeNotReady', message = `Volume ${volumeRef}: ceph is slow`): VirtualMachineStatusVolume => ({ name, volumeRef, attachable: false, reason, message });
const plugged = (name: string, image: string, pool = 'rbd'): PluggedVolume => ({ name, device: `vol-${name}-dev`, pool, image });

describe('attachableVolumes', () => {
  it('the attachable entries of the current spec, in spec order, with their pool and image', () => {
    const machine = vm([['b', 'vb'], ['a', 'va'], ['c', 'vc']], [ok('a', 'va'), no('c', 'vc'), ok('b', 'vb')]);
    expect(attachableVolumes(machine)).toEqual([
      { name: 'b', pool: 'rbd', image: 'img-vb' },
      { name: 'a', pool: 'rbd', image: 'img-va' },
    ]);
  });

  it('ignores resolutions that are stale (another volumeRef), for entries no longer in the spec, or without pool or image', () => {
    expect(attachableVolumes(vm([['a', 'new']], [ok('a', 'old')]))).toEqual([]);
    expect(attachableVolumes(vm([], [ok('a', 'va')]))).toEqual([]);
    expect(attachableVolumes(vm([['a', 'va']], [{ name: 'a', volumeRef: 'va', attachable: true, image: 'x' }]))).toEqual([]);
    expect(attachableVolumes(vm([['a', 'va']], [{ name: 'a', volumeRef: 'va', attachable: true, pool: 'rbd' }]))).toEqual([]);
    expect(attachableVolumes(vm([['a', 'va']]))).toEqual([]);
  });
});

describe('attachableVolumes across a move', () => {
  it('an entry resolved for another node (before the VM moved) is stale: not attachable here until re-resolved', () => {
    expect(attachableVolumes(vm([['a', 'va']], [{ ...ok('a', 'va'), node: 'hv-2' }]))).toEqual([]);
    expect(volumesBlocker(vm([['a', 'va']], [{ ...ok('a', 'va'), node: 'hv-2' }]))?.reason).toBe('WaitingForVolumes');
  });
});

describe('volumesBlocker', () => {
  it('undefined when every entry is attachable, or there are none', () => {
    expect(volumesBlocker(vm([['a', 'va']], [ok('a', 'va')]))).toBeUndefined();
    expect(volumesBlocker(vm([]))).toBeUndefined();
  });

  it('WaitingForVolumes naming the first entry that is not attachable and why', () => {
    const machine = vm([['a', 'va'], ['b', 'vb'], ['c', 'vc']], [ok('a', 'va'), no('b', 'vb', 'VolumeInUse', 'Volume vb is attached to VirtualMachine web-2'), no('c', 'vc')]);
    expect(volumesBlocker(machine)).toEqual({ reason: 'WaitingForVolumes', message: 'Volume vb (b): Volume vb is attached to VirtualMachine web-2' });
  });

  it('an entry the controller has not resolved yet, or resolved for another Volume, is "not resolved yet"', () => {
    expect(volumesBlocker(vm([['a', 'va']]))).toEqual({ reason: 'WaitingForVolumes', message: 'Volume va (a): not resolved yet' });
    expect(volumesBlocker(vm([['a', 'new']], [ok('a', 'old')]))).toEqual({ reason: 'WaitingForVolumes', message: 'Volume new (a): not resolved yet' });
    expect(volumesBlocker(vm([['a', 'new']], [no('a', 'old', 'VolumeInUse', 'Volume old is attached to VirtualMachine web-2')]))?.message).toBe('Volume new (a): not resolved yet');
  });

  it('an answer given before the VM came to this node is not repeated as if it were about this node', () => {
    // Resolved before scheduling (CI caught the agent reporting this from a VM it was about to start).
    expect(volumesBlocker(vm([['a', 'va']], [no('a', 'va', 'WaitingForNode', 'the VM is not scheduled to a node yet')]))).toEqual({ reason: 'WaitingForVolumes', message: 'Volume va (a): not resolved for node hv-1 yet' });
    // Attachable, but on the node the VM was on before it moved.
    expect(volumesBlocker(vm([['a', 'va']], [{ ...ok('a', 'va'), node: 'hv-2' }]))).toEqual({ reason: 'WaitingForVolumes', message: 'Volume va (a): not resolved for node hv-1 yet' });
  });
});

/** A running VM's plugged Volumes, in memory: only what syncVolumes uses. */
function fakeHypervisor(initial: PluggedVolume[], behaviour: { plugError?: Error; unplugError?: (name: string) => Error | undefined } = {}) {
  let current = [...initial];
  const calls: string[] = [];
  const driver = {
    async volumes(uid: string) {
      expect(uid).toBe(UID);
      return current.map((entry) => ({ ...entry }));
    },
    async plugVolume(uid: string, volume: VolumeSpec) {
      expect(uid).toBe(UID);
      calls.push(`plug ${volume.name} ${volume.pool}/${volume.image}`);
      if (behaviour.plugError) throw behaviour.plugError;
      current.push(plugged(volume.name, volume.image!, volume.pool));
    },
    async unplugVolume(uid: string, name: string, waitMs: number) {
      expect(uid).toBe(UID);
      expect(waitMs).toBeGreaterThan(0);
      calls.push(`unplug ${name}`);
      const error = behaviour.unplugError?.(name);
      if (error) throw error;
      current = current.filter((entry) => entry.name !== name);
    },
    async resizeVolume(uid: string, name: string, sizeBytes: number) {
      expect(uid).toBe(UID);
      calls.push(`resize ${name} ${sizeBytes}`);
      current = current.map((entry) => (entry.name === name ? { ...entry, sizeBytes } : entry));
    },
  };
  return { driver: driver as unknown as HypervisorDriver, calls, plugged: () => current };
}
const logged: Array<[string, string]> = [];
const log = { info: (message: string) => logged.push(['info', message]), warn: (message: string) => logged.push(['warn', message]) } as unknown as Logger;

describe('syncVolumes', () => {
  it('plugs attachable entries that are not plugged and reports what is plugged', async () => {
    const fake = fakeHypervisor([plugged('a', 'img-va')]);
    const result = await syncVolumes(fake.driver, vm([['a', 'va'], ['b', 'vb']], [ok('a', 'va'), ok('b', 'vb')]), log);
    expect(fake.calls).toEqual(['plug b rbd/img-vb']);
    expect(result).toEqual({ plugged: [plugged('a', 'img-va'), plugged('b', 'img-vb')] });
  });

  it('nothing to do: no calls, no pending', async () => {
    const fake = fakeHypervisor([plugged('a', 'img-va')]);
    expect(await syncVolumes(fake.driver, vm([['a', 'va']], [ok('a', 'va')]), log)).toEqual({ plugged: [plugged('a', 'img-va')] });
    expect(fake.calls).toEqual([]);
  });

  it('unplugs an entry the spec no longer names', async () => {
    const fake = fakeHypervisor([plugged('a', 'img-va'), plugged('gone', 'img-vg')]);
    const result = await syncVolumes(fake.driver, vm([['a', 'va']], [ok('a', 'va')]), log);
    expect(fake.calls).toEqual(['unplug gone']);
    expect(result.plugged.map((entry) => entry.name)).toEqual(['a']);
  });

  it('never unplugs an entry still named while it is briefly not attachable', async () => {
    const fake = fakeHypervisor([plugged('a', 'img-va'), plugged('b', 'img-vb')]);
    const result = await syncVolumes(fake.driver, vm([['a', 'va'], ['b', 'vb']], [no('a', 'va'), no('b', 'vb', 'VolumeMoving', 'moving')]), log);
    expect(fake.calls).toEqual([]);
    expect(result).toEqual({ plugged: [plugged('a', 'img-va'), plugged('b', 'img-vb')] });
    // Nor one the controller has not resolved at all (status.volumes missing).
    const unresolved = fakeHypervisor([plugged('a', 'img-va')]);
    await syncVolumes(unresolved.driver, vm([['a', 'va']]), log);
    expect(unresolved.calls).toEqual([]);
  });

  it('an entry pointed at another Volume that is not attachable yet: the old Volume is unplugged at once (no swap deadlock)', async () => {
    const fake = fakeHypervisor([plugged('a', 'img-va')]);
    const result = await syncVolumes(fake.driver, vm([['a', 'vb']], [no('a', 'vb', 'VolumeInUse', 'Volume vb is attached to VirtualMachine web-2')], [{ name: 'a', volumeRef: 'va', device: 'vol-a-dev' }]), log);
    expect(fake.calls).toEqual(['unplug a']);
    expect(result).toEqual({ plugged: [] });
    // The same Volume still named, reported and briefly not attachable: left alone.
    const same = fakeHypervisor([plugged('a', 'img-va')]);
    await syncVolumes(same.driver, vm([['a', 'va']], [no('a', 'va')], [{ name: 'a', volumeRef: 'va', device: 'vol-a-dev' }]), log);
    expect(same.calls).toEqual([]);
  });

  it('a Volume grown in Ceph while plugged is grown in QEMU too; never shrunk', async () => {
    const fake = fakeHypervisor([{ ...plugged('a', 'img-va'), sizeBytes: 64 << 20 }, { ...plugged('b', 'img-vb'), sizeBytes: 64 << 20 }]);
    await syncVolumes(fake.driver, vm([['a', 'va'], ['b', 'vb']], [{ ...ok('a', 'va'), capacityBytes: 128 << 20 }, { ...ok('b', 'vb'), capacityBytes: 32 << 20 }]), log);
    expect(fake.calls).toEqual([`resize a ${128 << 20}`]);
  });

  it('an entry now resolved to another pool or image is unplugged, then the new image plugged', async () => {
    const fake = fakeHypervisor([plugged('a', 'img-old'), plugged('b', 'img-vb', 'old-pool')]);
    const result = await syncVolumes(fake.driver, vm([['a', 'vnew'], ['b', 'vb']], [ok('a', 'vnew'), ok('b', 'vb')]), log);
    expect(fake.calls).toEqual(['unplug a', 'unplug b', 'plug a rbd/img-vnew', 'plug b rbd/img-vb']);
    expect(result).toEqual({ plugged: [plugged('a', 'img-vnew'), plugged('b', 'img-vb')] });
  });

  it('a guest that does not release the disk in time: pending, no throw, and the old image is not replaced yet', async () => {
    const fake = fakeHypervisor([plugged('a', 'img-old'), plugged('gone', 'img-vg')], { unplugError: () => new UnplugPendingError('the guest has not released vol-a-dev (ACPI PCI hot-unplug) within 10 s') });
    const result = await syncVolumes(fake.driver, vm([['a', 'vnew']], [ok('a', 'vnew')]), log);
    expect(fake.calls).toEqual(['unplug a', 'unplug gone']);
    expect(result.pending).toBe('the guest has not released vol-a-dev (ACPI PCI hot-unplug) within 10 s');
    expect(result.plugged).toEqual([plugged('a', 'img-old'), plugged('gone', 'img-vg')]);
  });

  it('any other unplug error is thrown', async () => {
    const fake = fakeHypervisor([plugged('gone', 'img-vg')], { unplugError: () => new Error('QMP socket closed') });
    await expect(syncVolumes(fake.driver, vm([]), log)).rejects.toThrow('QMP socket closed');
  });

  it('a plug failure is reported as pending, does not throw, and the other Volumes are still plugged', async () => {
    const fake = fakeHypervisor([], { plugError: new Error('rbd: error opening image: permission denied') });
    logged.length = 0;
    const result = await syncVolumes(fake.driver, vm([['a', 'va'], ['b', 'vb']], [ok('a', 'va'), ok('b', 'vb')]), log);
    expect(fake.calls).toEqual(['plug a rbd/img-va', 'plug b rbd/img-vb']);
    expect(result).toEqual({ plugged: [], pending: 'cannot hot-plug Volume b: rbd: error opening image: permission denied' });
    expect(logged).toContainEqual(['warn', 'Volume hot-plug failed']);
  });
});

describe('volumesReport', () => {
  it('nothing plugged: undefined (the field is left out)', () => {
    expect(volumesReport(vm([['a', 'va']], [ok('a', 'va')]), [])).toBeUndefined();
  });

  it('names each plugged disk by the Volume whose image it is, with its QEMU device', () => {
    const machine = vm([['a', 'va']], [ok('a', 'va')]);
    expect(volumesReport(machine, [plugged('a', 'img-va')])).toEqual([{ name: 'a', volumeRef: 'va', device: 'vol-a-dev' }]);
  });

  it('an entry replaced in the spec but not unplugged yet keeps the Volume of the last report, not the new one', () => {
    // Spec now names vnew for "a", still not attachable; the disk plugged is the old Volume's image.
    const machine = vm([['a', 'vnew']], [no('a', 'vnew')], [{ name: 'a', volumeRef: 'vold', device: 'vol-a-dev' }]);
    expect(volumesReport(machine, [plugged('a', 'img-vold')])).toEqual([{ name: 'a', volumeRef: 'vold', device: 'vol-a-dev' }]);
  });

  it('the image decides over the name: a Volume moved to another entry name is still reported as itself', () => {
    const machine = vm([['b', 'va']], [ok('b', 'va')], [{ name: 'a', volumeRef: 'stale', device: 'vol-a-dev' }]);
    expect(volumesReport(machine, [plugged('a', 'img-va')])).toEqual([{ name: 'a', volumeRef: 'va', device: 'vol-a-dev' }]);
  });

  it('without a report or a matching image, falls back to the spec entry of that name; unknown names have no volumeRef', () => {
    const machine = vm([['a', 'va']]);
    expect(volumesReport(machine, [plugged('a', 'img-x'), plugged('z', 'img-z')])).toEqual([
      { name: 'a', volumeRef: 'va', device: 'vol-a-dev' },
      { name: 'z', volumeRef: undefined, device: 'vol-z-dev' },
    ]);
  });

  it('a disk whose pool and image QEMU did not show is not attributed to an unrelated unresolved entry', () => {
    // "logs" → vlogs is not attachable (no pool, no image); the plugged "data" disk's target is unknown.
    const machine = vm([['data', 'vdata'], ['logs', 'vlogs']], [no('data', 'vdata'), no('logs', 'vlogs')]);
    expect(volumesReport(machine, [{ name: 'data', device: 'vol-data-dev' }])).toEqual([{ name: 'data', volumeRef: 'vdata', device: 'vol-data-dev' }]);
  });
});
