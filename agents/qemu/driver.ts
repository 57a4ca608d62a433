// The hypervisor driver the node agent runs VMs through. QemuDriver starts QEMU daemonized (-daemonize
// -pidfile, see argv.ts) so a VM is never the agent's child and survives an agent restart; everything about a
// VM lives in <stateRoot>/<uid>/ (spec.json, qemu.pid, qmp.sock, console.log), which is how a new driver
// instance finds and adopts running VMs without restarting them. State and control go through QMP.
//
// Liveness is the pidfile's pid, checked against /proc/<pid>/cmdline (it must be QEMU with this VM's pidfile
// argument), so a recycled pid is never mistaken for the VM, and a zombie counts as dead. A second QEMU for the
// same uid cannot start: QEMU locks its pidfile and exits before it touches the QMP socket.
import { KeyedQueue } from '../../lib/keyed-queue.ts';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRbdVolume, qemuArgv, validUid, vmPaths, VmSpecError, type Accel, type CephAccess, type VolumeSpec, type VmPaths, type VmSpec } from './argv.ts';
import { QmpClient } from './qmp.ts';
import { deleteVolumeSnapshot, pluggedVolumes, plugVolume, resizeVolume, snapshotVolume, unplugVolume, type PluggedVolume } from './volumes.ts';

export type VmState = 'running' | 'paused' | 'shutdown' | 'absent' | 'unresponsive';

export interface VmStatus {
  uid: string;
  /** From the spec saved at start, when there is one. */
  name?: string;
  /**
   * running / paused from QMP query-status; shutdown: a state directory but no live QEMU (or QEMU reports
   * shutdown); absent: no state directory; unresponsive: QEMU alive but QMP did not answer.
   */
  state: VmState;
  pid?: number;
  /** QMP's RunState verbatim (running, paused, prelaunch, guest-panicked, …). */
  qmpStatus?: string;
  /** Why QMP failed, for unresponsive. */
  error?: string;
}

export interface HypervisorProbe {
  accel: Accel;
  /** For the Node's HypervisorReady condition: KvmAvailable, KvmUnusable or TcgOnly. */
  reason: 'KvmAvailable' | 'KvmUnusable' | 'TcgOnly';
  message: string;
  durationMs: number;
}

export interface StartResult {
  pid: number;
  /** true when a live QEMU for this uid was already running and was adopted instead of started. */
  adopted: boolean;
  accel: Accel;
  /** Adopted, but its saved spec differs from the one asked for (takes effect on the next start). */
  specChanged: boolean;
}

export type ShutdownPath = 'acpi' | 'quit' | 'kill' | 'not-running';

export interface ShutdownResult {
  /** acpi: the guest powered off after system_powerdown; quit: QMP quit after the timeout; kill: SIGKILL. */
  path: ShutdownPath;
  durationMs: number;
}

export interface HypervisorDriver {
  probe(): Promise<HypervisorProbe>;
  /** Idempotent: adopts a live QEMU for spec.uid. accel defaults to probe()'s. */
  start(spec: StartSpec): Promise<StartResult>;
  status(uid: string): Promise<VmStatus>;
  /** ACPI power-off, up to timeoutMs for the guest, then QMP quit, then SIGKILL. */
  shutdown(uid: string, timeoutMs: number): Promise<ShutdownResult>;
  /** Every VM with a state directory, live or dead. */
  list(): Promise<VmStatus[]>;
  /** Stops the VM if it runs (shutdown with timeoutMs, default 0: straight to quit) and deletes its state directory. */
  remove(uid: string, options?: { timeoutMs?: number }): Promise<void>;
  consolePath(uid: string): string;
  /** Volumes plugged into the running VM ([] when it does not run). */
  volumes(uid: string): Promise<PluggedVolume[]>;
  /** Hot-plugs a Volume into the running VM; idempotent. */
  plugVolume(uid: string, volume: VolumeSpec): Promise<void>;
  /** Unplugs a Volume once the guest releases it (UnplugPendingError after waitMs); idempotent. */
  unplugVolume(uid: string, name: string, waitMs: number): Promise<void>;
  /** Grows a plugged Volume's disk online to sizeBytes. */
  resizeVolume(uid: string, name: string, sizeBytes: number): Promise<void>;
  /** Takes (remove: deletes) a qcow2 internal snapshot of a plugged local Volume; idempotent. */
  snapshotVolume(uid: string, name: string, snapshot: string, remove?: boolean): Promise<void>;
}

