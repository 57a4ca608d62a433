#!/usr/bin/env -S node --import tsx
// `photon`: the server-side command. Each component lives in its own folder with its own main module and
// runs in its own process; this launcher only picks one (or supervises all of them for the all-in-one), so
// it imports none of their code.
//
//   photon apiserver [flags]            the API server (see `photon apiserver --help`)
//   photon controller-manager [flags]   the controllers (see `photon controller-manager --help`)
//   photon ovn-local [flags]            a local OVN in the foreground (see `photon ovn-local --help`)
//   photon dns-local [flags]            a local PowerDNS in the foreground (see `photon dns-local --help`)
//   photon ceph-local [flags]           a local one-node Ceph in the foreground (see `photon ceph-local --help`)
//   photon all-in-one [flags]           every component on this machine, on embedded defaults (`npm start`)
//   photon token-keys, photon kubeconfig  administrators' commands on a control-plane machine (keys, tokens)
//   photon login --server URL --user NAME  a user's password login, written into their kubeconfig
//
// Every component runs through `setpriv --pdeathsig KILL --` (util-linux): the kernel kills it when this
// launcher dies, even by SIGKILL, so nothing it started outlives it (setpriv execs in place, so the child's
// pid is the component's). PDEATHSIG follows the forking *thread*; spawn() forks on Node's main thread, which
// lives as long as the process.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIGURATION_EXIT_STATUS, photonHome } from '../lib/cli.ts';
import { writePrivateFileAtomic } from '../lib/private-file.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Component name → its main module. Later components (controller-manager, agent) join this table. */
const COMPONENTS: Record<string, string> = {
  apiserver: 'apiserver/main.ts',
  'controller-manager': 'controllers/main.ts',
  'ovn-local': 'agents/ovn-local/main.ts',
  'dns-local': 'agents/pdns/main.ts',
  'ceph-local': 'agents/ceph/main.ts',
  agent: 'agents/node/main.ts',
  cordon: 'cli/cordon/cordon-main.ts',
  uncordon: 'cli/cordon/uncordon-main.ts',
  encryption: 'apiserver/encryption/main.ts',
  audit: 'apiserver/audit/main.ts',
  'token-keys': 'apiserver/auth/tokens/token-keys-main.ts',
  kubeconfig: 'apiserver/auth/tokens/kubeconfig-main.ts',
  login: 'cli/login/main.ts',
};

const USAGE = `Usage: photon <command> [flags]

Commands:
  all-in-one     run every PhotonCloud component on this machine (embedded store, https://127.0.0.1:6443,
                 state in $PHOTON_HOME or ./.photon); --ovn-nb-port/--ovn-sb-port are its own, the other flags
                 are passed to the apiserver
  apiserver            run the API server alone
  controller-manager   run the controllers (garbage collector, …) against an API server
  agent                run the node agent of this hypervisor (VMs on QEMU, taps on Open vSwitch)
  cordon NODE          keep new VMs off a Node (spec.unschedulable); uncordon NODE lets them back
  ovn-local            run a local OVN (NB/SB databases, ovn-northd) in the foreground under $PHOTON_HOME/ovn
  dns-local            run a local PowerDNS Authoritative (public Zones) in the foreground under $PHOTON_HOME/dns
  ceph-local           run a local one-node Ceph (Volumes) in the foreground under $PHOTON_HOME/ceph
  encryption           manage the keys that encrypt Secrets at rest (list, add-key, remove-key)
  audit verify FILE    check an audit log's hash chain (exit 1 naming the first broken line)
  token-keys           manage the keys that sign tokens (list, rotate, remove KID)
  kubeconfig           print a kubeconfig with a signed token for a User or a node (user|node NAME)
  login                log in as a User with its password: writes a context into your kubeconfig

Run 'photon <command> --help' for a command's flags.
`;

/** Flags of the all-in-one itself (the rest go to the API server), with their defaults (OVN's own ports). */
const ALL_IN_ONE_PORT_FLAGS = { '--ovn-nb-port': 6641, '--ovn-sb-port': 6642, '--dns-port': 10053 } as const;
type AllInOnePortFlag = keyof typeof ALL_IN_ONE_PORT_FLAGS;

