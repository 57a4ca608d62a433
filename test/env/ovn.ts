// OVN for tests: a central (NB + SB ovsdb-server and ovn-northd) and chassis that carry real packets between
// network-namespace "hosts". Everything runs as managed child processes in a mkdtemp dir on free ports, with
// unique namespace names, and stop() removes all of it (processes, namespaces, files), so test files can run
// in parallel on one machine.
//
// Working chassis configuration on this kind of machine (no openvswitch kernel module; measured here):
// - Userspace datapath: external_ids:ovn-bridge-datapath-type=netdev makes ovn-controller create br-int with
//   datapath_type=netdev. The netdev datapath creates tap devices named "ovs-netdev" and "br-int" in the
//   network namespace of ovs-vswitchd, so two chassis (two test files) in one namespace would fight over
//   those names, and a killed vswitchd leaves them behind. Each chassis therefore runs ovs-vswitchd inside a
//   namespace of its own (`ip netns exec <chassis-ns> ovs-vswitchd …`); ovsdb-server and ovn-controller need
//   no namespace (they talk over unix sockets and to the SB over 127.0.0.1).
// - Ports are veth pairs created inside the chassis namespace with the peer directly in the host namespace
//   (`ip -n <chassis-ns> link add vpN type veth peer name eth0 netns <host-ns>`), added to br-int as system
//   ports with external_ids:iface-id. No renames, no interfaces in the root namespace.
// - other_config:userspace-tso-enable=true, set BEFORE ovs-vswitchd starts: without it ping works but TCP and
//   UDP are lost (the netns kernel leaves checksums to "hardware"; AF_PACKET hands OVS packets with partial
//   checksums that nobody completes). ethtool is not installed and tc csum actions are unavailable here, so
//   disabling offloads on the veth is not an option; the vnet-header path of userspace TSO is.
// - Default MTU 1500 works on veth. Geneve encap-ip 127.0.0.1: fine for one chassis (no tunnels); several
//   chassis on one machine would need per-namespace tunnel addresses, which this harness does not set up.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  chassisRegistered,
  chassisSettings,
  createDatabase,
  northdArgs,
  northdSynced,
  OVN_NB_SCHEMA,
  OVN_SB_SCHEMA,
  ovnControllerArgs,
  ovsdbServerArgs,
  ovsEnv,
  run,
  runChecked,
  VSWITCH_SCHEMA,
  vswitchdArgs,
  type ExecResult,
} from '../../agents/ovn-local/commands.ts';
import { createNetns, uniqueName, type Netns } from './netns.ts';
import { addUplink } from '../../agents/ovn-local/uplink.ts';
import { freePort } from './ports.ts';
import { startProcess, WaitAborted, waitFor, type ManagedProcess } from './process.ts';

