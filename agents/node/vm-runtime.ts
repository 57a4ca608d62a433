// The node agent's reconciler for the VirtualMachines bound to its node (status.nodeName = this node): makes
// the node's QEMU processes, disks and taps match each VM and reports what it sees in status.runtime (and the
// DisksReady condition). Level-based: every pass looks at the world (QMP, the disk directory, OVS) and does
// only what differs, so a pass interrupted at any line — the agent SIGKILLed — is finished by the next one.
//
// Run strategies, decided here because only the node sees how QEMU ended (QEMU runs with -no-shutdown, so a
// guest's own poweroff leaves it up with QMP status "shutdown", while a crash leaves no process):
//   Always          start whenever it is not running
//   RerunOnFailure  start, and again after a crash; a guest poweroff leaves it Stopped (GuestShutdown)
//   Manual          start once on this node; afterwards a stop (poweroff or crash) is final until the spec changes
//   Halted          stop (ACPI, terminationGracePeriodSeconds, then quit, then SIGKILL)
// The last exit is remembered per VM in <stateDir>/vms/<uid>.json so it survives an agent restart.
//
// Deletion, a move to another node, or a VM that vanished while the agent was down: QEMU is stopped and its
// taps, disks and state are removed (teardown); the sweep (removeOrphans) does it for any UID not bound here.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ApiClient } from '../../apis/client/index.ts';
import { isConflict, isNotFound } from '../../apis/client/index.ts';
import { ImageResource, VirtualMachineResource, type Image, type VirtualMachine, type VirtualMachineRuntime } from '../../apis/compute/v1alpha1/index.ts';
import { setCondition } from '../../apis/meta/conditions.ts';
import { timestamp } from '../../apis/meta/time.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import type { Informer } from '../../controllers/runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../../controllers/runtime/reconciler.ts';
import { writeStatusIfChanged } from '../../controllers/runtime/status.ts';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import { DiskDriverError, type DiskDriver } from '../disks/index.ts';
import type { NodeNetworkDriver } from '../node-network/index.ts';
import { VmSpecError, type HypervisorDriver } from '../qemu/index.ts';
import { desiredDisks, imageRefs, imageSpecOf, startSpec, vmInterfaces, VmSpecProblem } from './vm-spec.ts';
import { attachableVolumes, syncVolumes, volumesBlocker, volumesReport } from './volume-sync.ts';
import { cloneJson } from '../../lib/json-clone.ts';

const FIELD_MANAGER = 'photon-agent';
/** A start step shows in status.runtime only when it takes longer than this (see withProgress). */
const PROGRESS_AFTER_MS = 1000;

export interface VmRuntimeOptions {
  client: ApiClient;
  nodeName: string;
  /** VMs with status.nodeName = this node. */
  informer: Informer<VirtualMachine>;
  hypervisor: HypervisorDriver;
  disks: DiskDriver;
  network: NodeNetworkDriver;
  /** Where per-VM run records live (<stateDir>/vms/<uid>.json). */
  stateDir: string;
  /** This node's local Volumes' qcow2 files (local-volumes.ts makes them). */
  localVolumesDir?: string;
  /** How often a running VM is looked at again (QEMU's state changes without an API event). Default 10 s. */
  resyncMs?: number;
  log: Logger;
}

/** How a VM's QEMU last ended on this node, remembered across agent restarts. */
interface RunRecord {
  /** The agent started QEMU for this VM at least once on this node. */
  started: boolean;
  /** NodeStopped: the agent stopped it on its way out (--stop-vms-on-exit); it starts again whatever the strategy. */
  lastExit?: 'GuestShutdown' | 'Crashed' | 'Halted' | 'NodeStopped';
  /** The generation the record's decision was made at (Manual restarts when the spec changes). */
  generation?: number;
  /** A failure only a spec change can fix, at this generation: not retried until the generation changes. */
  failed?: { generation?: number; reason: string; message: string; disks?: boolean };
}

type RuntimeReport = Omit<VirtualMachineRuntime, 'node'>;

export class VmRuntime implements Reconciler {
  /** namespace/name → UID of what this agent runs under that key, to tear it down when the key goes. */
  private readonly known = new Map<string, string>();
  private readonly resyncMs: number;

