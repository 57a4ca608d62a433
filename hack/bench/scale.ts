// `npm run bench -- scale --nodes 5000 --vms 150000 [--concurrency 64] [--budget-minutes 45] [--network [--chassis K]]`:
// the kubemark-style scale run. Real etcd, the real API server (`--workers auto`, its own processes), the real
// compute controllers (controller manager: scheduler, virtualmachine, node-lifecycle, garbage collector), and
// `photon agent --hollow N`: N simulated nodes in one process that register, heartbeat and report VMs Running
// through the agent's own code. It registers the nodes, then creates the VMs at a fixed concurrency while
// sampling every component, and reports: API latency by verb (server side, from the API server's histogram,
// and the creates as the client saw them), VM create → Running, controller queue depth, memory of each
// component, etcd's WAL fsync and commit latency, reconcile passes per VM by controller, and where it broke
// first (the first of: mutating p99 over 1 s, a queue that keeps growing, errors, the time budget).
// VMs have no network interfaces unless `--network` gives each one a Port in a real OVN (scale-network.ts).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEtcd } from '../../test/env/etcd.ts';
import { freePort } from '../../test/env/ports.ts';
import { startProcess, waitFor, type ManagedProcess } from '../../test/env/process.ts';
import { startBenchApiServer, type BenchApiServer } from './api.ts';
import { wholeNumberOption } from './args.ts';
import { fmt, percentile } from './load.ts';
import { cpuSeconds, rssMiB } from './proc.ts';
import { record, writeResults } from './results.ts';
import { metricSum, reportWrites, writesBetween, writesByResource } from './writes.ts';
import { clientFromKubeconfig } from '../../apis/client/index.ts';
import { waitForAnnouncedFinalizers } from '../../test/env/announced-finalizers.ts';
import { SCALE_NETWORK_CONTROLLERS, startScaleNetwork, type ScaleNetwork } from './scale-network.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const NS = 'scale';
const SAMPLE_MS = 5000;

interface ScaleOptions {
  nodes: number;
  vms: number;
  concurrency: number;
  budgetMinutes: number;
  /** Every VM gets an interface (a Port) on a Subnet of a real OVN. */
  network: boolean;
  /** With network: how many hollow nodes a real chassis backs (real port bindings for their VMs). */
  chassis: number;
}

function parseOptions(argv: string[]): ScaleOptions {
  const value = (flag: string, fallback: number) => wholeNumberOption(argv, flag, fallback);
  const chassisIndex = argv.indexOf('--chassis');
  const chassis = chassisIndex < 0 ? 1 : Number(argv[chassisIndex + 1]);
  if (!Number.isInteger(chassis) || chassis < 0 || chassis > 64) throw new Error(`--chassis needs a whole number from 0 to 64, got ${JSON.stringify(argv[chassisIndex + 1])}`);
  const options = { nodes: value('--nodes', 100), vms: value('--vms', 1000), concurrency: value('--concurrency', 64), budgetMinutes: value('--budget-minutes', 45), network: argv.includes('--network'), chassis };
  if (chassisIndex >= 0 && !options.network) throw new Error('--chassis backs hollow nodes for --network: give --network too');
  if (chassis > options.nodes) throw new Error(`--chassis ${chassis} is more than --nodes ${options.nodes}`);
  return options;
}

/**
 * p50 and p99 (the upper bound of the bucket, in ms) of a Prometheus histogram `name`, per value of `label`
 * (all series together under '' without one).
 */
function histogramQuantiles(metricsText: string, name: string, label?: string, skip?: (group: string) => boolean): Map<string, { count: number; p50: number; p99: number }> {
  const buckets = new Map<string, Map<number, number>>();
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const group = label ? new RegExp(`${label}="([^"]+)"`).exec(line)?.[1] : '';
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (group === undefined || !le || skip?.(group)) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    const byBound = buckets.get(group) ?? new Map<number, number>();
    byBound.set(bound, (byBound.get(bound) ?? 0) + Number(line.split(' ').pop()));
    buckets.set(group, byBound);
  }
  const result = new Map<string, { count: number; p50: number; p99: number }>();
  for (const [group, byBound] of buckets) {
    const sorted = [...byBound].sort((a, b) => a[0] - b[0]);
    const count = sorted[sorted.length - 1]?.[1] ?? 0;
    const quantile = (q: number) => sorted.find(([, cumulative]) => cumulative >= q * count)?.[0] ?? Infinity;
    if (count > 0) result.set(group, { count, p50: quantile(0.5) * 1000, p99: quantile(0.99) * 1000 });
  }
  return result;
}

