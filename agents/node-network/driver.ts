// The node network driver: the taps a VM's interfaces use on this node. Each interface gets a persistent tap
// device (QEMU opens it by name: -netdev tap,ifname=<tap>,script=no,downscript=no) that is a port of br-int
// with external_ids:iface-id = the Port's OVN logical switch port name, so ovn-controller binds the logical
// port to this chassis. ensure() is level-based: it observes the kernel's taps and OVS's Interfaces, diffs
// (diff.ts) and applies the difference — new taps first, then one ovs-vsctl transaction, then deletions —
// doing nothing when they match.
//
// Where things run: tap devices must live in the network namespace of ovs-vswitchd (it opens them there with
// AF_PACKET; the test chassis and any netns-isolated deployment run vswitchd in a namespace of its own), so
// `ip` runs as `ip -n <netns>`; ovs-vsctl talks to ovsdb-server over its socket (`--db`) from anywhere. QEMU
// must then run in that namespace as well to open the tap. Everything is an argument array (no shell), and
// every name from outside is validated first (names.ts).
import { KeyedQueue } from '../../lib/keyed-queue.ts';
import { run, type ExecResult } from '../ovn-local/commands.ts';
import { desiredTaps, IFACE_ID, OVN_INSTALLED, VM_UID, type VmInterface } from './desired-state.ts';
import { isEmptyPlan, ovsVsctlArgs, planTaps, type NodeObservation, type ObservedInterface, type ObservedKernelTap } from './diff.ts';
import { assertBridgeName, assertNetnsName, assertToken, TAP_NAME, tapName, tapPrefix } from './names.ts';

/** What the compute controller / node agent may ask of a node's network. */
export interface NodeNetworkDriver {
  /** Makes `vmUid`'s taps exactly one per interface, in order; resolves with their names and the steps taken (0 when nothing changed). */
  ensure(vmUid: string, interfaces: readonly VmInterface[]): Promise<EnsureResult>;
  /** Removes every tap and port of `vmUid`; resolves with the steps taken. */
  remove(vmUid: string): Promise<number>;
  /** The VM UIDs that have ports on the bridge (external_ids:photoncloud-vm-uid), e.g. after an agent restart. */
  listOwned(): Promise<string[]>;
  /** Removes the taps of VMs not in `live` (labelled ports, and unlabelled taps named like ours); resolves with how many VMs/taps went. */
  removeOrphans(live: ReadonlySet<string>): Promise<number>;
  /** Whether ovn-controller has bound and installed the port with this iface-id here (Interface external_ids:ovn-installed=true). */
  bound(ifaceId: string): Promise<boolean>;
  /** This node's OVN chassis name (Open_vSwitch external_ids:system-id), for the Port's status. */
  chassisName(): Promise<string | undefined>;
}

export interface EnsureResult {
  /** The tap of each interface, in order (what QEMU's ifname= gets). */
  taps: string[];
  /** Commands that changed something (0: the node already matched). */
  changes: number;
}

/** OVS or the namespace cannot be reached: not an error of the VM; report it and retry shortly. */
export class NodeNetworkUnavailableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NodeNetworkUnavailableError';
  }
}

export interface OvsTapDriverOptions {
  /** ovsdb-server of this node, e.g. unix:/run/openvswitch/db.sock (ovs-vsctl's default when omitted). */
  db?: string;
  /** Network namespace ovs-vswitchd runs in (taps are created there); the current one when omitted. */
  netns?: string;
  /** The integration bridge ovn-controller manages. Default br-int. */
  bridge?: string;
  /** ovs-vsctl --timeout in seconds (it waits for ovs-vswitchd to apply each change). Default 10. */
  timeoutSeconds?: number;
  env?: NodeJS.ProcessEnv;
}

const UNAVAILABLE = /database connection failed|Connection refused|No such file or directory|timeout after|no bridge named|Cannot open network namespace|killed after/i;