const ALL_IN_ONE_USAGE = `Usage: photon all-in-one [flags]

Runs the API server, the controller manager, when OVN is installed a local OVN (photon ovn-local), when PowerDNS is
installed a local authoritative DNS server for public Zones (photon dns-local), when Ceph is installed a local
one-node Ceph for Volumes (photon ceph-local, data in $PHOTON_HOME/ceph), and when QEMU is installed too (and photon runs as root) a node agent for this machine on a local chassis (photon agent), as
children that never outlive it: SIGINT/SIGTERM stop them gracefully, and if photon itself dies (even by SIGKILL)
the kernel kills them (setpriv --pdeathsig, util-linux). The local OVN starts first; if it cannot serve (say a
port is taken) the all-in-one exits 1 naming the port, before anything else starts.

All-in-one flags:
  --ovn-nb-port PORT   TCP port of the local OVN Northbound database on 127.0.0.1 (default: 6641)
  --ovn-sb-port PORT   TCP port of the local OVN Southbound database on 127.0.0.1 (default: 6642)
                       (the controller manager uses the database's unix socket, $PHOTON_HOME/ovn/nb.sock)
  --dns-port PORT      UDP and TCP port the local PowerDNS answers public Zones on, on 127.0.0.1 (default: 10053)
                       (when pdns-server and pdns-backend-sqlite3 are installed; state in $PHOTON_HOME/dns)

Every other flag goes to the API server; it runs one worker per core but one (--workers auto) unless --workers is given:
`;

/** Whether the kernel can be asked to kill our children when we die (setpriv from util-linux is on PATH). */
let dieWithParent: boolean | undefined;

function launch(component: string, args: string[], stdio: 'inherit' | Array<'inherit' | 'pipe'> = 'inherit'): ChildProcess {
  dieWithParent ??= installed('setpriv');
  const command = [process.execPath, '--import', 'tsx', path.join(ROOT, COMPONENTS[component]), ...args];
  const [program, ...rest] = dieWithParent ? ['setpriv', '--pdeathsig', 'KILL', '--', ...command] : command;
  return spawn(program!, rest, { stdio, env: process.env });
}

/** Splits the all-in-one's own flags from the API server's; a bad value is a usage error (exit 2). */
function allInOneFlags(args: string[]): { ports: Record<AllInOnePortFlag, number>; rest: string[] } {
  const ports: Record<AllInOnePortFlag, number> = { ...ALL_IN_ONE_PORT_FLAGS };
  const rest: string[] = [];
  const usageError = (message: string): never => {
    process.stderr.write(`error: ${message}\n\n${ALL_IN_ONE_USAGE}`);
    process.exit(USAGE_EXIT_STATUS);
  };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    const flag = (Object.keys(ALL_IN_ONE_PORT_FLAGS) as AllInOnePortFlag[]).find((name) => arg === name || arg.startsWith(`${name}=`));
    if (!flag) {
      rest.push(arg);
      continue;
    }
    const value = arg === flag ? args[++index] : arg.slice(flag.length + 1);
    if (value === undefined) usageError(`${flag} needs a port number`);
    const port = Number(value);
    if (!/^\d+$/.test(value!) || port < 1 || port > 65535) usageError(`${flag} must be a TCP port (1-65535), got ${JSON.stringify(value)}`);
    ports[flag] = port;
  }
  if (ports['--ovn-nb-port'] === ports['--ovn-sb-port']) usageError(`--ovn-nb-port and --ovn-sb-port must differ (both ${ports['--ovn-nb-port']})`);
  return { ports, rest };
}

/** Whether a program is installed (on PATH). */
function installed(program: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', program], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The value of --home in the API server's flags, which the other components must share. */
function homeFlag(args: string[]): string | undefined {
  for (const [index, arg] of args.entries()) {
    if (arg === '--home') return args[index + 1];
    if (arg.startsWith('--home=')) return arg.slice('--home='.length);
  }
  return undefined;
}

/** Forwards SIGINT/SIGTERM to a single component's process. */
function forwardSignals(child: ChildProcess): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  }
}

/** How the all-in-one restarts a component that exits on its own (systemd's Restart=on-failure, k3s). */
const RESTART_POLICY = {
  /** Delay before the first restart; it doubles on each further one, up to maxDelayMs. */
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  /** A run at least this long counts as stable: the next restart waits initialDelayMs again. */
  stableRunMs: 60_000,
};

/** The exit status of a usage error (bad flags): restarting cannot help, so the all-in-one stops. */
const USAGE_EXIT_STATUS = 2;

