// Builds PhotonCloud's tiny test guest from Debian packages alone: the cloud kernel
// (linux-image-cloud-amd64) and busybox-static, with init.sh as PID 1 (README.md beside this file).
//
// What the artifact is, and why: a bootable disk needs a bootloader (or OVMF for an EFI-stub kernel on a FAT
// partition), and writing either without root or extra packages is far more than this guest is worth. QEMU
// boots a kernel and an initramfs directly (`-kernel`/`-initrd`, which agents/qemu's BootSpec already has),
// so the artifact is:
//   FILE         the initramfs: a gzip-compressed newc cpio (busybox, init, the virtio modules); its sha256 is
//                what `npm run guest-image -- --out FILE` prints
//   FILE.kernel  a byte copy of the kernel the modules belong to (init says so on the console if another
//                kernel boots it)
// Both are written to temporary names and renamed, so a reader never sees half a file.
//
// Reproducible: entries sorted, every mtime SOURCE_DATE_EPOCH (else 0), uid/gid 0, inode numbers in order, and
// zlib's gzip header carries no time or name; the same kernel and busybox give the same sha256.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The modules the guest needs: the virtio drivers (PCI transport, NIC and block device; ext4, which mounts ext2,
 * is built in), and the ACPI power button with the event device busybox acpid reads, so an ACPI power-off
 * (QMP system_powerdown, how the node agent stops a VM gracefully) powers the guest off.
 */
export const GUEST_MODULES = ['virtio_pci', 'virtio_mmio', 'virtio_net', 'virtio_blk', 'button', 'evdev'] as const;

export interface BuildOptions {
  /** A vmlinuz; default the newest /boot/vmlinuz-*-cloud-amd64. */
  kernel?: string;
  /** Where that kernel's modules are; default /lib/modules/<release from the kernel file name>. */
  modulesDir?: string;
  busybox?: string;
}

export interface GuestImage {
  /** The initramfs (FILE). */
  initrd: string;
  sha256: string;
  /** FILE.kernel. */
  kernel: string;
  kernelSha256: string;
  kernelRelease: string;
  modules: string[];
}

export class GuestImageError extends Error {
  override name = 'GuestImageError';
}

/** The newest Debian cloud kernel in /boot, by release number. */
export function newestCloudKernel(bootDir = '/boot'): string | undefined {
  const releases = (fs.existsSync(bootDir) ? fs.readdirSync(bootDir) : [])
    .filter((name) => /^vmlinuz-.*-cloud-amd64$/.test(name))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const newest = releases.at(-1);
  return newest ? path.join(bootDir, newest) : undefined;
}

/**
 * The kernel command line for this guest: serial console, reboot → QEMU exits (with -no-reboot) on a panic,
 * and the user data as base64 in `photon.userdata`. The whole x86 command line is at most 2048 bytes, so user
 * data is limited to about 1.4 KiB; larger data needs another channel (not built).
 */
export function guestKernelAppend(userData?: string, { dataDisk }: { dataDisk?: string } = {}): string {
  const words = ['console=ttyS0', 'panic=-1'];
  if (dataDisk !== undefined) {
    if (!/^[a-z0-9]+$/.test(dataDisk)) throw new GuestImageError(`dataDisk must be a device name such as vdb, not ${JSON.stringify(dataDisk)}`);
    words.push(`photon.datadisk=${dataDisk}`);
  }
  if (userData) words.push(`photon.userdata=${Buffer.from(userData).toString('base64')}`);
  const line = words.join(' ');
  if (line.length > 2000) throw new GuestImageError(`user data too large for the kernel command line (${line.length} of at most 2000 bytes)`);
  return line;
}

/**
 * Modules to load, dependencies first, from modules.dep (its dependency lists run from the module that needs
 * the most to the one that needs nothing, so they load in reverse); built-in ones are skipped.
 */