export class OvsTapDriver implements NodeNetworkDriver {
  private readonly bridge: string;
  private readonly timeoutSeconds: number;
  /** One operation per VM (ensure/remove of the same VM never interleave) at a time. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly options: OvsTapDriverOptions = {}) {
    if (options.netns !== undefined) assertNetnsName(options.netns);
    this.bridge = options.bridge ?? 'br-int';
    assertBridgeName(this.bridge);
    if (options.db !== undefined && !/^(unix:\/|tcp:|ssl:)[^\s]+$/.test(options.db)) throw new Error(`invalid ovsdb remote ${JSON.stringify(options.db)}`);
    this.timeoutSeconds = options.timeoutSeconds ?? 10;
  }

  /** The tap QEMU opens for interface `index` of `vmUid`. */
  static tapName = tapName;

  async ensure(vmUid: string, interfaces: readonly VmInterface[]): Promise<EnsureResult> {
    const desired = desiredTaps(vmUid, interfaces); // validates before anything runs
    return this.queue.run(vmUid, async () => {
      const plan = planTaps(vmUid, desired, await this.observe());
      if (isEmptyPlan(plan)) return { taps: desired.map((tap) => tap.tap), changes: 0 };
      let changes = 0;
      for (const tap of plan.createTaps) {
        const added = await this.ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
        // Created meanwhile (another process, or a reply lost before a retry): fine, it is the same device.
        if (added.code !== 0 && !/exists|busy/i.test(added.stderr)) throw this.failure(`ip tuntap add ${tap}`, added);
        changes++;
      }
      for (const tap of plan.setUp) {
        const up = await this.ip('link', 'set', 'dev', tap, 'up');
        if (up.code !== 0) throw this.failure(`ip link set ${tap} up`, up);
        changes++;
      }
      if (plan.ovs.length > 0) {
        await this.vsctl(...ovsVsctlArgs(this.bridge, plan.ovs));
        changes++;
      }
      for (const tap of plan.deleteTaps) {
        const deleted = await this.ip('link', 'del', 'dev', tap);
        if (deleted.code !== 0 && !/Cannot find device/i.test(deleted.stderr)) throw this.failure(`ip link del ${tap}`, deleted);
        changes++;
      }
      // vswitchd has applied the transaction (ovs-vsctl waited for it): a tap it could not open shows in error.
      const broken = (await this.interfaces()).filter((row) => desired.some((tap) => tap.tap === row.name) && row.error);
      if (broken.length > 0) throw new Error(`ovs-vswitchd could not attach ${broken.map((row) => `${row.name}: ${row.error}`).join('; ')}`);
      return { taps: desired.map((tap) => tap.tap), changes };
    });
  }

  async remove(vmUid: string): Promise<number> {
    return (await this.ensure(vmUid, [])).changes;
  }

  async listOwned(): Promise<string[]> {
    const uids = new Set<string>();
    for (const row of await this.interfaces()) if (row.externalIds[VM_UID]) uids.add(row.externalIds[VM_UID]);
    return [...uids].sort();
  }