/** What the agent asks to start; the driver adds the accelerator (if not given) and its Ceph access. */
export type StartSpec = Omit<VmSpec, 'accel' | 'ceph'> & { accel?: Accel };

/** QEMU could not be started or controlled (not a fault of the VM's spec; retry later). */
export class HypervisorUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HypervisorUnavailableError';
  }
}

export interface QemuDriverOptions {
  /** Where VM state directories live; keep it short (the QMP socket path must fit 107 bytes). */
  stateRoot: string;
  qemuBinary?: string;
  /** /dev/kvm, overridable for tests. */
  kvmDevice?: string;
  /** Kernel the KVM probe boots; default the newest /boot/vmlinuz-*. */
  probeKernel?: string;
  /** auto (default): probe KVM by booting a kernel, else TCG; kvm or tcg: use it without probing. */
  accelerator?: 'auto' | Accel;
  /** Bound on the KVM boot probe (default 8000 ms; a working KVM boots to the root-mount panic in < 2 s). */
  probeTimeoutMs?: number;
  /** Per-QMP-command timeout (default 5000 ms). */
  qmpTimeoutMs?: number;
  /**
   * Network namespace QEMU runs in (`ip netns exec`): the one ovs-vswitchd and its taps live in, when the
   * node's switch is not in the host's namespace (the all-in-one's and the tests' userspace chassis).
   */
  netns?: string;
  /** How QEMU reaches Ceph for RBD Volumes; without it a VM with Volumes is refused (VmSpecError). */
  ceph?: CephAccess;
}

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(command, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      const extra = error && typeof (error as { code?: unknown }).code !== 'number' ? `${error.message}\n` : '';
      resolve({ code, stdout: String(stdout), stderr: extra + String(stderr) });
    });
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Whether pid is a live (non-zombie) process whose command line contains `marker` as one argument. */
export async function processMatches(pid: number, marker: string): Promise<boolean> {
  const found = await readProcess(pid);
  return found !== undefined && !found.dead && found.argv.includes(marker);
}

/** A process as /proc shows it: undefined when there is none; dead for a zombie; argv empty while it exits. */
async function readProcess(pid: number): Promise<{ dead: boolean; argv: string[] } | undefined> {
  try {
    const [cmdline, stat] = await Promise.all([fs.readFile(`/proc/${pid}/cmdline`, 'utf8'), fs.readFile(`/proc/${pid}/stat`, 'utf8')]);
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return { dead: state === 'Z' || state === 'X', argv: cmdline === '' ? [] : cmdline.split('\0') };
  } catch {
    return undefined;
  }
}

/**
 * Whether QEMU `pid` has really exited: no such process, a zombie, or the pid now belongs to another program.
 * Stricter than !processMatches: while a process exits, its /proc cmdline reads empty before it turns into a
 * zombie, and a caller told "exited" then may still find it running (seen under load in CI).
 */
async function processGone(pid: number, marker: string): Promise<boolean> {
  const found = await readProcess(pid);
  return found === undefined || found.dead || (found.argv.length > 0 && !found.argv.includes(marker));
}

function runState(status: string): VmState {
  if (status === 'running') return 'running';
  if (status === 'shutdown') return 'shutdown';
  return 'paused'; // paused, prelaunch, suspended, guest-panicked, io-error, …: alive, not running
}

