// `photon agent [flags]`: the node agent of one hypervisor (agent.ts). Its credentials are a node's: a
// kubeconfig from `photon kubeconfig node NAME` (user system:node:NAME), which the API server's node authorizer
// confines to this Node, its Lease and the VirtualMachines bound to it.
import os from 'node:os';
import path from 'node:path';
import { parseFlags, photonHome, runIfMain, UsageError } from '../../lib/cli.ts';
import { createLogger, errorMessage, setLogLevel } from '../../lib/logging.ts';
import { parseByteQuantity } from '../../apis/meta/quantity.ts';
import { CEPH_CLIENT_FLAGS, cephClientFromFlags, cephClientUsage } from '../ceph/client.ts';
import { startNodeAgent } from './agent.ts';
import { startHollowFleet } from '../hollow/fleet.ts';
import { OvsTapDriver, type OvsTapDriverOptions } from '../node-network/index.ts';

export const AGENT_USAGE = `Usage: photon agent [flags]

  --kubeconfig FILE         a node credential (photon kubeconfig node NAME > FILE); default $PHOTON_HOME/agent.kubeconfig
  --node-name NAME          the Node this agent registers (default: the host name)
  --state-dir DIR           VM state, disks and image cache (default: $PHOTON_HOME/agent; keep it short: QMP socket paths
                            must fit 107 bytes)
  --internal-ip ADDR        the node's InternalIP (default 127.0.0.1)
  --port PORT               the agent's HTTPS endpoint (consoles, for the API server) on the internal IP (default 10250;
                            0 picks a free one; the Node's status says which)
  --node-labels K=V,…       labels the Node is registered with (nodeSelector matches them)
  --ovs-db ENDPOINT         this node's Open vSwitch database (default: ovs-vsctl's own, unix:/run/openvswitch/db.sock)
  --netns NAME              network namespace ovs-vswitchd runs in (QEMU runs there too); default the agent's own
  --bridge NAME             integration bridge (default br-int)
  --accelerator auto|kvm|tcg  auto (default) boots a probe kernel under KVM and falls back to TCG
  --allocatable-cpu N       vCPUs VMs may use (default 4x the host's CPUs)
  --allocatable-memory Q    memory VMs may use, e.g. 16Gi (default: host memory minus 1Gi)
  --lease-duration SECONDS  heartbeat Lease duration (default 40; renewed every quarter of it, plus up to 4%
                            at random so that nodes started together do not renew in step)
  --resync SECONDS          how often each running VM's QEMU is checked (default 10)
${cephClientUsage(28, 'VMs with Volumes cannot start on this node')}  --stop-vms-on-exit        shut this node's VMs down when the agent stops (the all-in-one); by default they keep
                            running and the next agent adopts them
  --log-level LEVEL         error|warn|info|http|debug (default: info)

Scale simulation (the kubemark idea):
  --hollow N                run N simulated nodes in this process instead of this hypervisor: each registers
                            <node-name>-<i> (default prefix hollow), heartbeats and reports its VMs through the
                            agent's own code, and a VM runs the moment it is started (no QEMU, disks or taps).
                            Needs a kubeconfig that may act for every node (e.g. admin.kubeconfig). There,
                            --lease-duration defaults to 120, --resync to 600 and the allocatable to
                            --allocatable-cpu 64 / --allocatable-memory 256Gi per node; --status-interval
                            SECONDS (default 300) is how often each Node's status is recomputed.
  --hollow-ovs DB[@NETNS]   (repeatable) an Open vSwitch database of a real chassis (ovs-vswitchd with
                            ovn-controller, in network namespace NETNS): the next hollow node, <prefix>-0 first,
                            plugs its VMs' taps there, so ovn-controller really binds their Ports (the Node is
                            labelled photoncloud.io/hollow-network=ovs)
`;

