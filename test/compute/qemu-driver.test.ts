// The QEMU driver against real QEMU under TCG, booting the host's cloud kernel with no root filesystem: it
// prints its boot log on the serial console and then hangs after the root-mount panic (panic=0), which is
// enough for lifecycle tests. Every QEMU started here is killed in afterAll, also when a test fails.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootProbe, newestBootKernel, QemuDriver, QmpClient, vmPaths, type StartSpec } from '../../agents/qemu/index.ts';
import { processRunning, waitFor } from '../env/process.ts';

const PC = '6a1f0e2d-3c4b-4a59-8e7f-0a1b2c3d4e5f';
const MICRO = '7b2e1f3a-4d5c-4b6a-9f80-1b2c3d4e5f60';
const QEMU = '/usr/bin/qemu-system-x86_64';

describe('QemuDriver under TCG', () => {
  let root: string;
  let kernel: string;
  let driver: QemuDriver;
  const spec = (uid: string, patch: Partial<StartSpec> = {}): StartSpec => ({
    uid,
    name: `vm-${uid.slice(0, 4)}`,
    cpuCores: 1,
    memoryBytes: 256 * 1024 * 1024,
    accel: 'tcg',
    boot: { kernel, append: 'console=ttyS0 panic=0' },
    ...patch,
  });
  const alive = processRunning;
  const consoleHas = (uid: string, text: string) => fs.existsSync(driver.consolePath(uid)) && fs.readFileSync(driver.consolePath(uid), 'utf8').includes(text);

  beforeAll(async () => {
    const found = await newestBootKernel();
    if (!found) throw new Error('no /boot/vmlinuz-* to boot');
    kernel = found;
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pq-'));
    driver = new QemuDriver({ stateRoot: root });
  });
  afterAll(() => {
    // Whatever a failed test left running: SIGKILL by pidfile, then delete the state root.
    for (const uid of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      const pidFile = path.join(root, uid, 'qemu.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
      if (pid > 1 && fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(pidFile)) {
        process.kill(pid, 'SIGKILL');
      }
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('probe() picks tcg with a reason on this machine, within 15 s, and caches it', async () => {
    const started = Date.now();
    const probe = await driver.probe();
    expect(Date.now() - started).toBeLessThanOrEqual(15_000);
    expect(probe.accel).toBe('tcg');
    if (fs.existsSync('/dev/kvm')) expect(probe.reason).toBe('KvmUnusable');
    else expect(probe).toMatchObject({ reason: 'TcgOnly', message: '/dev/kvm missing' });
    expect(await driver.probe()).toBe(probe);
    // A device that is present but unusable: the boot probe decides, and says why.
    const fake = path.join(root, 'fake-kvm');
    fs.writeFileSync(fake, '');
    const unusable = await new QemuDriver({ stateRoot: root, kvmDevice: fake, probeKernel: kernel, probeTimeoutMs: 10_000 }).probe();
    expect(unusable.accel).toBe('tcg');
    expect(unusable.reason).toBe('KvmUnusable');
    expect(unusable.message).toMatch(/exited before the guest booted|no boot progress/);
    expect(unusable.durationMs).toBeLessThanOrEqual(15_000);
    fs.rmSync(fake);
  }, 40_000);

  it('the boot probe itself sees a guest make progress (under TCG here) and is bounded when it does not', async () => {
    const booted = await bootProbe({ qemuBinary: QEMU, accel: 'tcg', kernel, timeoutMs: 15_000 });
    expect(booted).toMatchObject({ ok: true });
    const tooShort = await bootProbe({ qemuBinary: QEMU, accel: 'tcg', kernel, timeoutMs: 300 });
    expect(tooShort.ok).toBe(false);
    expect(tooShort.detail).toMatch(/no boot progress in 300 ms/);
    expect(tooShort.durationMs).toBeLessThan(3000);
  }, 40_000);

  let pid: number;
  it('start: QEMU is daemonized (not our child), QMP says running, the console gets the boot log', async () => {
    const started = Date.now();
    const result = await driver.start(spec(PC));
    expect(result).toMatchObject({ adopted: false, accel: 'tcg', specChanged: false });
    pid = result.pid;
    const status = await driver.status(PC);
    const runningMs = Date.now() - started;
    expect(status).toMatchObject({ uid: PC, name: 'vm-6a1f', state: 'running', qmpStatus: 'running', pid });
    console.log(`pc/tcg: start() → QMP query-status running in ${runningMs} ms`);
    expect(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]).not.toBe(String(process.pid)); // ppid
    // The kernel writes its log line by line: wait for the line asserted, not only the one before it (read right
    // after the banner, the console once held the banner alone).
    await waitFor('the kernel banner and its command line on the serial console', () => consoleHas(PC, 'Linux version') && consoleHas(PC, 'Command line: console=ttyS0 panic=0'), { timeoutMs: 30_000 });
  }, 60_000);

  it('start again, and a new driver (an agent restart), adopt the same QEMU', async () => {
    expect(await driver.start(spec(PC))).toEqual({ pid, adopted: true, accel: 'tcg', specChanged: false });
    const restarted = new QemuDriver({ stateRoot: root });
    expect(await restarted.start(spec(PC))).toEqual({ pid, adopted: true, accel: 'tcg', specChanged: false });
    expect(await restarted.start(spec(PC, { cpuCores: 2 }))).toMatchObject({ pid, adopted: true, specChanged: true });
    expect(await restarted.status(PC)).toMatchObject({ state: 'running', pid });
    expect(await restarted.list()).toEqual([expect.objectContaining({ uid: PC, state: 'running', pid })]);
    driver = restarted;
  }, 30_000);

  it('a second QEMU for the same VM cannot start beside it (QEMU locks the pidfile)', async () => {
    const paths = vmPaths(root, PC);
    const { execFile } = await import('node:child_process');
    const code = await new Promise<number>((resolve) =>
      execFile(QEMU, ['-nodefaults', '-display', 'none', '-machine', 'none', '-daemonize', '-pidfile', paths.pidFile], { timeout: 10_000 }, (error) =>
        resolve(error ? Number((error as { code?: number }).code ?? 1) : 0),
      ),
    );
    expect(code).not.toBe(0);
    expect(await driver.status(PC)).toMatchObject({ state: 'running', pid });
  }, 20_000);

  it('QMP: commands with ids, errors as QmpCommandError, events; paused shows in status()', async () => {
    const qmp = await QmpClient.connect(vmPaths(root, PC).qmpSocket);
    try {
      expect(qmp.version?.major).toBeGreaterThanOrEqual(7);
      const [a, b] = await Promise.all([qmp.execute<{ status: string }>('query-status'), qmp.execute<{ name?: string }>('query-name')]);
      expect(a.status).toBe('running');
      expect(b.name).toBe('vm-6a1f');
      await expect(qmp.execute('no-such-command')).rejects.toThrow(/CommandNotFound/);
      const stopped = qmp.waitEvent('STOP', 5000);
      await qmp.execute('stop');
      expect(await stopped).toMatchObject({ event: 'STOP' });
    } finally {
      qmp.close();
    }
    expect(await driver.status(PC)).toMatchObject({ state: 'paused', qmpStatus: 'paused', pid });
    const again = await QmpClient.connect(vmPaths(root, PC).qmpSocket);
    try {
      await again.execute('cont');
    } finally {
      again.close();
    }
    expect(await driver.status(PC)).toMatchObject({ state: 'running' });
  }, 30_000);

  it('connecting to a socket nobody serves fails fast with a connection error', async () => {
    await expect(QmpClient.connect(path.join(root, 'nothing.sock'), { timeoutMs: 1000 })).rejects.toThrow(/ENOENT/);
  });

  it('shutdown: ACPI power-off is ignored by a guest with no userspace, so quit ends it after the timeout', async () => {
    const result = await driver.shutdown(PC, 1500);
    expect(result.path).toBe('quit');
    expect(result.durationMs).toBeGreaterThanOrEqual(1500);
    expect(alive(pid)).toBe(false);
    expect(await driver.status(PC)).toEqual({ uid: PC, name: 'vm-6a1f', state: 'shutdown' });
    expect(await driver.shutdown(PC, 1000)).toMatchObject({ path: 'not-running' });
    expect(fs.existsSync(vmPaths(root, PC).pidFile)).toBe(false);
  }, 30_000);

  it('a dead VM starts again as a new QEMU; SIGKILL is the last resort when QMP is gone', async () => {
    const result = await driver.start(spec(PC));
    expect(result.adopted).toBe(false);
    expect(result.pid).not.toBe(pid);
    pid = result.pid;
    // A QMP client that never lets go makes QMP unusable for the driver (one client at a time).
    const hog = await QmpClient.connect(vmPaths(root, PC).qmpSocket);
    try {
      const slow = new QemuDriver({ stateRoot: root, qmpTimeoutMs: 500 });
      expect(await slow.status(PC)).toMatchObject({ state: 'unresponsive', pid });
      const killed = await slow.shutdown(PC, 500);
      expect(killed.path).toBe('kill');
    } finally {
      hog.close();
    }
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(vmPaths(root, PC).pidFile)).toBe(false);
    expect(fs.existsSync(vmPaths(root, PC).qmpSocket)).toBe(false);
  }, 40_000);

  it('microvm boots too (console text), and a data disk whose path has commas opens as that one file', async () => {
    const disk = path.join(root, 'data,format=qcow2,readonly=on.img');
    fs.writeFileSync(disk, Buffer.alloc(1024 * 1024));
    const result = await driver.start(spec(MICRO, { machine: 'microvm', disks: [{ path: disk }] }));
    expect(result.adopted).toBe(false);
    expect(await driver.status(MICRO)).toMatchObject({ state: 'running', pid: result.pid });
    await waitFor('the kernel banner on the microvm serial console', () => consoleHas(MICRO, 'Linux version'), { timeoutMs: 30_000 });
    const qmp = await QmpClient.connect(vmPaths(root, MICRO).qmpSocket);
    try {
      const blocks = await qmp.execute<Array<{ device: string; inserted?: { file: string; ro: boolean; drv: string } }>>('query-block');
      expect(blocks).toEqual([expect.objectContaining({ device: 'disk0', inserted: expect.objectContaining({ file: disk, ro: false, drv: 'raw' }) })]);
    } finally {
      qmp.close();
    }
    expect((await driver.list()).map(({ uid, state }) => [uid, state])).toEqual([
      [PC, 'shutdown'],
      [MICRO, 'running'],
    ]);
  }, 60_000);

  it('remove: stops a running VM and leaves no process and no directory; removing again is a no-op', async () => {
    const micro = (await driver.status(MICRO)).pid!;
    await driver.remove(MICRO);
    await driver.remove(PC);
    expect(alive(micro)).toBe(false);
    expect(fs.existsSync(path.join(root, MICRO))).toBe(false);
    expect(fs.existsSync(path.join(root, PC))).toBe(false);
    expect(await driver.status(MICRO)).toEqual({ uid: MICRO, state: 'absent' });
    expect(await driver.list()).toEqual([]);
    await driver.remove(MICRO);
  }, 30_000);

  it('refuses a bad spec before touching anything, and reports a QEMU that will not start', async () => {
    await expect(driver.start(spec('../x'))).rejects.toThrow(/uid/);
    await expect(driver.start(spec(PC, { boot: { kernel: path.join(root, 'missing-kernel') } }))).rejects.toThrow(/did not start: .*missing-kernel/s);
    expect(await driver.status(PC)).toMatchObject({ state: 'shutdown' });
    await driver.remove(PC);
  }, 30_000);
});
