// The scale run's network (`npm run bench -- scale … --network [--chassis K]`): every VM gets an interface on a
// Subnet, so the VM controller creates a Port for it and the network controllers (vpc, subnet, port,
// security-group) program each into a real OVN central (NB and SB ovsdb-servers and ovn-northd, as test/env
// starts them). Most hollow nodes plug nothing: their taps are simulated and no ovn-controller claims their
// Port_Bindings (that would take an ovn-controller and an OVS bridge per simulated node). K of them (one by
// default) are backed by real chassis (ovs-vswitchd and ovn-controller, `photon agent --hollow-ovs`), so the
// Ports of the VMs the scheduler puts there are bound by a real ovn-controller: a sample of real port bindings
// at the cost of K chassis (each ~11% of a core at 5,000 Ports on one switch and 24% at 10,000: ovn-controller
// follows every Port_Binding of a datapath it has a port on). What this measures is the control plane and
// OVN's central half at that many Ports (Ports created → Ready in OVN, the OVN components' CPU and memory, the
// Northbound transactions per Port) and, for the sample, VM create → its Port bound by ovn-controller.
import fs from 'node:fs/promises';
import { isConditionTrue } from '../../apis/meta/conditions.ts';
import type { Condition } from '../../apis/meta/types.ts';
import { startOvnCentral, startOvnChassis, type OvnCentral, type OvnChassis } from '../../test/env/ovn.ts';
import { waitFor } from '../../test/env/process.ts';
import type { Client } from './api.ts';
import { metricSum } from './writes.ts';

export const SCALE_NETWORK_CONTROLLERS = ['vpc', 'subnet', 'port', 'security-group'];
const GROUP = '/apis/network.photoncloud.io/v1alpha1';
/** Addresses one /16 Subnet hands out (65,534 usable minus its gateway), rounded down. */
const PORTS_PER_SUBNET = 65_000;

export interface ScaleNetwork {
  /** The controller manager's Northbound. */
  readonly northbound: string;
  /** `photon agent --hollow` flags that back the first hollow nodes with the real chassis, one each. */
  readonly hollowFlags: string[];
  /** How many hollow nodes (<prefix>-0 …) are backed by a real chassis. */
  readonly chassis: number;
  /** Southbound Port_Bindings claimed by the real chassis. */
  boundOnChassis(): Promise<number>;
  /** The OVN processes to sample (by what they are), found by their files under the central's directory. */
  components(): Promise<Record<string, number | undefined>>;
  /** Creates the Vpc and enough /16 Subnets for `vms` interfaces in `namespace`, and waits until they are Ready. */
  createSubnets(client: Client, namespace: string, vms: number): Promise<void>;
  /** The spec.networks of the VM numbered `index`: one interface, on the Subnets in turn. */
  networksOf(index: number): Array<{ name: string; subnetRef: string }>;
  /** Ports seen Ready on a watch, and how long each took from its VM's create. */
  watchPorts(client: Client, namespace: string, revision: string, createdAt: ReadonlyMap<string, number>): { ready(): number; latencies: number[]; close(): void };
  /** OVN Northbound transactions committed so far by the controller manager. */
  transactions(managerMetricsPort: number): Promise<number>;
  /** Logical_Switch_Port rows in the Northbound. */
  logicalSwitchPorts(): Promise<number>;
  stop(): Promise<void>;
}

const isReady = (object: { status?: { conditions?: Condition[] } } | undefined) => isConditionTrue(object?.status?.conditions, 'Ready');

/** Pids of the processes whose command line names a file under dir, by the role that file gives them. */
async function ovnPids(dir: string, chassis: number): Promise<Record<string, number | undefined>> {
  const found: Record<string, number | undefined> = { 'OVN NB ovsdb-server': undefined, 'OVN SB ovsdb-server': undefined, 'ovn-northd': undefined };
  // One chassis's daemons stand for all of them (the chassis directories are under dir).
  if (chassis > 0) Object.assign(found, { 'ovn-controller (one chassis)': undefined, 'ovs-vswitchd (one chassis)': undefined });
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv.some((arg) => arg.includes(dir))) continue;
    if (argv[0]?.endsWith('ovn-northd')) found['ovn-northd'] = Number(entry);
    else if (argv[0]?.endsWith('ovsdb-server') && argv.some((arg) => arg.endsWith('/nb.db'))) found['OVN NB ovsdb-server'] = Number(entry);
    else if (argv[0]?.endsWith('ovsdb-server') && argv.some((arg) => arg.endsWith('/sb.db'))) found['OVN SB ovsdb-server'] = Number(entry);
    else if (chassis > 0 && argv[0]?.endsWith('ovn-controller')) found['ovn-controller (one chassis)'] ??= Number(entry);
    else if (chassis > 0 && argv[0]?.endsWith('ovs-vswitchd')) found['ovs-vswitchd (one chassis)'] ??= Number(entry);
  }
  return found;
}