export class QemuDriver implements HypervisorDriver {
  private readonly qemu: string;
  private readonly qmpTimeoutMs: number;
  private probed: Promise<HypervisorProbe> | undefined;
  /** One operation per uid at a time within this driver. */
  /** One operation per VM at a time. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly options: QemuDriverOptions) {
    if (!path.isAbsolute(options.stateRoot)) throw new VmSpecError('stateRoot must be an absolute path');
    this.qemu = options.qemuBinary ?? '/usr/bin/qemu-system-x86_64';
    this.qmpTimeoutMs = options.qmpTimeoutMs ?? 5000;
  }

  private paths(uid: string): VmPaths {
    return vmPaths(this.options.stateRoot, uid);
  }


  consolePath(uid: string): string {
    return this.paths(uid).consoleLog;
  }

  /** The live QEMU's pid for this VM, or undefined. */
  private async livePid(paths: VmPaths): Promise<number | undefined> {
    let text: string;
    try {
      text = await fs.readFile(paths.pidFile, 'utf8');
    } catch {
      return undefined;
    }
    const pid = Number.parseInt(text.trim(), 10);
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    return (await processMatches(pid, paths.pidFile)) ? pid : undefined;
  }

  private async withQmp<T>(paths: VmPaths, use: (qmp: QmpClient) => Promise<T>): Promise<T> {
    const qmp = await QmpClient.connect(paths.qmpSocket, { timeoutMs: this.qmpTimeoutMs });
    try {
      return await use(qmp);
    } finally {
      qmp.close();
    }
  }

  // ---- probe ------------------------------------------------------------------------------------------------

  probe(): Promise<HypervisorProbe> {
    this.probed ??= this.runProbe();
    return this.probed;
  }

