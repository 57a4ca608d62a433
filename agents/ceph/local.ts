// A one-node Ceph for development, the all-in-one and the tests: one monitor, one manager and one OSD
// (BlueStore on a sparse file), and when asked (and installed) the S3 gateway radosgw with an admin user for its
// admin REST API, all on one local address (127.0.0.1 by default), all children of this process that die with it (setpriv
// --pdeathsig), every path (config, keyrings, data, sockets, pid and log files) inside one directory. The
// recipe was measured on these machines (Ceph Pacific, no kernel modules): cephx on, pools of size 1 with
// 8 PGs, the monitor's keyring in its own section (a global `keyring = $name` makes it disable cephx).
//
// The first start creates the cluster (keys, monmap, mon and OSD filesystems, the rbd pool); later starts
// reuse it, data included, on the same ports (the monitor's address is part of its monmap, so the ports
// chosen at creation are kept in ports.json). Programs are started from argument arrays, never a shell.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { run, runChecked } from '../ovn-local/commands.ts';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';
import { DIE_WITH_PARENT, onPath } from '../../lib/programs.ts';
import type { CephClientConfig } from './client.ts';

/** The program the S3 gateway needs (optional: Volumes do without it). */
export const RGW_PROGRAM = 'radosgw';
/** The programs a local Ceph needs. */
const PROGRAMS = ['ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph', 'ceph-authtool', 'monmaptool', 'rbd'];
export const CEPH_PACKAGES = 'ceph-mon ceph-mgr ceph-osd ceph-common';
/** Ports the messenger of the manager and the OSD may bind: a private block per cluster. */
const MESSENGER_PORTS = 24;

export interface LocalCephOptions {
  /** State directory (created; kept across restarts). */
  dir: string;
  /** The address every daemon listens on (default 127.0.0.1; see agents/ovn-local/uplink.ts for VMs in a chassis namespace). Kept from the first start. */
  address?: string;
  /** Size of the OSD's BlueStore file (sparse). Default 8 GiB. */
  osdBytes?: number;
  /** Run ceph-mgr (health, statistics, `ceph df`). RBD and QEMU work without it. Default true. */
  manager?: boolean;
  /** Run radosgw (S3, Buckets) on the same address; its port is chosen at creation (or given) and kept. Needs the radosgw package. */
  rgw?: boolean | { port?: number };
  /** Lines the daemons write to stderr (their logs go to files under dir/log). */
  onLog?: (line: string) => void;
}

/** The S3 gateway of a local Ceph: its endpoint and the admin user of its admin REST API (users=*, buckets=*). */
export interface LocalS3 {
  endpoint: string;
  admin: { accessKeyId: string; secretAccessKey: string };
}

export interface LocalCeph {
  client: CephClientConfig;
  /** The monitor's addresses, as mon_host holds them. */
  monHost: string;
  dir: string;
  /** With options.rgw: the S3 gateway. */
  s3?: LocalS3;
  /** Settles when a daemon ends on its own (with which and why). */
  failed: Promise<Error>;
  stop(): Promise<void>;
}

/** The programs a local Ceph needs that are missing from PATH. */
export function missingPrograms(): string[] {
  return [...PROGRAMS, DIE_WITH_PARENT[0]].filter((program) => !onPath(program));
}

interface ClusterIdentity {
  fsid: string;
  address: string;
  monV2: number;
  monV1: number;
  messengerMin: number;
  /** radosgw's port, chosen the first time the gateway is asked for. */
  rgwPort?: number;
}

