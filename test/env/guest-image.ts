// The test guest (hack/guest-image) for tests that boot a VM. test/ may not import hack/ (docs/architecture.md),
// so this runs the builder as the process scripts run, `node --import tsx hack/guest-image/main.ts --out FILE`,
// and relies only on its printed interface: FILE's sha256 on stdout, the kernel at FILE.kernel.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BuiltGuest {
  /** The initramfs, for -initrd. */
  initrd: string;
  /** The kernel it belongs to, for -kernel. */
  kernel: string;
  sha256: string;
}

export async function buildGuestImage(out: string): Promise<BuiltGuest> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, 'hack/guest-image/main.ts'), '--out', out], {
    cwd: ROOT,
    timeout: 60_000,
  });
  const sha256 = stdout.trim();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`guest-image printed ${JSON.stringify(stdout)}, not a sha256`);
  return { initrd: out, kernel: `${out}.kernel`, sha256 };
}

/** The guest's kernel command line (mirrors guestKernelAppend in hack/guest-image/build.ts; README.md there). */
export function guestKernelAppend(userData?: string): string {
  return ['console=ttyS0', 'panic=-1', ...(userData ? [`photon.userdata=${Buffer.from(userData).toString('base64')}`] : [])].join(' ');
}