export interface OvnCentral {
  /** unix:<dir>/nb.sock */
  readonly nbEndpoint: string;
  /** tcp:127.0.0.1:<port> */
  readonly nbTcp: string;
  readonly sbEndpoint: string;
  readonly sbTcp: string;
  readonly dir: string;
  /** Environment for OVN tools that keeps their defaults inside dir. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs ovn-nbctl against this NB (`--db` added); rejects when it exits non-zero. */
  nbctl(...args: string[]): Promise<string>;
  sbctl(...args: string[]): Promise<string>;
  /** ovn-trace against this SB, e.g. trace('--ct=new', '--minimal', 'ls0', 'inport == "p1" && …'). */
  trace(...args: string[]): Promise<string>;
  /** The NB database file (ovsdb-tool can change it while the server is down). */
  readonly nbDatabase: string;
  /**
   * Stops the NB ovsdb-server (SIGKILL with crash) and starts it again on the same db file, socket and port,
   * after downMs and after whileDown() (e.g. an offline `ovsdb-tool transact` on nbDatabase) have completed.
   */
  restartNorthbound(options?: { crash?: boolean; downMs?: number; whileDown?: () => Promise<void> }): Promise<void>;
  /** Stops every chassis started on this central, every process, and removes dir. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const PORT_ATTEMPTS = 3;

export async function startOvnCentral(options: { dir?: string } = {}): Promise<OvnCentral> {
  const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'photon-ovn-')));
  const env = ovsEnv(dir);
  const nbDb = path.join(dir, 'nb.db');
  const sbDb = path.join(dir, 'sb.db');
  const nbSock = path.join(dir, 'nb.sock');
  const sbSock = path.join(dir, 'sb.sock');
  const started: ManagedProcess[] = [];
  const chassis = new Set<OvnChassis>();
  try {
    await Promise.all([createDatabase(nbDb, OVN_NB_SCHEMA), createDatabase(sbDb, OVN_SB_SCHEMA)]);
    let lastError: unknown;
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const nbPort = await freePort();
      const sbPort = await freePort();
      if (nbPort === sbPort) continue;
      const nbArgs = ovsdbServerArgs({ dir, name: 'nb', db: nbDb, socket: nbSock, tcpPort: nbPort });
      const sbArgs = ovsdbServerArgs({ dir, name: 'sb', db: sbDb, socket: sbSock, tcpPort: sbPort });
      const launchNb = () => startProcess('ovsdb-server(nb)', 'ovsdb-server', nbArgs, { env });
      let nb = launchNb();
      const sb = startProcess('ovsdb-server(sb)', 'ovsdb-server', sbArgs, { env });
      started.push(nb, sb);
      try {
        await Promise.all([
          waitListening(nb, `tcp:127.0.0.1:${nbPort}`, 'OVN_Northbound', env),
          waitListening(sb, `tcp:127.0.0.1:${sbPort}`, 'OVN_Southbound', env),
        ]);
      } catch (error) {
        lastError = error;
        await Promise.all([nb.kill(), sb.kill()]);
        started.length = 0;
        if (/Address already in use/i.test(nb.output() + sb.output())) continue;
        throw error;
      }
      const northd = startProcess('ovn-northd', 'ovn-northd', northdArgs({ dir, name: 'northd', nb: `unix:${nbSock}`, sb: `unix:${sbSock}` }), { env });
      started.push(northd);
      const nbEndpoint = `unix:${nbSock}`;
      const sbEndpoint = `unix:${sbSock}`;
      const nbctl = (...args: string[]) => runChecked('ovn-nbctl', [`--db=${nbEndpoint}`, '--timeout=20', ...args], { env });
      const sbctl = (...args: string[]) => runChecked('ovn-sbctl', [`--db=${sbEndpoint}`, '--timeout=20', ...args], { env });
      // northd is up once it has answered an NB change in the SB (nb_cfg → sb_cfg).
      await waitFor('ovn-northd to process the northbound database', async () => {
        assertRunning(northd);
        return northdSynced(nbEndpoint, env);
      }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 20 });
      let stopped = false;
      const central: OvnCentral = {
        nbEndpoint,
        nbTcp: `tcp:127.0.0.1:${nbPort}`,
        sbEndpoint,
        sbTcp: `tcp:127.0.0.1:${sbPort}`,
        dir,
        env,
        nbctl,
        sbctl,
        trace: (...args: string[]) => runChecked('ovn-trace', [`--db=${sbEndpoint}`, ...args], { env }),
        nbDatabase: nbDb,
        async restartNorthbound({ crash = false, downMs = 0, whileDown } = {}) {
          await (crash ? nb.kill() : nb.stop());
          if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
          if (whileDown) await whileDown();
          nb = launchNb();
          started.push(nb);
          await waitListening(nb, `tcp:127.0.0.1:${nbPort}`, 'OVN_Northbound', env);
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          for (const one of [...chassis]) await one.stop();
          await Promise.all(started.map((managed) => managed.stop(3000)));
          if (!options.dir) await fs.rm(dir, { recursive: true, force: true });
        },
      };
      centrals.set(central, chassis);
      return central;
    }
    throw lastError;
  } catch (error) {
    await Promise.all(started.map((managed) => managed.kill()));
    if (!options.dir) await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}

const centrals = new WeakMap<OvnCentral, Set<OvnChassis>>();

function assertRunning(managed: ManagedProcess): void {
  if (managed.child.exitCode !== null || managed.child.signalCode !== null) {
    throw new WaitAborted(`${managed.name} exited (${managed.child.exitCode ?? managed.child.signalCode}): ${managed.output().slice(-2000)}`);
  }
}

/** Waits until an ovsdb-server answers on `remote` with `database`; fails fast when the process exits. */
async function waitListening(managed: ManagedProcess, remote: string, database: string, env: NodeJS.ProcessEnv): Promise<void> {
  await waitFor(`${managed.name} to serve ${database} on ${remote}`, async () => {
    assertRunning(managed); // its output (e.g. "Address already in use") at once, not after the timeout
    const result = await run('ovsdb-client', ['--timeout=2', 'list-dbs', remote], { env, timeoutMs: 4000 });
    return result.code === 0 && result.stdout.split('\n').includes(database);
  }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 20 });
}