  constructor(private readonly options: VmRuntimeOptions) {
    this.resyncMs = options.resyncMs ?? 10_000;
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const key = `${request.namespace}/${request.name}`;
    const cached = this.options.informer.get(request.name, request.namespace);
    const previousUid = this.known.get(key);
    if (!cached || cached.status?.nodeName !== this.options.nodeName) {
      // Deleted, or moved to another node: nothing of it may stay here.
      if (previousUid) {
        await this.teardown(previousUid, 0, context.log);
        this.known.delete(key);
      }
      return {};
    }
    const vm = cloneJson(cached);
    const uid = vm.metadata.uid!;
    if (previousUid && previousUid !== uid) await this.teardown(previousUid, 0, context.log); // deleted and recreated under the same name
    this.known.set(key, uid);

    if (vm.metadata.deletionTimestamp) {
      await this.report(vm, { state: 'Stopping', reason: 'Deleting', message: 'stopping the VM and removing its disks and taps' }, undefined, context);
      await this.teardown(uid, graceMs(vm), context.log);
      await this.report(vm, { state: 'Stopped', reason: 'Deleted', message: 'QEMU, taps and disks removed' }, undefined, context);
      return {};
    }
    const failed = (await this.readRecord(uid)).failed;
    if (failed && failed.generation === vm.metadata.generation && vm.spec.runStrategy !== 'Halted') {
      // Already tried and refused at this generation: retrying cannot help (and would flap the status).
      await this.report(vm, { state: 'Failed', reason: failed.reason, message: failed.message }, failed.disks ? { status: 'False', reason: failed.reason, message: failed.message } : undefined, context);
      return {};
    }
    try {
      return await this.converge(vm, context);
    } catch (error) {
      if (error instanceof VmSpecProblem || error instanceof VmSpecError || (error instanceof DiskDriverError && error.permanent)) {
        const reason = error instanceof VmSpecProblem || error instanceof DiskDriverError ? error.reason : 'InvalidSpec';
        const disks = error instanceof DiskDriverError ? { status: 'False' as const, reason, message: error.message } : undefined;
        await this.writeRecord(uid, { ...(await this.readRecord(uid)), failed: { generation: vm.metadata.generation, reason, message: error.message, disks: disks !== undefined } });
        await this.report(vm, { state: 'Failed', reason, message: error.message }, disks, context);
        return {}; // a spec change (a new generation) brings it back
      }
      if (error instanceof DiskDriverError) {
        await this.report(vm, { state: 'Starting', reason: error.reason, message: error.message }, { status: 'False', reason: error.reason, message: error.message }, context);
      }
      throw error; // retried with backoff
    }
  }