export async function startLocalCeph(options: LocalCephOptions): Promise<LocalCeph> {
  const missing = missingPrograms();
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: apt-get install ${CEPH_PACKAGES}`);
  const dir = path.resolve(options.dir);
  for (const sub of ['', 'run', 'log', 'crash', 'mon', 'mgr', 'osd']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  const identityFile = path.join(dir, 'cluster.json');
  const fresh = !fs.existsSync(path.join(dir, 'mon', 'done'));
  const identity: ClusterIdentity = fs.existsSync(identityFile) ? { address: '127.0.0.1', ...JSON.parse(fs.readFileSync(identityFile, 'utf8')) } : await chooseIdentity(options.address ?? '127.0.0.1');
  const rgwPort = typeof options.rgw === 'object' && options.rgw.port ? options.rgw.port : identity.rgwPort;
  if (options.rgw && !rgwPort) identity.rgwPort = await freePort(identity.address);
  else if (options.rgw) identity.rgwPort = rgwPort;
  writePrivateFileAtomic(identityFile, JSON.stringify(identity));
  const monHost = `[v2:${identity.address}:${identity.monV2},v1:${identity.address}:${identity.monV1}]`;
  const conf = path.join(dir, 'ceph.conf');
  writePrivateFileAtomic(conf, cephConf(dir, identity, monHost, options.osdBytes ?? 8 * 1024 ** 3));
  const client: CephClientConfig = { conf, id: 'admin', keyring: path.join(dir, 'client.admin.keyring') };

  const daemons: ChildProcess[] = [];
  const failures: ((error: Error) => void)[] = [];
  const failed = new Promise<Error>((resolve) => failures.push(resolve));
  let stopping = false;
  const start = (name: string, program: string, args: string[]) => {
    const [launcher, ...prefix] = [...DIE_WITH_PARENT, program, '-f', '-c', conf, ...args];
    const child = spawn(launcher, prefix, { stdio: ['ignore', 'ignore', 'pipe'] });
    const lines: string[] = [];
    child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(line);
        if (lines.length > 20) lines.shift();
        options.onLog?.(`${name}: ${line}`);
      }
    });
    child.once('exit', (code, signal) => {
      if (!stopping) failures[0](new Error(`${name} exited (${signal ?? `status ${code}`}): ${lines.slice(-3).join(' | ') || `see ${path.join(dir, 'log')}`}`));
    });
    daemons.push(child);
  };
  const ceph = (...args: string[]) => runChecked('ceph', ['--conf', conf, '--id', 'admin', '--keyring', client.keyring, '--connect-timeout', '15', ...args], { timeoutMs: 60_000 });
  const stop = async () => {
    stopping = true;
    // Reverse start order, one after the other: the OSD tells the monitor it is going down and waits for its
    // answer (5 s, osd_mon_shutdown_timeout, when the monitor is already gone).
    for (const daemon of daemons.slice().reverse()) await stopChild(daemon);
  };

  try {
    if (fresh) await createMonitor(dir, conf, identity, monHost);
    start('ceph-mon', 'ceph-mon', ['-i', 'a']);
    if (options.manager !== false) {
      if (!fs.existsSync(path.join(dir, 'mgr', 'keyring'))) {
        await ceph('auth', 'get-or-create', 'mgr.x', 'mon', 'allow profile mgr', 'osd', 'allow *', 'mds', 'allow *', '-o', path.join(dir, 'mgr', 'keyring'));
      }
      start('ceph-mgr', 'ceph-mgr', ['-i', 'x']);
    }
    if (!fs.existsSync(path.join(dir, 'osd', 'done'))) await createOsd(dir, conf, ceph);
    // The monitor may still count the OSD of a previous run as up (fast shutdown does not tell it): ready
    // means this run's OSD booted, i.e. a later up_from epoch than the one the monitor had.
    const before = await osdUpFrom(ceph);
    start('ceph-osd', 'ceph-osd', ['-i', '0']);
    await waitForOsd(ceph, before, failed);
    if (!fs.existsSync(path.join(dir, 'pools-done'))) {
      // The default pool, for `rbd` by hand; PhotonCloud's StorageClasses make their own.
      await ceph('osd', 'pool', 'create', 'rbd', '8');
      await runChecked('rbd', ['--conf', conf, '--id', 'admin', '--keyring', client.keyring, 'pool', 'init', 'rbd'], { timeoutMs: 120_000 });
      fs.writeFileSync(path.join(dir, 'pools-done'), '');
    }
    let s3: LocalS3 | undefined;
    if (options.rgw) {
      const keyring = path.join(dir, 'rgw', 'keyring');
      if (!fs.existsSync(keyring)) {
        fs.mkdirSync(path.dirname(keyring), { recursive: true, mode: 0o700 });
        await ceph('auth', 'get-or-create', 'client.rgw.a', 'mon', 'allow rw', 'osd', 'allow rwx', 'mgr', 'allow rw', '-o', keyring);
      }
      start('radosgw', 'radosgw', ['-n', 'client.rgw.a']);
      const endpoint = `http://${identity.address}:${identity.rgwPort}`;
      await waitForS3(endpoint, failed);
      s3 = { endpoint, admin: await rgwAdminUser(conf, client) };
    }
    return { client, monHost, dir, failed, stop, ...(s3 ? { s3 } : {}) };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Where this cluster's ports are drawn from: 20000 up to the kernel's ephemeral range. A port there that is free
 * now stays free until its daemon binds it (radosgw starts ~20 s after its port is chosen); inside the ephemeral
 * range any outgoing connection — the cluster's own daemons talking to each other, another Ceph's clients on the
 * same host-services address — could take it meanwhile, and radosgw then exited with EADDRINUSE (status 98).
 */
