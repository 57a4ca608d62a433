// The node agent (`photon agent`): one per hypervisor. It registers its Node and heartbeats (registration.ts),
// watches only the VirtualMachines bound to its node (a field selector the node authorizer requires), and
// runs each through the drivers — QEMU (agents/qemu), disks (agents/disks), taps on br-int (agents/node-network)
// — with the VmRuntime reconciler (vm-runtime.ts), and the HTTP proxies of LoadBalancers placed on its node
// (agents/haproxy, proxy-runtime.ts), and the qcow2 files and snapshots of local Volumes kept on its node
// (local-volumes.ts). After a restart it adopts running QEMUs (their state
// directories say which) and, once its VM list has synced, removes what belongs to VMs no longer bound here.
import fs from 'node:fs';
import path from 'node:path';
import { ExponentialBackoff, noJitterGenerator } from 'cockatiel';
import { clientFromKubeconfig, loadKubeconfig, type ApiClient } from '../../apis/client/index.ts';
import { VirtualMachineResource, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { Controller } from '../../controllers/runtime/controller.ts';
import { InformerCache } from '../../controllers/runtime/informer.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import { QcowLocalVolumeDriver, QemuImgDiskDriver } from '../disks/index.ts';
import { OvsTapDriver } from '../node-network/index.ts';
import { QemuDriver, type Accel, type CephAccess } from '../qemu/index.ts';
import { keyOf, type CephClientConfig } from '../ceph/client.ts';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';
import { ensureServingCertificate, startAgentServer } from './agent-server.ts';
import { NodeRegistration, type Resources } from './registration.ts';
import { VmRuntime } from './vm-runtime.ts';
import { ProxyRuntime } from './proxy-runtime.ts';
import { HaproxyDriver } from '../haproxy/index.ts';
import { LoadBalancerResource, type LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import { VolumeResource, VolumeSnapshotResource, type Volume, type VolumeSnapshot } from '../../apis/storage/v1alpha1/index.ts';
import { LocalSnapshotRuntime, localVolumesDir, LocalVolumeRuntime } from './local-volumes.ts';

/** kubelet's port, by the same convention: the agent's HTTPS endpoint. */
export const DEFAULT_AGENT_PORT = 10250;

export interface NodeAgentOptions {
  kubeconfig: string;
  nodeName: string;
  /** Everything the agent keeps: VM state (qemu/), disks and images (disks/), run records (vms/). Keep it short: QMP socket paths are limited to 107 bytes. */
  stateDir: string;
  /** This node's Open vSwitch database (default: ovs-vsctl's). */
  ovsDb?: string;
  /** Network namespace of ovs-vswitchd (taps and QEMU live there); default the agent's own. */
  netns?: string;
  bridge?: string;
  internalIp?: string;
  /** Where the agent's HTTPS endpoint listens (default: internalIp) and its port (default 10250; 0 picks one). */
  listenAddress?: string;
  port?: number;
  labels?: Record<string, string>;
  allocatable?: Partial<Resources>;
  accelerator?: 'auto' | Accel;
  /** The Ceph cluster Volumes live in; without it VMs with Volumes cannot start here. */
  ceph?: CephClientConfig;
  qemuBinary?: string;
  leaseDurationSeconds?: number;
  statusIntervalMs?: number;
  /** How often a running VM's QEMU is checked (default 10 s). */
  resyncMs?: number;
  /** How often leftovers of VMs gone from this node are swept (default 5 min; always once at start). */
  sweepIntervalMs?: number;
  workers?: number;
  /**
   * Shut the node's VMs down when the agent stops (the all-in-one, whose chassis stops with it: a VM left
   * running would keep taps in a network namespace that is gone). Default false: VMs outlive the agent.
   */
  stopVmsOnExit?: boolean;
  logger?: Logger;
}

export interface NodeAgent {
  readonly nodeName: string;
  readonly client: ApiClient;
  readonly hypervisor: QemuDriver;
  /** Removes leftovers of VMs not bound here now; resolves with how many VMs' leftovers went. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/** QEMU's access to Ceph: the client's key alone in a private file under the state dir (QEMU reads it itself). */
function cephAccess(client: CephClientConfig, stateDir: string): CephAccess {
  const keyFile = path.join(stateDir, 'ceph', `client.${client.id}.key`);
  fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  writePrivateFileAtomic(keyFile, keyOf(client));
  return { conf: client.conf, user: client.id, keyFile };
}

/** Directories under the state dir, shared with tests that look at what the agent left. */
export const agentPaths = (stateDir: string) => ({ qemu: path.join(stateDir, 'qemu'), disks: path.join(stateDir, 'disks'), records: stateDir, proxies: path.join(stateDir, 'proxies'), volumes: localVolumesDir(stateDir) });

export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const log = options.logger ?? createLogger('photon-agent');
  const client = clientFromKubeconfig(options.kubeconfig, { component: 'photon-agent', fieldManager: 'photon-agent' });
  const paths = agentPaths(options.stateDir);
  const hypervisor = new QemuDriver({ stateRoot: paths.qemu, netns: options.netns, accelerator: options.accelerator, qemuBinary: options.qemuBinary, ceph: options.ceph && cephAccess(options.ceph, options.stateDir) });
  const disks = new QemuImgDiskDriver({ stateDir: paths.disks });
  const network = new OvsTapDriver({ db: options.ovsDb, netns: options.netns, bridge: options.bridge });

  // The endpoint the API server reaches for consoles (agent-server.ts), published with the Node's status.
  const internalIp = options.internalIp ?? '127.0.0.1';
  const serving = await ensureServingCertificate(options.stateDir, options.nodeName, [internalIp]);
  const caPem = loadKubeconfig(options.kubeconfig).caPem;
  if (!caPem) throw new Error(`${options.kubeconfig} has no certificate-authority-data: the agent needs the cluster CA to know the API server`);
  let vmInformer: ReturnType<InformerCache['informerFor']> | undefined;
  const server = await startAgentServer({
    host: options.listenAddress ?? internalIp,
    port: options.port ?? DEFAULT_AGENT_PORT,
    tls: serving,
    clientCaPem: caPem,
    consoleFile: (namespace, name) => {
      const vm = vmInformer?.get(name, namespace) as VirtualMachine | undefined;
      return vm && vm.status?.nodeName === options.nodeName ? hypervisor.consolePath(vm.metadata.uid!) : undefined;
    },
    log: log.child({ component: 'agent-server' }),
  });

  const registration = new NodeRegistration({
    client,
    nodeName: options.nodeName,
    labels: options.labels,
    hypervisor,
    network,
    stateDir: options.stateDir,
    internalIp,
    agentEndpoint: () => ({ port: server.port, certificateSha256: serving.sha256 }),
    allocatable: options.allocatable,
    leaseDurationSeconds: options.leaseDurationSeconds,
    statusIntervalMs: options.statusIntervalMs,
    log: log.child({ component: 'registration' }),
  });
  await registration.start();

  const informers = new InformerCache(client, { defaults: { logger: log } });
  const fieldSelector = `status.nodeName=${options.nodeName}`;
  const vms = informers.informerFor<VirtualMachine>(VirtualMachineResource, { fieldSelector });
  vmInformer = vms;
  const runtime = new VmRuntime({ client, nodeName: options.nodeName, informer: vms, hypervisor, disks, network, stateDir: options.stateDir, localVolumesDir: paths.volumes, resyncMs: options.resyncMs, log });
  const controller = new Controller({
    name: 'photon-agent',
    client,
    informers,
    resource: VirtualMachineResource,
    fieldSelector,
    reconciler: runtime,
    workers: options.workers ?? 4,
    logger: log,
    // A failed start is retried with backoff, capped low: a VM waits seconds, not minutes, after a hiccup.
    queue: { backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 30_000, generator: noJitterGenerator }) },
    // The agent writes only status.runtime and DisksReady: Stalled belongs to the controller-manager's controllers.
    stalledConditions: false,
    clearStalledOnSuccess: false,
  });
  await controller.start();

  // HTTP proxies of LoadBalancers placed on this node (an HAProxy per LoadBalancer in its own namespace).
  const proxyFieldSelector = `status.proxy.node=${options.nodeName}`;
  const loadBalancers = informers.informerFor<LoadBalancer>(LoadBalancerResource, { fieldSelector: proxyFieldSelector });
  const proxies = new ProxyRuntime({
    client,
    nodeName: options.nodeName,
    informer: loadBalancers,
    driver: new HaproxyDriver({ stateDir: paths.proxies, db: options.ovsDb, vswitchdNetns: options.netns, bridge: options.bridge }),
    // Pool members' health is reported every pass: at most 5 s apart whatever the VMs' resync.
    resyncMs: Math.min(options.resyncMs ?? 5000, 5000),
    log: log.child({ component: 'proxies' }),
  });
  const proxyController = new Controller({
    name: 'photon-agent-proxies',
    client,
    informers,
    resource: LoadBalancerResource,
    fieldSelector: proxyFieldSelector,
    reconciler: proxies,
    workers: 2,
    logger: log,
    queue: { backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 30_000, generator: noJitterGenerator }) },
    stalledConditions: false,
    clearStalledOnSuccess: false,
  });
  await proxyController.start();

  // Local Volumes kept on this node (status.backend.node) and their snapshots (status.node).
  const localDriver = new QcowLocalVolumeDriver({ dir: paths.volumes });
  const volumeFieldSelector = `status.backend.node=${options.nodeName}`;
  const snapshotFieldSelector = `status.node=${options.nodeName}`;
  const localVolumeInformer = informers.informerFor<Volume>(VolumeResource, { fieldSelector: volumeFieldSelector });
  const localSnapshotInformer = informers.informerFor<VolumeSnapshot>(VolumeSnapshotResource, { fieldSelector: snapshotFieldSelector });
  const localVolumes = new LocalVolumeRuntime({ client, nodeName: options.nodeName, volumes: localVolumeInformer, driver: localDriver, hypervisor });
  const localControllers = [
    new Controller({ name: 'photon-agent-volumes', client, informers, resource: VolumeResource, fieldSelector: volumeFieldSelector, reconciler: localVolumes, workers: 2, logger: log, stalledConditions: false, clearStalledOnSuccess: false }),
    new Controller({
      name: 'photon-agent-snapshots',
      client,
      informers,
      resource: VolumeSnapshotResource,
      fieldSelector: snapshotFieldSelector,
      reconciler: new LocalSnapshotRuntime({ client, nodeName: options.nodeName, snapshots: localSnapshotInformer, driver: localDriver, hypervisor }),
      workers: 2,
      logger: log,
      stalledConditions: false,
      clearStalledOnSuccess: false,
    }),
  ];
  for (const localController of localControllers) await localController.start();

  const sweep = async () => {
    await Promise.all([vms.waitForSync(), loadBalancers.waitForSync(), localVolumeInformer.waitForSync()]);
    const removed = await runtime.removeOrphans(log);
    if (removed > 0) log.info('removed leftovers of VMs no longer on this node', { removed });
    const proxiesRemoved = await proxies.removeOrphans();
    if (proxiesRemoved > 0) log.info('removed HTTP proxies of LoadBalancers no longer on this node', { removed: proxiesRemoved });
    const filesRemoved = await localVolumes.removeOrphans();
    if (filesRemoved > 0) log.info('removed files of local Volumes no longer on this node', { removed: filesRemoved });
    return removed;
  };
  const sweeper = new PeriodicTask('orphan sweep', options.sweepIntervalMs ?? 5 * 60_000, async () => void (await sweep()), log);
  sweeper.start(0);
  log.info('node agent started', { node: options.nodeName, stateDir: options.stateDir });

  return {
    nodeName: options.nodeName,
    client,
    hypervisor,
    sweep,
    async stop() {
      sweeper.stop();
      registration.stop();
      await controller.stop().catch((error) => log.warn('controller stop failed', { error: errorMessage(error) }));
      await proxyController.stop().catch((error) => log.warn('proxy controller stop failed', { error: errorMessage(error) }));
      for (const localController of localControllers) await localController.stop().catch((error) => log.warn('local volume controller stop failed', { error: errorMessage(error) }));
      await informers.stop();
      await server.close();
      if (options.stopVmsOnExit) {
        await runtime.stopAll(10_000, log);
        await proxies.removeAll().catch((error) => log.warn('cannot remove the HTTP proxies', { error: errorMessage(error) }));
      }
    },
  };
}
