// Command lines for OVN/OVS daemons, shared by test/env/ovn.ts (managed child processes, temp dirs, free
// ports) and local.ts (the local OVN under $PHOTON_HOME/ovn that the all-in-one runs). Everything is an
// argument array for execFile/spawn: nothing goes through a shell. No daemon is ever --detach'ed: a detached
// daemon is adopted by init and outlives whoever started it (see local.ts).
//
// Every daemon gets OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR/OVN_RUNDIR/… pointing at its own directory, and explicit
// --pidfile/--unixctl/--log-file paths, so nothing touches /var/run/openvswitch or /var/run/ovn and several
// instances run side by side. (ovn-controller has no --unixctl option: its control socket goes to
// $OVN_RUNDIR/ovn-controller.<pid>.ctl, and it finds br-int's OpenFlow socket at $OVS_RUNDIR/br-int.mgmt,
// which is where ovs-vswitchd with the same OVS_RUNDIR creates it.)
import { execFile } from 'node:child_process';

export const OVN_NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
export const OVN_SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';
export const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (argument array, no shell) and resolves with its exit code and output; never rejects on exit codes. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; maxBuffer?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      [...args],
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000, maxBuffer: options.maxBuffer ?? 16 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
        const spawnError = error && typeof (error as { code?: unknown }).code === 'string' ? `${error.message}\n` : '';
        const timedOut = error && (error as { killed?: boolean }).killed ? `[killed after ${options.timeoutMs ?? 30_000} ms]\n` : '';
        resolve({ code, stdout: String(stdout), stderr: spawnError + timedOut + String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run(), but rejects with the command line and its stderr when the exit code is not 0. */
export async function runChecked(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

/** Whether ovn-northd has answered an NB change in the SB (nb_cfg → sb_cfg): the central is up. */
export async function northdSynced(nbEndpoint: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const synced = await run('ovn-nbctl', [`--db=${nbEndpoint}`, '--timeout=2', '--wait=sb', 'sync'], { env, timeoutMs: 5000 });
  return synced.code === 0;
}

/** Whether a chassis has registered in the SB and its ovsdb has br-int (ovn-controller created it). */
export async function chassisRegistered(options: { name: string; sbEndpoint: string; ovsdbEndpoint: string; env: NodeJS.ProcessEnv }): Promise<boolean> {
  const [inSb, bridge] = await Promise.all([
    run('ovn-sbctl', [`--db=${options.sbEndpoint}`, '--timeout=2', '--bare', '--columns=name', 'find', 'Chassis', `name=${options.name}`], { env: options.env }),
    run('ovs-vsctl', [`--db=${options.ovsdbEndpoint}`, '--timeout=2', 'br-exists', 'br-int'], { env: options.env }),
  ]);
  return inSb.code === 0 && inSb.stdout.trim() === options.name && bridge.code === 0;
}

/** Environment that keeps an OVS/OVN tool's default paths inside `dir`. */
export function ovsEnv(dir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    OVS_RUNDIR: dir,
    OVS_LOGDIR: dir,
    OVS_DBDIR: dir,
    OVS_SYSCONFDIR: dir,
    OVN_RUNDIR: dir,
    OVN_LOGDIR: dir,
    OVN_DBDIR: dir,
    OVN_SYSCONFDIR: dir,
  };
}

export interface DaemonFiles {
  /** Base name for pidfile, control socket and log in dir: <dir>/<name>.pid, .ctl, .log */
  dir: string;
  name: string;
}

function daemonArgs({ dir, name }: DaemonFiles, unixctl = true): string[] {
  return [
    `--pidfile=${dir}/${name}.pid`,
    ...(unixctl ? [`--unixctl=${dir}/${name}.ctl`] : []),
    `--log-file=${dir}/${name}.log`,
    '-vconsole:warn',
    '-vfile:info',
  ];
}

/** ovsdb-server for one database file, on a unix socket and optionally a TCP listener. */
export function ovsdbServerArgs(options: DaemonFiles & { db: string; socket: string; tcpPort?: number; tcpHost?: string }): string[] {
  return [
    `--remote=punix:${options.socket}`,
    ...(options.tcpPort !== undefined ? [`--remote=ptcp:${options.tcpPort}:${options.tcpHost ?? '127.0.0.1'}`] : []),
    ...daemonArgs(options),
    options.db,
  ];
}

export function northdArgs(options: DaemonFiles & { nb: string; sb: string }): string[] {
  return [`--ovnnb-db=${options.nb}`, `--ovnsb-db=${options.sb}`, ...daemonArgs(options)];
}

export function vswitchdArgs(options: DaemonFiles & { db: string }): string[] {
  return [options.db, ...daemonArgs(options)];
}

/** ovn-controller has no --unixctl: its control socket lands in $OVN_RUNDIR (see the file header). */
export function ovnControllerArgs(options: DaemonFiles & { db: string }): string[] {
  return [options.db, ...daemonArgs(options, false)];
}

/** Creates an OVSDB database file from a schema (ovsdb-tool create). */
export async function createDatabase(file: string, schema: string): Promise<void> {
  await runChecked('ovsdb-tool', ['create', file, schema]);
}

/**
 * The Open_vSwitch settings a userspace (netdev) chassis needs. userspace-tso-enable must be set before
 * ovs-vswitchd starts: with it, the AF_PACKET sockets on veth ports carry virtio-net headers, so packets that
 * the sender's kernel left with a partial (offloaded) TCP/UDP checksum are completed on the way out instead
 * of arriving with a bad checksum (without it ICMP works but TCP and UDP silently fail).
 */
export function chassisSettings(options: { systemId: string; sbRemote: string; encapIp: string; hostname?: string }): string[] {
  return [
    'set',
    'Open_vSwitch',
    '.',
    `external_ids:system-id=${options.systemId}`,
    `external_ids:hostname=${options.hostname ?? options.systemId}`,
    `external_ids:ovn-remote=${options.sbRemote}`,
    'external_ids:ovn-encap-type=geneve',
    `external_ids:ovn-encap-ip=${options.encapIp}`,
    'external_ids:ovn-bridge-datapath-type=netdev',
    'other_config:userspace-tso-enable=true',
  ];
}
