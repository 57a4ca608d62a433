// `photon agent --hollow N`: N simulated nodes in one process, for scale runs (hack/bench/scale.ts). Each
// hollow node is the real agent's registration (Node, status, Lease heartbeat) and the real VM reconciler
// (VmRuntime: status.runtime, DisksReady, teardown on delete or move) over the simulated drivers of
// drivers.ts, so the API server and the controllers see exactly the traffic of N real agents — the same
// writes, the same conditions — while a "VM" costs a row in memory.
//
// What differs from N real agents, to fit thousands in one process: one client and one watch of every
// VirtualMachine shared by all nodes (a real agent watches only its own, by field selector), dispatched by
// status.nodeName to that node's reconciler; and the credential is one that may act for every node (an admin
// kubeconfig), since a node credential is confined to its own Node.
//
// Real OVN port bindings where they are cheap: each `switches` entry (an Open vSwitch with ovn-controller, as a
// hypervisor has) backs one hollow node, <prefix>-0 first, with the real node network driver. Those nodes'
// VMs get real taps on br-int with the Port's iface-id, ovn-controller binds them, and the node reports an
// interface bound only when ovn-controller has installed it; only the hypervisor and disks stay simulated.
import fs from 'node:fs/promises';
import path from 'node:path';
import { clientFromKubeconfig } from '../../apis/client/index.ts';
import { VirtualMachineResource, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { Controller } from '../../controllers/runtime/controller.ts';
import { InformerCache, type Informer } from '../../controllers/runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../../controllers/runtime/reconciler.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import { AGENT_VERSION, NodeRegistration, type Resources } from '../node/registration.ts';
import { VmRuntime } from '../node/vm-runtime.ts';
import { OvsTapDriver, type NodeNetworkDriver, type OvsTapDriverOptions } from '../node-network/index.ts';
import { HollowDisks, HollowHypervisor, HollowNetwork } from './drivers.ts';

export interface HollowFleetOptions {
  kubeconfig: string;
  /** How many nodes: <prefix>-0 … <prefix>-(count-1). */
  count: number;
  prefix: string;
  /** Run records of the simulated VMs (the reconciler keeps them as a real agent does). */
  stateDir: string;
  labels?: Record<string, string>;
  allocatable: Resources;
  /** Longer than a real node's by default: N nodes renew N Leases. */
  leaseDurationSeconds: number;
  statusIntervalMs: number;
  /** How often a running simulated VM is looked at again. */
  resyncMs: number;
  /** Open vSwitch instances (with ovn-controller) whose taps the first nodes' VMs use, one node each. */
  switches?: readonly OvsTapDriverOptions[];
  /** Nodes registered at once while starting. */
  registrationConcurrency?: number;
  log: Logger;
}

export interface HollowFleet {
  readonly nodes: string[];
  stop(): Promise<void>;
}

/** A node's view of the shared VM informer: what VmRuntime reads (get, list) through one watch. */
function informerForNode(shared: Informer<VirtualMachine>, node: string): Informer<VirtualMachine> {
  return {
    get: (name: string, namespace?: string) => shared.get(name, namespace),
    list: () => shared.list().filter((vm) => vm.status?.nodeName === node),
  } as unknown as Informer<VirtualMachine>;
}

/** Hands each VM to its node's reconciler, and a VM that left a node (moved, deleted) to the node it left. */
class Dispatcher implements Reconciler {
  private readonly lastNode = new Map<string, string>();

  constructor(
    private readonly shared: Informer<VirtualMachine>,
    private readonly runtimes: Map<string, VmRuntime>,
  ) {}

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const key = `${request.namespace}/${request.name}`;
    const node = this.shared.get(request.name, request.namespace)?.status?.nodeName;
    const previous = this.lastNode.get(key);
    if (previous && previous !== node) await this.runtimes.get(previous)?.reconcile(request, context);
    if (!node || !this.runtimes.has(node)) {
      this.lastNode.delete(key);
      return {};
    }
    this.lastNode.set(key, node);
    return this.runtimes.get(node)!.reconcile(request, context);
  }
}

async function inBatches<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

export async function startHollowFleet(options: HollowFleetOptions): Promise<HollowFleet> {
  const { log } = options;
  const client = clientFromKubeconfig(options.kubeconfig, { component: 'photon-agent-hollow', fieldManager: 'photon-agent' });
  const nodes = Array.from({ length: options.count }, (_, index) => `${options.prefix}-${index}`);
  if ((options.switches?.length ?? 0) > options.count) throw new Error(`${options.switches!.length} Open vSwitch instances for ${options.count} hollow nodes: at most one each`);
  const switchOf = new Map((options.switches ?? []).map((switchOptions, index) => [nodes[index]!, new OvsTapDriver(switchOptions)]));
  const drivers = new Map<string, { hypervisor: HollowHypervisor; network: NodeNetworkDriver }>();
  const registrations: NodeRegistration[] = [];
  const nodeInfo = { agentVersion: AGENT_VERSION, kernelVersion: 'hollow', osImage: 'hollow node (simulated)', architecture: 'amd64' };
  // Before registering: a node's capacity includes the disk its state directory is on, and without the directory
  // every Node was registered without it and written again at its first status recomputation.
  await fs.mkdir(options.stateDir, { recursive: true });
  await inBatches(nodes, options.registrationConcurrency ?? 16, async (node) => {
    const realSwitch = switchOf.get(node);
    const simulated = { hypervisor: new HollowHypervisor(), network: realSwitch ?? new HollowNetwork(`hollow-${node}`) };
    drivers.set(node, simulated);
    const registration = new NodeRegistration({
      client,
      nodeName: node,
      labels: { ...options.labels, 'photoncloud.io/hollow': 'true', ...(realSwitch ? { 'photoncloud.io/hollow-network': 'ovs' } : {}) },
      ...simulated,
      stateDir: options.stateDir,
      internalIp: '127.0.0.1',
      allocatable: options.allocatable,
      leaseDurationSeconds: options.leaseDurationSeconds,
      statusIntervalMs: options.statusIntervalMs,
      nodeInfo,
      log: log.child({ node }),
    });
    await registration.start();
    registrations.push(registration);
  });
  log.info('hollow nodes registered', { nodes: nodes.length });

  const informers = new InformerCache(client, { defaults: { logger: log } });
  const shared = informers.informerFor<VirtualMachine>(VirtualMachineResource);
  const runtimes = new Map<string, VmRuntime>();
  for (const node of nodes) {
    const stateDir = path.join(options.stateDir, node);
    await fs.mkdir(stateDir, { recursive: true });
    runtimes.set(node, new VmRuntime({ client, nodeName: node, informer: informerForNode(shared, node), ...drivers.get(node)!, disks: new HollowDisks(), stateDir, resyncMs: options.resyncMs, log }));
  }
  const controller = new Controller({
    name: 'photon-agent-hollow',
    client,
    informers,
    resource: VirtualMachineResource,
    reconciler: new Dispatcher(shared, runtimes),
    workers: 16,
    logger: log,
    stalledConditions: false,
    clearStalledOnSuccess: false,
  });
  await controller.start();
  log.info('hollow nodes running VMs', { nodes: nodes.length });

  return {
    nodes,
    async stop() {
      for (const registration of registrations) registration.stop();
      await controller.stop().catch((error) => log.warn('controller stop failed', { error: errorMessage(error) }));
      await informers.stop();
      client.close();
    },
  };
}
