// From a VirtualMachine (and the Images it names) to what the node's drivers are asked for: the images to
// cache, the disks to make, the taps to plug and QEMU's start spec. Pure: no I/O, unit-tested in
// vm-spec.test.ts. A problem only a spec change can fix is a VmSpecProblem (the VM reports Failed with its
// reason); a reference that is not there yet is the caller's to wait for.
import { pathToFileURL } from 'node:url';
import type { Image, VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { parseByteQuantity } from '../../apis/meta/quantity.ts';
import type { DesiredVmDisks, ImageSpec } from '../disks/index.ts';
import type { VmInterface } from '../node-network/index.ts';
import type { StartSpec } from '../qemu/index.ts';

/** Longest kernel command line x86 Linux accepts (COMMAND_LINE_SIZE), including what the agent appends. */
export const MAX_KERNEL_CMDLINE = 2048;
export const DEFAULT_KERNEL_CMDLINE = 'console=ttyS0';
const MIB = 1024 * 1024;

export class VmSpecProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'VmSpecProblem';
  }
}

/** Names of the Images a VM boots from or attaches, each once, in a stable order. */
export function imageRefs(vm: VirtualMachine): string[] {
  const refs = [vm.spec.boot.imageRef, vm.spec.boot.kernel?.imageRef, vm.spec.boot.kernel?.initrdRef, ...(vm.spec.disks ?? []).map((disk) => disk.imageRef)];
  return [...new Set(refs.filter((ref): ref is string => typeof ref === 'string' && ref.length > 0))];
}

/** What the disk driver needs to fetch an Image: its source as a URL and the checksum that names it. */
export function imageSpecOf(image: Image): ImageSpec {
  const name = image.metadata.name;
  if (!image.spec.sha256) throw new VmSpecProblem('ImageChecksumRequired', `Image ${name} has no spec.sha256: nodes cache and share images by checksum, so one is required`);
  const source = image.spec.source.url ?? (image.spec.source.path ? pathToFileURL(image.spec.source.path).href : undefined);
  if (!source) throw new VmSpecProblem('ImageSourceMissing', `Image ${name} has neither source.url nor source.path`);
  return { source, sha256: image.spec.sha256, format: image.spec.format };
}

function requireFormat(image: Image, allowed: readonly string[], use: string): void {
  if (!allowed.includes(image.spec.format)) throw new VmSpecProblem('ImageFormatMismatch', `Image ${image.metadata.name} is ${image.spec.format}, but ${use} needs ${allowed.join(' or ')}`);
}

/** The disks the VM should have: a boot overlay (disk boot) and its data disks, in order. */
export function desiredDisks(vm: VirtualMachine, images: ReadonlyMap<string, Image>): DesiredVmDisks {
  const imageOf = (ref: string): Image => {
    const image = images.get(ref);
    if (!image) throw new Error(`image ${ref} was not resolved`); // the caller resolves imageRefs(vm) first
    return image;
  };
  let boot: DesiredVmDisks['boot'];
  if (vm.spec.boot.imageRef) {
    const image = imageOf(vm.spec.boot.imageRef);
    requireFormat(image, ['qcow2', 'raw'], 'boot.imageRef');
    boot = { image: imageSpecOf(image), ...(vm.spec.boot.diskSize ? { size: vm.spec.boot.diskSize } : {}) };
  }
  const data = (vm.spec.disks ?? []).map((disk, index) => {
    if (!disk.imageRef && !disk.size) throw new VmSpecProblem('DiskSizeMissing', `spec.disks[${index}] (${disk.name}) needs a size or an imageRef`);
    let image: ImageSpec | undefined;
    if (disk.imageRef) {
      const source = imageOf(disk.imageRef);
      requireFormat(source, ['qcow2', 'raw'], `spec.disks[${index}].imageRef`);
      image = imageSpecOf(source);
    }
    return { name: disk.name, ...(disk.size ? { size: disk.size } : {}), ...(image ? { image } : {}) };
  });
  return { ...(boot ? { boot } : {}), data };
}

