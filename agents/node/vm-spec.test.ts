import { describe, expect, test } from '@jest/globals';
import type { Image, VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { desiredDisks, imageRefs, kernelCommandLine, MAX_KERNEL_CMDLINE, startSpec, vmInterfaces, VmSpecProblem } from './vm-spec.ts';

const vm = (spec: Partial<VirtualMachine['spec']>, status?: VirtualMachine['status']): VirtualMachine => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web-1', namespace: 'acme', uid: '0b5c4d4e-8f1a-4c3e-9d2b-1a2b3c4d5e6f', generation: 1 },
  spec: { memory: '256Mi', boot: { kernel: { imageRef: 'k', initrdRef: 'i' } }, ...spec },
  ...(status ? { status } : {}),
});
const image = (name: string, format: Image['spec']['format'], sha256: string | null = 'a'.repeat(64)): Image => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'Image',
  metadata: { name, namespace: 'acme' },
  spec: { source: { path: `/images/${name}` }, format, ...(sha256 ? { sha256 } : {}) } as Image['spec'],
});

describe('vm-spec', () => {
  test('image references, each once', () => {
    expect(imageRefs(vm({ disks: [{ name: 'a', imageRef: 'k' }, { name: 'b', size: '1Gi' }] }))).toEqual(['k', 'i']);
  });

  test('disks: blank data disks need a size; disk images must be qcow2 or raw; a checksum is required', () => {
    const images = new Map([['disk', image('disk', 'qcow2')], ['k', image('k', 'kernel')], ['nosum', image('nosum', 'qcow2', null)]]);
    expect(desiredDisks(vm({ disks: [{ name: 'data', size: '1Gi' }, { name: 'copy', imageRef: 'disk' }] }), images)).toEqual({
      data: [{ name: 'data', size: '1Gi' }, { name: 'copy', image: { source: 'file:///images/disk', sha256: 'a'.repeat(64), format: 'qcow2' } }],
    });
    expect(() => desiredDisks(vm({ disks: [{ name: 'data' }] }), images)).toThrow(VmSpecProblem);
    expect(() => desiredDisks(vm({ disks: [{ name: 'x', imageRef: 'k' }] }), images)).toThrow(/kernel, but .* needs qcow2 or raw/);
    expect(() => desiredDisks(vm({ disks: [{ name: 'x', imageRef: 'nosum' }] }), images)).toThrow(expect.objectContaining({ reason: 'ImageChecksumRequired' }));
    expect(desiredDisks(vm({ boot: { imageRef: 'disk', diskSize: '20Gi' } }), images).boot).toEqual({ image: expect.objectContaining({ format: 'qcow2' }), size: '20Gi' });
  });

  test('kernel command line: the VM\'s or console=ttyS0, with user data as base64, bounded', () => {
    expect(kernelCommandLine(vm({}))).toBe('console=ttyS0');
    expect(kernelCommandLine(vm({ boot: { kernel: { imageRef: 'k', cmdline: 'console=ttyS0 panic=-1' } }, userData: 'ping 10.0.0.1\n' }))).toBe(`console=ttyS0 panic=-1 photon.userdata=${Buffer.from('ping 10.0.0.1\n').toString('base64')}`);
    expect(() => kernelCommandLine(vm({ userData: 'x'.repeat(MAX_KERNEL_CMDLINE) }))).toThrow(expect.objectContaining({ reason: 'KernelCmdlineTooLong' }));
  });

  test('interfaces wait for the controller to record every Port', () => {
    const networks = [{ name: 'eth0', subnetRef: 's' }, { name: 'eth1', portRef: 'p' }];
    expect(vmInterfaces(vm({ networks }, { interfaces: [{ name: 'eth0', portUID: 'u0', macAddress: '0a:00:00:00:00:01' }] }))).toBeUndefined();
    expect(vmInterfaces(vm({ networks }, { interfaces: [{ name: 'eth1', portUID: 'u1', macAddress: '0a:00:00:00:00:02' }, { name: 'eth0', portUID: 'u0', macAddress: '0a:00:00:00:00:01' }] }))).toEqual([
      { name: 'eth0', ifaceId: 'u0', mac: '0a:00:00:00:00:01' },
      { name: 'eth1', ifaceId: 'u1', mac: '0a:00:00:00:00:02' },
    ]);
  });

  test('start spec: memory in whole MiB, taps in interface order, -no-shutdown, microvm only with a kernel', () => {
    const spec = startSpec(vm({ memory: '300M', cpu: { cores: 2 } }), { kernel: '/c/k', initrd: '/c/i', dataDisks: ['/d/a.qcow2'], taps: ['pt1', 'pt2'] }, [
      { name: 'eth0', ifaceId: 'u0', mac: '0a:00:00:00:00:01' },
      { name: 'eth1', ifaceId: 'u1', mac: '0a:00:00:00:00:02' },
    ]);
    expect(spec).toMatchObject({ cpuCores: 2, memoryBytes: 287 * 1024 * 1024, machine: 'pc', noShutdown: true, boot: { kernel: '/c/k', initrd: '/c/i', append: 'console=ttyS0' } });
    expect(spec.nics).toEqual([{ tapName: 'pt1', mac: '0a:00:00:00:00:01' }, { tapName: 'pt2', mac: '0a:00:00:00:00:02' }]);
    expect(() => startSpec(vm({ memory: '1Mi' }), { dataDisks: [], taps: [] }, [])).toThrow(expect.objectContaining({ reason: 'InvalidMemory' }));
    expect(() => startSpec(vm({ machine: 'microvm', boot: { imageRef: 'disk' } }), { bootDisk: '/d/boot.qcow2', dataDisks: [], taps: [] }, [])).toThrow(expect.objectContaining({ reason: 'MachineNeedsKernelBoot' }));
  });
});
