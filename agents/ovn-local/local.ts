// The local OVN that `photon all-in-one` runs (as the `photon ovn-local` component) and hack/ovn/up.ts runs by
// hand, under $PHOTON_HOME/ovn (layout in dev.ts): NB and SB ovsdb-server, ovn-northd, and optionally a
// userspace chassis (ovsdb-server, ovs-vswitchd in its own network namespace, ovn-controller).
//
// Why it is built this way:
// - No daemon is --detach'ed: each is a child of this process, spawned through `setpriv --pdeathsig KILL --`
//   (util-linux), so the kernel kills it when this process dies, even by SIGKILL, which no handler can see.
//   (Detached daemons outlived a killed all-in-one and kept its ports.) PDEATHSIG fires when the *thread*
//   that forked the child ends; spawn() forks on Node's main thread, which lives as long as the process.
//   setpriv and `ip netns exec` exec in place, so each child's pid is the daemon's own.
// - Each daemon runs in a session of its own, so a terminal's Ctrl-C reaches only this process, which stops
//   them in order (SIGTERM, SIGKILL after a grace period) rather than racing them.
// - ovsdb-server does not exit when its TCP port is taken: it logs "listen failed" and retries, and the old
//   all-in-one printed the address anyway, sending users to whatever OVN held the port. So an ovsdb-server
//   counts as serving only when the kernel says the listening socket on 127.0.0.1:<port> is its own
//   (listeners.ts); anything else fails loudly, naming the port, its holder when visible, and the flag.
// - A daemon still holding one of our pidfiles (another instance on this PHOTON_HOME, or a detached daemon
//   an older version left behind) is reported rather than fought over: its database is locked anyway.
import { addUplink } from './uplink.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
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
  VSWITCH_SCHEMA,
  vswitchdArgs,
  type ExecResult,
} from './commands.ts';
import { CHASSIS_NAME, DEFAULT_NB_PORT, DEFAULT_SB_PORT, devLayout, runningPid, type DevLayout } from './dev.ts';
import { describeListener, listensOn } from './listeners.ts';
import { DIE_WITH_PARENT } from '../../lib/programs.ts';

/** The flags that choose the TCP ports, as `photon all-in-one`, `photon ovn-local` and hack/ovn/up.ts spell them. */
export const PORT_FLAGS = { nb: '--ovn-nb-port', sb: '--ovn-sb-port' } as const;

/** The prefix that makes a child die with this process (see the file header). */
export { DIE_WITH_PARENT };

/** A problem the user can fix (a taken port, a leftover daemon): the message says what and how. */
export class LocalOvnError extends Error {}

export interface LocalOvnOptions {
  /** PHOTON_HOME: the OVN lives in <home>/ovn. */
  home: string;
  nbPort?: number;
  sbPort?: number;
  /** Also run a userspace chassis (needs root: it creates a network namespace). */
  chassis?: boolean;
  /** How long each daemon may take to serve (default 30 s). */
  readyTimeoutMs?: number;
  /** Progress lines ("started ovsdb-server nb, pid 123"). */
  log?: (message: string) => void;
  /** Aborting stops whatever has started and makes startLocalOvn reject. */
  signal?: AbortSignal;
}

export interface LocalOvn {
  readonly layout: DevLayout;
  readonly northbound: { unix: string; tcp: string };
  readonly southbound: { unix: string; tcp: string };
  readonly chassis?: { name: string; ovsdb: string; netns: string };
  /** Every daemon's pid (each a child of this process). */
  pids(): number[];
  /** Resolves (never rejects) when a daemon exits on its own: this OVN is broken; stop() the rest. */
  readonly failed: Promise<Error>;
  /** Stops every daemon (chassis first, then northd, SB, NB), and deletes the chassis namespace. Idempotent. */
  stop(): Promise<void>;
}

