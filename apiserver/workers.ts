// `photon apiserver --workers N`: one API server per core on one machine, as Kubernetes runs several API
// servers. Node's cluster module shares the listening socket (connections are dealt round-robin by the
// primary), and each worker is a whole API server with its own watch cache, flow control and audit log,
// exactly like several servers on one etcd:
//   - etcd: every worker opens its own client.
//   - embedded: the primary holds the SQLite file (one writer) and serves it to the workers
//     (storage/shared.ts); it does nothing else.
// The first worker starts alone (it makes PHOTON_HOME's keys, certificates and files on a first start, and
// installs the CRDs); the others start once it serves. A worker that exits before it ever served stops the
// whole server with its exit status (a taken port, a bad file: restarting cannot help); one that dies later
// is restarted with a backoff while the others keep serving. SIGINT/SIGTERM stop every worker gracefully.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import os from 'node:os';
import path from 'node:path';
import { CONFIGURATION_EXIT_STATUS } from '../lib/cli.ts';
import { errorMessage, type Logger } from '../lib/logging.ts';
import { defaultAuditPaths } from './audit/index.ts';
import type { ApiMetrics } from './metrics.ts';
import { isStoreMessage, RemoteStore, serveStore, type StoreChannel } from './storage/shared.ts';
import type { Store } from './storage/types.ts';
import { openStore, type StorageOptions } from './server.ts';

/** The environment variable that tells a forked process which worker it is (1-based). */
const WORKER_ENV = 'PHOTON_APISERVER_WORKER';
const RESTART = { initialDelayMs: 1000, maxDelayMs: 30_000, stableRunMs: 60_000 };
/** How long a stopping worker may take before it is killed. */
const STOP_GRACE_MS = 15_000;
/** How long a worker's /metrics waits for the primary's sum (prom-client gives each worker 5 s). */
const METRICS_WAIT_MS = 6000;

/**
 * `--workers auto`: one per core but one, at most 8 (each holds a whole watch cache). The core left over is
 * for the store, the primary and, on one machine, the controllers and agents: measured on 2 cores, two
 * workers beside etcd and the load were ~10% slower than one (hack/bench/workers.ts).
 */
export function autoWorkerCount(): number {
  return Math.max(1, Math.min(8, os.availableParallelism() - 1));
}

/** This process's worker number when it is an API server worker, else undefined. */
export function workerNumber(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const number = Number(process.env[WORKER_ENV]);
  return Number.isInteger(number) && number > 0 ? number : undefined;
}

/** A worker's end of the store channel: its IPC to the primary. */
function channelToPrimary(): StoreChannel {
  return {
    send: (message) => {
      if (process.connected) process.send!(message);
    },
    onMessage: (listener) => void process.on('message', (message) => isStoreMessage(message) && listener(message)),
    onClose: (listener) => void process.once('disconnect', listener),
  };
}

/** The primary's end of one worker's store channel. */
function channelToWorker(worker: Worker): StoreChannel {
  return {
    send: (message) => {
      if (worker.isConnected()) worker.send(message);
    },
    onMessage: (listener) => void worker.on('message', (message) => isStoreMessage(message) && listener(message)),
    onClose: (listener) => void worker.once('disconnect', listener),
  };
}

/**
 * Makes this process worker `number`: it exits when the primary is gone, and gets how it differs from a
 * lone API server — where its store is, its own audit log (a hash chain has one writer), and only the first
 * one compacts storage.
 */
export function becomeWorker(number: number, storage: StorageOptions, home: string, auditLogPath: string | undefined): { storage: StorageOptions; auditLogPath: string; compactsStorage: boolean; metricsText: (own: ApiMetrics) => () => Promise<string> } {
  const configured = auditLogPath ?? defaultAuditPaths(home).logPath;
  const extension = path.extname(configured);
  const ownLog = number === 1 ? configured : `${configured.slice(0, configured.length - extension.length)}.worker-${number}${extension}`;
  // The IPC ends when the primary does (even by SIGKILL): a worker never outlives it.
  process.once('disconnect', () => process.exit(1));
  const shared: StorageOptions = storage.backend === 'embedded' ? { backend: 'shared', store: new RemoteStore(channelToPrimary()) } : storage;
  return { storage: shared, auditLogPath: ownLog, compactsStorage: number === 1, metricsText: clusterMetricsText };
}

