// `npm run fuzz -- [--count N] [--seed S] [--concurrency C] [--etcd]`: a long fuzzing campaign against a
// real `photon apiserver` process (embedded store, or etcd with --etcd), with the request generator of
// the test suite (test/env/fuzz.ts). Prints the seed, requests sent, the status-code histogram, every 5xx
// (the goal: none in 100,000), and whether the server survived; exits 1 on any 5xx or a dead server.
import { parseArgs } from 'node:util';
import { startApiServerProcess } from '../test/env/apiserver-process.ts';
import { startEtcd, type EtcdInstance } from '../test/env/etcd.ts';
import { prepareFuzzTargets, runFuzz } from '../test/env/fuzz.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    etcd: { type: 'boolean', default: false },
  },
});
const count = Number(values.count);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const concurrency = Number(values.concurrency);
if (![count, seed, concurrency].every((value) => Number.isInteger(value) && value >= 0)) {
  console.error('usage: npm run fuzz -- [--count N] [--seed S] [--concurrency C] [--etcd]');
  process.exit(2);
}

let etcd: EtcdInstance | undefined;
if (values.etcd) etcd = await startEtcd();
const server = await startApiServerProcess({ etcdEndpoint: etcd?.endpoint });
console.log(`fuzzing ${server.url} (${etcd ? 'etcd' : 'embedded'} store): ${count} requests, seed ${seed}, concurrency ${concurrency}`);
const started = Date.now();
try {
  await prepareFuzzTargets(server.client);
  const report = await runFuzz(server.client, { count, seed, concurrency, onProgress: (sent) => console.log(`  ${sent} sent, ${Math.round((Date.now() - started) / 1000)} s`) });
  const alive = server.alive();
  console.log(`\nseed ${seed}: ${report.sent} requests in ${Math.round((Date.now() - started) / 1000)} s; server ${alive ? 'alive' : 'DEAD'}`);
  console.log('status histogram:');
  for (const [status, times] of [...report.statuses].sort(([a], [b]) => a - b)) console.log(`  ${status === 0 ? 'no answer' : status}: ${times}`);
  console.log(`5xx or no answer: ${report.failures.length}`);
  for (const failure of report.failures.slice(0, 50)) console.log(`  ${failure}`);
  process.exitCode = report.failures.length > 0 || !alive ? 1 : 0;
} finally {
  await server.stop();
  await etcd?.stop();
}