// ---- chassis --------------------------------------------------------------------------------------------

export interface OvnChassis {
  /** external_ids:system-id, the Chassis name in the SB. */
  readonly name: string;
  readonly dir: string;
  /** unix:<dir>/db.sock: this chassis's Open vSwitch database (what an agent's --ovs-db gets). */
  readonly ovsdbEndpoint: string;
  /** The namespace ovs-vswitchd (and so br-int and its taps) lives in. */
  readonly netns: Netns;
  /** ovs-vsctl against this chassis's database (`--db` added). */
  vsctl(...args: string[]): Promise<string>;
  readonly ports: ReadonlySet<AttachedPort>;
  /** Removes every port, stops ovn-controller, ovs-vswitchd, ovsdb-server, deletes the namespace and dir. */
  stop(): Promise<void>;
}

export async function startOvnChassis(central: OvnCentral, options: { name: string; encapIp?: string }): Promise<OvnChassis> {
  const dir = await fs.mkdtemp(path.join(central.dir, `ch-`));
  const env = ovsEnv(dir);
  const dbFile = path.join(dir, 'conf.db');
  const socket = path.join(dir, 'db.sock');
  const ovsdbEndpoint = `unix:${socket}`;
  const vsctl = (...args: string[]) => runChecked('ovs-vsctl', [`--db=${ovsdbEndpoint}`, '--timeout=20', ...args], { env });
  const processes: ManagedProcess[] = [];
  let netns: Netns | undefined;
  try {
    await createDatabase(dbFile, VSWITCH_SCHEMA);
    const ovsdb = startProcess(`ovsdb-server(${options.name})`, 'ovsdb-server', ovsdbServerArgs({ dir, name: 'ovsdb', db: dbFile, socket }), { env });
    processes.push(ovsdb);
    await waitListening(ovsdb, ovsdbEndpoint, 'Open_vSwitch', env);
    await vsctl('--no-wait', 'init');
    await vsctl('--no-wait', ...chassisSettings({ systemId: options.name, sbRemote: central.sbTcp, encapIp: options.encapIp ?? '127.0.0.1' }));
    netns = await createNetns('pcch');
    // QEMUs of VMs on this chassis run in its namespace and reach host services (Ceph) through this.
    await addUplink(netns.name);
    const vswitchd = netns.spawn(`ovs-vswitchd(${options.name})`, 'ovs-vswitchd', vswitchdArgs({ dir, name: 'vswitchd', db: ovsdbEndpoint }), { env });
    const controller = startProcess(`ovn-controller(${options.name})`, 'ovn-controller', ovnControllerArgs({ dir, name: 'ovn-controller', db: ovsdbEndpoint }), { env });
    processes.push(controller);
    await waitFor(`chassis ${options.name} in the southbound database and br-int`, async () => {
      assertRunning(vswitchd);
      assertRunning(controller);
      if (!(await chassisRegistered({ name: options.name, sbEndpoint: central.sbEndpoint, ovsdbEndpoint, env }))) return false;
      // br-int exists in the database; wait until vswitchd has created it in the datapath too.
      const shown = await netns!.exec('ip', ['link', 'show', 'br-int']);
      return shown.code === 0;
    }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 25 });
    const ports = new Set<AttachedPort>();
    const chassisNetns = netns;
    let stopped = false;
    const chassis: OvnChassis = {
      name: options.name,
      dir,
      ovsdbEndpoint,
      netns: chassisNetns,
      vsctl,
      ports,
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const port of [...ports]) await port.remove().catch(() => undefined);
        await controller.stop(3000);
        await vswitchd.stop(3000);
        await ovsdb.stop(3000);
        await chassisNetns.remove();
        await fs.rm(dir, { recursive: true, force: true });
        centrals.get(central)?.delete(chassis);
      },
    };
    centrals.get(central)?.add(chassis);
    return chassis;
  } catch (error) {
    await Promise.all(processes.map((managed) => managed.kill()));
    await netns?.remove().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}