  async removeOrphans(live: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const uid of await this.listOwned()) {
      if (live.has(uid)) continue;
      try {
        assertToken('VM UID', uid);
      } catch {
        continue; // a label this driver never wrote
      }
      await this.remove(uid);
      removed++;
    }
    // Unlabelled taps named like ours (a crash between `ip tuntap add` and the OVS transaction) of no live VM.
    const livePrefixes = new Set([...live].map((uid) => tapPrefix(uid)));
    const { kernelTaps, interfaces } = await this.observe();
    const labelled = new Set(interfaces.filter((row) => row.externalIds[VM_UID]).map((row) => row.name));
    for (const tap of kernelTaps) {
      if (!TAP_NAME.test(tap.name) || labelled.has(tap.name) || livePrefixes.has(tap.name.replace(/\d+$/, ''))) continue;
      if (interfaces.some((row) => row.name === tap.name)) await this.vsctl('--', '--if-exists', 'del-port', tap.name);
      const deleted = await this.ip('link', 'del', 'dev', tap.name);
      if (deleted.code !== 0 && !/Cannot find device/i.test(deleted.stderr)) throw this.failure(`ip link del ${tap.name}`, deleted);
      removed++;
    }
    return removed;
  }

  async bound(ifaceId: string): Promise<boolean> {
    assertToken('iface-id', ifaceId);
    const rows = parseInterfaces(await this.vsctl('--format=json', '--columns=name,external_ids,error', 'find', 'Interface', `external_ids:${IFACE_ID}=${JSON.stringify(ifaceId)}`), new Set());
    return rows.some((row) => row.externalIds[OVN_INSTALLED] === 'true');
  }

  async chassisName(): Promise<string | undefined> {
    const value = (await this.vsctl('--if-exists', 'get', 'Open_vSwitch', '.', 'external_ids:system-id')).trim();
    // ovs-vsctl prints a string bare when it looks like an identifier, JSON-quoted otherwise.
    return value ? (value.startsWith('"') ? (JSON.parse(value) as string) : value) : undefined;
  }

  // ---- observation and commands ----------------------------------------------------------------------

  /** The kernel's taps in the namespace and OVS's Interfaces (read before the bridge's ports: see diff.ts). */
  async observe(): Promise<NodeObservation> {
    const [kernelTaps, interfaces] = await Promise.all([this.kernelTaps(), this.interfaces()]);
    return { kernelTaps, interfaces };
  }

  private async kernelTaps(): Promise<ObservedKernelTap[]> {
    const listed = await this.ip('-j', '-d', 'link', 'show', 'type', 'tun');
    if (listed.code !== 0) throw this.failure('ip link show type tun', listed);
    const links = JSON.parse(listed.stdout || '[]') as Array<{ ifname: string; flags?: string[]; linkinfo?: { info_data?: { type?: string } } }>;
    return links.filter((link) => link.linkinfo?.info_data?.type === 'tap').map((link) => ({ name: link.ifname, up: (link.flags ?? []).includes('UP') }));
  }

  /** Every Interface with its external_ids and error, and whether its port is on the bridge. */
  private async interfaces(): Promise<ObservedInterface[]> {
    const listed = await this.vsctl('--format=json', '--columns=name,external_ids,error', 'list', 'Interface');
    // Read after the Interfaces: a port added in between is then merely missing (add-port --may-exist).
    const ports = new Set((await this.vsctl('list-ports', this.bridge)).split('\n').filter(Boolean));
    return parseInterfaces(listed, ports);
  }

  private ip(...args: string[]): Promise<ExecResult> {
    const namespace = this.options.netns !== undefined ? ['-n', this.options.netns] : [];
    return run('ip', [...namespace, ...args], { env: this.options.env, timeoutMs: 15_000 });
  }

  private async vsctl(...args: string[]): Promise<string> {
    const global = [...(this.options.db ? [`--db=${this.options.db}`] : []), `--timeout=${this.timeoutSeconds}`];
    const result = await run('ovs-vsctl', [...global, ...args], { env: this.options.env, timeoutMs: (this.timeoutSeconds + 5) * 1000 });
    if (result.code !== 0) throw this.failure(`ovs-vsctl ${args.join(' ')}`, result);
    return result.stdout;
  }

  private failure(what: string, result: ExecResult): Error {
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(0, 2000);
    const message = `${what} exited with ${result.code}: ${detail}`;
    return UNAVAILABLE.test(detail) ? new NodeNetworkUnavailableError(message) : new Error(message);
  }

}

type OvsdbDatum = string | number | boolean | ['set', unknown[]] | ['map', Array<[string, string]>] | ['uuid', string];

/** ovs-vsctl --format=json output of name, external_ids, error columns. */
export function parseInterfaces(json: string, bridgePorts: ReadonlySet<string>): ObservedInterface[] {
  const table = JSON.parse(json) as { headings: string[]; data: OvsdbDatum[][] };
  const column = (name: string) => table.headings.indexOf(name);
  const [nameAt, idsAt, errorAt] = [column('name'), column('external_ids'), column('error')];
  return table.data.map((row) => {
    const ids = row[idsAt];
    const error = errorAt >= 0 ? row[errorAt] : undefined;
    return {
      name: String(row[nameAt]),
      externalIds: Array.isArray(ids) && ids[0] === 'map' ? Object.fromEntries(ids[1] as Array<[string, string]>) : {},
      onBridge: bridgePorts.has(String(row[nameAt])),
      ...(typeof error === 'string' && error ? { error } : {}),
    };
  });
}
