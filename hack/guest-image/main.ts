// `npm run guest-image -- --out FILE [--kernel /boot/vmlinuz-…-cloud-amd64]`: builds the test guest
// (build.ts) and prints FILE's sha256 alone on stdout, so scripts can capture it; what was built goes to stderr.
import { parseFlags, runIfMain, UsageError } from '../../lib/cli.ts';
import { buildGuestImage } from './build.ts';

const USAGE = `usage: npm run guest-image -- --out FILE [--kernel VMLINUZ]

Builds the PhotonCloud test guest: FILE is its initramfs (gzip newc cpio), FILE.kernel the kernel to boot
it with (qemu-system-x86_64 -kernel FILE.kernel -initrd FILE -append "console=ttyS0 ..."). Prints FILE's
sha256. See hack/guest-image/README.md.
`;

async function main(argv: string[]): Promise<void> {
  // Strict: an unknown flag or a stray argument is a usage error.
  const values = parseFlags(argv, { out: { type: 'string' }, kernel: { type: 'string' } });
  if (!values.out) throw new UsageError('--out FILE is required');
  const image = await buildGuestImage(values.out, { kernel: values.kernel });
  process.stderr.write(`guest-image: ${image.initrd} (initramfs), ${image.kernel} (kernel ${image.kernelRelease}, sha256 ${image.kernelSha256}); modules ${image.modules.join(' ')}\n`);
  process.stdout.write(`${image.sha256}\n`);
}

runIfMain(import.meta.url, 'guest-image', USAGE, main);