function portRange(size: number): { low: number; high: number } {
  const low = 20_000;
  let ephemeralLow = 32_768;
  try {
    ephemeralLow = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: its usual range
  }
  // A host whose ephemeral range starts too low for a block below it: anywhere above 20000, as before.
  return ephemeralLow - size > low + 1000 ? { low, high: ephemeralLow - size } : { low, high: 50_000 };
}

/** The first port of `size` consecutive ports, at random in portRange. */
export function randomPortBlock(size: number): number {
  const { low, high } = portRange(size);
  return low + crypto.randomInt(0, high - low);
}

async function chooseIdentity(address: string): Promise<ClusterIdentity> {
  // The monitor's two ports and a block for the messengers, all free now on the address.
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = randomPortBlock(MESSENGER_PORTS + 2);
    const ports = Array.from({ length: MESSENGER_PORTS + 2 }, (_, index) => base + index);
    if ((await Promise.all(ports.map((port) => isFree(address, port)))).every(Boolean)) {
      return { fsid: crypto.randomUUID(), address, monV2: base, monV1: base + 1, messengerMin: base + 2 };
    }
  }
  throw new Error(`no block of ${MESSENGER_PORTS + 2} free ports on ${address} for Ceph`);
}

async function freePort(address: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomPortBlock(1);
    if (await isFree(address, port)) return port;
  }
  throw new Error(`no free port on ${address} for radosgw`);
}

/** Waits until radosgw answers S3 (an anonymous GET / lists no buckets); it creates its pools on the first start (~10 s). */
async function waitForS3(endpoint: string, failed: Promise<Error>): Promise<void> {
  let failure: Error | undefined;
  void failed.then((error) => (failure = error));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (failure) throw failure;
    const answered = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(5000) }).then((response) => response.status < 500, () => false);
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`the local Ceph's radosgw did not answer on ${endpoint} within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const RGW_ADMIN_UID = 'photon-admin';

/** The gateway's admin user (made once), whose keys sign admin REST API requests. */
async function rgwAdminUser(conf: string, client: CephClientConfig): Promise<LocalS3['admin']> {
  const admin = (...args: string[]) => run('radosgw-admin', ['--conf', conf, '--id', client.id, '--keyring', client.keyring, ...args], { timeoutMs: 60_000 });
  let result = await admin('user', 'info', `--uid=${RGW_ADMIN_UID}`);
  if (result.code !== 0) {
    result = await admin('user', 'create', `--uid=${RGW_ADMIN_UID}`, '--display-name=PhotonCloud admin');
    if (result.code !== 0) throw new Error(`radosgw-admin user create ${RGW_ADMIN_UID}: ${result.stderr.trim()}`);
  }
  // Every start (idempotent): a start killed between the two calls left a user without them.
  const caps = await admin('caps', 'add', `--uid=${RGW_ADMIN_UID}`, '--caps=users=*;buckets=*;usage=read;metadata=read');
  if (caps.code !== 0) throw new Error(`radosgw-admin caps add ${RGW_ADMIN_UID}: ${caps.stderr.trim()}`);
  const key = (JSON.parse(result.stdout) as { keys?: { access_key: string; secret_key: string }[] }).keys?.[0];
  if (!key) throw new Error(`radosgw user ${RGW_ADMIN_UID} has no S3 key`);
  return { accessKeyId: key.access_key, secretAccessKey: key.secret_key };
}

function isFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
}

function cephConf(dir: string, identity: ClusterIdentity, monHost: string, osdBytes: number): string {
  return `# Written by PhotonCloud's local Ceph (agents/ceph/local.ts) on every start.
[global]
fsid = ${identity.fsid}
mon host = ${monHost}
public addr = ${identity.address}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = ${dir}/run
admin socket = ${dir}/run/$cluster-$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
crash dir = ${dir}/crash
ms bind port min = ${identity.messengerMin}
ms bind port max = ${identity.messengerMin + MESSENGER_PORTS - 1}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 5
mon data avail crit = 1
# A client (QEMU opening a Volume) that cannot reach the monitors gives up after this long instead of 5 minutes.
client mount timeout = 30

[mon]
keyring = ${dir}/mon.keyring
mon data = ${dir}/mon/$cluster-$id

[mgr]
mgr data = ${dir}/mgr
keyring = ${dir}/mgr/keyring

[osd]
osd data = ${dir}/osd/$id
keyring = ${dir}/osd/$id/keyring
osd objectstore = bluestore
bluestore block size = ${osdBytes}
osd memory target = 1073741824