/**
 * The kernel command line: the VM's (or console=ttyS0), plus its user data as `photon.userdata=<base64>` —
 * how a direct-kernel-boot guest (which has no cloud-init seed) reads it. Bounded by what Linux accepts.
 */
export function kernelCommandLine(vm: VirtualMachine): string {
  const base = vm.spec.boot.kernel?.cmdline?.trim() || DEFAULT_KERNEL_CMDLINE;
  const userData = vm.spec.userData ? ` photon.userdata=${Buffer.from(vm.spec.userData, 'utf8').toString('base64')}` : '';
  const line = `${base}${userData}`;
  if (/[\u0000\n\r]/.test(base)) throw new VmSpecProblem('InvalidKernelCmdline', 'spec.boot.kernel.cmdline must be a single line');
  if (Buffer.byteLength(line) >= MAX_KERNEL_CMDLINE) {
    throw new VmSpecProblem('KernelCmdlineTooLong', `the kernel command line with spec.userData (base64) is ${Buffer.byteLength(line)} bytes; Linux accepts ${MAX_KERNEL_CMDLINE - 1}`);
  }
  return line;
}

/** The taps the VM's interfaces need: one per spec.networks entry, from the Ports the controller recorded. */
export function vmInterfaces(vm: VirtualMachine): VmInterface[] | undefined {
  const recorded = new Map((vm.status?.interfaces ?? []).map((entry) => [entry.name, entry]));
  const interfaces: VmInterface[] = [];
  for (const network of vm.spec.networks ?? []) {
    const entry = recorded.get(network.name);
    if (!entry?.portUID || !entry.macAddress) return undefined; // the controller has not recorded the Port yet
    interfaces.push({ name: network.name, ifaceId: entry.portUID, mac: entry.macAddress });
  }
  return interfaces;
}

export interface ResolvedBoot {
  /** Cached files of the kernel and initrd images (direct kernel boot). */
  kernel?: string;
  initrd?: string;
  /** The VM's disks as the disk driver made them. */
  bootDisk?: string;
  dataDisks: string[];
  taps: string[];
}

/** QEMU's start spec. */
export function startSpec(vm: VirtualMachine, resolved: ResolvedBoot, interfaces: readonly VmInterface[]): StartSpec {
  const requested = parseByteQuantity(vm.spec.memory);
  if (requested === undefined || requested < 16 * MIB) throw new VmSpecProblem('InvalidMemory', `spec.memory ${JSON.stringify(vm.spec.memory)} is not a size of at least 16Mi`);
  const memoryBytes = Math.ceil(requested / MIB) * MIB; // QEMU takes whole MiB
  const cores = vm.spec.cpu?.cores ?? 1;
  const boot: StartSpec['boot'] = vm.spec.boot.kernel
    ? { kernel: resolved.kernel!, ...(resolved.initrd ? { initrd: resolved.initrd } : {}), append: kernelCommandLine(vm) }
    : { disk: { path: resolved.bootDisk!, format: 'qcow2' } };
  if (vm.spec.machine === 'microvm' && !vm.spec.boot.kernel) throw new VmSpecProblem('MachineNeedsKernelBoot', 'machine microvm has no firmware: it boots only with spec.boot.kernel');
  return {
    uid: vm.metadata.uid!,
    name: `${vm.metadata.namespace}/${vm.metadata.name}`.replace(/[^A-Za-z0-9_./-]/g, '_'),
    cpuCores: cores,
    memoryBytes,
    machine: vm.spec.machine ?? 'pc',
    boot,
    disks: resolved.dataDisks.map((path) => ({ path, format: 'qcow2' as const })),
    nics: interfaces.map((entry, index) => ({ tapName: resolved.taps[index], mac: entry.mac })),
    // A guest's own poweroff leaves QEMU up with QMP status "shutdown": told apart from a crash.
    noShutdown: true,
  };
}
