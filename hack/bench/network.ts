// Network benchmark: Ports reconciled per second from creation to Ready in OVN, and OVN Northbound
// transactions per Port — with the API server and the controller manager as their own processes, on etcd and
// a real OVN central, as in production. Baseline in the same run: the same Ports created with the
// controllers stopped (API creates alone), so the ratio shows what programming OVN costs.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../apis/client/index.ts';
import { waitForAnnouncedFinalizers } from '../../test/env/announced-finalizers.ts';
import type { Condition, KubeObject } from '../../apis/meta/types.ts';
import { PortResource, SecurityGroupResource, SubnetResource, VpcResource } from '../../apis/network/v1alpha1/index.ts';
import { isConditionTrue } from '../../apis/meta/conditions.ts';
import { NETWORK_CONTROLLERS } from '../../test/network/harness.ts';
import { startEtcd } from '../../test/env/etcd.ts';
import { startOvnCentral } from '../../test/env/ovn.ts';
import { freePort } from '../../test/env/ports.ts';
import { startProcess, waitFor } from '../../test/env/process.ts';
import { startBenchApiServer, type BenchApiServer } from './api.ts';
import { fmt, runConcurrent } from './load.ts';
import { record } from './results.ts';
import { metricSum, reportWrites, writesBetween, writesByResource } from './writes.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

async function metric(port: number, name: string, filter = ''): Promise<number> {
  return metricSum(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), name, filter);
}

const ready = (object: KubeObject) => isConditionTrue((object.status as { conditions?: Condition[] } | undefined)?.conditions, 'Ready');

/**
 * Resolves when `count` Ports of the namespace have been seen Ready, with the time the last one was (as
 * `kubectl wait` waits: on a watch). Polling lists of 1,000 Ports every 250 ms took CPU from what it measured
 * and rounded the end up to the next poll. Open it before the Ports are created.
 */
async function readyWatch(client: ApiClient, namespace: string, count: number, timeoutMs: number): Promise<{ allReady: Promise<number>; close(): void }> {
  const seen = new Set<string>();
  let resolveAll!: (at: number) => void;
  let rejectAll!: (error: unknown) => void;
  const allReady = new Promise<number>((resolve, reject) => ([resolveAll, rejectAll] = [resolve, reject]));
  const handle = await client.watch(PortResource, { namespace }, (event) => {
    if ((event.type === 'ADDED' || event.type === 'MODIFIED') && ready(event.object)) seen.add(event.object.metadata.name!);
    if (seen.size === count) resolveAll(performance.now());
  });
  const timer = setTimeout(() => rejectAll(new Error(`${seen.size} of ${count} Ports Ready after ${timeoutMs} ms`)), timeoutMs);
  handle.done.then(() => rejectAll(new Error(`the watch ended with ${seen.size} of ${count} Ports Ready`)), rejectAll);
  const settled = allReady.finally(() => clearTimeout(timer));
  settled.catch(() => undefined); // awaited later; a failure meanwhile is not an unhandled rejection
  return { allReady: settled, close: () => handle.close() };
}

async function createPorts(client: ApiClient, namespace: string, count: number): Promise<number> {
  const run = await runConcurrent(count, 32, (index) => client.create(PortResource, { apiVersion: PortResource.apiVersion, kind: 'Port', metadata: { name: `p${index}`, namespace }, spec: { subnetRef: 'big' } } as KubeObject));
  return run.seconds;
}

/** Writes and OVN transactions per Vpc, Subnet and SecurityGroup: 20 of each, one kind at a time, to Ready. */
async function networkKindWrites(client: ApiClient, writes: () => Promise<Map<string, number>>, metricsPort: number): Promise<void> {
  const COUNT = 20;
  const namespace = 'kinds';
  await client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const kinds = [
    { resource: VpcResource, kind: 'Vpc', object: (index: number) => ({ metadata: { name: `v${index}` }, spec: { cidrBlocks: [`10.${index}.0.0/16`] } }) },
    { resource: SubnetResource, kind: 'Subnet', object: (index: number) => ({ metadata: { name: `s${index}` }, spec: { vpcRef: `v${index}`, cidr: `10.${index}.0.0/24` } }) },
    {
      resource: SecurityGroupResource,
      kind: 'SecurityGroup',
      object: (index: number) => ({ metadata: { name: `g${index}` }, spec: { ingress: [{ protocol: 'TCP', ports: '443', from: { cidr: '0.0.0.0/0' } }, { protocol: 'TCP', ports: '22', from: { securityGroupRef: `g${index}` } }] } }),
    },
  ];
  for (const { resource, kind, object } of kinds) {
    const before = await writes();
    const transactionsBefore = await metric(metricsPort, 'photon_ovn_nb_transactions', 'result="committed"');
    await runConcurrent(COUNT, 8, async (index) => {
      const { metadata, spec } = object(index);
      await client.create(resource, { apiVersion: resource.apiVersion, kind, metadata: { ...metadata, namespace }, spec } as KubeObject);
    });
    await waitFor(`${kind}s Ready`, async () => (await client.listAll(resource, { namespace })).items.filter(ready).length === COUNT, { timeoutMs: 120_000, intervalMs: 250 });
    const transactions = (await metric(metricsPort, 'photon_ovn_nb_transactions', 'result="committed"')) - transactionsBefore;
    reportWrites(kind, resource.plural, COUNT, writesBetween(before, await writes()));
    console.log(`OVN NB transactions per ${kind}: ${fmt(transactions / COUNT, 2)}`);
    record('ovnTransactionsPerObject', kind, transactions / COUNT);
  }
}