  private async runProbe(): Promise<HypervisorProbe> {
    const started = Date.now();
    const result = (accel: Accel, reason: HypervisorProbe['reason'], message: string): HypervisorProbe => ({
      accel,
      reason,
      message,
      durationMs: Date.now() - started,
    });
    if (this.options.accelerator === 'tcg') return result('tcg', 'TcgOnly', 'TCG configured (accelerator tcg)');
    if (this.options.accelerator === 'kvm') return result('kvm', 'KvmAvailable', 'KVM configured (accelerator kvm), not probed');
    const device = this.options.kvmDevice ?? '/dev/kvm';
    try {
      await fs.access(device, fsConstants.R_OK | fsConstants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return result('tcg', 'TcgOnly', code === 'ENOENT' ? `${device} missing` : `${device} not usable: ${code}`);
    }
    const kernel = this.options.probeKernel ?? (await newestBootKernel());
    if (!kernel) return result('tcg', 'KvmUnusable', `${device} exists but there is no kernel to boot-probe it with`);
    const boot = await bootProbe({ qemuBinary: this.qemu, accel: 'kvm', kernel, timeoutMs: this.options.probeTimeoutMs ?? 8000 });
    return boot.ok
      ? result('kvm', 'KvmAvailable', `a guest booted under KVM in ${boot.durationMs} ms`)
      : result('tcg', 'KvmUnusable', `${boot.detail}; using TCG`);
  }

  // ---- start ------------------------------------------------------------------------------------------------

  async start(input: StartSpec): Promise<StartResult> {
    const paths = this.paths(input.uid); // a bad uid rejects (async), it does not throw
    return this.queue.run(input.uid, async () => {
      const accel = input.accel ?? (await this.probe()).accel;
      const spec: VmSpec = { ...input, accel, ...(input.volumes?.some(isRbdVolume) ? { ceph: this.cephAccess() } : {}) };
      const args = qemuArgv(spec, paths); // validates: a bad spec throws VmSpecError before anything is touched
      await fs.mkdir(paths.dir, { recursive: true, mode: 0o700 });

      const live = await this.livePid(paths);
      if (live !== undefined) {
        const saved = await fs.readFile(paths.specFile, 'utf8').then(
          (text) => JSON.parse(text) as { spec?: VmSpec },
          () => undefined,
        );
        await this.withQmp(paths, (qmp) => qmp.execute('query-status', undefined, { timeoutMs: this.qmpTimeoutMs }));
        return {
          pid: live,
          adopted: true,
          accel: saved?.spec?.accel ?? accel,
          specChanged: JSON.stringify(saved?.spec) !== JSON.stringify(spec),
        };
      }

      // Nothing alive: clear what a dead QEMU (or a SIGKILL) left, then start a new one.
      await fs.rm(paths.pidFile, { force: true });
      await fs.rm(paths.qmpSocket, { force: true });
      const argv = this.options.netns ? ['ip', 'netns', 'exec', this.options.netns, this.qemu, ...args] : [this.qemu, ...args];
      await fs.writeFile(paths.specFile, `${JSON.stringify({ spec, argv }, null, 2)}\n`, { mode: 0o600 });
      const launched = await exec(argv[0], argv.slice(1), 60_000);
      if (launched.code !== 0) {
        const stray = await this.livePid(paths);
        if (stray !== undefined) process.kill(stray, 'SIGKILL');
        const detail = launched.stderr.trim() || launched.stdout.trim() || `exit code ${launched.code}`;
        throw new HypervisorUnavailableError(`qemu for ${spec.uid} did not start: ${detail}`);
      }
      const pid = await this.livePid(paths);
      if (pid === undefined) throw new HypervisorUnavailableError(`qemu for ${spec.uid} started but exited at once (see ${paths.consoleLog})`);
      return { pid, adopted: false, accel, specChanged: false };
    });
  }

  // ---- volumes (hot-plug) -----------------------------------------------------------------------------------

  private cephAccess(): CephAccess {
    if (!this.options.ceph) throw new VmSpecError('this node has no Ceph client configured (photon agent --ceph-conf and --ceph-keyring): it cannot attach Volumes');
    return this.options.ceph;
  }

  /** Volumes plugged into the VM's running QEMU; [] when it does not run. */
  async volumes(uid: string): Promise<PluggedVolume[]> {
    const paths = this.paths(uid);
    if ((await this.livePid(paths)) === undefined) return [];
    return this.withQmp(paths, (qmp) => pluggedVolumes(qmp, this.qmpTimeoutMs));
  }

  /** Hot-plugs a Volume into the running VM (machine pc); idempotent. */
  async plugVolume(uid: string, volume: VolumeSpec): Promise<void> {
    const paths = this.paths(uid);
    return this.queue.run(uid, async () => {
      if ((await this.livePid(paths)) === undefined) throw new HypervisorUnavailableError(`VM ${uid} is not running`);
      const machine = await fs.readFile(paths.specFile, 'utf8').then((text) => (JSON.parse(text) as { spec?: VmSpec }).spec?.machine ?? 'pc', () => 'pc' as const);
      await this.withQmp(paths, (qmp) => plugVolume(qmp, volume, () => this.cephAccess(), machine, this.qmpTimeoutMs));
    });
  }

  /** Unplugs a Volume from the running VM once the guest releases it; UnplugPendingError after waitMs. */
  async unplugVolume(uid: string, name: string, waitMs: number): Promise<void> {
    const paths = this.paths(uid);
    return this.queue.run(uid, async () => {
      if ((await this.livePid(paths)) === undefined) return;
      await this.withQmp(paths, (qmp) => unplugVolume(qmp, name, waitMs, this.qmpTimeoutMs));
    });
  }

  async resizeVolume(uid: string, name: string, sizeBytes: number): Promise<void> {
    const paths = this.paths(uid);
    return this.queue.run(uid, async () => {
      if ((await this.livePid(paths)) === undefined) return;
      await this.withQmp(paths, (qmp) => resizeVolume(qmp, name, sizeBytes, this.qmpTimeoutMs));
    });
  }

  /** Takes (or with `remove`, deletes) a qcow2 internal snapshot of a local Volume plugged into the running VM. */
  async snapshotVolume(uid: string, name: string, snapshot: string, remove = false): Promise<void> {
    const paths = this.paths(uid);
    return this.queue.run(uid, async () => {
      if ((await this.livePid(paths)) === undefined) throw new HypervisorUnavailableError(`VM ${uid} is not running`);
      await this.withQmp(paths, (qmp) => (remove ? deleteVolumeSnapshot : snapshotVolume)(qmp, name, snapshot, this.qmpTimeoutMs));
    });
  }

  // ---- status -----------------------------------------------------------------------------------------------

  async status(uid: string): Promise<VmStatus> {
    const paths = this.paths(uid);
    if (!(await exists(paths.dir))) return { uid, state: 'absent' };
    const name = await fs.readFile(paths.specFile, 'utf8').then(
      (text) => (JSON.parse(text) as { spec?: { name?: string } }).spec?.name,
      () => undefined,
    );
    const pid = await this.livePid(paths);
    if (pid === undefined) return { uid, name, state: 'shutdown' };
    try {
      const { status } = await this.withQmp(paths, (qmp) => qmp.execute<{ status: string }>('query-status', undefined, { timeoutMs: this.qmpTimeoutMs }));
      return { uid, name, pid, state: runState(status), qmpStatus: status };
    } catch (error) {
      // QEMU may have exited between the pid check and the connect.
      if ((await this.livePid(paths)) === undefined) return { uid, name, state: 'shutdown' };
      return { uid, name, pid, state: 'unresponsive', error: (error as Error).message };
    }
  }

  async list(): Promise<VmStatus[]> {
    let entries: string[];
    try {
      entries = await fs.readdir(this.options.stateRoot);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const uids = entries.filter(validUid).sort();
    const statuses = await Promise.all(uids.map((uid) => this.status(uid)));
    return statuses.filter((status) => status.state !== 'absent');
  }

  // ---- shutdown / remove ------------------------------------------------------------------------------------

  async shutdown(uid: string, timeoutMs: number): Promise<ShutdownResult> {
    const paths = this.paths(uid);
    return this.queue.run(uid, () => this.stop(paths, timeoutMs));
  }

  private async waitExit(paths: VmPaths, pid: number, deadline: number): Promise<boolean> {
    for (;;) {
      if (await processGone(pid, paths.pidFile)) return true;
      if (Date.now() >= deadline) return false;
      await delay(Math.min(50, Math.max(1, deadline - Date.now())));
    }
  }

  /** Until QEMU exits or (with -no-shutdown) QMP reports the guest powered off; false at the deadline. */
  private async waitPoweredOff(paths: VmPaths, pid: number, deadline: number): Promise<boolean> {
    for (;;) {
      if (!(await processMatches(pid, paths.pidFile))) return true;
      const state = await this.withQmp(paths, (qmp) => qmp.execute<{ status: string }>('query-status', undefined, { timeoutMs: this.qmpTimeoutMs })).then(
        (reply) => reply.status,
        () => undefined,
      );
      if (state === 'shutdown') return true;
      if (Date.now() >= deadline) return false;
      await delay(Math.min(200, Math.max(1, deadline - Date.now())));
    }
  }

  private async stop(paths: VmPaths, timeoutMs: number): Promise<ShutdownResult> {
    const started = Date.now();
    const done = async (shutdownPath: ShutdownPath): Promise<ShutdownResult> => {
      // QEMU removes its pidfile and socket on a clean exit; a SIGKILL leaves them.
      await fs.rm(paths.pidFile, { force: true });
      await fs.rm(paths.qmpSocket, { force: true });
      return { path: shutdownPath, durationMs: Date.now() - started };
    };
    const pid = await this.livePid(paths);
    if (pid === undefined) return done('not-running');

    if (timeoutMs > 0) {
      const asked = await this.withQmp(paths, (qmp) => qmp.execute('system_powerdown', undefined, { timeoutMs: this.qmpTimeoutMs })).then(
        () => true,
        () => false,
      );
      if (asked && (await this.waitPoweredOff(paths, pid, started + timeoutMs))) {
        // With -no-shutdown QEMU outlives the guest's poweroff: quit it (the guest is already off).
        if (await processMatches(pid, paths.pidFile)) await this.withQmp(paths, (qmp) => qmp.execute('quit', undefined, { timeoutMs: this.qmpTimeoutMs })).catch(() => undefined);
        if (await this.waitExit(paths, pid, Date.now() + 5000)) return done('acpi');
      }
    }
    const quit = await this.withQmp(paths, (qmp) => qmp.execute('quit', undefined, { timeoutMs: this.qmpTimeoutMs })).then(
      () => true,
      (error: Error) => /closed/.test(error.message), // QEMU may close the socket before the reply arrives
    );
    if (quit && (await this.waitExit(paths, pid, Date.now() + 5000))) return done('quit');
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
    if (!(await this.waitExit(paths, pid, Date.now() + 5000))) throw new HypervisorUnavailableError(`qemu ${pid} survived SIGKILL`);
    return done('kill');
  }

  async remove(uid: string, { timeoutMs = 0 }: { timeoutMs?: number } = {}): Promise<void> {
    const paths = this.paths(uid);
    return this.queue.run(uid, async () => {
      await this.stop(paths, timeoutMs);
      await fs.rm(paths.dir, { recursive: true, force: true });
    });
  }
}

/** The newest /boot/vmlinuz-* (by name), or undefined. */
export async function newestBootKernel(dir = '/boot'): Promise<string | undefined> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const kernels = names.filter((name) => name.startsWith('vmlinuz-')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  for (const name of kernels.reverse()) {
    const file = path.join(dir, name);
    if (await fs.access(file, fsConstants.R_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

export interface BootProbeResult {
  ok: boolean;
  detail: string;
  durationMs: number;
}

/**
 * Boots `kernel` with no root under `accel` and waits (at most timeoutMs) for it to get all the way to the
 * root-mount panic on the serial console: a guest that makes progress, not just a device that opens. The QEMU
 * is a plain child (not daemonized), killed when the probe ends, and its files live in a fresh temp directory.
 */
export async function bootProbe(options: { qemuBinary: string; accel: Accel; kernel: string; timeoutMs: number }): Promise<BootProbeResult> {
  const started = Date.now();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-kvm-probe-'));
  const console = path.join(dir, 'console.log');
  const args = [
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-machine', 'pc', '-accel', options.accel, '-cpu', options.accel === 'kvm' ? 'host' : 'max', '-smp', '1', '-m', '128M',
    '-kernel', options.kernel, '-append', 'console=ttyS0 panic=-1 quiet loglevel=4',
    '-chardev', `file,id=serial0,path=${console.replaceAll(',', ',,')}`, '-serial', 'chardev:serial0',
    '-no-reboot',
  ];
  const child = spawn(options.qemuBinary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk.slice(0, 4096)));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (error) => {
      stderr += error.message;
      exited = true;
      resolve();
    });
  });
  const deadline = started + options.timeoutMs;
  let detail = '';
  let ok = false;
  try {
    for (;;) {
      const text = await fs.readFile(console, 'utf8').catch(() => '');
      // 'Kernel panic' / 'VFS:' come after the whole kernel init ran (quiet hides the rest): real progress.
      if (/Kernel panic|VFS: Unable to mount root/.test(text)) {
        ok = true;
        break;
      }
      if (exited) {
        detail = `qemu -accel ${options.accel} exited before the guest booted: ${stderr.trim().split('\n')[0] || 'no output'}`;
        break;
      }
      if (Date.now() >= deadline) {
        detail = `a guest under -accel ${options.accel} made no boot progress in ${options.timeoutMs} ms (${text.length} bytes on its console)`;
        break;
      }
      await delay(50);
    }
  } finally {
    if (!exited) child.kill('SIGKILL');
    await exit;
    await fs.rm(dir, { recursive: true, force: true });
  }
  return { ok, detail: ok ? 'booted' : detail, durationMs: Date.now() - started };
}