  private async converge(vm: VirtualMachine, context: ReconcileContext): Promise<Result> {
    const uid = vm.metadata.uid!;
    const { hypervisor } = this.options;
    const runStrategy = vm.spec.runStrategy ?? 'Always';
    let observed = await hypervisor.status(uid);
    const record = await this.readRecord(uid);

    // A guest that powered itself off (QEMU kept up by -no-shutdown): remember it, then let QEMU go.
    if (observed.state === 'shutdown' && observed.pid !== undefined) {
      await this.writeRecord(uid, { ...record, started: true, lastExit: 'GuestShutdown', generation: vm.metadata.generation });
      await hypervisor.shutdown(uid, 0);
      observed = await hypervisor.status(uid);
      record.lastExit = 'GuestShutdown';
    }
    const running = observed.pid !== undefined;

    if (runStrategy === 'Halted') {
      if (running) {
        await this.report(vm, { state: 'Stopping', reason: 'Halted', message: 'runStrategy is Halted: shutting the guest down' }, undefined, context);
        const result = await hypervisor.shutdown(uid, graceMs(vm));
        context.log.info('VM stopped', { path: result.path, durationMs: result.durationMs });
      }
      await this.writeRecord(uid, { ...record, lastExit: 'Halted', generation: vm.metadata.generation });
      await this.report(vm, { state: 'Stopped', reason: 'Halted', message: 'runStrategy is Halted' }, undefined, context);
      return {};
    }

    if (!running && record.started) {
      // It ran here and is not running now: how did it end, and does the strategy start it again?
      const exit = record.lastExit === 'GuestShutdown' || record.lastExit === 'Halted' || record.lastExit === 'NodeStopped' ? record.lastExit : 'Crashed';
      if (exit === 'Crashed' && record.lastExit !== 'Crashed') await this.writeRecord(uid, { ...record, lastExit: 'Crashed' });
      const specChanged = record.generation !== undefined && record.generation !== vm.metadata.generation;
      const stays = !specChanged && ((runStrategy === 'RerunOnFailure' && exit === 'GuestShutdown') || (runStrategy === 'Manual' && (exit === 'GuestShutdown' || exit === 'Crashed')));
      if (stays) {
        const state = exit === 'Crashed' ? 'Crashed' : 'Stopped';
        await this.report(vm, { state, reason: exit, message: exit === 'GuestShutdown' ? 'the guest powered off' : 'QEMU exited unexpectedly' }, undefined, context);
        return {};
      }
      if (exit === 'Crashed') context.log.warn('VM not running; starting it again', { runStrategy });
    }

    // Network first (its taps must exist before QEMU opens them, and again after any drift): a tap per
    // interface, bound by ovn-controller to the interface's Port.
    const interfaces = vmInterfaces(vm);
    if (!interfaces) {
      await this.report(vm, { state: 'Starting', reason: 'WaitingForPorts', message: "waiting for the VM's Ports to have addresses" }, undefined, context);
      return {}; // the controller's write of status.interfaces brings the VM back
    }

    let pid: number;
    let accelerator: 'kvm' | 'tcg';
    let machine: 'pc' | 'microvm';
    let taps: string[];
    let disksReady: { status: 'True'; reason: string; message: string } | undefined;
    let volumesPending: string | undefined;
    if (running) {
      // Adopted or already checked: disks change only at the next start, so a running VM costs a QMP query and
      // the tap check, not qemu-img runs.
      taps = (await this.options.network.ensure(uid, interfaces)).taps;
      pid = observed.pid!;
      const previous = vm.status?.runtime?.node === this.options.nodeName ? vm.status.runtime : undefined;
      accelerator = previous?.accelerator ?? (await hypervisor.probe()).accel;
      machine = previous?.machine ?? vm.spec.machine ?? 'pc';
      // Volumes added or removed while it runs are hot-plugged or unplugged.
      volumesPending = (await syncVolumes(hypervisor, vm, context.log, this.options.localVolumesDir)).pending;
    } else {
      // Every Volume must be attachable before the guest boots: it may need them to start at all.
      const waiting = volumesBlocker(vm, this.options.localVolumesDir);
      if (waiting) {
        await this.report(vm, { state: 'Starting', ...waiting }, undefined, context);
        return {}; // the controller's next status.volumes brings the VM back
      }
      // Disks: images fetched and verified once per node, then the VM's overlays and data disks.
      const images = await this.resolveImages(vm, context);
      if (!images) return {};
      const cached = new Map<string, string>();
      const disks = await this.withProgress(vm, { state: 'Starting', reason: 'PreparingDisks', message: 'fetching images and creating disks' }, undefined, context, async () => {
        for (const [name, image] of images) cached.set(name, await this.verifyImage(image, context));
        return this.options.disks.ensureVmDisks(uid, desiredDisks(vm, images));
      });
      disksReady = { status: 'True', reason: 'DisksCreated', message: `${disks.data.length + (disks.boot ? 1 : 0)} disk(s) on ${this.options.nodeName}` };
      taps = (await this.options.network.ensure(uid, interfaces)).taps;

      // QEMU: start it (start() adopts one that came up meanwhile).
      const kernel = vm.spec.boot.kernel;
      const spec = { ...startSpec(vm, { kernel: kernel ? cached.get(kernel.imageRef) : undefined, initrd: kernel?.initrdRef ? cached.get(kernel.initrdRef) : undefined, bootDisk: disks.boot?.path, dataDisks: disks.data.map((disk) => disk.path), taps }, interfaces), volumes: attachableVolumes(vm, this.options.localVolumesDir) };
      const started = await this.withProgress(vm, { state: 'Starting', reason: 'StartingQemu', message: 'starting QEMU' }, disksReady, context, () => hypervisor.start(spec));
      await this.writeRecord(uid, { started: true, generation: vm.metadata.generation });
      if (!started.adopted) context.log.info('VM started', { pid: started.pid, accel: started.accel });
      pid = started.pid;
      accelerator = started.accel;
      machine = spec.machine ?? 'pc';
    }
    const status = await hypervisor.status(uid);
    const volumes = volumesReport(vm, await hypervisor.volumes(uid));
    const bound = await Promise.all(interfaces.map((entry) => this.options.network.bound(entry.ifaceId)));
    const startedAt = await startTime(pid);
    const qmpReason = status.qmpStatus ? `Qemu${status.qmpStatus.replace(/(^|-)([a-z])/g, (_match, _dash, letter: string) => letter.toUpperCase())}` : 'Starting';
    await this.report(
      vm,
      {
        state: status.state === 'running' ? 'Running' : 'Starting',
        reason: status.state === 'running' ? 'Running' : qmpReason,
        message: status.state === 'running' ? `QEMU ${pid} running (${accelerator})${volumesPending ? `; ${volumesPending}` : ''}` : `QEMU ${pid}: ${status.qmpStatus ?? status.error ?? status.state}`,
        pid,
        accelerator,
        machine,
        ...(startedAt ? { startedAt } : {}),
        interfaces: interfaces.map((entry, index) => ({ name: entry.name, tap: taps[index], bound: bound[index] })),
        ...(volumes ? { volumes } : {}),
      },
      disksReady,
      context,
    );
    // Bindings settle within a second or two; after that, look again at the resync pace.
    return { requeueAfterMs: bound.every(Boolean) && status.state === 'running' && !volumesPending ? this.resyncMs : volumesPending ? 2000 : 500 };
  }

