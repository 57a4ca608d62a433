// The layer-7 load-balancer driver: one HAProxy per LoadBalancer, in a network namespace of its own,
// attached to the LoadBalancer's virtual network through a veth pair whose outer end is a port of the
// integration bridge with external_ids:iface-id = the proxy Port's OVN logical port, so ovn-controller binds
// it like a guest's tap (the amphora pattern, without a VM).
//
// ensure() is level-based: it looks at the namespace, the veth, the OVS port, the addresses and the process,
// and does only what differs — so a pass interrupted at any line, a killed HAProxy or a deleted port is
// finished or repaired by the next one. HAProxy runs daemonized in master-worker mode (it outlives the agent
// and is adopted by its pidfile after a restart: a pid counts only while its cmdline names this proxy's
// configuration file). A new configuration is checked with `haproxy -c` before it replaces the running one,
// then the master reloads (SIGUSR2): new workers take new connections, old ones finish theirs.
//
// Where things run: the veth's outer end must live in ovs-vswitchd's network namespace (vswitchdNetns; the
// test chassis and the all-in-one run vswitchd in one of their own); ovs-vsctl reaches ovsdb-server over its
// socket. Every command is an argument array; every name is derived from the UID or checked first.
import { KeyedQueue } from '../../lib/keyed-queue.ts';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run, type ExecResult } from '../ovn-local/commands.ts';
import { renderConfig, type ProxyConfiguration } from './config.ts';
import { processesWith, sameNetns } from './processes.ts';
import { parseServerStats, statsCommand } from './stats.ts';

export interface ProxyAttachment {
  /** The proxy Port's OVN logical switch port (its UID). */
  ifaceId: string;
  mac: string;
  /** ADDRESS/PREFIX, e.g. 10.0.1.5/24. */
  ip: string;
  gateway: string;
}

export interface ProxyServerHealth {
  pool: string;
  server: string;
  address: string;
  port: number;
  up: boolean;
}

/** What the node agent asks of a node's HTTP proxies. */
export interface ProxyDriver {
  /** Makes the LoadBalancer's proxy exist and match; resolves with the steps that changed something (0: it already matched). */
  ensure(lbUid: string, attachment: ProxyAttachment, config: ProxyConfiguration): Promise<{ changes: number }>;
  /** Stops HAProxy and removes the OVS port, the veth, the namespace and the state of lbUid; resolves with the steps taken. */
  remove(lbUid: string): Promise<number>;
  /** LoadBalancer UIDs with a proxy (state directory or labelled OVS port) on this node. */
  listOwned(): Promise<string[]>;
  /** Removes the proxies of LoadBalancers not in `live`; resolves with how many went. */
  removeOrphans(live: ReadonlySet<string>): Promise<number>;
  /** Every pool member's health from HAProxy's own checks (runtime API `show stat`). */
  servers(lbUid: string): Promise<ProxyServerHealth[]>;
}

/** A command failed (OVS, ip, haproxy -c): the agent reports the message and tries again at the next pass. */
export class ProxyDriverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyDriverError';
  }
}

/** `haproxy -c` refused the rendered configuration: the running proxy keeps the one it has. */
export class ProxyConfigRejectedError extends ProxyDriverError {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConfigRejectedError';
  }
}

export interface HaproxyDriverOptions {
  /** Per-proxy state: <stateDir>/<uid>/{haproxy.cfg, haproxy.pid, haproxy.applied, stats.sock}. */
  stateDir: string;
  /** ovsdb-server of this node (ovs-vsctl's default when omitted). */
  db?: string;
  /** Network namespace of ovs-vswitchd; the current one when omitted. */
  vswitchdNetns?: string;
  bridge?: string;
  haproxyPath?: string;
  env?: NodeJS.ProcessEnv;
}

const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const LB_UID_LABEL = 'photoncloud-lb-uid';

function assertUid(uid: string): void {
  if (!UID.test(uid)) throw new ProxyDriverError(`not a LoadBalancer UID: ${JSON.stringify(uid)}`);
}

