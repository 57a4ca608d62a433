// `npm run bench`: API server throughput and latency, each against a baseline measured in the same run on
// the same machine, so the ratios mean something anywhere:
//   - creates/s through the API at concurrency 1 and 64  ÷  raw etcd puts/s at the same concurrency (through
//     etcd3's client, as in earlier runs, and through the store's own gRPC client; on an etcd of their own,
//     see baseline.ts); c=64
//     also over HTTP/2 (64 streams on one connection, as kubectl and client-go send them)
//   - the same at c=64 by API server worker count (--workers), on etcd and on the embedded store (workers.ts)
//   - list latency of 10,000 objects (JSON and Table), served from the watch cache ÷ read from storage
//   - watch delivery latency p50/p99 to 1,000 concurrent watchers, over HTTP/1.1 (a connection each) and over
//     HTTP/2 (250 watches per connection)
//   - memory per object in the watch cache
//   - the store's size under a churn of 100,000 updates, before and after compaction (etcd and embedded)
//   - Ports per second from creation to Ready in a real OVN, and OVN NB transactions per Port
//   - VirtualMachine create → QEMU running and → guest address, p50/p95, against a bare QEMU start (compute.ts)
//   - Zone changes answered by dig (records/s, one-record latency) against PowerDNS's API alone, and a VM
//     Running → its name answered (dns.ts)
//   - LoadBalancer create → first connection through the VIP against the same VIP made with ovn-nbctl, and a
//     backend failure → out of rotation and → status offline (lb.ts)
//   - Volume create, VolumeSnapshot and restore → ready on a one-node Ceph against the same by hand with `rbd`,
//     and sequential writes from a TCG guest to an attached Volume against `rbd bench` (volumes.ts)
//   - Bucket create → Ready against the same RGW calls by hand, and 1 MiB PUT/GET throughput with a Bucket's
//     scoped credentials against an admin key (buckets.ts)
//   - CPU per request by verb (create, get, update, patch, apply, list, a watch line) and stage (HTTP and TLS,
//     storage client, audit, field manager, …) from one profiled run of the API server (profile.ts)
// The API server runs as its own process (`photon apiserver`), as in production; this process only
// generates load. The figures are also written as JSON to hack/bench/results/latest.json (results.ts). Options: --quick (smaller counts, for a smoke run).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEtcd } from '../../test/env/etcd.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { measureRawPuts } from './baseline.ts';
import { benchCompaction } from './compaction.ts';
import { benchNetwork } from './network.ts';
import { benchCompute } from './compute.ts';
import { benchDns } from './dns.ts';
import { benchLoadBalancers } from './lb.ts';
import { benchVolumes } from './volumes.ts';
import { benchBuckets } from './buckets.ts';
import { benchRequestProfile } from './profile.ts';
import { startBenchApiServer, vpcBody, type BenchApiServer } from './api.ts';
import { fmt, percentile, runConcurrent } from './load.ts';
import { benchWatchDelivery } from './watch.ts';
import { benchWorkers } from './workers.ts';
import { runScaleBench } from './scale.ts';
import { runAbBench } from './ab.ts';
import { record, writeResults } from './results.ts';

const quick = process.argv.includes('--quick');
const COUNTS = quick
  ? { rawSerial: 300, rawParallel: 3000, apiSerial: 200, apiParallel: 2000, listObjects: 2000, listRuns: 5, watchers: 100, watchEvents: 100, churn: 10000, ports: 200, vms: 5, dnsRecords: 200, dnsUpdates: 10, dnsVms: 2 }
  : { rawSerial: 2000, rawParallel: 20000, apiSerial: 1000, apiParallel: 10000, listObjects: 10000, listRuns: 10, watchers: 1000, watchEvents: 500, churn: 100000, ports: 1000, vms: 20, dnsRecords: 1000, dnsUpdates: 30, dnsVms: 5 };
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

