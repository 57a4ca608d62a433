// A VM's QEMU command line as plain data: from a VmSpec (what the node agent was asked to run) and the VM's
// state directory to the argument vector the driver passes to execFile — never a shell, so no value is ever
// parsed by one. Pure: no I/O, unit-tested in argv.test.ts.
//
// QEMU itself still parses some arguments: `-drive`, `-chardev`, `-name`, `-netdev`, `-device` take
// "key=value,key=value" option lists (QemuOpts), where a comma in a value ends it and starts a new option. So a
// value placed inside an option list is escaped the way QEMU reads it (`,` → `,,`), or, where there is no
// reason for a comma at all (tap names, MACs, machine and accelerator names), refused by a strict pattern.
// Values that are a whole argument of their own (`-kernel`, `-append`, `-pidfile`) are not option lists and
// pass unchanged; `-initrd` is split on commas for multiboot modules, so commas are refused there.
//
// QMP is `-chardev socket,…,server=on,wait=off` + `-mon chardev=qmp,mode=control`: exactly what
// `-qmp unix:<path>,server=on,wait=off` expands to, but with the path as an escaped option value instead of
// the legacy "unix:" string. QEMU starts with `-daemonize -pidfile`: it forks, setsid()s and forks again, so it
// is not the agent's child and outlives an agent restart; the launching process exits only once the machine
// is initialised, the pidfile written and the QMP socket listening.
import path from 'node:path';

export type Machine = 'pc' | 'microvm';
export type Accel = 'kvm' | 'tcg';
export type DiskFormat = 'raw' | 'qcow2';

export interface DiskSpec {
  /** Absolute path of the image (a file or a block device). */
  path: string;
  format?: DiskFormat;
  readOnly?: boolean;
}

export interface NicSpec {
  /** An existing tap device (created by the node network driver), at most 15 characters. */
  tapName: string;
  /** Unicast MAC, aa:bb:cc:dd:ee:ff. */
  mac: string;
}

/**
 * A Volume attached as a virtio disk: a Ceph RBD image through QEMU's rbd driver (librbd), or a local Volume's
 * qcow2 file on this node.
 */
export interface VolumeSpec {
  /** The attachment's name: the guest's serial number; names QEMU's block node `vol-<name>` and device `vol-<name>-dev`. */
  name: string;
  /** RBD: pool and image. */
  pool?: string;
  image?: string;
  /** Local: the qcow2 file's absolute path. */
  file?: string;
  /** The Volume's size, when known: a plugged disk smaller than this is grown online (block_resize). */
  sizeBytes?: number;
}

/** How QEMU reaches Ceph: its ceph.conf (mon_host), the client, and a file holding only that client's key (base64). */
export interface CephAccess {
  conf: string;
  user: string;
  keyFile: string;
}

/** Direct kernel boot, or a boot disk (firmware boots it). */
export type BootSpec = { kernel: string; initrd?: string; append?: string } | { disk: DiskSpec };

export interface VmSpec {
  /** The VirtualMachine's UID: names its state directory. Letters, digits and '-' only. */
  uid: string;
  /** A display name (QEMU's -name, shown in ps and QMP query-name). */
  name: string;
  cpuCores: number;
  memoryBytes: number;
  /** 'pc' (default, i440fx with PCI) or 'microvm' (QEMU's minimal virtio-mmio machine). */
  machine?: Machine;
  accel: Accel;
  boot: BootSpec;
  /** Data disks, attached after the boot disk in order. */
  disks?: DiskSpec[];
  /** Volumes, attached after the data disks in order; RBD ones need `ceph`. */
  volumes?: VolumeSpec[];
  ceph?: CephAccess;
  nics?: NicSpec[];
  /** Exit QEMU instead of rebooting the guest (-no-reboot). */
  noReboot?: boolean;
  /**
   * Keep QEMU alive when the guest powers off (-no-shutdown): QMP then reports `shutdown`, which tells a
   * guest's own poweroff apart from QEMU dying (a crash), as RerunOnFailure needs. The driver quits it.
   */
  noShutdown?: boolean;
}