interface Daemon {
  readonly label: string;
  readonly child: ChildProcess;
  running(): boolean;
  /** The last few KiB of its stderr. */
  stderr(): string;
  /** How it ended ("exited with code 1", "was killed by SIGKILL"), once it has. */
  ending(): string;
  readonly exited: Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

function startDaemon(label: string, command: string, args: string[], env: NodeJS.ProcessEnv, prefix: string[] = []): Daemon {
  const [program, ...rest] = [...DIE_WITH_PARENT, ...prefix, command, ...args];
  // detached: a session of its own (setsid), away from the terminal's Ctrl-C; still our child, still PDEATHSIG'd.
  const child = spawn(program!, rest, { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let tail = '';
  let ending = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    // Their warnings and errors (-vconsole:warn) are ours to show; the tail explains a failure.
    process.stderr.write(chunk);
    tail = (tail + chunk.toString()).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      ending = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      ending = `could not start: ${error.message}`;
      resolve();
    });
  });
  const running = () => ending === '' && child.exitCode === null && child.signalCode === null;
  return {
    label,
    child,
    running,
    stderr: () => tail,
    ending: () => ending,
    exited,
    async stop(graceMs = 5000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A short-lived tool (ovn-nbctl, ovsdb-client…), also bound to this process's life. */
function probe(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 5000): Promise<ExecResult> {
  const [program, ...rest] = [...DIE_WITH_PARENT, command, ...args];
  return run(program!, rest, { env, timeoutMs });
}

async function probeChecked(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const result = await probe(command, args, env, 30_000);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/** Polls check every 50 ms until it is true; a check may throw to fail at once. Rejects on timeout or abort. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new Error(`stopped while waiting for ${what}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function ensureDatabase(file: string, schema: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (!fs.existsSync(file)) return createDatabase(file, schema);
  const needs = await probe('ovsdb-tool', ['needs-conversion', file, schema], env);
  if (needs.stdout.trim() === 'yes') await probeChecked('ovsdb-tool', ['convert', file, schema], env);
}

function validPort(port: number, flag: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LocalOvnError(`${flag} must be a TCP port (1-65535), got ${port}`);
  return port;
}

export async function startLocalOvn(options: LocalOvnOptions): Promise<LocalOvn> {
  const layout = devLayout(options.home);
  const nbPort = validPort(options.nbPort ?? DEFAULT_NB_PORT, PORT_FLAGS.nb);
  const sbPort = validPort(options.sbPort ?? DEFAULT_SB_PORT, PORT_FLAGS.sb);
  if (nbPort === sbPort) throw new LocalOvnError(`${PORT_FLAGS.nb} and ${PORT_FLAGS.sb} must differ (both ${nbPort})`);
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const log = options.log ?? (() => {});
  const signal = options.signal;
  const daemons: Daemon[] = [];
  let stopping = false;

  const stopAll = async () => {
    stopping = true;
    for (const daemon of [...daemons].reverse()) await daemon.stop();
    // The namespace is ours by name (as hack/ovn/down.ts has always assumed); a killed run leaves it for the next.
    if (options.chassis) await run('ip', ['netns', 'delete', layout.chassisNetns]);
  };

  /** Fails at once, with its own words, when a daemon being waited on has ended. */
  const assertRunning = (daemon: Daemon) => {
    if (!daemon.running()) throw new Error(`${daemon.label} ${daemon.ending()} before it was ready${daemon.stderr().trim() ? `:\n${daemon.stderr().trim()}` : ''}`);
  };

  const launch = (label: string, dir: string, pidName: string, command: string, args: string[], prefix: string[] = []): Daemon => {
    const pid = runningPid(`${dir}/${pidName}.pid`, command);
    if (pid !== undefined) {
      throw new LocalOvnError(
        `${command} (pid ${pid}) already runs for ${dir} (pidfile ${dir}/${pidName}.pid): another photon all-in-one or ovn-local uses ` +
          `this PHOTON_HOME, or an older version left it running. Stop it (kill ${pid}) or use another PHOTON_HOME.`,
      );
    }
    const daemon = startDaemon(label, command, args, ovsEnv(dir), prefix);
    daemons.push(daemon);
    log(`started ${label} (pid ${daemon.child.pid})`);
    return daemon;
  };

  /** An ovsdb-server serves when its unix socket answers and, with a TCP port, it holds that port itself. */
  const waitServing = async (daemon: Daemon, socket: string, env: NodeJS.ProcessEnv, tcp?: { port: number; database: string; flag: string }) => {
    const portError = (reason: string) => {
      const holder = describeListener(tcp!.port);
      return new LocalOvnError(
        `the ${tcp!.database} database cannot listen on 127.0.0.1:${tcp!.port}: ${reason}${holder ? ` (held by ${holder})` : ''}. ` +
          `Stop whatever holds the port, or choose a free one: npm start -- ${tcp!.flag} PORT (photon all-in-one ${tcp!.flag} PORT).`,
      );
    };
    try {
      await until(`${daemon.label} to serve`, async () => {
        assertRunning(daemon);
        if (tcp) {
          const failed = new RegExp(`ptcp:${tcp.port}:127\\.0\\.0\\.1: listen failed: ([^\\n]*)`).exec(daemon.stderr());
          if (failed) throw portError(failed[1]!.trim());
          if (!listensOn(daemon.child.pid!, '127.0.0.1', tcp.port)) return false;
        }
        if (!fs.existsSync(socket)) return false;
        return (await probe('ovsdb-client', ['--timeout=2', 'list-dbs', `unix:${socket}`], env)).code === 0;
      }, timeoutMs, signal);
    } catch (error) {
      if (tcp && !(error instanceof LocalOvnError) && daemon.running() && !listensOn(daemon.child.pid!, '127.0.0.1', tcp.port)) {
        throw portError(`ovsdb-server is not listening there after ${timeoutMs / 1000} s`);
      }
      throw error;
    }
  };

  try {
    fs.mkdirSync(layout.dir, { recursive: true });
    const env = ovsEnv(layout.dir);
    await ensureDatabase(layout.nbDb, OVN_NB_SCHEMA, env);
    await ensureDatabase(layout.sbDb, OVN_SB_SCHEMA, env);
    const dir = layout.dir;
    const nb = launch('ovsdb-server (OVN Northbound)', dir, 'nb', 'ovsdb-server', ovsdbServerArgs({ dir, name: 'nb', db: layout.nbDb, socket: layout.nbSock, tcpPort: nbPort }));
    const sb = launch('ovsdb-server (OVN Southbound)', dir, 'sb', 'ovsdb-server', ovsdbServerArgs({ dir, name: 'sb', db: layout.sbDb, socket: layout.sbSock, tcpPort: sbPort }));
    await Promise.all([
      waitServing(nb, layout.nbSock, env, { port: nbPort, database: 'OVN Northbound', flag: PORT_FLAGS.nb }),
      waitServing(sb, layout.sbSock, env, { port: sbPort, database: 'OVN Southbound', flag: PORT_FLAGS.sb }),
    ]);
    const northd = launch('ovn-northd', dir, 'northd', 'ovn-northd', northdArgs({ dir, name: 'northd', nb: `unix:${layout.nbSock}`, sb: `unix:${layout.sbSock}` }));
    await until('ovn-northd to sync NB to SB', async () => {
      assertRunning(northd);
      return northdSynced(`unix:${layout.nbSock}`, env);
    }, timeoutMs, signal);

    let chassis: LocalOvn['chassis'];
    if (options.chassis) {
      const cdir = layout.chassisDir;
      const cenv = ovsEnv(cdir);
      fs.mkdirSync(cdir, { recursive: true });
      await ensureDatabase(layout.chassisDb, VSWITCH_SCHEMA, cenv);
      const ovsdb = launch('ovsdb-server (chassis)', cdir, 'ovsdb', 'ovsdb-server', ovsdbServerArgs({ dir: cdir, name: 'ovsdb', db: layout.chassisDb, socket: layout.chassisSock }));
      await waitServing(ovsdb, layout.chassisSock, cenv);
      const db = `unix:${layout.chassisSock}`;
      await probeChecked('ovs-vsctl', [`--db=${db}`, '--no-wait', 'init'], cenv);
      await probeChecked('ovs-vsctl', [`--db=${db}`, '--no-wait', ...chassisSettings({ systemId: CHASSIS_NAME, sbRemote: `tcp:127.0.0.1:${sbPort}`, encapIp: '127.0.0.1' })], cenv);
      const namespaces = await probeChecked('ip', ['netns', 'list'], cenv);
      if (!namespaces.split('\n').some((line) => line.split(' ')[0] === layout.chassisNetns)) {
        await probeChecked('ip', ['netns', 'add', layout.chassisNetns], cenv);
        await probeChecked('ip', ['-n', layout.chassisNetns, 'link', 'set', 'lo', 'up'], cenv);
      }
      // QEMUs run in this namespace, beside their taps: the uplink lets them reach the local Ceph on the host.
      await addUplink(layout.chassisNetns);
      const vswitchd = launch('ovs-vswitchd (chassis)', cdir, 'vswitchd', 'ovs-vswitchd', vswitchdArgs({ dir: cdir, name: 'vswitchd', db }), ['ip', 'netns', 'exec', layout.chassisNetns]);
      const controller = launch('ovn-controller (chassis)', cdir, 'ovn-controller', 'ovn-controller', ovnControllerArgs({ dir: cdir, name: 'ovn-controller', db }));
      await until(`chassis ${CHASSIS_NAME} in the southbound database`, async () => {
        assertRunning(vswitchd);
        assertRunning(controller);
        return chassisRegistered({ name: CHASSIS_NAME, sbEndpoint: `unix:${layout.sbSock}`, ovsdbEndpoint: db, env: cenv });
      }, timeoutMs, signal);
      chassis = { name: CHASSIS_NAME, ovsdb: db, netns: layout.chassisNetns };
    }

    const failed = new Promise<Error>((resolve) => {
      for (const daemon of daemons) {
        void daemon.exited.then(() => {
          if (!stopping) resolve(new Error(`${daemon.label} ${daemon.ending()}${daemon.stderr().trim() ? `:\n${daemon.stderr().trim().slice(-2000)}` : ''}`));
        });
      }
    });
    let stopped: Promise<void> | undefined;
    return {
      layout,
      northbound: { unix: `unix:${layout.nbSock}`, tcp: `tcp:127.0.0.1:${nbPort}` },
      southbound: { unix: `unix:${layout.sbSock}`, tcp: `tcp:127.0.0.1:${sbPort}` },
      chassis,
      pids: () => daemons.filter((daemon) => daemon.running()).map((daemon) => daemon.child.pid!),
      failed,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
