// Simulated drivers for hollow nodes (the Kubernetes kubemark idea): the node agent's real reconcilers run
// against these, so a hollow node registers, heartbeats and reports VMs exactly as a real one does, while a
// "VM" is a row in memory that is running the moment it is started. For scale simulation only: they sit
// beside the real drivers (agents/qemu, agents/disks, agents/node-network) and never replace them — nothing
// but `photon agent --hollow` constructs them.
import type { CachedImage, DesiredVmDisks, DiskDriver, ImageSpec, VmDisks } from '../disks/index.ts';
import type { EnsureResult, NodeNetworkDriver, VmInterface } from '../node-network/index.ts';
import type { HypervisorDriver, HypervisorProbe, PluggedVolume, ShutdownResult, StartResult, StartSpec, VmStatus, VolumeSpec } from '../qemu/index.ts';

const PROBE: HypervisorProbe = { accel: 'kvm', reason: 'KvmAvailable', message: 'hollow node: VMs are simulated', durationMs: 0 };

/** Pids handed out to simulated VMs: above any real pid_max, so no tool mistakes one for a process. */
let nextPid = 10_000_000;

export class HollowHypervisor implements HypervisorDriver {
  private readonly vms = new Map<string, { name?: string; pid: number; running: boolean; volumes: PluggedVolume[] }>();

  async probe(): Promise<HypervisorProbe> {
    return PROBE;
  }

  async start(spec: StartSpec): Promise<StartResult> {
    const existing = this.vms.get(spec.uid);
    if (existing?.running) return { pid: existing.pid, adopted: true, accel: 'kvm', specChanged: false };
    const vm = { name: spec.name, pid: nextPid++, running: true, volumes: [] as PluggedVolume[] };
    this.vms.set(spec.uid, vm);
    return { pid: vm.pid, adopted: false, accel: 'kvm', specChanged: false };
  }

  async status(uid: string): Promise<VmStatus> {
    const vm = this.vms.get(uid);
    if (!vm) return { uid, state: 'absent' };
    return vm.running ? { uid, name: vm.name, state: 'running', pid: vm.pid, qmpStatus: 'running' } : { uid, name: vm.name, state: 'shutdown' };
  }

  async shutdown(uid: string): Promise<ShutdownResult> {
    const vm = this.vms.get(uid);
    if (!vm?.running) return { path: 'not-running', durationMs: 0 };
    vm.running = false;
    return { path: 'acpi', durationMs: 0 };
  }

  async list(): Promise<VmStatus[]> {
    return Promise.all([...this.vms.keys()].map((uid) => this.status(uid)));
  }

  async remove(uid: string): Promise<void> {
    this.vms.delete(uid);
  }

  consolePath(uid: string): string {
    return `/dev/null/hollow/${uid}`;
  }

  async volumes(uid: string): Promise<PluggedVolume[]> {
    return this.vms.get(uid)?.running ? this.vms.get(uid)!.volumes : [];
  }

  async plugVolume(uid: string, volume: VolumeSpec): Promise<void> {
    const vm = this.vms.get(uid);
    if (vm && !vm.volumes.some((plugged) => plugged.name === volume.name)) vm.volumes.push({ ...volume, device: `vol-${volume.name}-dev` });
  }

  async unplugVolume(uid: string, name: string): Promise<void> {
    const vm = this.vms.get(uid);
    if (vm) vm.volumes = vm.volumes.filter((plugged) => plugged.name !== name);
  }

  async resizeVolume(uid: string, name: string, sizeBytes: number): Promise<void> {
    const plugged = this.vms.get(uid)?.volumes.find((volume) => volume.name === name);
    if (plugged) plugged.sizeBytes = sizeBytes;
  }

  async snapshotVolume(): Promise<void> {}
}

export class HollowDisks implements DiskDriver {
  private readonly vms = new Set<string>();

  async ensureImage(image: ImageSpec): Promise<CachedImage> {
    return { path: `/dev/null/hollow-image/${image.sha256}`, format: image.format, sha256: image.sha256, sizeBytes: 0, virtualSizeBytes: 0, fetched: false };
  }

  async ensureVmDisks(vmUid: string, desired: DesiredVmDisks): Promise<VmDisks> {
    this.vms.add(vmUid);
    const disk = (name: string) => ({ name, path: `/dev/null/hollow-disk/${vmUid}/${name}`, format: 'qcow2' as const, sizeBytes: 0 });
    return { dir: `/dev/null/hollow-disk/${vmUid}`, ...(desired.boot ? { boot: disk('boot') } : {}), data: desired.data.map((entry) => disk(entry.name)), actions: [] };
  }

  async removeVmDisks(vmUid: string): Promise<boolean> {
    return this.vms.delete(vmUid);
  }

  async listVmUids(): Promise<string[]> {
    return [...this.vms];
  }
}

export class HollowNetwork implements NodeNetworkDriver {
  private readonly owned = new Set<string>();

  constructor(private readonly chassis: string) {}

  async ensure(vmUid: string, interfaces: readonly VmInterface[]): Promise<EnsureResult> {
    this.owned.add(vmUid);
    return { taps: interfaces.map((_, index) => `hollow${index}`), changes: 0 };
  }

  async remove(vmUid: string): Promise<number> {
    return this.owned.delete(vmUid) ? 1 : 0;
  }

  async listOwned(): Promise<string[]> {
    return [...this.owned];
  }

  async removeOrphans(live: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const uid of this.owned) if (!live.has(uid) && this.owned.delete(uid)) removed++;
    return removed;
  }

  /** Simulated taps are bound the moment they exist (no ovn-controller behind them). */
  async bound(): Promise<boolean> {
    return true;
  }

  async chassisName(): Promise<string> {
    return this.chassis;
  }
}