/** Where one VM's files live: everything under <stateRoot>/<uid>/. */
export interface VmPaths {
  dir: string;
  qmpSocket: string;
  pidFile: string;
  consoleLog: string;
  specFile: string;
}

export class VmSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmSpecError';
  }
}

const UID = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TAP = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** A virtio-blk serial holds 20 bytes. */
const VOLUME_NAME = /^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/;
const CEPH_NAME = /^[A-Za-z0-9_.-]{1,253}$/;
/** The QEMU secret object holding the Ceph key, shared by every Volume of a VM. */
export const CEPH_KEY_SECRET = 'ceph-key';
/** sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const MIB = 1024 * 1024;
/** Kernel arguments a microvm guest needs under TCG to get past timer calibration (see qemuArgv). */
export const MICROVM_TCG_APPEND = 'tsc=reliable no_timer_check lpj=4000000';

export function validUid(uid: string): boolean {
  return UID.test(uid);
}

export function vmPaths(stateRoot: string, uid: string): VmPaths {
  if (!validUid(uid)) throw new VmSpecError(`uid ${JSON.stringify(uid)} must be letters, digits and '-' (at most 63)`);
  if (!path.isAbsolute(stateRoot)) throw new VmSpecError(`state root ${JSON.stringify(stateRoot)} must be an absolute path`);
  const dir = path.join(stateRoot, uid);
  const paths = {
    dir,
    qmpSocket: path.join(dir, 'qmp.sock'),
    pidFile: path.join(dir, 'qemu.pid'),
    consoleLog: path.join(dir, 'console.log'),
    specFile: path.join(dir, 'spec.json'),
  };
  if (Buffer.byteLength(paths.qmpSocket) > MAX_SOCKET_PATH) {
    throw new VmSpecError(`QMP socket path ${paths.qmpSocket} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter state root`);
  }
  return paths;
}

/** A value inside a QEMU option list ("a=b,c=d"): commas doubled, as QEMU's option parser reads them. */
export function optionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