function labelsOf(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((item) => item.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--node-labels: ${JSON.stringify(pair)} is not KEY=VALUE`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/** `--hollow-ovs DB[@NETNS]`: the options of the real tap driver, checked as that driver checks them. */
function hollowSwitch(text: string): OvsTapDriverOptions {
  const at = text.lastIndexOf('@');
  const options: OvsTapDriverOptions = at > 0 ? { db: text.slice(0, at), netns: text.slice(at + 1) } : { db: text };
  try {
    new OvsTapDriver(options);
  } catch (error) {
    throw new UsageError(`--hollow-ovs ${JSON.stringify(text)}: ${errorMessage(error)}`);
  }
  return options;
}

function positive(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const values = parseFlags(argv, {
    kubeconfig: { type: 'string' },
    'node-name': { type: 'string' },
    'state-dir': { type: 'string' },
    'internal-ip': { type: 'string' },
    'node-labels': { type: 'string' },
    port: { type: 'string' },
    'ovs-db': { type: 'string' },
    netns: { type: 'string' },
    bridge: { type: 'string' },
    accelerator: { type: 'string', default: 'auto' },
    'allocatable-cpu': { type: 'string' },
    'allocatable-memory': { type: 'string' },
    'lease-duration': { type: 'string' },
    resync: { type: 'string' },
    hollow: { type: 'string' },
    'status-interval': { type: 'string' },
    'hollow-ovs': { type: 'string', multiple: true, default: [] },
    'stop-vms-on-exit': { type: 'boolean', default: false },
    'log-level': { type: 'string' },
    home: { type: 'string' },
    ...CEPH_CLIENT_FLAGS,
  });
  if (values['log-level']) setLogLevel(values['log-level']);
  const accelerator = values.accelerator!;
  if (!['auto', 'kvm', 'tcg'].includes(accelerator)) throw new UsageError('--accelerator must be auto, kvm or tcg');
  const memory = values['allocatable-memory'] !== undefined ? parseByteQuantity(values['allocatable-memory']) : undefined;
  if (values['allocatable-memory'] !== undefined && memory === undefined) throw new UsageError(`--allocatable-memory must be a quantity such as 16Gi, got ${JSON.stringify(values['allocatable-memory'])}`);
  const home = photonHome(values.home);
  const nodeName = values['node-name'] ?? os.hostname().toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(nodeName)) throw new UsageError(`--node-name must be a DNS label, got ${JSON.stringify(nodeName)}`);
  const cpu = positive('--allocatable-cpu', values['allocatable-cpu']);
  const leaseSeconds = positive('--lease-duration', values['lease-duration']);
  const resync = positive('--resync', values.resync);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--port must be 0-65535, got ${JSON.stringify(values.port)}`);
  const log = createLogger('photon-agent');
  if (values.hollow !== undefined) {
    const count = positive('--hollow', values.hollow)!;
    if (!Number.isInteger(count) || count > 100_000) throw new UsageError(`--hollow must be a whole number of nodes up to 100000, got ${JSON.stringify(values.hollow)}`);
    const statusSeconds = positive('--status-interval', values['status-interval']);
    const switches = (values['hollow-ovs'] ?? []).map(hollowSwitch);
    if (switches.length > count) throw new UsageError(`--hollow-ovs given ${switches.length} times for --hollow ${count}: at most one per node`);
    const fleet = await startHollowFleet({
      kubeconfig: path.resolve(values.kubeconfig ?? path.join(home, 'admin.kubeconfig')),
      count,
      prefix: values['node-name'] ?? 'hollow',
      stateDir: path.resolve(values['state-dir'] ?? path.join(home, 'hollow')),
      labels: labelsOf(values['node-labels']),
      allocatable: { cpu: Math.floor(cpu ?? 64), memory: memory ?? 256 * 1024 ** 3 },
      leaseDurationSeconds: leaseSeconds ?? 120,
      statusIntervalMs: (statusSeconds ?? 300) * 1000,
      resyncMs: (resync ?? 600) * 1000,
      switches,
      log,
    });
    const stopFleet = () => void fleet.stop().then(() => process.exit(0), () => process.exit(1));
    process.once('SIGINT', stopFleet);
    process.once('SIGTERM', stopFleet);
    return;
  }
  const agent = await startNodeAgent({
    kubeconfig: path.resolve(values.kubeconfig ?? path.join(home, 'agent.kubeconfig')),
    nodeName,
    stateDir: path.resolve(values['state-dir'] ?? path.join(home, 'agent')),
    internalIp: values['internal-ip'],
    port,
    labels: labelsOf(values['node-labels']),
    ovsDb: values['ovs-db'],
    netns: values.netns,
    bridge: values.bridge,
    accelerator: accelerator as 'auto' | 'kvm' | 'tcg',
    allocatable: { ...(cpu ? { cpu: Math.floor(cpu) } : {}), ...(memory !== undefined ? { memory } : {}) },
    leaseDurationSeconds: leaseSeconds,
    resyncMs: resync ? resync * 1000 : undefined,
    stopVmsOnExit: values['stop-vms-on-exit'] === true,
    ceph: cephClientFromFlags(values),
    logger: log,
  });
  const shutdown = (signal: string) => {
    // VMs keep running (QEMU is not the agent's child, and the next agent adopts it) unless told otherwise.
    log.info(values['stop-vms-on-exit'] ? 'shutting down with the VMs' : 'shutting down; VMs keep running', { signal });
    agent.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

runIfMain(import.meta.url, 'photon agent', AGENT_USAGE, main);
