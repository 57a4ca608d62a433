// `photon apiserver` in its own process, for tests that attack it: a crash is a process exit, memory is the
// server's own RSS (not the test runner's), and a stalled event loop is seen from outside as a slow /readyz.
// Started on the embedded store (or a given etcd) on a free loopback port with its own PHOTON_HOME.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { ApiClient } from './http.ts';
import { freePort } from './ports.ts';
import { startProcess, waitFor, WaitAborted, type ManagedProcess } from './process.ts';

// The API server's own main module, not the `photon` launcher: the launcher runs it as a child process, and
// the pid (for RSS and liveness) must be the server's.
const APISERVER_MAIN = path.join(REPOSITORY_ROOT, 'apiserver', 'main.ts');

export interface ApiServerProcess {
  url: string;
  port: number;
  home: string;
  adminToken: string;
  caCertificatePem: string;
  kubeconfig: string;
  process: ManagedProcess;
  /** The server's process id (on Linux also its event loop's thread id). */
  pid: number;
  /** A client with the admin token (close() it, or stop() closes it). */
  client: ApiClient;
  /** Whether the process is still running. */
  alive(): boolean;
  /** The server process's resident set size in bytes (from /proc). */
  rssBytes(): number;
  stop(): Promise<void>;
}

export interface ApiServerProcessOptions {
  /** Extra `photon apiserver` flags. */
  args?: string[];
  /** etcd endpoint; default the embedded store. */
  etcdEndpoint?: string;
  /** Node's heap limit for the server (MiB), so a runaway allocation fails fast instead of swapping. */
  maxOldSpaceMb?: number;
  env?: NodeJS.ProcessEnv;
}

/** The resident set size of a process, in bytes. */
export function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export async function startApiServerProcess(options: ApiServerProcessOptions = {}): Promise<ApiServerProcess> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'photon-attack-'));
  const port = await freePort();
  const storage = options.etcdEndpoint ? ['--storage', 'etcd', '--etcd-endpoints', options.etcdEndpoint] : [];
  const nodeArgs = ['--import', 'tsx', ...(options.maxOldSpaceMb ? [`--max-old-space-size=${options.maxOldSpaceMb}`] : [])];
  const child = startProcess('photon-apiserver', process.execPath, [...nodeArgs, APISERVER_MAIN, '--home', home, '--secure-port', String(port), ...storage, ...(options.args ?? [])], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, PHOTON_LOG_FORMAT: 'json', PHOTON_LOG_LEVEL: process.env.PHOTON_TEST_LOG_LEVEL ?? 'warn', ...options.env },
  });
  const kubeconfig = path.join(home, 'admin.kubeconfig');
  try {
    await waitFor('photon apiserver to serve', () => {
      if (child.child.exitCode !== null) throw new WaitAborted(`photon apiserver exited early:\n${child.output()}`);
      return fs.existsSync(kubeconfig) && /token:\s*(\S+)/.test(fs.readFileSync(kubeconfig, 'utf8'));
    }, { timeoutMs: 60_000 });
  } catch (error) {
    await child.stop();
    await fsp.rm(home, { recursive: true, force: true });
    throw error;
  }
  const adminToken = /token:\s*(\S+)/.exec(fs.readFileSync(kubeconfig, 'utf8'))![1];
  const caCertificatePem = fs.readFileSync(path.join(home, 'pki', 'ca.crt'), 'utf8');
  const url = `https://127.0.0.1:${port}`;
  const pid = child.child.pid!;
  const client = new ApiClient({ url, server: { adminToken, caCertificatePem } });
  return {
    url,
    port,
    home,
    adminToken,
    caCertificatePem,
    kubeconfig,
    process: child,
    pid,
    client,
    alive: () => child.child.exitCode === null && child.child.signalCode === null,
    rssBytes: () => rssOf(pid),
    async stop() {
      client.close();
      await child.stop();
      await fsp.rm(home, { recursive: true, force: true });
    },
  };
}

export interface ReadyzReport {
  /** Probes sent while the probe ran. */
  probes: number;
  /** Probes that did not answer 200 (or failed). */
  failures: number;
  /**
   * The slowest probe's latency in ms, less the time the host kept the server's event loop thread (or the
   * probe's own thread) runnable but waiting for a CPU during it: the server's own responsiveness, which a
   * long synchronous task or a blocking call still shows in full. A probe still outstanding at stop counts
   * with its age. Without the server's pid, or off Linux, only the probe's own wait is taken off.
   */
  maxMs: number;
  /** The slowest probe's latency in ms as the clock saw it, host contention included. */
  wallMaxMs: number;
  /** The longest CPU wait taken off one probe, in ms (how starved the host kept the server). */
  maxCpuWaitMs: number;
  /** The most time the hypervisor took from one CPU during one probe, in ms (reported, never taken off). */
  maxStealMs: number;
}

/**
 * Polls /readyz on its own connection every intervalMs while an attack runs, measuring each answer's
 * latency: the server is "responsive" when every probe answered 200 within the bound. The probe runs on a
 * worker thread (readyz-probe-worker.mjs), so the test's own work cannot delay it; `started` resolves once
 * its connection is established (the handshake is not measured).
 */
export function probeReadyz(server: Pick<ApiServerProcess, 'url' | 'caCertificatePem'> & Partial<Pick<ApiServerProcess, 'pid'>>, intervalMs = 100): { started: Promise<void>; stop(): Promise<ReadyzReport> } {
  const worker = new Worker(new URL('./readyz-probe-worker.mjs', import.meta.url), { workerData: { url: server.url, ca: server.caCertificatePem, intervalMs, pid: server.pid } });
  let reported: (report: ReadyzReport) => void;
  const report = new Promise<ReadyzReport>((resolve) => (reported = resolve));
  let ready: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  worker.on('message', (message: { type: 'ready' } | { type: 'report'; report: ReadyzReport }) => {
    if (message.type === 'ready') ready();
    else reported(message.report);
  });
  worker.on('error', (error) => {
    ready();
    reported({ probes: 0, failures: 1, maxMs: Number.POSITIVE_INFINITY, wallMaxMs: Number.POSITIVE_INFINITY, maxCpuWaitMs: 0, maxStealMs: 0 });
    console.error('readyz probe failed', error);
  });
  return {
    started,
    async stop() {
      worker.postMessage('stop');
      const result = await report;
      await worker.terminate();
      return result;
    },
  };
}

/**
 * Runs an attack while /readyz is probed, and returns both. The caller asserts on the report (every probe
 * answered 200 within the bound) and that the server is still alive.
 */
export async function duringAttack<T>(server: ApiServerProcess, attack: () => Promise<T>): Promise<{ result: T; readyz: ReadyzReport }> {
  const probe = probeReadyz(server);
  await probe.started;
  try {
    const result = await attack();
    const readyz = await probe.stop();
    // In the test's output, so a slow run shows whether the host or the server was slow.
    if (readyz.wallMaxMs >= 1000) console.warn(`/readyz during the attack: ${JSON.stringify(readyz)}`);
    return { result, readyz };
  } catch (error) {
    await probe.stop();
    throw error;
  }
}

/** One series of the server's /metrics (`name{labels}` exactly as the server writes them), 0 when absent. */
export async function metricValue(server: Pick<ApiServerProcess, 'client'>, name: string, labels: string): Promise<number> {
  const text = (await server.client.request('/metrics')).text;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Runs `task` over `items` with at most `concurrency` at a time; results in input order. */
export async function mapConcurrently<I, O>(items: readonly I[], concurrency: number, task: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