interface ComponentSpec {
  name: string;
  args: string[];
  /**
   * The component reports readiness by writing a JSON line to file descriptor 3 (`--ready-fd 3`); until its
   * first report, its exit is fatal: the all-in-one stops with its status instead of restarting it.
   */
  readyFd?: boolean;
}

interface Component extends ComponentSpec {
  child?: ChildProcess;
  /** Whether it has ever reported ready (always true without readyFd). */
  wasReady: boolean;
  onReady?: (report: unknown) => void;
  /** The delay before its next restart. */
  delayMs: number;
  restartTimer?: NodeJS.Timeout;
}

/** Why a child ended, for the log. */
function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Supervises the all-in-one's components. A component that exits on its own (crashed, killed, or gave up)
 * is restarted after a backoff (RESTART_POLICY) while the others keep running, so one component's failure
 * (say the controller manager losing its Lease while the API server stalled) never takes the rest down.
 * Only SIGINT/SIGTERM stop everything: the signal goes to every running child, restarts are cancelled,
 * and once all have exited the supervisor exits with the worst status. A usage error (exit 2) is not
 * retried, nor is a readyFd component's exit before its first ready report: each stops everything the
 * same way. add() starts a component and resolves with its first ready report (at once without readyFd),
 * or with undefined when the all-in-one is stopping instead.
 */
function supervise(): { add(spec: ComponentSpec): Promise<unknown> } {
  const components: Component[] = [];
  let stopping = false;
  const statuses: number[] = [];

  const exitWhenAllStopped = () => {
    if (components.every((component) => !component.child)) process.exit(Math.max(0, ...statuses));
  };
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const component of components) {
      clearTimeout(component.restartTimer);
      component.child?.kill(signal);
    }
    exitWhenAllStopped();
  };
  const scheduleRestart = (component: Component, ranForMs: number, how: string) => {
    if (ranForMs >= RESTART_POLICY.stableRunMs) component.delayMs = RESTART_POLICY.initialDelayMs;
    process.stderr.write(`photon: ${component.name} ${how}; restarting it in ${component.delayMs / 1000} s\n`);
    component.restartTimer = setTimeout(() => {
      component.restartTimer = undefined;
      if (!stopping) start(component);
    }, component.delayMs);
    component.delayMs = Math.min(component.delayMs * 2, RESTART_POLICY.maxDelayMs);
  };
  const start = (component: Component) => {
    const startedAt = Date.now();
    const child = launch(component.name, component.args, component.readyFd ? ['inherit', 'inherit', 'inherit', 'pipe'] : 'inherit');
    component.child = child;
    if (component.readyFd) {
      let report = '';
      child.stdio[3]!.on('data', (chunk: Buffer) => {
        report += chunk.toString();
        if (!report.includes('\n') || !component.onReady) return;
        component.wasReady = true;
        const onReady = component.onReady;
        component.onReady = undefined;
        onReady(JSON.parse(report.slice(0, report.indexOf('\n'))));
      });
    }
    child.on('exit', (code, signal) => {
      component.child = undefined;
      const status = code ?? (signal ? 1 : 0);
      if (stopping) {
        // Dying of the SIGINT/SIGTERM we sent (a component that had not yet installed its handlers) is the stop
        // we asked for, as systemd counts it; anything else while stopping is a failure worth reporting.
        const clean = status === 0 || signal === 'SIGINT' || signal === 'SIGTERM';
        if (!clean) process.stderr.write(`photon: ${component.name} ${describeExit(code, signal)} while stopping\n`);
        statuses.push(clean ? 0 : status);
        return exitWhenAllStopped();
      }
      if (!component.wasReady) {
        process.stderr.write(
          `photon: ${component.name} ${describeExit(code, signal)} before it was ready (its error is above); stopping ` +
            `(nothing else was started)\n`,
        );
        statuses.push(Math.max(status, 1));
        return stopAll('SIGTERM');
      }
      if (code === USAGE_EXIT_STATUS || code === CONFIGURATION_EXIT_STATUS) {
        const why = code === USAGE_EXIT_STATUS ? 'a usage error' : 'it cannot run as configured; its error is above';
        process.stderr.write(`photon: ${component.name} ${describeExit(code, signal)} (${why}; not restarting it); stopping\n`);
        statuses.push(code === USAGE_EXIT_STATUS ? status : 1);
        return stopAll('SIGTERM');
      }
      scheduleRestart(component, Date.now() - startedAt, describeExit(code, signal));
    });
  };

  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopAll(signal));
  return {
    add(spec) {
      if (stopping) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const component: Component = { ...spec, delayMs: RESTART_POLICY.initialDelayMs, wasReady: !spec.readyFd, onReady: resolve };
        components.push(component);
        start(component);
        // Without readyFd there is nothing to wait for. (With it, stopping first means exiting: add() never settles.)
        if (!spec.readyFd) resolve(undefined);
      });
    },
  };
}

