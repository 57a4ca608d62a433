// The test guest (hack/guest-image) built through its npm interface and booted under real QEMU with TCG: a
// user-mode NIC (QEMU's DHCP server hands out 10.0.2.15; its gateway 10.0.2.2 answers ICMP echo) and a blank
// raw data disk. Every QEMU started here is killed in afterAll, also when a test fails.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildGuestImage, guestKernelAppend, type BuiltGuest } from '../env/guest-image.ts';
import { startProcess, waitFor, WaitAborted, type ManagedProcess } from '../env/process.ts';

const QEMU = '/usr/bin/qemu-system-x86_64';

describe('guest image', () => {
  let dir: string;
  let guest: BuiltGuest;
  const started: ManagedProcess[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgi-'));
    guest = await buildGuestImage(path.join(dir, 'guest.img'));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(started.map((qemu) => qemu.kill()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Boots the guest until it prints "ready"; returns the console text and the time to the ip= marker. */
  const boot = async (name: string, disk: string, userData?: string) => {
    const console = path.join(dir, `${name}.console`);
    const begin = Date.now();
    const qemu = startProcess(`qemu-${name}`, QEMU, [
      '-accel', 'tcg', '-m', '256', '-nographic', '-nodefaults', '-no-reboot',
      '-serial', `file:${console}`, '-monitor', 'none',
      '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guestKernelAppend(userData),
      '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0',
      '-drive', `file=${disk},format=raw,if=virtio`,
    ]);
    started.push(qemu);
    const text = () => (fs.existsSync(console) ? fs.readFileSync(console, 'utf8') : '');
    let ipAfterMs = 0;
    await waitFor(`${name}: photon-guest: ready`, () => {
      if (qemu.child.exitCode !== null) throw new WaitAborted(`QEMU exited ${qemu.child.exitCode}: ${qemu.output()}\n${text()}`);
      if (!ipAfterMs && text().includes('photon-guest: ip=')) ipAfterMs = Date.now() - begin;
      return text().includes('photon-guest: ready');
    }, { timeoutMs: 40_000, intervalMs: 100 });
    // The guest synced its disk before "ready"; killing QEMU loses nothing it wrote.
    await qemu.kill();
    return { lines: text().split(/\r?\n/).filter((line) => line.startsWith('photon-guest: ')), ipAfterMs };
  };

  it('builds reproducibly and prints the sha256 of FILE, with the kernel beside it', async () => {
    expect(guest.sha256).toBe(createHash('sha256').update(fs.readFileSync(guest.initrd)).digest('hex'));
    expect(fs.statSync(guest.kernel).size).toBeGreaterThan(1_000_000);
    const again = await buildGuestImage(path.join(dir, 'again.img'));
    expect(again.sha256).toBe(guest.sha256);
    // newc cpio, gzip-compressed: what the kernel unpacks as an initramfs.
    expect(fs.readFileSync(guest.initrd).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  }, 60_000);

  it('gets its address by DHCP, runs ping and write from user data, and keeps the text on its disk across boots', async () => {
    const disk = path.join(dir, 'data.img');
    fs.writeFileSync(disk, '');
    fs.truncateSync(disk, 64 * 1024 * 1024);

    const first = await boot('first', disk, 'ping 10.0.2.2\nping 10.0.2.99\nwrite hello\n');
    expect(first.lines).toEqual([
      'photon-guest: disk-formatted',
      'photon-guest: ip=10.0.2.15',
      'photon-guest: ping 10.0.2.2 ok',
      // Nothing answers at 10.0.2.99 on QEMU's user network: the failure is reported, not hung on.
      'photon-guest: ping 10.0.2.99 failed',
      'photon-guest: disk=hello',
      'photon-guest: ready',
    ]);
    process.stderr.write(`guest-image: ip= marker ${first.ipAfterMs} ms after QEMU started (TCG)\n`);

    // No user data: the text comes from the disk, which is not formatted again.
    const second = await boot('second', disk);
    expect(second.lines).toEqual(['photon-guest: ip=10.0.2.15', 'photon-guest: disk=hello', 'photon-guest: ready']);
  }, 100_000);

  it('leaves a disk that holds something other than a filesystem untouched', async () => {
    const disk = path.join(dir, 'foreign.img');
    const foreign = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    fs.writeFileSync(disk, foreign);
    const { lines } = await boot('foreign', disk, 'write nope\n');
    expect(lines).toContain('photon-guest: disk-error=/dev/vda holds data that is not a filesystem this guest can mount; left untouched');
    expect(lines).toContain('photon-guest: write-error=no data disk');
    expect(fs.readFileSync(disk).equals(foreign)).toBe(true);
  }, 60_000);
});