[client.admin]
keyring = ${dir}/client.admin.keyring
${
  identity.rgwPort
    ? `
[client.rgw.a]
keyring = ${dir}/rgw/keyring
rgw data = ${dir}/rgw
rgw frontends = beast endpoint=${identity.address}:${identity.rgwPort}
# Usage statistics refreshed quickly (Bucket status), and bucket quotas checked against fresh stats.
rgw bucket quota ttl = 0
rgw user quota bucket sync interval = 0
`
    : ''
}`;
}

async function createMonitor(dir: string, conf: string, identity: ClusterIdentity, monHost: string): Promise<void> {
  const monKeyring = path.join(dir, 'mon.keyring');
  const adminKeyring = path.join(dir, 'client.admin.keyring');
  fs.rmSync(path.join(dir, 'mon'), { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'mon'), { mode: 0o700 });
  for (const file of [monKeyring, adminKeyring]) fs.rmSync(file, { force: true });
  await runChecked('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
  await runChecked('ceph-authtool', ['--create-keyring', adminKeyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *', '--cap', 'mgr', 'allow *']);
  await runChecked('ceph-authtool', [monKeyring, '--import-keyring', adminKeyring]);
  for (const file of [monKeyring, adminKeyring]) fs.chmodSync(file, 0o600);
  const monmap = path.join(dir, 'monmap');
  await runChecked('monmaptool', ['--create', '--clobber', '--fsid', identity.fsid, '--addv', 'a', monHost, monmap]);
  await runChecked('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]);
  // Marks a finished monitor: a crash before this line makes the next start create it again.
  fs.writeFileSync(path.join(dir, 'mon', 'done'), '');
}

async function createOsd(dir: string, conf: string, ceph: (...args: string[]) => Promise<string>): Promise<void> {
  const osdRoot = path.join(dir, 'osd');
  // An OSD half-made by a crashed start is made again from nothing (its id is reused: `osd new` with the
  // same uuid is idempotent).
  const uuidFile = path.join(osdRoot, 'uuid');
  if (!fs.existsSync(uuidFile)) fs.writeFileSync(uuidFile, crypto.randomUUID());
  const uuid = fs.readFileSync(uuidFile, 'utf8').trim();
  const secretFile = path.join(osdRoot, 'new.json');
  if (!fs.existsSync(secretFile)) writePrivateFileAtomic(secretFile, JSON.stringify({ cephx_secret: await runChecked('ceph-authtool', ['--gen-print-key']).then((key) => key.trim()) }));
  const secret = (JSON.parse(fs.readFileSync(secretFile, 'utf8')) as { cephx_secret: string }).cephx_secret;
  const id = (await ceph('osd', 'new', uuid, '-i', secretFile)).trim();
  if (id !== '0') throw new Error(`the local Ceph's OSD got id ${id}, expected 0: remove ${dir} to start afresh`);
  const data = path.join(osdRoot, id);
  fs.rmSync(data, { recursive: true, force: true });
  fs.mkdirSync(data, { mode: 0o700 });
  await runChecked('ceph-authtool', ['--create-keyring', path.join(data, 'keyring'), '--name', `osd.${id}`, '--add-key', secret]);
  await runChecked('ceph-osd', ['-c', conf, '-i', id, '--mkfs', '--osd-uuid', uuid], { timeoutMs: 120_000 });
  fs.writeFileSync(path.join(osdRoot, 'done'), '');
}

interface OsdDump {
  osds?: { osd: number; up: number; in: number; up_from: number }[];
}

async function osdUpFrom(ceph: (...args: string[]) => Promise<string>): Promise<number> {
  const dump = JSON.parse(await ceph('osd', 'dump', '--format', 'json')) as OsdDump;
  return dump.osds?.find((osd) => osd.osd === 0)?.up_from ?? 0;
}

async function waitForOsd(ceph: (...args: string[]) => Promise<string>, upFromBefore: number, failed: Promise<Error>): Promise<void> {
  let failure: Error | undefined;
  void failed.then((error) => (failure = error));
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (failure) throw failure;
    const dump = JSON.parse(await ceph('osd', 'dump', '--format', 'json').catch(() => '{}')) as OsdDump;
    const osd = dump.osds?.find((entry) => entry.osd === 0);
    if (osd && osd.up === 1 && osd.in === 1 && osd.up_from > upFromBefore) return;
    if (Date.now() > deadline) throw new Error(`the local Ceph's OSD did not come up within 90 s: ${JSON.stringify(osd)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** `ceph health` of a cluster, for banners and diagnostics. */
export async function cephHealth(client: CephClientConfig): Promise<string> {
  const result = await run('ceph', ['--conf', client.conf, '--id', client.id, '--keyring', client.keyring, '--connect-timeout', '5', 'health'], { timeoutMs: 15_000 });
  return (result.stdout || result.stderr).trim();
}