/** Namespace and outer veth name of a proxy: "plb" + 11 hex digits of the UID (interface names hold 15). */
export const proxyName = (uid: string): string => `plb${uid.replace(/-/g, '').slice(0, 11)}`;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class HaproxyDriver implements ProxyDriver {
  private readonly bridge: string;
  private readonly haproxy: string;
  /** One operation per LoadBalancer at a time within this driver. */
  /** One operation per LoadBalancer at a time. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly options: HaproxyDriverOptions) {
    this.bridge = options.bridge ?? 'br-int';
    this.haproxy = options.haproxyPath ?? 'haproxy';
    if (!TOKEN.test(this.bridge)) throw new ProxyDriverError(`bridge: ${JSON.stringify(this.bridge)} is not a valid name`);
    if (options.vswitchdNetns !== undefined && !TOKEN.test(options.vswitchdNetns)) throw new ProxyDriverError(`vswitchdNetns: ${JSON.stringify(options.vswitchdNetns)} is not a valid name`);
  }

  private dir(uid: string): string {
    return path.join(this.options.stateDir, uid);
  }

  private async exec(command: string, args: string[]): Promise<ExecResult> {
    return run(command, args, { env: this.options.env, timeoutMs: 20_000 });
  }

  private async must(command: string, args: string[]): Promise<string> {
    const result = await this.exec(command, args);
    if (result.code !== 0) throw new ProxyDriverError(`${command} ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.code}`}`);
    return result.stdout;
  }

  /** `ip` in ovs-vswitchd's namespace. */
  private ipOuter(...args: string[]): string[] {
    return this.options.vswitchdNetns ? ['-n', this.options.vswitchdNetns, ...args] : args;
  }

  private vsctl(...args: string[]): string[] {
    return [...(this.options.db ? [`--db=${this.options.db}`] : []), '--timeout=10', ...args];
  }


  async ensure(uid: string, attachment: ProxyAttachment, config: ProxyConfiguration): Promise<{ changes: number }> {
    assertUid(uid);
    return this.queue.run(uid, () => this.ensureNow(uid, attachment, config));
  }

  private async ensureNow(uid: string, attachment: ProxyAttachment, config: ProxyConfiguration): Promise<{ changes: number }> {
    if (!TOKEN.test(attachment.ifaceId)) throw new ProxyDriverError(`ifaceId: ${JSON.stringify(attachment.ifaceId)} is not valid`);
    if (!MAC.test(attachment.mac)) throw new ProxyDriverError(`mac: ${JSON.stringify(attachment.mac)} is not a MAC address`);
    if (!CIDR.test(attachment.ip)) throw new ProxyDriverError(`ip: ${JSON.stringify(attachment.ip)} is not ADDRESS/PREFIX`);
    if (!IPV4.test(attachment.gateway)) throw new ProxyDriverError(`gateway: ${JSON.stringify(attachment.gateway)} is not an address`);
    const name = proxyName(uid);
    const dir = this.dir(uid);
    let changes = 0;

    // 1. The configuration, checked before it may replace a running one.
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'haproxy.cfg');
    const text = renderConfig(config, { stateDir: dir });
    const current = await fs.readFile(file, 'utf8').catch(() => undefined);
    const configChanged = current !== text;
    if (configChanged) {
      const temporary = `${file}.new`;
      await fs.writeFile(temporary, text, { mode: 0o600 });
      const check = await this.exec(this.haproxy, ['-c', '-q', '-f', temporary]);
      if (check.code !== 0) {
        await fs.rm(temporary, { force: true });
        throw new ProxyConfigRejectedError(`haproxy refused the configuration: ${check.stderr.trim() || check.stdout.trim()}`);
      }
      await fs.rename(temporary, file);
      changes++;
    }

    // 2. The namespace and its link to br-int.
    const namespaces = await this.must('ip', ['netns', 'list']);
    if (!namespaces.split('\n').some((line) => line.split(' ')[0] === name)) {
      await this.must('ip', ['netns', 'add', name]);
      changes++;
    }
    const outer = await this.exec('ip', this.ipOuter('link', 'show', name));
    const inner = await this.exec('ip', ['-n', name, 'link', 'show', 'eth0']);
    const vethCreated = outer.code !== 0 || inner.code !== 0;
    if (vethCreated) {
      // Half of a pair (an interrupted pass) goes first.
      if (outer.code === 0) await this.must('ip', this.ipOuter('link', 'del', name));
      if (inner.code === 0) await this.must('ip', ['-n', name, 'link', 'del', 'eth0']);
      await this.must('ip', this.ipOuter('link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name));
      changes++;
    }
    const port = await this.exec('ovs-vsctl', this.vsctl('--if-exists', 'get', 'Interface', name, 'external_ids'));
    const labelled = port.stdout.includes(`iface-id="${attachment.ifaceId}"`) || port.stdout.includes(`iface-id=${attachment.ifaceId}`);
    if (port.code !== 0 || !labelled || !port.stdout.includes(uid) || vethCreated) {
      // A new veth under an old port's name: the port goes first, in a transaction of its own that
      // ovs-vswitchd applies before the port comes back (within one transaction it keeps the port it has,
      // bound to the deleted device, and no packet passes: measured with the userspace datapath).
      if (vethCreated) await this.must('ovs-vsctl', this.vsctl('--if-exists', 'del-port', this.bridge, name));
      await this.must('ovs-vsctl', this.vsctl('--may-exist', 'add-port', this.bridge, name, '--', 'set', 'Interface', name, `external_ids:iface-id=${attachment.ifaceId}`, `external_ids:${LB_UID_LABEL}=${uid}`));
      changes++;
    }

    // 3. Addresses: the Port's MAC and IP, the subnet's gateway.
    const link = JSON.parse((await this.must('ip', ['-n', name, '-j', 'addr', 'show', 'dev', 'eth0'])) || '[]')[0] as { address?: string; operstate?: string; flags?: string[]; addr_info?: Array<{ family: string; local: string; prefixlen: number }> } | undefined;
    const addresses = (link?.addr_info ?? []).filter((entry) => entry.family === 'inet').map((entry) => `${entry.local}/${entry.prefixlen}`);
    if (link?.address !== attachment.mac) {
      await this.must('ip', ['-n', name, 'link', 'set', 'eth0', 'address', attachment.mac]);
      changes++;
    }
    if (addresses.length !== 1 || addresses[0] !== attachment.ip) {
      await this.must('ip', ['-n', name, 'addr', 'flush', 'dev', 'eth0']);
      await this.must('ip', ['-n', name, 'addr', 'add', attachment.ip, 'dev', 'eth0']);
      changes++;
    }
    if (!link?.flags?.includes('UP')) {
      await this.must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
      await this.must('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
      changes++;
    }
    const outerLink = JSON.parse((await this.must('ip', this.ipOuter('-j', 'link', 'show', name))) || '[]')[0] as { flags?: string[] } | undefined;
    if (!outerLink?.flags?.includes('UP')) {
      await this.must('ip', this.ipOuter('link', 'set', name, 'up'));
      changes++;
    }
    const route = await this.must('ip', ['-n', name, 'route', 'show', 'default']);
    if (!route.includes(`via ${attachment.gateway} `)) {
      await this.must('ip', ['-n', name, 'route', 'replace', 'default', 'via', attachment.gateway, 'dev', 'eth0']);
      changes++;
    }

    // 4. HAProxy: started, or reloaded with the new configuration. What the running master loaded is
    // recorded (haproxy.applied: the configuration's hash), so a reload a failed or interrupted pass never
    // sent is sent by the next one. A master in another namespace than the proxy's (the namespace was deleted
    // and made again) serves nothing reachable: it is stopped and started in the new one.
    const applied = path.join(dir, 'haproxy.applied');
    const hash = sha256(text);
    let pid = await this.runningPid(uid);
    if (pid !== undefined && !(await sameNetns(pid, name))) {
      await this.stopProcesses(uid, 'SIGKILL');
      pid = undefined;
    }
    if (pid === undefined) {
      await this.stopProcesses(uid, 'SIGKILL'); // workers of a killed master that have not noticed yet
      await fs.rm(path.join(dir, 'stats.sock'), { force: true });
      await fs.rm(applied, { force: true });
      await this.must('ip', ['netns', 'exec', name, this.haproxy, '-W', '-D', '-f', file, '-p', path.join(dir, 'haproxy.pid')]);
      await this.waitWorker(dir, undefined);
      await fs.writeFile(applied, hash);
      changes++;
    } else if ((await fs.readFile(applied, 'utf8').catch(() => '')) !== hash) {
      const previous = await this.workerPid(dir).catch(() => undefined);
      process.kill(pid, 'SIGUSR2');
      await this.waitWorker(dir, previous);
      await fs.writeFile(applied, hash);
      changes++;
    }
    return { changes };
  }

  /** The master's pid while it runs this proxy's configuration (not a zombie, not a reused pid). */
  private async runningPid(uid: string): Promise<number | undefined> {
    const dir = this.dir(uid);
    const pid = Number((await fs.readFile(path.join(dir, 'haproxy.pid'), 'utf8').catch(() => '')).trim().split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const [stat, cmdline] = await Promise.all([fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''), fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')]);
    // PID 1 of a container may not reap: a zombie is not running.
    if (!stat || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return undefined;
    return cmdline.split('\0').includes(path.join(dir, 'haproxy.cfg')) ? pid : undefined;
  }

  /** The pid of the worker answering on the stats socket. */
  private async workerPid(dir: string): Promise<number> {
    const info = await statsCommand(path.join(dir, 'stats.sock'), 'show info\n');
    const pid = Number(/^Pid: (\d+)$/m.exec(info)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) throw new ProxyDriverError('no Pid in show info');
    return pid;
  }

  /** Waits (bounded) until a worker other than `previous` answers on the stats socket: the (re)loaded configuration serves. */
  private async waitWorker(dir: string, previous: number | undefined): Promise<void> {
    const deadline = Date.now() + 10_000;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        if ((await this.workerPid(dir)) !== previous) return;
      } catch (error) {
        last = error;
      }
      await delay(50);
    }
    throw new ProxyDriverError(`HAProxy of ${path.basename(dir)} did not ${previous === undefined ? 'start' : 'reload'} within 10 s${last instanceof Error ? `: ${last.message}` : ''}`);
  }

  /** Signals every live process running this proxy's configuration (master, workers, old workers); resolves with how many. */
  private async stopProcesses(uid: string, signal: NodeJS.Signals): Promise<number> {
    const pids = await processesWith(path.join(this.dir(uid), 'haproxy.cfg'));
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
    const deadline = Date.now() + 5000;
    while ((await processesWith(path.join(this.dir(uid), 'haproxy.cfg'))).length > 0 && Date.now() < deadline) await delay(50);
    return pids.length;
  }

  async remove(uid: string): Promise<number> {
    assertUid(uid);
    return this.queue.run(uid, () => this.removeNow(uid));
  }

  private async removeNow(uid: string): Promise<number> {
    const name = proxyName(uid);
    let steps = 0;
    const pid = await this.runningPid(uid);
    if (pid !== undefined) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 5000;
      while ((await this.runningPid(uid)) !== undefined && Date.now() < deadline) await delay(50);
      steps++;
    }
    // Whatever is left (a master that ignored SIGTERM, workers of a killed master).
    if ((await this.stopProcesses(uid, 'SIGKILL')) > 0 && pid === undefined) steps++;
    const ports = await this.exec('ovs-vsctl', this.vsctl('list-ports', this.bridge));
    if (ports.code === 0 && ports.stdout.split('\n').includes(name)) {
      await this.must('ovs-vsctl', this.vsctl('--if-exists', 'del-port', this.bridge, name));
      steps++;
    }
    // Deleting either end deletes the pair; the namespace goes with its end.
    if ((await this.exec('ip', this.ipOuter('link', 'del', name))).code === 0) steps++;
    if ((await this.exec('ip', ['netns', 'del', name])).code === 0) steps++;
    const dir = this.dir(uid);
    if (await fs.access(dir).then(() => true, () => false)) {
      await fs.rm(dir, { recursive: true, force: true });
      steps++;
    }
    return steps;
  }

  async listOwned(): Promise<string[]> {
    const dirs = (await fs.readdir(this.options.stateDir).catch(() => [] as string[])).filter((entry) => UID.test(entry));
    const ports = await this.exec('ovs-vsctl', this.vsctl('--no-headings', '--data=bare', '--columns=external_ids', 'find', 'Interface', `external_ids:${LB_UID_LABEL}!=""`));
    const labelled = ports.code === 0 ? [...ports.stdout.matchAll(new RegExp(`${LB_UID_LABEL}=([0-9a-f-]{36})`, 'g'))].map((match) => match[1]) : [];
    return [...new Set([...dirs, ...labelled])].filter((uid) => UID.test(uid)).sort();
  }

  async removeOrphans(live: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const uid of await this.listOwned()) {
      if (live.has(uid)) continue;
      await this.remove(uid);
      removed++;
    }
    return removed;
  }

  async servers(uid: string): Promise<ProxyServerHealth[]> {
    assertUid(uid);
    return parseServerStats(await statsCommand(path.join(this.dir(uid), 'stats.sock'), 'show stat\n'));
  }
}