/**
 * The all-in-one: the local OVN first (when installed), and only once it serves, the API server and the
 * controller manager, pointed at that OVN's Northbound socket.
 */
async function allInOne(args: string[]): Promise<void> {
  const { ports, rest } = allInOneFlags(args);
  if (!installed('setpriv')) {
    process.stderr.write('photon: all-in-one needs setpriv (util-linux: apt-get install util-linux), which makes its components die with it even when it is killed\n');
    process.exit(1);
  }
  // API server flags go to the API server; the controller manager finds its kubeconfig in PHOTON_HOME once
  // the API server has written it; the node agent (when QEMU and OVN's chassis daemons are installed) a node
  // credential issued from the same PHOTON_HOME.
  const home = photonHome(homeFlag(rest));
  const supervisor = supervise();
  const managerArgs = ['--home', home];
  // A node agent for this machine needs QEMU and a local chassis (ovs-vswitchd + ovn-controller, as root).
  const withAgent = agentPossible();
  let chassis: LocalChassis | undefined;
  if (installed('ovn-northd') && installed('ovsdb-server')) {
    const ovnArgs = ['--home', home, '--ovn-nb-port', String(ports['--ovn-nb-port']), '--ovn-sb-port', String(ports['--ovn-sb-port']), '--ready-fd', '3', ...(withAgent === true ? ['--chassis'] : [])];
    const report = (await supervisor.add({ name: 'ovn-local', args: ovnArgs, readyFd: true })) as { northbound: { unix: string }; chassis: LocalChassis | null } | undefined;
    if (!report) return; // stopping (a signal, or the local OVN failed and said why)
    managerArgs.push('--ovn-nb', report.northbound.unix);
    chassis = report.chassis ?? undefined;
  } else {
    process.stderr.write('photon: OVN is not installed (apt-get install ovn-central ovn-host openvswitch-switch); network objects will report OVNUnavailable\n');
  }
  if (['pdns_server', 'sqlite3'].every(installed)) {
    const dnsArgs = ['--home', home, '--dns-port', String(ports['--dns-port']), '--ready-fd', '3'];
    const report = (await supervisor.add({ name: 'dns-local', args: dnsArgs, readyFd: true })) as { dns: { address: string; port: number }; api: { url: string; keyFile: string } } | undefined;
    if (!report) return;
    managerArgs.push('--pdns-url', report.api.url, '--pdns-api-key-file', report.api.keyFile, '--dns-nameserver-addresses', `${report.dns.address}:${report.dns.port}`);
    process.stderr.write(`photon: public Zones are answered by PowerDNS on ${report.dns.address}:${report.dns.port} (UDP and TCP): dig @${report.dns.address} -p ${report.dns.port} <name>\n`);
  } else {
    process.stderr.write('photon: PowerDNS is not installed (apt-get install pdns-server pdns-backend-sqlite3 sqlite3); public Zones will report DNSUnavailable\n');
  }
  let cephArgs: string[] = [];
  if (['ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph', 'rbd'].every(installed)) {
    const rgw = installed('radosgw');
    const report = (await supervisor.add({ name: 'ceph-local', args: ['--home', home, '--ready-fd', '3', ...(rgw ? ['--rgw'] : [])], readyFd: true })) as
      | { client: { conf: string; id: string; keyring: string }; monHost: string; s3?: { endpoint: string; credentials: string } }
      | undefined;
    if (!report) return;
    cephArgs = ['--ceph-conf', report.client.conf, '--ceph-keyring', report.client.keyring, '--ceph-id', report.client.id];
    managerArgs.push(...cephArgs);
    process.stderr.write(`photon: Volumes are RBD images in a local one-node Ceph (monitor ${report.monHost}): ceph --conf ${report.client.conf} -s\n`);
    if (report.s3) {
      managerArgs.push('--rgw-endpoint', report.s3.endpoint, '--rgw-credentials', report.s3.credentials);
      process.stderr.write(`photon: Buckets are S3 buckets on the local Ceph's RGW: S3 endpoint ${report.s3.endpoint} (path-style, region default)\n`);
    } else {
      process.stderr.write('photon: radosgw is not installed (apt-get install radosgw); Buckets will report ObjectStorageUnavailable\n');
    }
  } else {
    process.stderr.write('photon: Ceph is not installed (apt-get install ceph-mon ceph-mgr ceph-osd ceph-common qemu-block-extra); ceph-rbd Volumes will report CephUnavailable\n');
  }
  // One API server worker per core but one (each its own watch cache; the embedded store stays in one process) unless
  // the operator chose a number.
  const workers = rest.some((arg) => arg === '--workers' || arg.startsWith('--workers=')) ? [] : ['--workers', 'auto'];
  await supervisor.add({ name: 'apiserver', args: [...workers, ...rest] });
  await supervisor.add({ name: 'controller-manager', args: managerArgs });
  if (withAgent !== true) {
    process.stderr.write(`photon: no node agent: ${withAgent}; VirtualMachines will wait in Scheduling\n`);
    return;
  }
  if (!chassis) return;
  const agentArgs = await localAgentArgs(home, chassis);
  if (agentArgs) await supervisor.add({ name: 'agent', args: [...agentArgs, ...cephArgs] });
}