  /** The VM's Images, or undefined after reporting which one is missing (the VM is looked at again by resync). */
  private async resolveImages(vm: VirtualMachine, context: ReconcileContext): Promise<Map<string, Image> | undefined> {
    const images = new Map<string, Image>();
    for (const ref of imageRefs(vm)) {
      try {
        images.set(ref, await this.options.client.get<Image>(ImageResource, ref, { namespace: vm.metadata.namespace, signal: context.signal }));
      } catch (error) {
        if (!isNotFound(error)) throw error;
        const message = `Image ${ref} does not exist yet`;
        await this.report(vm, { state: 'Starting', reason: 'ImageNotFound', message }, { status: 'False', reason: 'ImageNotFound', message }, context);
        return undefined;
      }
    }
    return images;
  }

  /**
   * Fetches and verifies an Image into the node's cache (once per node) and says so in the Image's status:
   * Ready with its sizes, or Ready=False with why (e.g. ChecksumMismatch) before the error fails the VM.
   */
  private async verifyImage(image: Image, context: ReconcileContext): Promise<string> {
    const ready = image.status?.conditions?.find((condition) => condition.type === 'Ready');
    try {
      const cached = await this.options.disks.ensureImage(imageSpecOf(image));
      if (ready?.status !== 'True' || image.status?.observedGeneration !== image.metadata.generation) {
        await this.reportImage(image, { status: 'True', reason: 'Verified', message: `fetched and verified on ${this.options.nodeName}` }, { sizeBytes: cached.sizeBytes, virtualSizeBytes: cached.virtualSizeBytes, sha256: cached.sha256 }, context);
      }
      return cached.path;
    } catch (error) {
      if (error instanceof DiskDriverError || error instanceof VmSpecProblem) {
        await this.reportImage(image, { status: 'False', reason: error.reason, message: error.message }, {}, context).catch((failure) => context.log.warn('could not report the Image', { error: errorMessage(failure) }));
      }
      throw error;
    }
  }

  private async reportImage(image: Image, condition: { status: 'True' | 'False'; reason: string; message: string }, fields: Partial<NonNullable<Image['status']>>, context: ReconcileContext): Promise<void> {
    const status = { ...image.status, ...fields, observedGeneration: image.metadata.generation, conditions: setCondition(image.status?.conditions, { type: 'Ready', ...condition }, image.metadata.generation) };
    try {
      await writeStatusIfChanged(this.options.client, ImageResource, image, status, { fieldManager: FIELD_MANAGER, signal: context.signal });
    } catch (error) {
      // Another node reported the same Image meanwhile (409), or it went: the VM does not wait on that.
      if (!isConflict(error) && !isNotFound(error)) throw error;
    }
  }

  /**
   * Runs one step of a start, reporting it as the VM's state only if it takes longer than PROGRESS_AFTER_MS
   * (an image download, a slow QEMU): a quick step costs no status write — and no summary write by the VM
   * controller after it — while a slow one still shows what the node is doing. The report finishes before
   * the step's result is used, so later reports build on it.
   */
  private async withProgress<T>(vm: VirtualMachine, runtime: RuntimeReport, disks: { status: 'True' | 'False'; reason: string; message: string } | undefined, context: ReconcileContext, step: () => Promise<T>): Promise<T> {
    let reporting: Promise<void> | undefined;
    // A progress report that fails (a 409 from a newer VM) is only progress: the pass's final report decides.
    const timer = setTimeout(() => (reporting = this.report(vm, runtime, disks, context).catch(() => undefined)), PROGRESS_AFTER_MS);
    try {
      return await step();
    } finally {
      clearTimeout(timer);
      await reporting;
    }
  }