// ---- ports ----------------------------------------------------------------------------------------------

export interface AttachedPort {
  readonly ifaceId: string;
  /** The host: a namespace with eth0 (mac, ip) and a default route via gateway. */
  readonly netns: Netns;
  /** The veth end on br-int (inside the chassis namespace). */
  readonly ovsPort: string;
  readonly mac: string;
  /** Address with prefix, e.g. 10.0.0.2/24. */
  readonly cidr: string;
  /** Address without prefix. */
  readonly ip: string;
  /** Runs a command inside the host namespace; never rejects on exit codes. */
  exec(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running command inside the host namespace (stopped by remove()). */
  spawn(name: string, command: string, args: readonly string[]): ManagedProcess;
  /** Deletes the OVS port and the host namespace. Idempotent. */
  remove(): Promise<void>;
}

let portCounter = 0;

/**
 * Attaches a new host to the chassis: a namespace whose eth0 (mac, ip/prefix, default route via gateway) is
 * one end of a veth pair; the other end joins br-int with external_ids:iface-id=<ifaceId>, which
 * ovn-controller binds to the logical switch port of that name.
 */
export async function attachPort(
  chassis: OvnChassis,
  options: {
    ifaceId: string;
    mac: string;
    /** ADDRESS/PREFIX, e.g. 10.0.0.2/24. */
    ip: string;
    gateway?: string;
    mtu?: number;
    /** Prefix of the namespace's name (made unique per run: several test files may run at once). Default "pcvm". */
    netns?: string;
  },
): Promise<AttachedPort> {
  if (!/\/\d+$/.test(options.ip)) throw new Error(`attachPort: ip must be ADDRESS/PREFIX, got ${options.ip}`);
  const netns = await createNetns(options.netns ?? 'pcvm');
  const ovsPort = `vp${(++portCounter).toString(36)}${uniqueName('').slice(-4)}`;
  const inChassis = (...args: string[]) => chassis.netns.exec('ip', args);
  const inHost = (...args: string[]) => netns.exec('ip', args);
  const steps: Array<[string, () => Promise<ExecResult>]> = [
    ['create veth', () => inChassis('link', 'add', ovsPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns.name)],
    ['set mac', () => inHost('link', 'set', 'eth0', 'address', options.mac)],
    ...(options.mtu ? ([['set mtu', () => inHost('link', 'set', 'eth0', 'mtu', String(options.mtu))], ['set mtu', () => inChassis('link', 'set', ovsPort, 'mtu', String(options.mtu))]] as Array<[string, () => Promise<ExecResult>]>) : []),
    ['add address', () => inHost('addr', 'add', options.ip, 'dev', 'eth0')],
    ['host link up', () => inHost('link', 'set', 'eth0', 'up')],
    ['chassis link up', () => inChassis('link', 'set', ovsPort, 'up')],
    ...(options.gateway ? ([['default route', () => inHost('route', 'add', 'default', 'via', options.gateway!, 'dev', 'eth0')]] as Array<[string, () => Promise<ExecResult>]>) : []),
  ];
  try {
    for (const [what, step] of steps) {
      const result = await step();
      if (result.code !== 0) throw new Error(`attachPort ${options.ifaceId}: ${what} failed: ${result.stderr.trim()}`);
    }
    await chassis.vsctl('add-port', 'br-int', ovsPort, '--', 'set', 'Interface', ovsPort, `external_ids:iface-id=${options.ifaceId}`);
  } catch (error) {
    await netns.remove().catch(() => undefined);
    await chassis.vsctl('--if-exists', 'del-port', 'br-int', ovsPort).catch(() => undefined);
    throw error;
  }
  let removed = false;
  const ports = chassis.ports as Set<AttachedPort>;
  const port: AttachedPort = {
    ifaceId: options.ifaceId,
    netns,
    ovsPort,
    mac: options.mac,
    cidr: options.ip,
    ip: options.ip.replace(/\/\d+$/, ''),
    exec: (command, args, execOptions) => netns.exec(command, args, execOptions),
    spawn: (name, command, args) => netns.spawn(name, command, args),
    async remove() {
      if (removed) return;
      removed = true;
      ports.delete(port);
      await chassis.vsctl('--if-exists', 'del-port', 'br-int', ovsPort).catch(() => undefined);
      await netns.remove();
    },
  };
  ports.add(port);
  return port;
}

// ---- a northbound database over SSL ------------------------------------------------------------------

/** PEM files for an ovsdb-server's SSL remote (its --private-key, --certificate and --ca-cert). */
export interface OvsdbServerTls {
  keyFile: string;
  certFile: string;
  /** The CA that client certificates must chain to (ovsdb-server always requires one). */
  caCertFile: string;
}

export interface TlsNorthbound {
  /** ssl:127.0.0.1:<port> */
  readonly sslEndpoint: string;
  /** unix:<dir>/nb.sock, for inspecting the database without TLS. */
  readonly nbEndpoint: string;
  readonly dir: string;
  /** ovn-nbctl over the unix socket. */
  nbctl(...args: string[]): Promise<string>;
  /** Stops the server and removes dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A lone OVN_Northbound ovsdb-server (no SB, no ovn-northd) listening on pssl:<free port>:127.0.0.1 with the
 * given certificates, and on a unix socket. Ready once `ovsdb-client` lists the database over SSL with
 * clientTls (a certificate the server's CA signed), which also shows OVS's own tools accept the certificates.
 */
export async function startTlsNorthbound(serverTls: OvsdbServerTls, clientTls: OvsdbServerTls): Promise<TlsNorthbound> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-ovn-ssl-'));
  const env = ovsEnv(dir);
  const db = path.join(dir, 'nb.db');
  const socket = path.join(dir, 'nb.sock');
  let lastError: unknown;
  try {
    await createDatabase(db, OVN_NB_SCHEMA);
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = await freePort();
      const args = [
        `--remote=pssl:${port}:127.0.0.1`,
        `--private-key=${serverTls.keyFile}`,
        `--certificate=${serverTls.certFile}`,
        `--ca-cert=${serverTls.caCertFile}`,
        ...ovsdbServerArgs({ dir, name: 'nb', db, socket }),
      ];
      const server = startProcess('ovsdb-server(nb, ssl)', 'ovsdb-server', args, { env });
      const sslEndpoint = `ssl:127.0.0.1:${port}`;
      try {
        await waitFor(`ovsdb-server to serve OVN_Northbound on ${sslEndpoint}`, async () => {
          assertRunning(server);
          const tlsArgs = [`--private-key=${clientTls.keyFile}`, `--certificate=${clientTls.certFile}`, `--ca-cert=${clientTls.caCertFile}`];
          const result = await run('ovsdb-client', [...tlsArgs, '--timeout=2', 'list-dbs', sslEndpoint], { env, timeoutMs: 4000 });
          return result.code === 0 && result.stdout.split('\n').includes('OVN_Northbound');
        }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50 });
      } catch (error) {
        lastError = error;
        await server.kill();
        if (/Address already in use/i.test(server.output())) continue;
        throw error;
      }
      const nbEndpoint = `unix:${socket}`;
      let stopped = false;
      return {
        sslEndpoint,
        nbEndpoint,
        dir,
        nbctl: (...nbctlArgs: string[]) => runChecked('ovn-nbctl', [`--db=${nbEndpoint}`, '--timeout=20', ...nbctlArgs], { env }),
        async stop() {
          if (stopped) return;
          stopped = true;
          await server.stop(3000);
          await fs.rm(dir, { recursive: true, force: true });
        },
      };
    }
    throw lastError;
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}