/** What ovn-local reports about the chassis it runs (agents/ovn-local/local.ts). */
interface LocalChassis {
  name: string;
  ovsdb: string;
  netns: string;
}

/** true when this machine can run the all-in-one's node agent, else why not. */
function agentPossible(): true | string {
  const missing = ['qemu-system-x86_64', 'qemu-img', 'ovs-vswitchd', 'ovs-vsctl', 'ovn-controller', 'ip'].filter((program) => !installed(program));
  if (missing.length > 0) return `${missing.join(', ')} not installed (bash hack/install-deps.sh)`;
  if (process.getuid?.() !== 0) return 'the local chassis (a network namespace with ovs-vswitchd) needs root';
  return true;
}

/**
 * The local node agent's flags, with a node credential issued from this PHOTON_HOME's token signing key once the
 * API server has created it (photon kubeconfig node NAME, written 0600 to $PHOTON_HOME/agent.kubeconfig).
 */
async function localAgentArgs(home: string, chassis: LocalChassis): Promise<string[] | undefined> {
  const nodeName = os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'local';
  const admin = path.join(home, 'admin.kubeconfig');
  for (let waited = 0; !fs.existsSync(admin); waited += 250) {
    if (waited > 120_000) {
      process.stderr.write(`photon: the API server did not write ${admin} in 2 minutes; no node agent\n`);
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const kubeconfig = path.join(home, 'agent.kubeconfig');
  try {
    const issued = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, COMPONENTS.kubeconfig!), 'node', nodeName, '--home', home, '--expiration', '365d'], { stdio: ['ignore', 'pipe', 'pipe'] });
    writePrivateFileAtomic(kubeconfig, issued);
  } catch (error) {
    process.stderr.write(`photon: cannot issue the node agent's credential (${(error as Error).message}); no node agent\n`);
    return undefined;
  }
  // The chassis stops with the all-in-one: so do the VMs (they start again with it).
  return ['--home', home, '--kubeconfig', kubeconfig, '--node-name', nodeName, '--ovs-db', chassis.ovsdb, '--netns', chassis.netns, '--stop-vms-on-exit', '--port', '0'];
}

function main(argv: string[]): void {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    process.exit(command ? 0 : 2);
  }
  if (args.includes('--help') || args.includes('-h')) {
    const component = command === 'all-in-one' ? 'apiserver' : command;
    if (command === 'all-in-one') process.stdout.write(ALL_IN_ONE_USAGE);
    if (COMPONENTS[component]) {
      const child = launch(component, ['--help']);
      child.on('exit', (code) => process.exit(code ?? 1));
      return;
    }
  }
  if (command === 'all-in-one') {
    void allInOne(args);
    return;
  }
  if (!COMPONENTS[command]) {
    process.stderr.write(`photon: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    process.exit(2);
  }
  const child = launch(command, args);
  forwardSignals(child);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main(process.argv.slice(2));