export async function benchNetwork(ports: number): Promise<void> {
  console.log(`\n## Ports to Ready in OVN (${ports} Ports in one /20, created at concurrency 32)`);
  const [etcd, ovn] = await Promise.all([startEtcd(), startOvnCentral()]);
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-bench-net-'));
  const metricsPort = await freePort();
  let apiserver: BenchApiServer | undefined;
  let manager: ReturnType<typeof startProcess> | undefined;
  try {
    // PHOTON_BENCH_PROFILE_DIR=dir: the API server and the controller manager run under --cpu-prof (their
    // profiles are written on exit).
    const profile = process.env.PHOTON_BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PHOTON_BENCH_PROFILE_DIR}`] : [];
    apiserver = await startBenchApiServer(home, ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint], { nodeArgs: profile });
    const writes = async () => writesByResource((await apiserver!.client.request('GET', '/metrics')).text);
    const client = clientFromKubeconfig(path.join(home, 'admin.kubeconfig'), { component: 'bench' });
    const startManager = () =>
      startProcess('controller-manager', process.execPath, [...profile, '--import', 'tsx', path.join(ROOT, 'controllers/main.ts'), '--kubeconfig', path.join(home, 'admin.kubeconfig'), '--ovn-nb', ovn.nbEndpoint, '--controllers', NETWORK_CONTROLLERS.join(','), '--metrics-address', `127.0.0.1:${metricsPort}`, '--log-level', 'warn'], { cwd: ROOT });
    for (const namespace of ['baseline', 'bench']) {
      await client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
      await client.create(VpcResource, { apiVersion: VpcResource.apiVersion, kind: 'Vpc', metadata: { name: 'main', namespace }, spec: { cidrBlocks: ['10.0.0.0/16'] } } as KubeObject);
      await client.create(SubnetResource, { apiVersion: SubnetResource.apiVersion, kind: 'Subnet', metadata: { name: 'big', namespace }, spec: { vpcRef: 'main', cidr: '10.0.0.0/20' } } as KubeObject);
    }
    // Baseline: the API alone (no controllers running).
    const baselineSeconds = await createPorts(client, 'baseline', ports);

    manager = startManager();
    await waitFor('controller manager metrics', async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`).catch(() => undefined))?.ok === true, { timeoutMs: 60_000 });
    await waitFor('subnet ready', async () => ready(await client.get(SubnetResource, 'big', { namespace: 'bench' })), { timeoutMs: 60_000 });
    // The manager runs as in production, on its leader Lease, where it announces the finalizers the API
    // server then adds at create (a write less per object): measured once that is in place.
    await waitForAnnouncedFinalizers(client, ['ports.network.photoncloud.io']);
    // Let the baseline namespace's Ports be programmed too before measuring (they are not counted).
    await waitFor('baseline Ports Ready', async () => (await client.listAll(PortResource, { namespace: 'baseline' })).items.every(ready), { timeoutMs: 300_000, intervalMs: 1000 });
    // The manager's counters read at once, before and after: OVN transactions, the Port controller's passes
    // (including those that found nothing to do) and its CPU (all its threads).
    const managerFigures = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return {
        transactions: metricSum(text, 'photon_ovn_nb_transactions', 'result="committed"'),
        passes: metricSum(text, 'photon_controller_reconcile_total', 'controller="port-controller"'),
        cpuSeconds: metricSum(text, 'process_cpu_seconds_total'),
      };
    };
    const before = await managerFigures();
    const writesBefore = await writes();
    const watch = await readyWatch(client, 'bench', ports, 600_000);
    const started = performance.now();
    const createSeconds = await createPorts(client, 'bench', ports);
    const seconds = ((await watch.allReady.finally(() => watch.close())) - started) / 1000;
    const after = await managerFigures();
    const portWrites = writesBetween(writesBefore, await writes());
    const transactions = after.transactions - before.transactions;
    const passes = after.passes - before.passes;
    const managerCpuMs = (after.cpuSeconds - before.cpuSeconds) * 1000;
    console.log(`API creates alone (baseline): ${fmt(ports / baselineSeconds)} Ports/s`);
    console.log(`created → Ready in OVN:       ${fmt(ports / seconds)} Ports/s (creates took ${fmt(createSeconds)} s of ${fmt(seconds)} s)   ratio to baseline ${fmt(ports / seconds / (ports / baselineSeconds), 2)}`);
    console.log(`OVN NB transactions per Port: ${fmt(transactions / ports, 2)} (${transactions} transactions)`);
    console.log(`reconcile passes per Port:    ${fmt(passes / ports, 2)}   controller manager CPU per Port: ${fmt(managerCpuMs / ports, 2)} ms`);
    record('ports', 'readyPerSecond', ports / seconds);
    record('ports', 'apiCreatesPerSecond', ports / baselineSeconds);
    record('ports', 'ovnTransactionsPerPort', transactions / ports);
    record('ports', 'reconcilePassesPerPort', passes / ports);
    record('ports', 'managerCpuMsPerPort', managerCpuMs / ports);
    reportWrites('Port', 'ports', ports, portWrites);
    await networkKindWrites(client, writes, metricsPort);
    client.close();
  } finally {
    await manager?.stop();
    await apiserver?.stop();
    await Promise.all([etcd.stop(), ovn.stop()]);
    await fs.rm(home, { recursive: true, force: true });
  }
}