async function main(): Promise<void> {
  // Only the figures (and warnings): the benches that run the API server and controllers in this process log there.
  process.env.PHOTON_LOG_LEVEL ??= 'warn';
  console.log(`PhotonCloud API benchmark (${quick ? 'quick' : 'full'}) on ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  const etcd = await startEtcd();
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-bench-'));
  let apiserver: BenchApiServer | undefined;
  try {
    // Baseline: raw etcd puts of objects the same size as the API's stored objects (on an etcd of their own).
    const value = vpcBody('x'.repeat(8), 'bench');
    const serial = await measureRawPuts(COUNTS.rawSerial, 1, value);
    const parallel = await measureRawPuts(COUNTS.rawParallel, 64, value);
    const [rawSerial, rawParallel, storeClientSerial, storeClientParallel] = [serial.etcd3, parallel.etcd3, serial.store, parallel.store];

    apiserver = await startBenchApiServer(home, ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint]);
    const client = apiserver.client;
    for (const namespace of ['serial', 'parallel', 'parallel-h2', 'list', 'watch', 'watch-h2']) {
      await client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }));
    }

    const apiSerial = await runConcurrent(COUNTS.apiSerial, 1, (index) => client.create('serial', `vpc-${index}`));
    const apiParallel = await runConcurrent(COUNTS.apiParallel, 64, (index) => client.create('parallel', `vpc-${index}`));
    console.log('\n## Writes (create a Vpc through the API vs a raw etcd put of the same bytes)');
    console.log(`raw etcd puts/s    c=1: ${fmt(rawSerial.perSecond)}   c=64: ${fmt(rawParallel.perSecond)}   (etcd3 client)`);
    console.log(`raw etcd puts/s    c=1: ${fmt(storeClientSerial.perSecond)}   c=64: ${fmt(storeClientParallel.perSecond)}   (the store's gRPC client)`);
    console.log(`API creates/s      c=1: ${fmt(apiSerial.perSecond)}   c=64: ${fmt(apiParallel.perSecond)}`);
    console.log(`ratio API/etcd     c=1: ${fmt(apiSerial.perSecond / rawSerial.perSecond, 3)}   c=64: ${fmt(apiParallel.perSecond / rawParallel.perSecond, 3)}   (etcd3 baseline, as in earlier runs)`);
    console.log(`ratio API/etcd     c=1: ${fmt(apiSerial.perSecond / storeClientSerial.perSecond, 3)}   c=64: ${fmt(apiParallel.perSecond / storeClientParallel.perSecond, 3)}   (the store's client as baseline)`);
    console.log(`API create latency c=1: p50 ${fmt(percentile(apiSerial.latenciesMs, 50), 2)} ms  p99 ${fmt(percentile(apiSerial.latenciesMs, 99), 2)} ms;  c=64: p50 ${fmt(percentile(apiParallel.latenciesMs, 50), 2)} ms  p99 ${fmt(percentile(apiParallel.latenciesMs, 99), 2)} ms`);
    record('writes', 'rawEtcdPutsPerSecondC1', rawSerial.perSecond);
    record('writes', 'rawEtcdPutsPerSecondC64', rawParallel.perSecond);
    record('writes', 'apiCreatesPerSecondC1', apiSerial.perSecond);
    record('writes', 'apiCreatesPerSecondC64', apiParallel.perSecond);
    record('writes', 'ratioC1', apiSerial.perSecond / rawSerial.perSecond);
    record('writes', 'ratioC64', apiParallel.perSecond / rawParallel.perSecond);
    record('writes', 'rawEtcdPutsPerSecondC1StoreClient', storeClientSerial.perSecond);
    record('writes', 'rawEtcdPutsPerSecondC64StoreClient', storeClientParallel.perSecond);
    record('writes', 'ratioC1StoreClient', apiSerial.perSecond / storeClientSerial.perSecond);
    record('writes', 'ratioC64StoreClient', apiParallel.perSecond / storeClientParallel.perSecond);
    record('writes', 'createP99MsC64', percentile(apiParallel.latenciesMs, 99));
    // The same creates as kubectl and client-go send them: 64 streams on one HTTP/2 connection.
    const h2 = apiserver.http2Client();
    const apiParallelH2 = await runConcurrent(COUNTS.apiParallel, 64, (index) => h2.create('parallel-h2', `vpc-${index}`));
    h2.close();
    console.log(`API creates/s over HTTP/2 (64 streams, one connection) c=64: ${fmt(apiParallelH2.perSecond)}   ratio ${fmt(apiParallelH2.perSecond / rawParallel.perSecond, 3)}   p99 ${fmt(percentile(apiParallelH2.latenciesMs, 99), 2)} ms`);
    record('writes', 'apiCreatesPerSecondC64Http2', apiParallelH2.perSecond);
    record('writes', 'ratioC64Http2', apiParallelH2.perSecond / rawParallel.perSecond);
    record('writes', 'createP99MsC64Http2', percentile(apiParallelH2.latenciesMs, 99));

    await runConcurrent(COUNTS.listObjects, 64, (index) => client.create('list', `vpc-${index}`));
    const listPath = '/apis/network.photoncloud.io/v1alpha1/namespaces/list/vpcs';
    const timeList = async (query: string, headers: Record<string, string>) => {
      const times: number[] = [];
      let items = 0;
      for (let run = 0; run < COUNTS.listRuns; run++) {
        const begin = performance.now();
        const result = await client.request('GET', listPath + query, undefined, headers);
        times.push(performance.now() - begin);
        const parsed = JSON.parse(result.text);
        items = (parsed.items ?? parsed.rows).length;
      }
      return { times, items };
    };
    const json = { Accept: 'application/json' };
    const listJson = await timeList('', json);
    const listTable = await timeList('', { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    // An exact-revision read is answered by storage: the same list without the watch cache.
    const revisionNow = JSON.parse((await client.request('GET', `${listPath}?limit=1`)).text).metadata.resourceVersion;
    const listStorage = await timeList(`?resourceVersion=${revisionNow}&resourceVersionMatch=Exact`, json);
    const p50 = (times: number[]) => percentile(times, 50);
    console.log(`\n## List of ${listJson.items} objects (${COUNTS.listRuns} runs each)`);
    console.log(`from the watch cache, JSON:  p50 ${fmt(p50(listJson.times))} ms  min ${fmt(Math.min(...listJson.times))} ms`);
    console.log(`from the watch cache, Table: p50 ${fmt(p50(listTable.times))} ms  min ${fmt(Math.min(...listTable.times))} ms (kubectl get)`);
    console.log(`from storage (etcd), JSON:   p50 ${fmt(p50(listStorage.times))} ms  min ${fmt(Math.min(...listStorage.times))} ms`);
    console.log(`ratio storage/cache latency: ${fmt(p50(listStorage.times) / p50(listJson.times), 2)}× (higher = the cache is faster)`);
    record('list', `cacheJsonP50Ms${listJson.items}`, p50(listJson.times));
    record('list', `cacheTableP50Ms${listJson.items}`, p50(listTable.times));
    record('list', `storageJsonP50Ms${listJson.items}`, p50(listStorage.times));

    // Watch delivery over HTTP/1.1 (a connection per watch) and over HTTP/2 (watches as streams, 250 to a
    // connection, as client-go multiplexes them).
    await benchWatchDelivery({ client, watcher: client, namespace: 'watch', how: 'HTTP/1.1, one connection each', recordSuffix: '', watchers: COUNTS.watchers, events: COUNTS.watchEvents });
    const h2Watches = apiserver.http2Client();
    await benchWatchDelivery({ client, watcher: h2Watches, namespace: 'watch-h2', how: 'HTTP/2, 250 streams per connection', recordSuffix: 'Http2', watchers: COUNTS.watchers, events: COUNTS.watchEvents });
    h2Watches.close();
    client.close();

    const memory = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(ROOT, 'hack/bench/cache-memory.ts'), String(COUNTS.listObjects)], { cwd: ROOT });
    const { objects, bytesPerObject, jsonBytesPerObject } = JSON.parse(memory.stdout.trim().split('\n').pop()!);
    console.log(`\n## Watch cache memory: ${bytesPerObject} bytes per cached object (${objects} Vpcs of ${jsonBytesPerObject} bytes of JSON each)`);
    record('watchCache', 'bytesPerObject', bytesPerObject);

    await benchWorkers({ creates: quick ? 1000 : 5000 });
    await benchCompaction(COUNTS.churn);
    await benchNetwork(COUNTS.ports);
    await benchCompute(COUNTS.vms);
    await benchDns({ records: COUNTS.dnsRecords, updates: COUNTS.dnsUpdates, vms: COUNTS.dnsVms });
    await benchLoadBalancers({ rounds: quick ? 3 : 10 });
    await benchVolumes({ rounds: quick ? 3 : 10, writeMiB: quick ? 64 : 256, passes: quick ? 2 : 3 });
    await benchBuckets({ rounds: quick ? 3 : 10, objects: quick ? 16 : 64, passes: quick ? 2 : 3 });
    await benchRequestProfile(quick ? 1000 : 5000);
    console.log(`\nfigures written to ${path.relative(ROOT, await writeResults(quick))}`);
  } finally {
    await apiserver?.stop();
    await etcd.stop();
    await fs.rm(home, { recursive: true, force: true });
  }
}

// Ctrl-C (or a kill) ends the run through exit(), whose handler in test/env/process.ts kills every process the
// run started: by default a signal ends Node without 'exit', and etcd, the API server and OVN were left running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

// `npm run bench -- scale …` is the scale run (scale.ts), `npm run bench -- ab --base <rev>` this tree's API
// server CPU per request against another revision's (ab.ts); anything else the benchmark above.
const command = process.argv[2];
(command === 'scale' ? runScaleBench(process.argv.slice(3)) : command === 'ab' ? runAbBench(process.argv.slice(3)) : main()).then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