  /** Writes status.runtime (and DisksReady) when they changed. */
  private async report(vm: VirtualMachine, runtime: RuntimeReport, disks: { status: 'True' | 'False'; reason: string; message: string } | undefined, context: ReconcileContext): Promise<void> {
    const current = vm.status ?? {};
    const next: VirtualMachine['status'] = { ...current, runtime: { node: this.options.nodeName, ...runtime } };
    if (jsonEqual(current.runtime && { ...current.runtime, startedAt: undefined }, { ...next.runtime, startedAt: undefined }) && current.runtime?.startedAt) next.runtime!.startedAt = current.runtime.startedAt;
    if (disks) next.conditions = setCondition(current.conditions, { type: 'DisksReady', ...disks }, vm.metadata.generation);
    const result = await writeStatusIfChanged(this.options.client, VirtualMachineResource, vm, next, { fieldManager: FIELD_MANAGER, signal: context.signal });
    // Later reports of this pass build on what was written.
    if (result.changed) {
      vm.metadata.resourceVersion = result.object.metadata.resourceVersion;
      vm.status = result.object.status;
    }
  }

  /** Stops QEMU and removes the VM's taps, disks, QEMU state and run record. Idempotent. */
  async teardown(uid: string, graceMs: number, log: Logger): Promise<void> {
    await this.options.hypervisor.remove(uid, { timeoutMs: graceMs });
    await this.options.network.remove(uid);
    await this.options.disks.removeVmDisks(uid);
    await fs.rm(this.recordPath(uid), { force: true });
    log.info('VM removed from this node', { uid });
  }

  /** Shuts every running VM down (ACPI, then quit), remembering that the node stopped it: the next agent starts it again. */
  async stopAll(graceMs: number, log: Logger): Promise<void> {
    const running = (await this.options.hypervisor.list()).filter((vm) => vm.pid !== undefined);
    await Promise.all(
      running.map(async (vm) => {
        const record = await this.readRecord(vm.uid);
        await this.writeRecord(vm.uid, { ...record, started: true, lastExit: 'NodeStopped' });
        try {
          const result = await this.options.hypervisor.shutdown(vm.uid, graceMs);
          log.info('VM stopped with the agent', { uid: vm.uid, path: result.path });
        } catch (error) {
          log.warn('could not stop a VM', { uid: vm.uid, error: errorMessage(error) });
        }
      }),
    );
  }

  /**
   * Removes everything of VMs not bound to this node any more (deleted or moved while the agent was down, or
   * a teardown interrupted). Call only once the informer has synced: an unlisted VM would look gone.
   */
  async removeOrphans(log: Logger): Promise<number> {
    const live = new Set(this.options.informer.list().filter((vm) => vm.status?.nodeName === this.options.nodeName).map((vm) => vm.metadata.uid!));
    const uids = new Set<string>([
      ...(await this.options.hypervisor.list()).map((vm) => vm.uid),
      ...(await this.options.disks.listVmUids()),
      ...(await this.options.network.listOwned()),
      ...(await fs.readdir(path.join(this.options.stateDir, 'vms')).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -'.json'.length)),
    ]);
    let removed = 0;
    for (const uid of uids) {
      if (live.has(uid)) continue;
      try {
        await this.teardown(uid, 0, log);
        removed++;
      } catch (error) {
        log.warn('could not remove an orphaned VM', { uid, error: errorMessage(error) });
      }
    }
    await this.options.network.removeOrphans(live).catch((error) => log.warn('could not remove orphaned taps', { error: errorMessage(error) }));
    return removed;
  }

  private recordPath(uid: string): string {
    return path.join(this.options.stateDir, 'vms', `${uid}.json`);
  }

  private async readRecord(uid: string): Promise<RunRecord> {
    try {
      return JSON.parse(await fs.readFile(this.recordPath(uid), 'utf8')) as RunRecord;
    } catch {
      return { started: false };
    }
  }

  private async writeRecord(uid: string, record: RunRecord): Promise<void> {
    await fs.mkdir(path.join(this.options.stateDir, 'vms'), { recursive: true, mode: 0o700 });
    await writePrivateFileAtomic(this.recordPath(uid), `${JSON.stringify(record)}\n`);
  }
}

const graceMs = (vm: VirtualMachine): number => (vm.spec.terminationGracePeriodSeconds ?? 60) * 1000;

/** When a process started, from /proc (jiffies since boot), as an RFC 3339 time; undefined if unknown. */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const uptime = Number((await fs.readFile('/proc/uptime', 'utf8')).split(' ')[0]);
    const ticksPerSecond = 100; // USER_HZ on Linux
    return timestamp(new Date(Date.now() - (uptime - startTicks / ticksPerSecond) * 1000));
  } catch {
    return undefined;
  }
}