function checkText(what: string, value: string, { allowComma = true } = {}): string {
  if (typeof value !== 'string' || value.length === 0) throw new VmSpecError(`${what} must be a non-empty string`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new VmSpecError(`${what} must not contain control characters`);
  if (!allowComma && value.includes(',')) throw new VmSpecError(`${what} must not contain ',' (QEMU splits it there)`);
  return value;
}

function checkPath(what: string, value: string, options: { allowComma?: boolean } = {}): string {
  checkText(what, value, options);
  if (!path.isAbsolute(value)) throw new VmSpecError(`${what} ${JSON.stringify(value)} must be an absolute path`);
  return value;
}

function checkDisk(what: string, disk: DiskSpec): DiskSpec {
  if (!disk || typeof disk !== 'object') throw new VmSpecError(`${what} must be an object with a path`);
  checkPath(`${what}.path`, disk.path);
  const format = disk.format ?? 'raw';
  if (format !== 'raw' && format !== 'qcow2') throw new VmSpecError(`${what}.format must be raw or qcow2, not ${JSON.stringify(format)}`);
  return { path: disk.path, format, readOnly: disk.readOnly === true };
}

function checkCeph(ceph: CephAccess | undefined): CephAccess {
  if (!ceph) throw new VmSpecError('volumes need ceph (conf, user, keyFile)');
  checkPath('ceph.conf', ceph.conf, { allowComma: false });
  checkPath('ceph.keyFile', ceph.keyFile);
  if (!CEPH_NAME.test(ceph.user)) throw new VmSpecError(`ceph.user must be a Ceph client name, not ${JSON.stringify(ceph.user)}`);
  return ceph;
}

/** QEMU's block node for a Volume (-blockdev / blockdev-add), as JSON: no option-list parsing at all. */
export function volumeBlockdev(volume: VolumeSpec, ceph: CephAccess | undefined): Record<string, unknown> {
  if (!volume || !VOLUME_NAME.test(volume.name)) throw new VmSpecError(`volume name must be 1-20 of [a-z0-9-], not ${JSON.stringify(volume?.name)}`);
  if (volume.file !== undefined) {
    if (volume.pool !== undefined || volume.image !== undefined) throw new VmSpecError(`volume ${volume.name}: a file or an RBD pool and image, not both`);
    checkPath(`volume ${volume.name} file`, volume.file);
    // The qcow2 format node is the root: internal snapshots (blockdev-snapshot-internal-sync) are taken on it.
    return { driver: 'qcow2', 'node-name': `vol-${volume.name}`, file: { driver: 'file', filename: volume.file } };
  }
  if (!CEPH_NAME.test(volume.pool ?? '') || !CEPH_NAME.test(volume.image ?? '')) throw new VmSpecError(`volume ${volume.name}: pool and image must be Ceph names, not ${JSON.stringify(`${volume.pool}/${volume.image}`)}`);
  checkCeph(ceph);
  return { driver: 'rbd', 'node-name': `vol-${volume.name}`, pool: volume.pool, image: volume.image, conf: ceph!.conf, user: ceph!.user, 'key-secret': CEPH_KEY_SECRET, 'auth-client-required': ['cephx'] };
}

/** Whether the Volume is on Ceph (needs the key's secret object). */
export const isRbdVolume = (volume: VolumeSpec): boolean => volume.file === undefined;

/** The secret object holding the Ceph key (read from its file, never on the command line). */
export const cephKeySecret = (ceph: CephAccess) => ({ 'qom-type': 'secret', id: CEPH_KEY_SECRET, file: ceph.keyFile, format: 'base64' });

/** The virtio disk device of a Volume (-device / device_add). */
export function volumeDevice(volume: VolumeSpec, machine: Machine): Record<string, string> {
  return { driver: machine === 'pc' ? 'virtio-blk-pci' : 'virtio-blk-device', drive: `vol-${volume.name}`, id: `vol-${volume.name}-dev`, serial: volume.name };
}

/** The argument vector (without the binary) that starts this VM daemonized with its files in `paths`. */
export function qemuArgv(spec: VmSpec, paths: VmPaths): string[] {
  if (!validUid(spec.uid)) throw new VmSpecError(`uid ${JSON.stringify(spec.uid)} must be letters, digits and '-' (at most 63)`);
  checkText('name', spec.name);
  if (spec.name.length > 253) throw new VmSpecError('name must be at most 253 characters');
  const machine = spec.machine ?? 'pc';
  if (machine !== 'pc' && machine !== 'microvm') throw new VmSpecError(`machine must be pc or microvm, not ${JSON.stringify(machine)}`);
  if (spec.accel !== 'kvm' && spec.accel !== 'tcg') throw new VmSpecError(`accel must be kvm or tcg, not ${JSON.stringify(spec.accel)}`);
  if (!Number.isInteger(spec.cpuCores) || spec.cpuCores < 1 || spec.cpuCores > 255) throw new VmSpecError(`cpuCores must be an integer 1-255, not ${spec.cpuCores}`);
  if (!Number.isSafeInteger(spec.memoryBytes) || spec.memoryBytes < 16 * MIB || spec.memoryBytes % MIB !== 0) {
    throw new VmSpecError(`memoryBytes must be a whole number of MiB, at least 16 MiB, not ${spec.memoryBytes}`);
  }
  const pci = machine === 'pc';
  const tcgMicrovm = machine === 'microvm' && spec.accel === 'tcg';
  const blk = pci ? 'virtio-blk-pci' : 'virtio-blk-device';
  const net = pci ? 'virtio-net-pci' : 'virtio-net-device';

  const args: string[] = [
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-name', `guest=${optionValue(spec.name)}`,
    ...(UUID.test(spec.uid) ? ['-uuid', spec.uid] : []),
    // microvm under TCG has no kvmclock and no HPET or PM timer: the kernel cannot calibrate its TSC or delay
    // loop and hangs early in boot. With the PIT, PIC and RTC present and the calibration skipped on the command
    // line (microvmTcgAppend below) it boots. Under KVM, kvmclock needs none of it.
    '-machine', tcgMicrovm ? 'microvm,pit=on,pic=on,rtc=on' : machine,
    '-accel', spec.accel,
    '-cpu', spec.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(spec.cpuCores),
    '-m', `${spec.memoryBytes / MIB}M`,
  ];

  const drives: Array<{ disk: DiskSpec; bootIndex?: number }> = [];
  const boot = spec.boot as Partial<{ kernel: string; initrd: string; append: string; disk: DiskSpec }>;
  if (boot && typeof boot.kernel === 'string' && boot.disk === undefined) {
    args.push('-kernel', checkPath('boot.kernel', boot.kernel));
    if (boot.initrd !== undefined) args.push('-initrd', checkPath('boot.initrd', boot.initrd, { allowComma: false }));
    if (boot.append !== undefined) {
      // -append is one argument of its own (the kernel command line); QEMU does not parse it.
      if (typeof boot.append !== 'string' || /[\u0000\n\r]/.test(boot.append)) throw new VmSpecError('boot.append must be a single-line string');
    }
    const append = [boot.append, tcgMicrovm ? MICROVM_TCG_APPEND : undefined].filter((part) => part !== undefined && part !== '').join(' ');
    if (append) args.push('-append', append);
  } else if (boot && boot.disk !== undefined && boot.kernel === undefined) {
    drives.push({ disk: checkDisk('boot.disk', boot.disk), bootIndex: 0 });
  } else {
    throw new VmSpecError('boot must have exactly one of kernel or disk');
  }
  for (const [n, disk] of (spec.disks ?? []).entries()) drives.push({ disk: checkDisk(`disks[${n}]`, disk) });

  for (const [n, { disk, bootIndex }] of drives.entries()) {
    const id = `disk${n}`;
    args.push(
      '-drive', `file=${optionValue(disk.path)},format=${disk.format},if=none,id=${id}${disk.readOnly ? ',readonly=on' : ''}`,
      '-device', `${blk},drive=${id},id=${id}-dev${bootIndex !== undefined ? `,bootindex=${bootIndex}` : ''}`,
    );
  }

  if ((spec.volumes ?? []).length > 0) {
    const ceph = spec.volumes!.some(isRbdVolume) ? checkCeph(spec.ceph) : undefined;
    if (ceph) args.push('-object', `secret,id=${CEPH_KEY_SECRET},file=${optionValue(ceph.keyFile)},format=base64`);
    for (const volume of spec.volumes!) {
      const device = volumeDevice(volume, machine);
      // -blockdev takes JSON; -device takes an option list of names checked above (no commas possible).
      args.push('-blockdev', JSON.stringify(volumeBlockdev(volume, ceph)), '-device', Object.entries(device).map(([key, value]) => (key === 'driver' ? value : `${key}=${value}`)).join(','));
    }
  }

  for (const [n, nic] of (spec.nics ?? []).entries()) {
    if (!nic || !TAP.test(nic.tapName)) throw new VmSpecError(`nics[${n}].tapName must be 1-15 of [A-Za-z0-9_.-], not ${JSON.stringify(nic?.tapName)}`);
    if (!MAC.test(nic.mac)) throw new VmSpecError(`nics[${n}].mac must look like 0a:00:00:00:00:01, not ${JSON.stringify(nic.mac)}`);
    if (parseInt(nic.mac.slice(0, 2), 16) & 1) throw new VmSpecError(`nics[${n}].mac ${nic.mac} is a multicast address`);
    args.push(
      '-netdev', `tap,id=net${n},ifname=${nic.tapName},script=no,downscript=no`,
      '-device', `${net},netdev=net${n},mac=${nic.mac.toLowerCase()},id=net${n}-dev`,
    );
  }

  args.push(
    '-chardev', `file,id=serial0,path=${optionValue(paths.consoleLog)},append=on`,
    '-serial', 'chardev:serial0',
    '-chardev', `socket,id=qmp,path=${optionValue(paths.qmpSocket)},server=on,wait=off`,
    '-mon', 'chardev=qmp,mode=control',
    ...(spec.noReboot ? ['-no-reboot'] : []),
    ...(spec.noShutdown ? ['-no-shutdown'] : []),
    '-daemonize',
    '-pidfile', paths.pidFile,
  );
  return args;
}
