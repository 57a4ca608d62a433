// A small cloud for compute tests: an API server, a real OVN central, the controller manager (network,
// compute, garbage collector), and node agents run as users run them — `photon agent` processes with a node
// credential from `photon kubeconfig node NAME` — each on its own userspace chassis (ovs-vswitchd on a netdev
// br-int in a namespace, ovn-controller), with QEMU under TCG. The tiny guest of hack/guest-image boots in a
// few seconds and reports its address, pings and disk on the serial console, which tests read through the API.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../agents/ovn-local/commands.ts';
import { QemuDriver } from '../../agents/qemu/index.ts';
import type { CephClientConfig } from '../../agents/ceph/index.ts';
import { HaproxyDriver } from '../../agents/haproxy/index.ts';
import { agentPaths } from '../../agents/node/agent.ts';
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../apis/client/index.ts';
import { VirtualMachineResource, type VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { DnsOptions } from '../../controllers/dns/index.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { startTestApiServer, type TestApiServer } from './apiserver.ts';
import { buildGuestImage, type BuiltGuest } from './guest-image.ts';
import { startOvnCentral, startOvnChassis, type OvnCentral, type OvnChassis } from './ovn.ts';
import { startProcess, waitFor, type ManagedProcess } from './process.ts';
import { PHOTON_CLI } from './tenants.ts';

export const COMPUTE_CONTROLLERS = ['garbage-collector', 'vpc', 'subnet', 'port', 'security-group', 'virtualmachine', 'scheduler', 'node-lifecycle'];

export interface TestAgent {
  readonly name: string;
  readonly stateDir: string;
  readonly chassis: OvnChassis;
  process: ManagedProcess;
  /** SIGKILL (VMs keep running: QEMU is not the agent's child). */
  kill(): Promise<void>;
  /** Starts `photon agent` again with the same flags and state. */
  restart(): Promise<void>;
  /** QEMU state directories, disks and taps this agent's node has now. */
  leftovers(): Promise<{ qemu: string[]; disks: string[]; taps: string[] }>;
}

export interface ComputeEnv {
  api: TestApiServer;
  ovn: OvnCentral;
  client: ApiClient;
  manager: ControllerManager;
  guest: BuiltGuest & { kernelSha256: string };
  agents: TestAgent[];
  startAgent(name: string, options?: { labels?: Record<string, string>; cpu?: number; memory?: string }): Promise<TestAgent>;
  namespace(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ComputeEnvOptions {
  /** Node lifecycle timings (defaults short for tests). */
  nodeMonitorGracePeriodMs?: number;
  evictionTimeoutMs?: number;
  /** The agents' Lease duration in seconds (default 2). */
  leaseDurationSeconds?: number;
  /** Controllers to run (default COMPUTE_CONTROLLERS). */
  controllers?: string[];
  /** Where the zone-controller serves public Zones (a test PowerDNS), when it runs. */
  dns?: DnsOptions;
  /** A Ceph cluster (test/env/ceph.ts) for Volumes: given to the controller manager and every agent. */
  ceph?: CephClientConfig;
  /** Run the manager on its leader Lease, as production does (it then announces its finalizers; benches). */
  leaderElect?: boolean;
}

const sha256Of = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');

export async function startComputeEnv(options: ComputeEnvOptions = {}): Promise<ComputeEnv> {
  // Short paths: QMP sockets live under the agents' state directories (107-byte limit).
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-'));
  const [api, ovn, built] = await Promise.all([startTestApiServer({ storage: 'embedded' }), startOvnCentral(), buildGuestImage(path.join(root, 'guest.cpio.gz'))]);
  const guest = { ...built, kernelSha256: await sha256Of(built.kernel) };
  const client = clientFromKubeconfig(api.kubeconfig, { component: 'compute-test' });
  const manager = startControllerManager({
    kubeconfig: api.kubeconfig,
    ovnNorthbound: ovn.nbEndpoint,
    leaderElect: options.leaderElect ?? false,
    controllers: options.controllers ?? COMPUTE_CONTROLLERS,
    nodeLifecycle: { nodeMonitorGracePeriodMs: options.nodeMonitorGracePeriodMs ?? 8000, evictionTimeoutMs: options.evictionTimeoutMs ?? 2000 },
    ...(options.dns ? { dns: options.dns } : {}),
    ...(options.ceph ? { storage: { ceph: options.ceph } } : {}),
  });
  const agents: TestAgent[] = [];

  const startAgent: ComputeEnv['startAgent'] = async (name, agentOptions = {}) => {
    // Each chassis needs its own Geneve endpoint (the southbound Encap table's IPs are unique).
    const chassis = await startOvnChassis(ovn, { name: `ch-${name}`, encapIp: `127.0.0.${agents.length + 1}` });
    const stateDir = path.join(root, name);
    await fs.mkdir(stateDir, { recursive: true });
    const issued = await run(process.execPath, ['--import', 'tsx', PHOTON_CLI, 'kubeconfig', 'node', name, '--home', api.home, '--server', api.url], { timeoutMs: 60_000 });
    if (issued.code !== 0) throw new Error(`photon kubeconfig node ${name} failed: ${issued.stderr}`);
    const kubeconfig = path.join(stateDir, 'kubeconfig');
    await fs.writeFile(kubeconfig, issued.stdout, { mode: 0o600 });
    const args = [
      '--import', 'tsx', PHOTON_CLI, 'agent',
      '--kubeconfig', kubeconfig,
      '--node-name', name,
      '--state-dir', stateDir,
      '--ovs-db', chassis.ovsdbEndpoint,
      '--netns', chassis.netns.name,
      '--accelerator', 'tcg',
      // Info whatever the test run's level: tests read what the agent did from its log.
      '--log-level', 'info',
      '--port', '0',
      '--lease-duration', String(options.leaseDurationSeconds ?? 2),
      '--resync', '2',
      '--allocatable-cpu', String(agentOptions.cpu ?? 8),
      '--allocatable-memory', agentOptions.memory ?? '4Gi',
      ...(options.ceph ? ['--ceph-conf', options.ceph.conf, '--ceph-keyring', options.ceph.keyring, '--ceph-id', options.ceph.id] : []),
      ...(agentOptions.labels ? ['--node-labels', Object.entries(agentOptions.labels).map(([key, value]) => `${key}=${value}`).join(',')] : []),
    ];
    const launch = () => startProcess(`photon agent ${name}`, process.execPath, args, { env: { ...process.env, PHOTON_LOG_FORMAT: 'json' }, logFile: path.join(stateDir, 'agent.log') });
    const agent: TestAgent = {
      name,
      stateDir,
      chassis,
      process: launch(),
      async kill() {
        await agent.process.kill();
      },
      async restart() {
        await agent.process.stop();
        agent.process = launch();
      },
      async leftovers() {
        const list = (dir: string) => fs.readdir(dir).catch(() => [] as string[]);
        const paths = agentPaths(stateDir);
        const links = await run('ip', ['-n', chassis.netns.name, '-o', 'link', 'show']);
        const taps = [...links.stdout.matchAll(/^\d+: (pt[0-9a-f]+)[:@]/gm)].map((match) => match[1]);
        return { qemu: await list(paths.qemu), disks: await list(path.join(paths.disks, 'vms')), taps };
      },
    };
    agents.push(agent);
    return agent;
  };

  return {
    api,
    ovn,
    client,
    manager,
    guest,
    agents,
    startAgent,
    async namespace(name) {
      await client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    },
    async stop() {
      await manager.stop();
      for (const agent of agents) await agent.process.stop();
      // QEMU outlives its agent by design: stop every VM the agents left.
      for (const agent of agents) {
        const hypervisor = new QemuDriver({ stateRoot: agentPaths(agent.stateDir).qemu });
        for (const vm of await hypervisor.list().catch(() => [])) await hypervisor.remove(vm.uid).catch(() => undefined);
      }
      // So do the HTTP proxies of LoadBalancers (daemonized HAProxy in namespaces of their own).
      for (const agent of agents) {
        const proxies = new HaproxyDriver({ stateDir: agentPaths(agent.stateDir).proxies, db: agent.chassis.ovsdbEndpoint, vswitchdNetns: agent.chassis.netns.name });
        await proxies.removeOrphans(new Set()).catch(() => undefined);
      }
      for (const agent of agents) await agent.chassis.stop();
      client.close();
      await Promise.all([api.stop(), ovn.stop()]);
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

/** The guest's Images (kernel and initramfs from hack/guest-image) in a namespace, as an operator would publish them. */
export function guestImages(env: ComputeEnv, namespace: string): object[] {
  return [
    { apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Image', metadata: { name: 'guest-kernel', namespace }, spec: { source: { path: env.guest.kernel }, format: 'kernel', sha256: env.guest.kernelSha256 } },
    { apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Image', metadata: { name: 'guest-initrd', namespace }, spec: { source: { path: env.guest.initrd }, format: 'initrd', sha256: env.guest.sha256 } },
  ];
}

/** A VM of the test guest: 1 core, 256Mi, kernel boot, the given networks, disks, Volumes and user data. */
export function guestVm(namespace: string, name: string, spec: { networks?: object[]; disks?: object[]; volumes?: object[]; userData?: string; runStrategy?: string; cpu?: number; nodeSelector?: Record<string, string>; machine?: 'pc' | 'microvm' } = {}): object {
  return {
    apiVersion: 'compute.photoncloud.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace },
    spec: {
      runStrategy: spec.runStrategy ?? 'Always',
      ...(spec.machine ? { machine: spec.machine } : {}),
      cpu: { cores: spec.cpu ?? 1 },
      memory: '256Mi',
      boot: { kernel: { imageRef: 'guest-kernel', initrdRef: 'guest-initrd', cmdline: 'console=ttyS0 panic=-1' } },
      terminationGracePeriodSeconds: 5,
      ...(spec.networks ? { networks: spec.networks } : {}),
      ...(spec.disks ? { disks: spec.disks } : {}),
      ...(spec.volumes ? { volumes: spec.volumes } : {}),
      ...(spec.userData ? { userData: spec.userData } : {}),
      ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
    },
  };
}

export async function getVm(env: ComputeEnv, namespace: string, name: string): Promise<VirtualMachine> {
  return env.client.get<VirtualMachine>(VirtualMachineResource, name, { namespace });
}

/** Waits until the VM's printableStatus is `status` (and, for Running, Ready=True). */
export async function waitVmStatus(env: ComputeEnv, namespace: string, name: string, status: string, timeoutMs = 90_000): Promise<VirtualMachine> {
  let last: VirtualMachine;
  return waitFor(
    `VirtualMachine ${namespace}/${name} ${status}`,
    async () => {
      last = await getVm(env, namespace, name);
      const ready = last.status?.conditions?.find((condition) => condition.type === 'Ready');
      if (last.status?.printableStatus === status && (status !== 'Running' || ready?.status === 'True')) return last;
      throw new Error(`status is ${JSON.stringify(last.status)}`);
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** What the VM's guest printed on its serial console, through the API (`kubectl get --raw …/console`). */
export async function consoleOf(env: ComputeEnv, namespace: string, name: string): Promise<string> {
  const result = await env.api.kubectl(['get', '--raw', `/apis/compute.photoncloud.io/v1alpha1/namespaces/${namespace}/virtualmachines/${name}/console`]);
  if (result.code !== 0) throw new Error(`console of ${namespace}/${name}: ${result.stderr}`);
  return result.stdout;
}

/** Waits until the console shows `text`. */
export async function waitConsole(env: ComputeEnv, namespace: string, name: string, text: string, timeoutMs = 90_000): Promise<string> {
  return waitFor(`"${text}" on the console of ${namespace}/${name}`, async () => {
    const output = await consoleOf(env, namespace, name);
    if (output.includes(text)) return output;
    throw new Error(`console so far: ${JSON.stringify(output.slice(-600))}`);
  }, { timeoutMs, intervalMs: 500 });
}
