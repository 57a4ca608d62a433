// A local PowerDNS Authoritative for development, the all-in-one and the tests: pdns_server in the foreground
// as a child that dies with its parent (setpriv --pdeathsig), with the SQLite backend and the HTTP API on
// loopback. Its state lives in one directory: pdns.conf (rewritten on every start), zones.sqlite3 (created
// from the schema Debian's pdns-backend-sqlite3 ships, kept across restarts) and api-key (random, 0600,
// kept). Programs are started from argument arrays, never a shell.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';
import { PowerDnsApi } from './api.ts';
import { DIE_WITH_PARENT, onPath } from '../../lib/programs.ts';

const run = promisify(execFile);
/** Where Debian's pdns-backend-sqlite3 keeps the schema. */
export const SQLITE_SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';
/** The DNS port the all-in-one answers on by default (unprivileged; 53 needs root and is often taken). */
export const DEFAULT_DNS_PORT = 10053;

export interface LocalPowerDnsOptions {
  /** State directory (created). */
  dir: string;
  /** Address DNS is answered on (UDP and TCP). */
  address?: string;
  port: number;
  /** Port of the HTTP API on 127.0.0.1; 0 picks a free one. */
  apiPort?: number;
  /** Names the zones' NS records hold by default (nothing here uses it but the banner). */
  signal?: AbortSignal;
  /** Lines pdns_server writes (its log). */
  onLog?: (line: string) => void;
}

export interface LocalPowerDns {
  dns: { address: string; port: number };
  api: { url: string; keyFile: string };
  pid: number;
  /** Settles when pdns_server ends on its own (with why). */
  failed: Promise<Error>;
  stop(): Promise<void>;
}

/** The programs a local PowerDNS needs, missing from PATH. */
export function missingPrograms(): string[] {
  const missing = ['pdns_server', 'sqlite3', DIE_WITH_PARENT[0]].filter((program) => !onPath(program));
  if (!fs.existsSync(SQLITE_SCHEMA)) missing.push(`${SQLITE_SCHEMA} (pdns-backend-sqlite3)`);
  return missing;
}

export async function startLocalPowerDns(options: LocalPowerDnsOptions): Promise<LocalPowerDns> {
  const missing = missingPrograms();
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: apt-get install pdns-server pdns-backend-sqlite3 sqlite3 util-linux`);
  const dir = path.resolve(options.dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const address = options.address ?? '127.0.0.1';
  const apiPort = options.apiPort || (await portOtherThan(options.port));
  const keyFile = path.join(dir, 'api-key');
  if (!fs.existsSync(keyFile)) writePrivateFileAtomic(keyFile, crypto.randomBytes(24).toString('base64url'));
  const apiKey = fs.readFileSync(keyFile, 'utf8').trim();
  const database = path.join(dir, 'zones.sqlite3');
  if (!fs.existsSync(database)) {
    // Built beside and renamed, so a crash never leaves a half-made database that looks ready.
    const building = `${database}.new`;
    fs.rmSync(building, { force: true });
    await run('sqlite3', [building, `.read ${SQLITE_SCHEMA}`]);
    fs.renameSync(building, database);
  }
  writePrivateFileAtomic(path.join(dir, 'pdns.conf'), config({ dir, database, address, port: options.port, apiPort, apiKey }));

  const [program, ...args] = [...DIE_WITH_PARENT, 'pdns_server', `--config-dir=${dir}`];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      output.push(line);
      if (output.length > 50) output.shift();
      options.onLog?.(line);
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const failed = new Promise<Error>((resolve) => child.once('exit', (code, signal) => resolve(new Error(`pdns_server exited (${signal ?? `status ${code}`}): ${output.slice(-5).join(' | ')}`))));
  let exited = false;
  void failed.then(() => (exited = true));

  const api = new PowerDnsApi(`http://127.0.0.1:${apiPort}`, apiKey, 2000);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      const error = await failed;
      if (output.some((line) => /Unable to bind/.test(line))) throw new Error(`PowerDNS cannot listen on ${address}:${options.port} for DNS: the address is already in use (${error.message})`);
      throw error;
    }
    if (options.signal?.aborted) {
      await stopChild(child);
      throw new Error('aborted');
    }
    try {
      await api.listZones();
      if (await answersTcp(address, options.port)) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`pdns_server did not serve its API on 127.0.0.1:${apiPort} and DNS on ${address}:${options.port} within 20 s: ${output.slice(-5).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    dns: { address, port: options.port },
    api: { url: `http://127.0.0.1:${apiPort}`, keyFile },
    pid: child.pid!,
    failed,
    stop: () => stopChild(child),
  };
}

function config(values: { dir: string; database: string; address: string; port: number; apiPort: number; apiKey: string }): string {
  return [
    '# Written by PhotonCloud (agents/pdns/local.ts) on every start; edits are lost.',
    'launch=gsqlite3',
    `gsqlite3-database=${values.database}`,
    `local-address=${values.address}`,
    `local-port=${values.port}`,
    'api=yes',
    `api-key=${values.apiKey}`,
    'webserver=yes',
    'webserver-address=127.0.0.1',
    `webserver-port=${values.apiPort}`,
    'webserver-allow-from=127.0.0.1/32,::1/128',
    // Zones are kind Master: secondaries listed with also-notify get NOTIFY on every serial change.
    'primary=yes',
    'guardian=no',
    'daemon=no',
    'disable-syslog=yes',
    'loglevel=4',
    `socket-dir=${values.dir}`,
    // No security-status lookups over the Internet.
    'security-poll-suffix=',
    '',
  ].join('\n');
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Whether something accepts TCP connections there (pdns_server binds UDP and TCP together). */
function answersTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/**
 * A free loopback port for the API that is not the DNS port: a port the caller found free and closed again
 * (a test's free `--dns-port`) is free here too, so the kernel may hand out that very port, and pdns_server
 * then fails to bind its webserver and its DNS TCP listener to one port (CI saw it).
 */
export async function portOtherThan(taken: number, pick: () => Promise<number> = freeLoopbackPort): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await pick();
    if (port !== taken) return port;
    if (attempt >= 10) throw new Error(`no free loopback port other than ${taken}`);
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