export function moduleLoadOrder(modulesDir: string, wanted: readonly string[] = GUEST_MODULES): string[] {
  const norm = (file: string) => path.basename(file).replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');
  const builtin = new Set(
    fs.readFileSync(path.join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(norm),
  );
  const deps = new Map<string, { file: string; needs: string[] }>();
  for (const line of fs.readFileSync(path.join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const file = line.slice(0, colon);
    deps.set(norm(file), { file, needs: line.slice(colon + 1).trim().split(/\s+/).filter(Boolean) });
  }
  const order: string[] = [];
  const add = (name: string) => {
    if (builtin.has(name) || order.includes(name)) return;
    const entry = deps.get(name);
    if (!entry) throw new GuestImageError(`kernel module ${name} is neither built in nor in ${modulesDir}/modules.dep`);
    for (const need of [...entry.needs].reverse()) add(norm(need));
    order.push(name);
  };
  for (const name of wanted) add(name.replace(/-/g, '_'));
  return order.map((name) => deps.get(name)!.file);
}

interface Entry {
  path: string;
  mode: number;
  data?: Buffer;
  rdev?: [number, number];
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

/** A newc ("070701") cpio archive, the format the kernel unpacks an initramfs from. */
export function newcCpio(entries: Entry[], mtime: number): Buffer {
  const chunks: Buffer[] = [];
  const pad = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);
  const push = (name: string, mode: number, data: Buffer, ino: number, rdev: [number, number] = [0, 0]) => {
    const fields = [ino, mode, 0, 0, mode & S_IFDIR ? 2 : 1, mtime, data.length, 0, 0, rdev[0], rdev[1], Buffer.byteLength(name) + 1, 0];
    const header = Buffer.from('070701' + fields.map((n) => n.toString(16).padStart(8, '0')).join(''), 'ascii');
    const nameBytes = Buffer.from(`${name}\0`);
    chunks.push(header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length));
  };
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  sorted.forEach((entry, index) => push(entry.path, entry.mode, entry.data ?? Buffer.alloc(0), index + 1, entry.rdev));
  push('TRAILER!!!', 0, Buffer.alloc(0), 0);
  return Buffer.concat(chunks);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function writeAtomically(file: string, data: Buffer): void {
  const temp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(temp, data);
    fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

export async function buildGuestImage(out: string, options: BuildOptions = {}): Promise<GuestImage> {
  const kernelPath = options.kernel ?? newestCloudKernel();
  if (!kernelPath || !fs.existsSync(kernelPath)) {
    throw new GuestImageError(`no cloud kernel (${kernelPath ?? '/boot/vmlinuz-*-cloud-amd64'}): install linux-image-cloud-amd64 (hack/install-deps.sh)`);
  }
  const kernelRelease = path.basename(kernelPath).replace(/^vmlinuz-/, '');
  const modulesDir = options.modulesDir ?? path.join('/lib/modules', kernelRelease);
  if (!fs.existsSync(path.join(modulesDir, 'modules.dep'))) throw new GuestImageError(`no modules for ${kernelRelease} in ${modulesDir}`);
  const busybox = options.busybox ?? '/bin/busybox';
  if (!fs.existsSync(busybox)) throw new GuestImageError(`no ${busybox}: install busybox-static (hack/install-deps.sh)`);
  // A dynamically linked busybox would need its libraries in the initramfs too; the static one needs nothing.
  if (fs.readFileSync(busybox).includes(Buffer.from('/lib64/ld-linux'))) throw new GuestImageError(`${busybox} is dynamically linked: install busybox-static`);

  const modules = moduleLoadOrder(modulesDir);
  for (const file of modules) {
    if (!/\.ko(\.xz)?$/.test(file)) throw new GuestImageError(`module ${file}: only .ko and .ko.xz can be loaded by busybox here`);
  }
  const dirs = ['bin', 'dev', 'etc', 'etc/photon-guest', 'lib', 'lib/photon', 'lib/photon/modules', 'mnt', 'mnt/data', 'proc', 'run', 'sys', 'tmp'];
  const entries: Entry[] = [
    ...dirs.map((dir) => ({ path: dir, mode: S_IFDIR | (dir === 'tmp' ? 0o1777 : 0o755) })),
    // The kernel opens /dev/console for init's stdio before init can mount devtmpfs: the node must be here.
    { path: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
    { path: 'init', mode: S_IFREG | 0o755, data: fs.readFileSync(path.join(HERE, 'init.sh')) },
    { path: 'bin/busybox', mode: S_IFREG | 0o755, data: fs.readFileSync(busybox) },
    { path: 'etc/photon-guest/udhcpc.sh', mode: S_IFREG | 0o755, data: fs.readFileSync(path.join(HERE, 'udhcpc.sh')) },
    { path: 'etc/photon-guest/kernel-release', mode: S_IFREG | 0o644, data: Buffer.from(`${kernelRelease}\n`) },
    { path: 'lib/photon/modules.order', mode: S_IFREG | 0o644, data: Buffer.from(modules.map((file) => `${path.basename(file)}\n`).join('')) },
    ...modules.map((file) => ({ path: `lib/photon/modules/${path.basename(file)}`, mode: S_IFREG | 0o644, data: fs.readFileSync(path.join(modulesDir, file)) })),
  ];
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const mtime = epoch && /^\d+$/.test(epoch) ? Number(epoch) : 0;
  const initrd = zlib.gzipSync(newcCpio(entries, mtime), { level: 9 });
  const kernel = fs.readFileSync(kernelPath);

  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeAtomically(`${out}.kernel`, kernel);
  writeAtomically(out, initrd);
  return {
    initrd: out,
    sha256: sha256(initrd),
    kernel: `${out}.kernel`,
    kernelSha256: sha256(kernel),
    kernelRelease,
    modules: modules.map((file) => path.basename(file)),
  };
}
