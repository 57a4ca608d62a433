// Where one request's CPU goes in the API server, by verb and by stage. `photon apiserver` runs as its own
// process under `--cpu-prof` on etcd, is warmed up (500 creates), then takes N requests of each verb in turn at
// concurrency 64: create, get, update (PUT), merge patch, server-side apply (each write changes a label, so none
// is a no-op), and lists of one 500-object page (kubectl's chunk). Only the samples taken while a verb's requests
// ran count for it, divided by their number: the profile's timestamps and this process's hrtime are the same
// monotonic clock, so each window is exact. (An earlier version subtracted a second run without the requests;
// start-up work — compiling every kind's schema — varies between runs by more than a stage's whole cost, and
// showed up as e.g. "validation" at 10% of a create.) A watch's cost is per line sent: 100 watchers see N/5
// patches, and what the window took beyond the same patches' cost (the patch verb's figure) is divided by the
// lines delivered. Each sample's CPU goes to the innermost frame on its stack that belongs to a stage (so
// JSON.parse called from the body parser counts as parsing); garbage collection is its own stage. The profiler
// samples wall time: a thread preempted by other processes on a full machine is charged to what it was running,
// so totals read high there; shares between stages hold.
// Options: --quick (fewer requests), a number (N), --keep-profile=FILE (the run's .cpuprofile, with each verb's
// window in microseconds as `windows`, for a closer look).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEtcd, type EtcdInstance } from '../../test/env/etcd.ts';
import { waitFor } from '../../test/env/process.ts';
import { startBenchApiServer } from './api.ts';
import { fmt, runConcurrent } from './load.ts';
import { record } from './results.ts';