/**
 * A worker's /metrics: every worker's counters, histograms and gauges summed by the primary (prom-client's
 * AggregatorRegistry asks each worker for its registry over IPC), so a scrape means the whole server whichever
 * worker it lands on. Falls back to this worker's own when the primary does not answer in time.
 */
function clusterMetricsText(own: ApiMetrics): () => Promise<string> {
  // Constructing one is what makes prom-client answer the primary's requests in this worker.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([own.registry]);
  const pending = new Map<number, (text: string | undefined) => void>();
  let nextId = 1;
  process.on('message', (message: { metricsAnswer?: number; text?: string }) => {
    if (typeof message?.metricsAnswer === 'number') pending.get(message.metricsAnswer)?.(message.text);
  });
  return () =>
    new Promise<string>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => finish(undefined), METRICS_WAIT_MS);
      const finish = (text: string | undefined) => {
        clearTimeout(timer);
        pending.delete(id);
        if (text !== undefined) resolve(text);
        else void own.registry.metrics().then(resolve);
      };
      pending.set(id, finish);
      if (process.connected) process.send!({ metricsRequest: id });
    });
}

/**
 * The primary: holds the embedded store when there is one, forks `count` workers and supervises them.
 * Resolves when the first worker serves; the process exits when the server stops.
 */
export async function runPrimary(options: { count: number; storage: StorageOptions; home: string; log: Logger }): Promise<void> {
  const { count, log } = options;
  const store: Store | undefined = options.storage.backend === 'embedded' ? await openStore(options.storage, options.home) : undefined;
  cluster.setupPrimary({ serialization: 'advanced' });
  const metrics = new AggregatorRegistry();
  const workers = new Map<number, Worker>();
  const everServed = new Set<number>();
  const delays = new Map<number, number>();
  let stopping = false;

  const stopAll = async (status: number) => {
    if (stopping) return;
    stopping = true;
    const exits = [...workers.values()].map((worker) => new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve();
      worker.once('exit', () => resolve());
      worker.process.kill('SIGTERM');
      setTimeout(() => worker.process.kill('SIGKILL'), STOP_GRACE_MS).unref();
    }));
    await Promise.all(exits);
    try {
      await store?.close();
    } catch (error) {
      log.warn('closing storage failed', { error: errorMessage(error) });
    }
    process.exit(status);
  };

  /** Starts worker `number`; resolves when it serves (or, at the first start, when it failed to). */
  const fork = (number: number, firstStart: boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      const startedAt = Date.now();
      const worker = cluster.fork({ [WORKER_ENV]: String(number) });
      workers.set(number, worker);
      if (store) serveStore(store, channelToWorker(worker));
      worker.on('message', (message: { metricsRequest?: number }) => {
        if (typeof message?.metricsRequest !== 'number') return;
        const answer = (text: string | undefined) => worker.isConnected() && worker.send({ metricsAnswer: message.metricsRequest, text });
        metrics.clusterMetrics().then(answer, () => answer(undefined));
      });
      worker.once('listening', () => {
        everServed.add(number);
        log.info('API server worker serving', { worker: number, pid: worker.process.pid });
        resolve();
      });
      worker.once('exit', (code, signal) => {
        workers.delete(number);
        if (stopping) return resolve();
        if (firstStart && !everServed.has(number)) {
          // It never served: a port in use, a bad flag or file. Restarting cannot help; its own message said why.
          log.error('API server worker stopped before serving; stopping', { worker: number, code, signal });
          void stopAll(code && code !== 0 ? code : CONFIGURATION_EXIT_STATUS);
          return resolve();
        }
        const ranMs = Date.now() - startedAt;
        const delayMs = ranMs >= RESTART.stableRunMs ? RESTART.initialDelayMs : Math.min(RESTART.maxDelayMs, (delays.get(number) ?? RESTART.initialDelayMs / 2) * 2);
        delays.set(number, delayMs);
        log.warn('API server worker exited; restarting it', { worker: number, code, signal, delayMs });
        everServed.delete(number);
        setTimeout(() => {
          if (!stopping) void fork(number, false);
        }, delayMs);
      });
    });

  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));
  await fork(1, true);
  if (stopping) return;
  await Promise.all(Array.from({ length: count - 1 }, (_, index) => fork(index + 2, true)));
  if (!stopping) log.info(`PhotonCloud API server is serving with ${count} workers`, { workers: count, storage: options.storage.backend });
}
