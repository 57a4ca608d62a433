// A single-member etcd on loopback for tests: free ports, a temp data dir, health-checked startup, and a
// restart that keeps ports and data (for reconnect tests). Everything is torn down by stop().
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, WaitAborted, waitFor, type ManagedProcess } from './process.ts';

const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdInstance {
  /** http://127.0.0.1:<clientPort> */
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

/** extraArgs: more etcd flags (e.g. a shorter progress-notify interval). */
export async function startEtcd(options: { dataDir?: string; extraArgs?: string[] } = {}): Promise<EtcdInstance> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'photon-etcd-')));
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    if (clientPort === peerPort) continue;
    const args = [...etcdArgs(dataDir, clientPort, peerPort), ...(options.extraArgs ?? [])];
    try {
      let current = await launch(args, clientPort);
      const instance: EtcdInstance = {
        endpoint: `http://127.0.0.1:${clientPort}`,
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
          current = await launch(args, clientPort);
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

function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
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
  ];
}

async function launch(args: string[], clientPort: number): Promise<ManagedProcess> {
  const etcd = startProcess('etcd', ETCD_BINARY, args);
  let exitCode: number | null | undefined;
  void etcd.exited.then((code) => (exitCode = code));
  try {
    await waitFor(
      `etcd on 127.0.0.1:${clientPort} to become healthy`,
      async () => {
        if (exitCode !== undefined) throw new ExitedError(exitCode);
        return healthy(clientPort);
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

/** GET /health without keep-alive (a pooled socket would keep the test process alive). */
function healthy(clientPort: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port: clientPort, path: '/health', agent: false, timeout: 2000 },
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