/** Per verb, from the API server's apiserver_request_duration_seconds (watches excluded: they last minutes). */
const latencyByVerb = (metricsText: string) => histogramQuantiles(metricsText, 'apiserver_request_duration_seconds', 'verb', (verb) => verb === 'WATCH');

export async function benchScale(options: ScaleOptions): Promise<void> {
  console.log(`PhotonCloud scale run: ${options.nodes} hollow nodes, ${options.vms} VMs${options.network ? ' (a Port each, in OVN)' : ''} at concurrency ${options.concurrency}, budget ${options.budgetMinutes} min, on ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
  process.env.PHOTON_LOG_LEVEL ??= 'warn';
  const deadline = Date.now() + options.budgetMinutes * 60_000;
  const etcd = await startEtcd({ extraArgs: ['--quota-backend-bytes', String(8 * 2 ** 30)] });
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-scale-'));
  let apiserver: BenchApiServer | undefined;
  let manager: ManagedProcess | undefined;
  let hollow: ManagedProcess | undefined;
  let network: ScaleNetwork | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let stoppedBecause = '';
  try {
    // PHOTON_SCALE_PROFILE_DIR=dir: the API server (its worker too), the controller manager and the hollow agent
    // run under --cpu-prof (node writes each process's profile there when it exits).
    const profile = process.env.PHOTON_SCALE_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PHOTON_SCALE_PROFILE_DIR}`] : [];
    apiserver = await startBenchApiServer(home, ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--workers', 'auto'], { nodeArgs: profile });
    const client = apiserver.client;
    const kubeconfig = path.join(home, 'admin.kubeconfig');
    const metricsPort = await freePort();
    if (options.network) network = await startScaleNetwork({ chassis: options.chassis });
    const controllers = ['garbage-collector', 'virtualmachine', 'scheduler', 'node-lifecycle', ...(network ? SCALE_NETWORK_CONTROLLERS : [])];
    manager = startProcess('controller-manager', process.execPath, [...profile, '--import', 'tsx', path.join(ROOT, 'controllers/main.ts'), '--kubeconfig', kubeconfig, '--ovn-nb', network?.northbound ?? 'tcp:127.0.0.1:1', '--controllers', controllers.join(','), '--metrics-address', `127.0.0.1:${metricsPort}`, '--log-level', 'warn'], { cwd: ROOT });
    hollow = startProcess('hollow nodes', process.execPath, [...profile, '--import', 'tsx', path.join(ROOT, 'cli/photon.ts'), 'agent', '--hollow', String(options.nodes), '--kubeconfig', kubeconfig, '--state-dir', path.join(home, 'hollow'), ...(network?.hollowFlags ?? []), '--log-level', 'warn'], { cwd: ROOT });

    // Samples: memory of each component and the controllers' queue depth, every few seconds.
    const peaks = { etcd: 0, apiserver: 0, manager: 0, hollow: 0, queue: 0 };
    const ovnComponents = (await network?.components()) ?? {};
    const ovnPeaks = new Map<string, number>();
    const queueSamples: number[] = [];
    /** Each controller's deepest queue: which one the pipeline waits on. */
    const peakByController = new Map<string, number>();
    sampler = setInterval(() => {
      void (async () => {
        peaks.etcd = Math.max(peaks.etcd, await rssMiB(etcd.process.child.pid));
        peaks.apiserver = Math.max(peaks.apiserver, await rssMiB(apiserver?.process.child.pid));
        peaks.manager = Math.max(peaks.manager, await rssMiB(manager?.child.pid));
        peaks.hollow = Math.max(peaks.hollow, await rssMiB(hollow?.child.pid));
        for (const [name, pid] of Object.entries(ovnComponents)) ovnPeaks.set(name, Math.max(ovnPeaks.get(name) ?? 0, await rssMiB(pid)));
        const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((response) => response.text(), () => '');
        const depth = metricSum(text, 'photon_workqueue_depth');
        for (const [, name, value] of text.matchAll(/^photon_workqueue_depth\{name="([^"]+)"\} (\d+)$/gm)) {
          peakByController.set(name!, Math.max(peakByController.get(name!) ?? 0, Number(value)));
        }
        queueSamples.push(depth);
        peaks.queue = Math.max(peaks.queue, depth);
      })();
    }, SAMPLE_MS);

    // Phase 1: every node registered and Ready.
    const registerStarted = performance.now();
    const readyNodes = async () => {
      const list = JSON.parse((await client.request('GET', '/apis/compute.photoncloud.io/v1alpha1/nodes?labelSelector=photoncloud.io%2Fhollow%3Dtrue')).text) as { items?: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> };
      return (list.items ?? []).filter((node) => node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True')).length;
    };
    let registered = 0;
    await waitFor(`${options.nodes} hollow nodes Ready`, async () => {
      if (hollow!.child.exitCode !== null) throw new Error(`the hollow agent exited: ${hollow!.output().slice(-2000)}`);
      registered = await readyNodes();
      return registered === options.nodes;
    }, { timeoutMs: Math.max(60_000, deadline - Date.now()), intervalMs: 2000 }).catch((error: Error) => {
      stoppedBecause = `registering nodes: ${registered}/${options.nodes} Ready (${error.message})`;
    });
    const registerSeconds = (performance.now() - registerStarted) / 1000;
    console.log(`\n## Nodes: ${registered}/${options.nodes} Ready in ${fmt(registerSeconds)} s`);
    record('scale', 'nodesReady', registered);
    record('scale', 'nodesReadySeconds', registerSeconds);

    // Phase 2: VMs, created at a fixed concurrency; a watch notes when each first reports Running.
    const createdAt = new Map<string, number>();
    const runningAfter: number[] = [];
    const seenRunning = new Set<string>();
    /** The hollow nodes a real chassis backs (`photon agent --hollow-ovs` takes them from <prefix>-0 on). */
    const realNodes = new Set(Array.from({ length: network?.chassis ?? 0 }, (_, index) => `hollow-${index}`));
    /** VMs on those nodes whose Port ovn-controller bound, and how long after their create. */
    const boundOnChassis = new Map<string, number>();
    const onRealNodes = new Set<string>();
    const createLatencies: number[] = [];
    let createErrors = 0;
    let lastError = '';
    if (!stoppedBecause) {
      // The manager runs on its leader Lease, as in production: VMs are created with its finalizer once it
      // announced it (a write less per VM).
      const announcements = clientFromKubeconfig(kubeconfig, { component: 'scale-bench' });
      const finalizersOf = ['virtualmachines.compute.photoncloud.io', ...(network ? ['ports.network.photoncloud.io'] : [])];
      await waitForAnnouncedFinalizers(announcements, finalizersOf, 60_000).finally(() => announcements.close());
      await client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }));
      await network?.createSubnets(client, NS, options.vms);
      for (const [name, format] of [['kernel', 'kernel'], ['initrd', 'initrd']]) {
        await client.request('POST', `/apis/compute.photoncloud.io/v1alpha1/namespaces/${NS}/images`, JSON.stringify({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Image', metadata: { name, namespace: NS }, spec: { source: { url: `https://images.example/${name}` }, format, sha256: '0'.repeat(64) } }));
      }
      const revision = JSON.parse((await client.request('GET', `/apis/compute.photoncloud.io/v1alpha1/namespaces/${NS}/virtualmachines?limit=1`)).text).metadata.resourceVersion;
      const closeWatch = client.watch(`/apis/compute.photoncloud.io/v1alpha1/namespaces/${NS}/virtualmachines?watch=true&resourceVersion=${revision}&allowWatchBookmarks=false`, (line) => {
        const event = JSON.parse(line) as { object?: { metadata?: { name?: string }; status?: { nodeName?: string; runtime?: { state?: string; interfaces?: Array<{ bound?: boolean }> } } } };
        const name = event.object?.metadata?.name;
        const runtime = event.object?.status?.runtime;
        if (!name || runtime?.state !== 'Running') return;
        const created = createdAt.get(name);
        if (!seenRunning.has(name)) {
          seenRunning.add(name);
          if (created !== undefined) runningAfter.push(performance.now() - created);
        }
        // A VM on a node a real chassis backs: its interface is reported bound once ovn-controller installed it.
        const node = event.object?.status?.nodeName;
        if (!node || !realNodes.has(node)) return;
        onRealNodes.add(name);
        const interfaces = runtime.interfaces ?? [];
        if (!boundOnChassis.has(name) && interfaces.length > 0 && interfaces.every((entry) => entry.bound)) boundOnChassis.set(name, created !== undefined ? performance.now() - created : NaN);
      });
      const ports = network?.watchPorts(client, NS, revision, createdAt);
      const writesBefore = writesByResource((await client.request('GET', '/metrics')).text);
      const components = { etcd: etcd.process.child.pid, 'API server': apiserver.process.child.pid, 'controller manager': manager.child.pid, 'hollow agent': hollow.child.pid, ...ovnComponents };
      const transactionsBefore = (await network?.transactions(metricsPort)) ?? 0;
      const cpuBefore = await Promise.all(Object.values(components).map(cpuSeconds));
      const started = performance.now();
      let next = 0;
      let lastReport = performance.now();
      const worker = async () => {
        while (next < options.vms && !stoppedBecause) {
          if (Date.now() > deadline) {
            stoppedBecause ||= `time budget (${options.budgetMinutes} min) while creating VMs`;
            return;
          }
          const index = next++;
          const name = `vm-${index}`;
          const body = JSON.stringify({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec: { runStrategy: 'Always', cpu: { cores: 1 }, memory: '1Gi', boot: { kernel: { imageRef: 'kernel', initrdRef: 'initrd' } }, ...(network ? { networks: network.networksOf(index) } : {}) } });
          const begin = performance.now();
          createdAt.set(name, begin);
          const answer = await client.request('POST', `/apis/compute.photoncloud.io/v1alpha1/namespaces/${NS}/virtualmachines`, body).catch((error: Error) => ({ status: 0, text: error.message }));
          createLatencies.push(performance.now() - begin);
          if (answer.status !== 201) {
            createErrors++;
            lastError = `${answer.status} ${answer.text.slice(0, 200)}`;
            if (createErrors > 100) stoppedBecause ||= `more than 100 failed creates (last: ${lastError})`;
          }
          if (performance.now() - lastReport > 30_000) {
            lastReport = performance.now();
            console.log(`  ${next} created, ${seenRunning.size} Running, create p99 so far ${fmt(percentile(createLatencies.slice(-5000), 99))} ms, queue depth ${queueSamples[queueSamples.length - 1] ?? 0}`);
          }
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
      const createSeconds = (performance.now() - started) / 1000;
      const created = createdAt.size - createErrors;
      const portsReady = () => (ports ? `, ${ports.ready()} Ports Ready` : '') + (onRealNodes.size > 0 ? `, ${boundOnChassis.size}/${onRealNodes.size} bound on real chassis` : '');
      await waitFor(`every created VM Running${ports ? ' and its Port Ready' : ''}`, () => {
        if (performance.now() - lastReport > 30_000) {
          lastReport = performance.now();
          console.log(`  ${created} created, ${seenRunning.size} Running${portsReady()}, queue depth ${queueSamples[queueSamples.length - 1] ?? 0}`);
        }
        return seenRunning.size >= created && (!ports || ports.ready() >= created) && boundOnChassis.size >= onRealNodes.size;
      }, { timeoutMs: Math.max(30_000, deadline - Date.now()), intervalMs: 500 }).catch(() => {
        stoppedBecause ||= `time budget while VMs start: ${seenRunning.size}/${created} Running${portsReady()}`;
      });
      const allSeconds = (performance.now() - started) / 1000;
      closeWatch();
      ports?.close();
      const cpuAfter = await Promise.all(Object.values(components).map(cpuSeconds));
      const used = Object.keys(components).map((name, index) => `${name} ${fmt(((cpuAfter[index]! - cpuBefore[index]!) / allSeconds) * 100, 0)}%`);
      console.log(`CPU while creating and starting VMs (100% = one core of ${os.cpus().length}): ${used.join(', ')}`);
      reportWrites('VirtualMachine (hollow, to Running)', 'virtualmachines', Math.max(1, created), writesBetween(writesBefore, writesByResource((await client.request('GET', '/metrics')).text)));
      console.log(`\n## VMs: ${created} created in ${fmt(createSeconds)} s (${fmt(created / createSeconds)}/s, ${createErrors} failed${lastError ? `, last: ${lastError}` : ''}); ${seenRunning.size} Running after ${fmt(allSeconds)} s`);
      console.log(`create latency (client): p50 ${fmt(percentile(createLatencies, 50))} ms  p99 ${fmt(percentile(createLatencies, 99))} ms`);
      console.log(`create → Running: p50 ${fmt(percentile(runningAfter, 50))} ms  p99 ${fmt(percentile(runningAfter, 99))} ms`);
      record('scale', 'vmsCreated', created);
      record('scale', 'vmsRunning', seenRunning.size);
      record('scale', 'vmCreatesPerSecond', created / createSeconds);
      record('scale', 'createP50Ms', percentile(createLatencies, 50));
      record('scale', 'createP99Ms', percentile(createLatencies, 99));
      record('scale', 'runningP50Ms', percentile(runningAfter, 50));
      record('scale', 'runningP99Ms', percentile(runningAfter, 99));
      if (network && ports) {
        const transactions = (await network.transactions(metricsPort)) - transactionsBefore;
        const rows = await network.logicalSwitchPorts();
        console.log(`\n## Ports (OVN): ${ports.ready()}/${created} Ready after ${fmt(allSeconds)} s; VM create → its Port Ready p50 ${fmt(percentile(ports.latencies, 50))} ms  p99 ${fmt(percentile(ports.latencies, 99))} ms; ${fmt(transactions / Math.max(1, ports.ready()), 2)} OVN NB transactions per Port Ready; ${rows} Logical_Switch_Port rows in the Northbound`);
        record('scale', 'portsReady', ports.ready());
        record('scale', 'portReadyP50Ms', percentile(ports.latencies, 50));
        record('scale', 'portReadyP99Ms', percentile(ports.latencies, 99));
        record('scale', 'ovnTransactionsPerPort', transactions / Math.max(1, ports.ready()));
        record('scale', 'logicalSwitchPorts', rows);
        if (network.chassis > 0) {
          // One run's Southbound showed a binding fewer than the nodes had reported bound (ovn-controller short of
          // CPU; why was not found out): give it up to 30 s to agree, then print what it says.
          let bindings = 0;
          await waitFor('the Southbound to show the bindings the nodes reported', async () => (bindings = await network!.boundOnChassis()) >= boundOnChassis.size, { timeoutMs: 30_000, intervalMs: 1000 }).catch(() => undefined);
          const latencies = [...boundOnChassis.values()].filter(Number.isFinite);
          console.log(`real port bindings (${network.chassis === 1 ? 'one hollow node on a real chassis' : `${network.chassis} hollow nodes on real chassis`}: ovs-vswitchd + ovn-controller): of ${onRealNodes.size} VMs Running there, ${boundOnChassis.size} reported their Port bound; ${bindings} Southbound Port_Bindings on those chassis; VM create → its Port bound by ovn-controller p50 ${fmt(percentile(latencies, 50))} ms  p99 ${fmt(percentile(latencies, 99))} ms`);
          record('scale', 'chassisVmsRunning', onRealNodes.size);
          record('scale', 'chassisBoundVms', boundOnChassis.size);
          record('scale', 'chassisPortBindings', bindings);
          record('scale', 'chassisBoundP50Ms', percentile(latencies, 50));
          record('scale', 'chassisBoundP99Ms', percentile(latencies, 99));
        }
      }
    }

    // Server-side latency by verb (every worker's histogram, summed by /metrics).
    const byVerb = latencyByVerb((await client.request('GET', '/metrics')).text);
    console.log('\n## API latency by verb (server side, whole run; bucket upper bounds)');
    for (const [verb, figures] of [...byVerb].sort((a, b) => b[1].count - a[1].count)) {
      console.log(`${verb.padEnd(8)} ${String(figures.count).padStart(9)} requests   p50 ≤ ${fmt(figures.p50)} ms   p99 ≤ ${fmt(figures.p99)} ms`);
      record('scale', `${verb.toLowerCase()}P99Ms`, figures.p99);
    }
    const mutatingP99 = Math.max(...['CREATE', 'UPDATE', 'PATCH', 'DELETE'].map((verb) => byVerb.get(verb)?.p99 ?? 0));
    const lastDepths = queueSamples.slice(-6);
    const growing = lastDepths.length >= 6 && lastDepths.every((depth, index) => index === 0 || depth >= lastDepths[index - 1]!) && lastDepths[lastDepths.length - 1]! > 1000;
    const byController = [...peakByController].filter(([, depth]) => depth > 0).sort((a, b) => b[1] - a[1]);
    console.log(`\n## Controllers: peak queue depth ${peaks.queue} (sampled every ${SAMPLE_MS / 1000} s)${growing ? ', still growing at the end' : ''}; peak by controller: ${byController.map(([name, depth]) => `${name} ${depth}`).join(', ') || 'none'}`);
    for (const [name, depth] of byController) record('scale', `peakQueueDepth.${name}`, depth);
    // Passes per VM by controller, and how many of them ended in a 409 (another writer got there first).
    const passes = new Map<string, { all: number; conflicts: number }>();
    const managerText = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((response) => response.text(), () => '');
    for (const [, name, result, value] of managerText.matchAll(/^photon_controller_reconcile_total\{controller="([^"]+)",result="([^"]+)"\} (\d+)$/gm)) {
      const entry = passes.get(name!) ?? { all: 0, conflicts: 0 };
      entry.all += Number(value);
      if (result === 'conflict') entry.conflicts += Number(value);
      passes.set(name!, entry);
    }
    const perVm = (count: number) => fmt(count / Math.max(1, options.vms), 2);
    const passSummary = [...passes].filter(([name]) => name !== 'node-lifecycle-controller').sort((a, b) => b[1].all - a[1].all).map(([name, { all, conflicts }]) => `${name} ${perVm(all)}${conflicts > 0 ? ` (${perVm(conflicts)} conflicts)` : ''}`);
    console.log(`## Reconcile passes per VM: ${passSummary.join(', ')}`);
    for (const [name, { all, conflicts }] of passes) {
      record('scale', `passesPerVm.${name}`, all / Math.max(1, options.vms));
      record('scale', `conflictsPerVm.${name}`, conflicts / Math.max(1, options.vms));
    }
    const ovnMemory = [...ovnPeaks].map(([name, mib]) => `, ${name} ${fmt(mib)} MiB`).join('');
    console.log(`## Memory (peak RSS): etcd ${fmt(peaks.etcd)} MiB, API server (all workers) ${fmt(peaks.apiserver)} MiB, controller manager ${fmt(peaks.manager)} MiB, hollow agent ${fmt(peaks.hollow)} MiB${ovnMemory}`);
    for (const [name, mib] of ovnPeaks) record('scale', `peakRssMiB.${name}`, mib);
    // The disk under etcd: every write waits for its WAL fsync, so a slow disk slows everything above it.
    // Runs of the same code on this machine differed 3.5× in VMs Running; this says whether the disk did.
    const etcdMetrics = await (await fetch(`${etcd.endpoint}/metrics`)).text();
    const disk = [['WAL fsync', 'etcd_disk_wal_fsync_duration_seconds', 'walFsync'], ['backend commit', 'etcd_disk_backend_commit_duration_seconds', 'backendCommit']] as const;
    const diskFigures = disk.map(([what, metric, key]) => {
      const figures = histogramQuantiles(etcdMetrics, metric).get('');
      if (figures) {
        record('scale', `etcd.${key}P50Ms`, figures.p50);
        record('scale', `etcd.${key}P99Ms`, figures.p99);
      }
      return figures ? `${what} ${figures.count} × p50 ≤ ${fmt(figures.p50, 1)} ms p99 ≤ ${fmt(figures.p99, 1)} ms` : `${what}: not reported`;
    });
    console.log(`## etcd's disk (whole run): ${diskFigures.join('; ')}`);
    record('scale', 'mutatingP99Ms', mutatingP99);
    record('scale', 'peakQueueDepth', peaks.queue);
    for (const [name, value] of Object.entries(peaks)) if (name !== 'queue') record('scale', `${name}PeakRssMiB`, value);
    const breaks = [
      stoppedBecause && `stopped: ${stoppedBecause}`,
      mutatingP99 > 1000 && `mutating p99 ${fmt(mutatingP99)} ms is over the 1 s SLO`,
      growing && 'the controllers\' queue kept growing',
    ].filter(Boolean);
    console.log(`\n## Result: ${breaks.length === 0 ? `completed: ${options.nodes} nodes, ${options.vms} VMs${network ? ' with a Port each' : ''}, mutating p99 ≤ ${fmt(mutatingP99)} ms` : breaks.join('; ')}`);
    console.log(`figures written to ${path.relative(ROOT, await writeResults(false, `scale-${options.nodes}-${options.vms}${network ? '-network' : ''}`))}`);
  } finally {
    if (sampler) clearInterval(sampler);
    await hollow?.stop(20_000);
    await manager?.stop(20_000);
    await apiserver?.stop();
    await network?.stop();
    await etcd.stop();
    await fs.rm(home, { recursive: true, force: true });
  }
}

export async function runScaleBench(argv: string[]): Promise<void> {
  await benchScale(parseOptions(argv));
}
