// The node agent's Node and Lease. Registration creates the Node (labels from --node-labels, an empty spec:
// operators own spec.unschedulable) and keeps its status current: capacity, allocatable, chassis name,
// addresses, node info, the agent's endpoint and the conditions HypervisorReady, NetworkReady and Ready. The
// status is rewritten only when something in it changed (as kubelet does); liveness is the Lease
// photon-node-lease/<node>, renewed every quarter of its duration, which the node-lifecycle controller
// watches. Both loops are level-based: a failed pass is retried on the next tick.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import { isAlreadyExists, isConflict, isNotFound, LeaseResource, type ApiClient, type Lease } from '../../apis/client/index.ts';
import { NodeResource, type Node, type NodeStatus } from '../../apis/compute/v1alpha1/index.ts';
import { setCondition } from '../../apis/meta/conditions.ts';
import { NODE_LEASE_NAMESPACE } from '../../apis/compute/nodes.ts';
import { microTimestamp } from '../../apis/meta/time.ts';
import { writeStatusIfChanged } from '../../controllers/runtime/status.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import type { NodeNetworkDriver } from '../node-network/index.ts';
import type { HypervisorDriver, HypervisorProbe } from '../qemu/index.ts';

export const AGENT_VERSION = '0.1.0';
const FIELD_MANAGER = 'photon-agent';
const GIB = 1024 ** 3;

export interface Resources {
  cpu: number;
  /** Bytes. */
  memory: number;
  /** Bytes. */
  disk?: number;
}

export interface RegistrationOptions {
  client: ApiClient;
  nodeName: string;
  labels?: Record<string, string>;
  hypervisor: HypervisorDriver;
  network: NodeNetworkDriver;
  /** Directory whose filesystem holds VM disks (capacity.disk). */
  stateDir: string;
  internalIp: string;
  /** The agent's HTTPS endpoint (consoles): its port and serving certificate's SHA-256, once serving. */
  agentEndpoint?: () => { port: number; certificateSha256: string } | undefined;
  /** What VMs may use; default: capacity with 4x CPU overcommit and 1 GiB of memory kept for the host. */
  allocatable?: Partial<Resources>;
  cpuAllocationRatio?: number;
  reservedMemoryBytes?: number;
  /** Lease duration in seconds (default 40); renewed every quarter of it. */
  leaseDurationSeconds?: number;
  /** How often the Node's status is recomputed (default 10 s). */
  statusIntervalMs?: number;
  /** The Node's nodeInfo as given (hollow nodes: thousands per process), instead of asking QEMU and OVS. */
  nodeInfo?: NodeStatus['nodeInfo'];
  /** A number in [0, 1) for the heartbeats' jitter (tests pass their own). */
  random?: () => number;
  log: Logger;
}

/**
 * Heartbeats wait up to this share of their interval longer, at random (kubelet's 0.04 for its Lease). Nodes
 * registered together would otherwise report in step: 5,000 hollow nodes sent 5,000 status reads (the first
 * time as many writes too) within ~40 s every five minutes, and the VMs waiting to start behind them in the
 * agent stalled meanwhile.
 */
const HEARTBEAT_JITTER = 0.04;

const quantity = (bytes: number): string => `${Math.floor(bytes / 1024)}Ki`;

function execText(command: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => execFile(command, args, { timeout: 5000 }, (error, stdout) => resolve(error ? undefined : String(stdout))));
}

async function osImage(): Promise<string | undefined> {
  const text = await fs.readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1];
}

export class NodeRegistration {
  private statusTask?: PeriodicTask;
  private leaseTask?: PeriodicTask;
  /** The Lease as this agent last wrote it (the base of the next renewal). */
  private lease?: Lease;
  private probe?: HypervisorProbe;
  private staticInfo?: NodeStatus['nodeInfo'];

  constructor(private readonly options: RegistrationOptions) {}

  get leaseDurationSeconds(): number {
    return this.options.leaseDurationSeconds ?? 40;
  }

  /** Registers the Node and its Lease once (throws if the API refuses), then keeps both current. */
  async start(): Promise<void> {
    this.probe = await this.options.hypervisor.probe();
    await this.ensureNode();
    await this.syncStatus();
    await this.renewLease();
    const statusIntervalMs = this.options.statusIntervalMs ?? 10_000;
    const random = this.options.random ?? Math.random;
    const jittered = { jitter: HEARTBEAT_JITTER, random };
    this.statusTask = new PeriodicTask('node status', statusIntervalMs, () => this.syncStatus(), this.options.log, jittered);
    this.leaseTask = new PeriodicTask('node lease', Math.max(200, (this.leaseDurationSeconds * 1000) / 4), () => this.renewLease(), this.options.log, jittered);
    // The status was just written: the next recomputation comes at a random point of the first interval, so
    // the reports of nodes that registered together are spread over the whole interval from the start.
    this.statusTask.start(random() * statusIntervalMs);
    this.leaseTask.start(this.leaseTask.nextDelayMs());
  }

  stop(): void {
    this.statusTask?.stop();
    this.leaseTask?.stop();
  }

  /** Recomputes the status now (e.g. once the agent's endpoint is serving). */
  refresh(): Promise<void> {
    return this.syncStatus();
  }