/** Stages by where the code lives, innermost first wins; the first rule that matches a frame's URL names it. */
const STAGES: Array<[string, RegExp]> = [
  ['storage client (gRPC)', /node_modules\/(@grpc|etcd3|long|protobufjs)\/|apiserver\/storage\//],
  ['encode/decode for storage', /apiserver\/registry\/codec\.ts/],
  ['field manager', /apiserver\/fieldmanager\//],
  ['admission', /apiserver\/admission\/|apiserver\/quota\//],
  ['authentication, authorization', /apiserver\/(auth|authz)\//],
  ['audit', /apiserver\/audit\//],
  ['watch cache', /apiserver\/watch\//],
  ['validation (schemas)', /apiserver\/schema\/|node_modules\/ajv/],
  ['request body parsing', /apiserver\/http\/(body|yaml|structure-limits)/],
  ['response encoding', /apiserver\/http\/(respond|negotiate|protobuf)/],
  ['routing, flow control', /apiserver\/http\//],
  ['registry (defaults, checks, metadata)', /apiserver\/registry\/|apiserver\/crds\/|apis\//],
  ['metrics', /node_modules\/prom-client|apiserver\/metrics\.ts/],
  ['TLS', /node:(_tls|tls)|internal\/tls/],
  ['HTTP and TLS (Node)', /node:(_http|http)|internal\/http/],
];

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  /** Microseconds on the monotonic clock (process.hrtime's). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A span of the monotonic clock, in microseconds. */
interface Window {
  from: number;
  to: number;
}

/** Now on the clock V8's profiler stamps samples with, in microseconds. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/** Microseconds of CPU by stage (idle excluded), of the samples taken within the window. */
function byStage(profile: CpuProfile, window: Window): Map<string, number> {
  const parent = new Map<number, number>();
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stageOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = stageOf.get(id);
    if (known) return known;
    const frame = nodes.get(id)!.callFrame;
    let stage: string | undefined;
    if (frame.functionName === '(garbage collector)') stage = 'garbage collection';
    else if (frame.functionName === '(idle)') stage = 'idle';
    else stage = STAGES.find(([, pattern]) => pattern.test(frame.url))?.[0];
    if (!stage) {
      const up = parent.get(id);
      stage = up === undefined ? 'other (Node, runtime)' : resolve(up);
    }
    stageOf.set(id, stage);
    return stage;
  };
  const totals = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (at < window.from || at > window.to) return;
    const stage = resolve(id);
    if (stage !== 'idle') totals.set(stage, (totals.get(stage) ?? 0) + delta);
  });
  return totals;
}

/** The verbs profiled, in the order they run; `watch line` is one event line sent to one watcher. */
const VERBS = ['create', 'get', 'update', 'patch', 'apply', 'list', 'watch line'] as const;
type Verb = (typeof VERBS)[number];

/** One verb's requests: when they ran and how many there were. */
interface Phase {
  window: Window;
  requests: number;
}

/** What a list of the profile reads per request (kubectl's default chunk size). */
const LIST_PAGE = 500;
/** Watchers of the watch phase. */
const WATCHERS = 100;

/** Runs the API server under --cpu-prof, warms it up, runs every verb's requests in turn, stops it; its profile and when each verb ran. */
async function profiledRun(etcd: EtcdInstance, count: number): Promise<{ profile: CpuProfile; phases: Map<Verb, Phase> }> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-prof-'));
  const profDir = path.join(home, 'profile');
  const phases = new Map<Verb, Phase>();
  const closers: Array<() => void> = [];
  const api = await startBenchApiServer(home, ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', '/photon-prof/'], { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
  try {
    const { client } = api;
    const expectStatus = async (status: number, what: string, pending: Promise<{ status: number; text: string }>) => {
      const result = await pending;
      if (result.status !== status) throw new Error(`${what}: ${result.status} ${result.text.slice(0, 300)}`);
      return result;
    };
    await client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prof' } }));
    const collection = '/apis/network.photoncloud.io/v1alpha1/namespaces/prof/vpcs';
    const vpc = (name: string, labels: Record<string, string> = {}) => JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, labels }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
    const patch = (urlPath: string, body: string, contentType: string) => client.request('PATCH', urlPath, body, { 'Content-Type': contentType });
    const merge = (labels: Record<string, string>) => JSON.stringify({ metadata: { labels } });
    const phase = async (verb: Verb, requests: number, operation: (index: number) => Promise<unknown>) => {
      const window = { from: monotonicMicros(), to: 0 };
      await runConcurrent(requests, 64, operation);
      window.to = monotonicMicros();
      phases.set(verb, { window, requests });
    };

    await runConcurrent(500, 64, (index) => expectStatus(201, 'warm-up create', client.request('POST', collection, vpc(`warm-${index}`))));
    await phase('create', count, (index) => expectStatus(201, 'create', client.request('POST', collection, vpc(`vpc-${index}`))));
    await phase('get', count, (index) => expectStatus(200, 'get', client.request('GET', `${collection}/vpc-${index}`)));
    // A PUT without resourceVersion is an unconditional update (as `kubectl replace --force` is not: it is one write).
    await phase('update', count, (index) => expectStatus(200, 'update', client.request('PUT', `${collection}/vpc-${index}`, vpc(`vpc-${index}`, { updated: 'true' }))));
    await phase('patch', count, (index) => expectStatus(200, 'patch', patch(`${collection}/vpc-${index}`, merge({ patched: 'true' }), 'application/merge-patch+json')));
    await phase('apply', count, (index) => expectStatus(200, 'apply', patch(`${collection}/vpc-${index}?fieldManager=bench&force=true`, vpc(`vpc-${index}`, { applied: 'true' }), 'application/apply-patch+yaml')));
    const lists = Math.max(20, Math.round(count / 10));
    await phase('list', lists, () => expectStatus(200, 'list', client.request('GET', `${collection}?limit=${LIST_PAGE}`)));

    // Watchers from now on (no initial events), then patches they all see.
    const revision = JSON.parse((await expectStatus(200, 'list', client.request('GET', `${collection}?limit=1`))).text).metadata.resourceVersion;
    const events = Math.max(10, Math.round(count / 5));
    let lines = 0;
    let open = 0;
    for (let index = 0; index < WATCHERS; index++) closers.push(client.watch(`${collection}?watch=true&resourceVersion=${revision}`, () => lines++, () => open++));
    await waitFor('every watch to connect', () => open === WATCHERS, { timeoutMs: 60_000 });
    const window = { from: monotonicMicros(), to: 0 };
    await runConcurrent(events, 64, (index) => expectStatus(200, 'patch', patch(`${collection}/vpc-${index}`, merge({ watched: 'true' }), 'application/merge-patch+json')));
    await waitFor('every watcher to see every event', () => lines >= WATCHERS * events, { timeoutMs: 120_000, intervalMs: 5 });
    window.to = monotonicMicros();
    phases.set('watch line', { window, requests: events });
  } finally {
    for (const close of closers) close();
    await api.stop(); // SIGTERM: Node writes the profile on the way out
  }
  const [file] = await fs.readdir(profDir);
  const profile = JSON.parse(await fs.readFile(path.join(profDir, file), 'utf8')) as CpuProfile;
  await fs.rm(home, { recursive: true, force: true });
  return { profile, phases };
}

/** Microseconds of CPU per request by stage, for each verb. */
function perRequest(profile: CpuProfile, phases: Map<Verb, Phase>): Map<Verb, Map<string, number>> {
  const result = new Map<Verb, Map<string, number>>();
  for (const [verb, { window, requests }] of phases) {
    const totals = byStage(profile, window);
    if (verb === 'watch line') {
      // The window also ran `requests` patches: take their cost (the patch verb's) off, spread the rest over the lines.
      const patch = result.get('patch')!;
      const lines = requests * WATCHERS;
      result.set(verb, new Map([...totals].map(([stage, micros]) => [stage, Math.max(0, micros - (patch.get(stage) ?? 0) * requests) / lines])));
    } else {
      result.set(verb, new Map([...totals].map(([stage, micros]) => [stage, micros / requests])));
    }
  }
  return result;
}

export async function benchRequestProfile(count: number, keepProfile?: string): Promise<void> {
  console.log(`\n## CPU per request by verb and stage, µs (photon apiserver under --cpu-prof on etcd; ${count} of each write and get at c=64, lists of a ${LIST_PAGE}-object page, a watch line to one of ${WATCHERS} watchers)`);
  const etcd = await startEtcd();
  try {
    const { profile, phases } = await profiledRun(etcd, count);
    if (keepProfile) await fs.writeFile(keepProfile, JSON.stringify({ ...profile, windows: Object.fromEntries([...phases].map(([verb, { window, requests }]) => [verb, { ...window, requests }])) }));
    const costs = perRequest(profile, phases);
    const totalOf = (verb: Verb) => [...costs.get(verb)!.values()].reduce((sum, micros) => sum + micros, 0);
    const create = costs.get('create')!;
    // Stages in the order of their cost to a create (the figure tracked since the first profile), then the rest.
    const stages = [...new Set([...[...create].sort((a, b) => b[1] - a[1]).map(([stage]) => stage), ...VERBS.flatMap((verb) => [...costs.get(verb)!.keys()])])];
    const cell = (value: string) => value.padStart(11);
    console.log(`${'stage'.padEnd(40)}${VERBS.map((verb) => cell(verb)).join('')}`);
    console.log(`${'total'.padEnd(40)}${VERBS.map((verb) => cell(fmt(totalOf(verb)))).join('')}`);
    for (const stage of stages) {
      // A stage shows when it is at least 1% of some verb's cost.
      if (!VERBS.some((verb) => (costs.get(verb)!.get(stage) ?? 0) >= totalOf(verb) * 0.01)) continue;
      console.log(`  ${stage.padEnd(38)}${VERBS.map((verb) => cell(fmt(costs.get(verb)!.get(stage) ?? 0))).join('')}`);
    }
    console.log(`per core at these costs: ${VERBS.map((verb) => `${verb} ${fmt(1e6 / totalOf(verb), 0)}/s`).join(', ')}`);
    for (const verb of VERBS) {
      // createCpu keeps the name it has had since the first profile: earlier results compare.
      const section = `${verb.replace(/ (\w)/g, (_, letter: string) => letter.toUpperCase())}Cpu`;
      record(section, 'totalMicroseconds', totalOf(verb));
      for (const [stage, micros] of costs.get(verb)!) record(section, stage, micros);
    }
  } finally {
    await etcd.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const number = process.argv.slice(2).find((argument) => /^\d+$/.test(argument));
  const keep = process.argv.find((argument) => argument.startsWith('--keep-profile='))?.slice('--keep-profile='.length);
  benchRequestProfile(number ? Number(number) : process.argv.includes('--quick') ? 1000 : 5000, keep).then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
