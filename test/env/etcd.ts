// A single-member etcd on loopback for tests: free ports, a temp data dir, health-checked startup, and a
// restart that keeps ports and data (for reconnect tests). Everything is torn down by stop().
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, WaitAborted, waitFor, type ManagedProcess } from './process.ts';

const ETCD_BINARY = '/usr/bin/etcd';

/**
 * Serve clients over TLS only (https:// URLs, --client-cert-auth): etcd's certificate and key, the CA it
 * trusts for client certificates, and a client certificate the health check presents. PEM files.
 */
export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export interface EtcdInstance {
  /** http://127.0.0.1:<clientPort> (https:// with tls) */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly dataDir: string;
  /** The currently running etcd process (a new one after restart()). */
  readonly process: ManagedProcess;
  /** Stops etcd and removes the data dir unless the caller supplied it. */
  stop(): Promise<void>;
  /**
   * Stops etcd and starts it again on the same ports and data dir. With crash, the old process gets SIGKILL
   * instead of SIGTERM (etcd's WAL makes every acknowledged write survive both).
   */
  restart(options?: { crash?: boolean }): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;
// freePort() releases the port before etcd binds it, so another process can grab it in between; a fresh
// pair of ports is tried a few times before giving up.
const PORT_ATTEMPTS = 3;

/** extraArgs: more etcd flags (e.g. a shorter progress-notify interval); tls: serve clients over TLS only. */
export async function startEtcd(options: { dataDir?: string; extraArgs?: string[]; tls?: EtcdTls } = {}): Promise<EtcdInstance> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'photon-etcd-')));
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    if (clientPort === peerPort) continue;
    const args = [...etcdArgs(dataDir, clientPort, peerPort, options.tls), ...(options.extraArgs ?? [])];
    try {
      const check = await healthCheck(clientPort, options.tls);
      let current = await launch(args, clientPort, check);
      const instance: EtcdInstance = {
        endpoint: `${options.tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`,
        clientPort,
        dataDir,
        get process() {
          return current;
        },
        async stop() {
          await current.stop();
          if (ownsDataDir) await fs.rm(dataDir, { recursive: true, force: true });
        },
        async restart({ crash = false } = {}) {
          await (crash ? current.kill() : current.stop());
          current = await launch(args, clientPort, check);
        },
      };
      return instance;
    } catch (error) {
      lastError = error;
      // Only a port clash is worth another attempt; anything else would fail the same way again.
      if (!(error instanceof Error && /address already in use/.test(error.message))) break;
      // A failed first start may have left a half-initialised member directory behind.
      await fs.rm(path.join(dataDir, 'member'), { recursive: true, force: true });
    }
  }
  if (ownsDataDir) await fs.rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

function etcdArgs(dataDir: string, clientPort: number, peerPort: number, tls?: EtcdTls): string[] {
  const client = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const tlsArgs = tls ? [`--cert-file=${tls.certFile}`, `--key-file=${tls.keyFile}`, `--trusted-ca-file=${tls.caFile}`, '--client-cert-auth'] : [];
  const peer = `http://127.0.0.1:${peerPort}`;
  // etcd 3.4 has no --unsafe-no-fsync (added in 3.5), so writes are fsynced; on tmpfs/SSD that is fast enough.
  return [
    '--name=test',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=test=${peer}`,
    '--initial-cluster-state=new',
    '--initial-cluster-token=photon-test',
    // Tests compact explicitly; etcd must not do it behind their back.
    '--auto-compaction-retention=0',
    ...tlsArgs,
  ];
}

async function launch(args: string[], clientPort: number, healthy: () => Promise<boolean>): Promise<ManagedProcess> {
  const etcd = startProcess('etcd', ETCD_BINARY, args);
  let exitCode: number | null | undefined;
  void etcd.exited.then((code) => (exitCode = code));
  try {
    await waitFor(
      `etcd on 127.0.0.1:${clientPort} to become healthy`,
      async () => {
        if (exitCode !== undefined) throw new ExitedError(exitCode);
        return healthy();
      },
      { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch (error) {
    await etcd.kill();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`etcd did not come up (${reason}); its output:\n${etcd.output().slice(-8000)}`);
  }
  return etcd;
}

class ExitedError extends WaitAborted {
  constructor(code: number | null) {
    super(`etcd exited with code ${code}`);
  }
}

/** The health check for an etcd on clientPort: over TLS with the client certificate when it serves TLS. */
async function healthCheck(clientPort: number, tls?: EtcdTls): Promise<() => Promise<boolean>> {
  if (!tls) return () => healthy(http, { host: '127.0.0.1', port: clientPort });
  const [ca, cert, key] = await Promise.all([tls.caFile, tls.clientCertFile, tls.clientKeyFile].map((file) => fs.readFile(file)));
  return () => healthy(https, { host: '127.0.0.1', port: clientPort, ca, cert, key });
}

/** GET /health without keep-alive (a pooled socket would keep the test process alive). */
function healthy(transport: typeof http | typeof https, target: https.RequestOptions): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = transport.get(
      { ...target, path: '/health', agent: false, timeout: 2000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(response.statusCode === 200 && /"health":\s*"true"/.test(body)));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('health check timed out')));
    request.on('error', reject);
  });
}