export async function startScaleNetwork(options: { chassis: number }): Promise<ScaleNetwork> {
  const central: OvnCentral = await startOvnCentral();
  const chassis: OvnChassis[] = [];
  try {
    // Each chassis needs a Geneve endpoint of its own (the Southbound's Encap IPs are unique).
    for (let index = 0; index < options.chassis; index++) chassis.push(await startOvnChassis(central, { name: `scale-ch${index}`, encapIp: `127.0.0.${index + 1}` }));
  } catch (error) {
    await central.stop();
    throw error;
  }
  let subnets = 1;
  return {
    northbound: central.nbEndpoint,
    hollowFlags: chassis.flatMap((one) => ['--hollow-ovs', `${one.ovsdbEndpoint}@${one.netns.name}`]),
    chassis: chassis.length,
    async boundOnChassis() {
      if (chassis.length === 0) return 0;
      const ours = new Set<string>();
      for (const one of chassis) ours.add((await central.sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', `name=${one.name}`)).trim());
      const bound = (await central.sbctl('--bare', '--columns=chassis', 'list', 'Port_Binding')).split(/\s+/).filter(Boolean);
      return bound.filter((uuid) => ours.has(uuid)).length;
    },
    components: () => ovnPids(central.dir, chassis.length),
    async createSubnets(client, namespace, vms) {
      subnets = Math.max(1, Math.ceil(vms / PORTS_PER_SUBNET));
      if (subnets > 255) throw new Error(`--network gives each VM an address in one Vpc of 10.0.0.0/8: at most ${255 * PORTS_PER_SUBNET} VMs`);
      const create = async (plural: string, body: object) => {
        const answer = await client.request('POST', `${GROUP}/namespaces/${namespace}/${plural}`, JSON.stringify(body));
        if (answer.status !== 201) throw new Error(`creating ${plural}: ${answer.status} ${answer.text.slice(0, 300)}`);
      };
      await create('vpcs', { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'scale', namespace }, spec: { cidrBlocks: ['10.0.0.0/8'] } });
      for (let index = 0; index < subnets; index++) {
        await create('subnets', { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: `s${index}`, namespace }, spec: { vpcRef: 'scale', cidr: `10.${index}.0.0/16` } });
      }
      await waitFor(`the Vpc and ${subnets} Subnets Ready`, async () => {
        const list = JSON.parse((await client.request('GET', `${GROUP}/namespaces/${namespace}/subnets`)).text) as { items?: Array<{ status?: { conditions?: Condition[] } }> };
        return (list.items ?? []).filter(isReady).length === subnets;
      }, { timeoutMs: 120_000, intervalMs: 500 });
    },
    networksOf: (index) => [{ name: 'eth0', subnetRef: `s${index % subnets}` }],
    watchPorts(client, namespace, revision, createdAt) {
      const seen = new Set<string>();
      const latencies: number[] = [];
      const close = client.watch(`${GROUP}/namespaces/${namespace}/ports?watch=true&resourceVersion=${revision}&allowWatchBookmarks=false`, (line) => {
        const event = JSON.parse(line) as { object?: { metadata?: { name?: string }; status?: { conditions?: Condition[] } } };
        const name = event.object?.metadata?.name;
        if (!name || seen.has(name) || !isReady(event.object)) return;
        seen.add(name);
        // A VM's Port is named `<vm>-<interface>`.
        const created = createdAt.get(name.slice(0, name.lastIndexOf('-')));
        if (created !== undefined) latencies.push(performance.now() - created);
      });
      return { ready: () => seen.size, latencies, close };
    },
    async transactions(managerMetricsPort) {
      const text = await fetch(`http://127.0.0.1:${managerMetricsPort}/metrics`).then((response) => response.text(), () => '');
      return metricSum(text, 'photon_ovn_nb_transactions', 'result="committed"');
    },
    async logicalSwitchPorts() {
      const rows = await central.nbctl('--bare', '--columns=_uuid', 'list', 'Logical_Switch_Port');
      return rows.split('\n').filter((line) => line.trim() !== '').length;
    },
    stop: () => central.stop(), // stops its chassis too
  };
}