  private async ensureNode(): Promise<void> {
    const { client, nodeName, labels } = this.options;
    try {
      await client.create<Node>(NodeResource, { apiVersion: NodeResource.apiVersion, kind: 'Node', metadata: { name: nodeName, ...(labels && Object.keys(labels).length ? { labels } : {}) }, spec: {} }, { fieldManager: FIELD_MANAGER });
      this.options.log.info('registered Node', { node: nodeName });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }

  capacity(): Promise<Resources> {
    return fs.statfs(this.options.stateDir).then(
      (stats) => ({ cpu: os.cpus().length, memory: os.totalmem(), disk: stats.blocks * stats.bsize }),
      () => ({ cpu: os.cpus().length, memory: os.totalmem() }),
    );
  }

  private async syncStatus(): Promise<void> {
    const { client, nodeName, network, log } = this.options;
    const node = await client.get<Node>(NodeResource, nodeName);
    const capacity = await this.capacity();
    const ratio = this.options.cpuAllocationRatio ?? 4;
    const reserved = this.options.reservedMemoryBytes ?? GIB;
    const allocatable = {
      cpu: this.options.allocatable?.cpu ?? Math.floor(capacity.cpu * ratio),
      memory: this.options.allocatable?.memory ?? Math.max(0, capacity.memory - reserved),
      disk: this.options.allocatable?.disk ?? capacity.disk,
    };
    let chassisName: string | undefined;
    let networkProblem: string | undefined;
    try {
      chassisName = await network.chassisName();
      if (!chassisName) networkProblem = 'Open vSwitch has no external_ids:system-id (ovn-controller not configured)';
    } catch (error) {
      networkProblem = errorMessage(error);
    }
    this.staticInfo ??= this.options.nodeInfo;
    if (!this.staticInfo) {
      const qemu = await execText('qemu-system-x86_64', ['--version']);
      const ovs = await execText('ovs-vsctl', ['--version']);
      this.staticInfo = {
        agentVersion: AGENT_VERSION,
        kernelVersion: os.release(),
        ...((await osImage()) ? { osImage: await osImage() } : {}),
        architecture: os.arch() === 'x64' ? 'amd64' : os.arch(),
        ...(qemu ? { qemuVersion: /version ([^\s]+)/.exec(qemu)?.[1] ?? qemu.split('\n')[0] } : {}),
        ...(ovs ? { ovsVersion: /\) ([^\s]+)/.exec(ovs)?.[1] ?? ovs.split('\n')[0] } : {}),
      };
    }
    const probe = this.probe!;
    let conditions = node.status?.conditions;
    const generation = node.metadata.generation;
    conditions = setCondition(conditions, { type: 'HypervisorReady', status: 'True', reason: probe.reason, message: probe.message }, generation);
    conditions = setCondition(conditions, networkProblem ? { type: 'NetworkReady', status: 'False', reason: 'ChassisNotReady', message: networkProblem } : { type: 'NetworkReady', status: 'True', reason: 'ChassisRegistered', message: `OVN chassis ${chassisName}` }, generation);
    conditions = setCondition(conditions, networkProblem ? { type: 'Ready', status: 'False', reason: 'NetworkNotReady', message: networkProblem } : { type: 'Ready', status: 'True', reason: 'AgentReady', message: `agent ${AGENT_VERSION} running VMs with ${probe.accel}` }, generation);
    const endpoint = this.options.agentEndpoint?.();
    const status: NodeStatus = {
      ...node.status,
      observedGeneration: generation,
      conditions,
      capacity: { cpu: capacity.cpu, memory: quantity(capacity.memory), ...(capacity.disk ? { disk: quantity(capacity.disk) } : {}) },
      allocatable: { cpu: allocatable.cpu, memory: quantity(allocatable.memory), ...(allocatable.disk ? { disk: quantity(allocatable.disk) } : {}) },
      ...(chassisName ? { chassisName } : {}),
      addresses: [
        { type: 'InternalIP', address: this.options.internalIp },
        { type: 'Hostname', address: os.hostname() },
      ],
      nodeInfo: { ...this.staticInfo, accelerator: probe.accel },
      ...(endpoint ? { daemonEndpoints: { agentEndpoint: endpoint } } : {}),
    };
    const result = await writeStatusIfChanged(client, NodeResource, node, status, { fieldManager: FIELD_MANAGER });
    if (result.changed) log.debug('node status written', { ready: !networkProblem });
  }

  /**
   * Renews from the Lease as this agent last wrote it, as kubelet does: one request per renewal, not a read
   * and a write (with 5,000 nodes, the reads were a quarter of the API server's requests). Someone else's
   * write in between makes it a 409: then, and on the first renewal, the Lease is read first.
   */
  private async renewLease(): Promise<void> {
    const { client, nodeName } = this.options;
    const now = microTimestamp(new Date());
    const renewed = (lease: Lease): Lease => ({ ...lease, spec: { ...lease.spec, holderIdentity: nodeName, leaseDurationSeconds: this.leaseDurationSeconds, renewTime: now } });
    if (this.lease) {
      try {
        this.lease = await client.update<Lease>(LeaseResource, renewed(this.lease));
        return;
      } catch (error) {
        this.lease = undefined;
        if (!isConflict(error) && !isNotFound(error)) throw error;
      }
    }
    try {
      const lease = await client.get<Lease>(LeaseResource, nodeName, { namespace: NODE_LEASE_NAMESPACE });
      this.lease = await client.update<Lease>(LeaseResource, renewed(lease));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.lease = await client.create<Lease>(LeaseResource, { apiVersion: LeaseResource.apiVersion, kind: 'Lease', metadata: { name: nodeName, namespace: NODE_LEASE_NAMESPACE }, spec: { holderIdentity: nodeName, leaseDurationSeconds: this.leaseDurationSeconds, acquireTime: now, renewTime: now } });
    }
  }
}
