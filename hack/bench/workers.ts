// API server throughput by worker count (`photon apiserver --workers N`): Vpc creates/s and p99 at c=64, on
// etcd (each worker its own client) and on the embedded store (held by the primary, shared over IPC), each as
// a ratio to raw etcd puts/s at c=64 measured in the same run. Alone: `node --import tsx hack/bench/workers.ts [--quick]`.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEtcd } from '../../test/env/etcd.ts';
import { waitFor } from '../../test/env/process.ts';
import { startBenchApiServer, vpcBody } from './api.ts';
import { measureRawPuts } from './baseline.ts';
import { fmt, percentile, runConcurrent } from './load.ts';
import { record } from './results.ts';

/** 1, 2 and every core (at most 4): what `--workers auto` picks is among them. */
function workerCounts(): number[] {
  return [...new Set([1, 2, Math.min(4, os.availableParallelism())])].sort((a, b) => a - b);
}

export async function benchWorkers(options: { creates: number }): Promise<void> {
  const etcd = await startEtcd();
  try {
    const rawParallel = (await measureRawPuts(options.creates, 64, vpcBody('x'.repeat(8), 'bench'))).etcd3;
    console.log(`\n## Creates by API server worker count (${options.creates} Vpc creates at c=64; raw etcd puts/s at c=64: ${fmt(rawParallel.perSecond)})`);
    console.log('storage    workers   creates/s   p99 ms   ratio to raw etcd');
    for (const storage of ['etcd', 'embedded'] as const) {
      for (const workers of workerCounts()) {
        const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-bench-workers-'));
        const storageArgs = storage === 'etcd' ? ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', `/workers-${workers}`] : [];
        const server = await startBenchApiServer(home, [...storageArgs, '--workers', String(workers)]);
        try {
          // Every worker serves once its own audit log exists (each opens it before it listens).
          const logs = Array.from({ length: workers }, (_, index) => path.join(home, 'audit', index === 0 ? 'audit.log' : `audit.worker-${index + 1}.log`));
          await waitFor('every worker to serve', async () => (await Promise.all(logs.map((file) => fs.stat(file).then(() => true, () => false)))).every(Boolean), { timeoutMs: 60_000 });
          await waitFor('every worker ready', async () => (await Promise.all(Array.from({ length: workers * 2 }, () => server.client.request('GET', '/readyz')))).every((answer) => answer.status === 200), { timeoutMs: 60_000 });
          await server.client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'workers' } }));
          const run = await runConcurrent(options.creates, 64, (index) => server.client.create('workers', `vpc-${index}`));
          const p99 = percentile(run.latenciesMs, 99);
          console.log(`${storage.padEnd(10)} ${String(workers).padStart(7)}   ${fmt(run.perSecond).padStart(9)}   ${fmt(p99).padStart(6)}   ${fmt(run.perSecond / rawParallel.perSecond, 3)}`);
          record('workers', `${storage}CreatesPerSecondW${workers}`, run.perSecond);
          record('workers', `${storage}CreateP99MsW${workers}`, p99);
        } finally {
          await server.stop();
          await fs.rm(home, { recursive: true, force: true });
        }
      }
    }
    record('workers', 'rawEtcdPutsPerSecondC64', rawParallel.perSecond);
  } finally {
    await etcd.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.env.PHOTON_LOG_LEVEL ??= 'warn';
  benchWorkers({ creates: process.argv.includes('--quick') ? 1000 : 5000 }).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
