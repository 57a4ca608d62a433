// Where one create's CPU goes in the API server, by stage. `photon apiserver` runs as its own process under
// `--cpu-prof` on etcd, is warmed up (500 creates), then takes N creates at concurrency 64. Only the samples
// taken while those N ran count, divided by N: the profile's timestamps and this process's hrtime are the same
// monotonic clock, so the window is exact. (An earlier version subtracted a second run without the N creates;
// start-up work — compiling every kind's schema — varies between runs by more than a stage's whole cost, and
// showed up as e.g. "validation" at 10% of a create.) Each sample's CPU goes to the innermost frame on its stack
// that belongs to a stage (so JSON.parse called from the body parser counts as parsing); garbage collection is
// its own stage. The profiler samples wall time: a thread preempted by other processes on a full machine is
// charged to what it was running, so totals read high there; shares between stages hold.
// Options: --quick (fewer creates), a number (N).
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startEtcd, type EtcdInstance } from '../../test/env/etcd.ts';
import { freePort } from '../../test/env/ports.ts';
import { startProcess, waitFor } from '../../test/env/process.ts';
import { fmt, runConcurrent } from './load.ts';
import { record } from './results.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

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

/** Runs the API server under --cpu-prof, warms it up, makes `creates` Vpcs at c=64, stops it; its profile and when the creates ran. */
async function profiledRun(etcd: EtcdInstance, creates: number): Promise<{ profile: CpuProfile; window: Window }> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-prof-'));
  const profDir = path.join(home, 'profile');
  const port = await freePort();
  const prefix = '/photon-prof/';
  const server = startProcess('apiserver', process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', 'tsx', path.join(ROOT, 'apiserver/main.ts'), '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', prefix, '--secure-port', String(port), '--home', home, '--log-level', 'warn'], { cwd: ROOT });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 128 });
  const window: Window = { from: 0, to: 0 };
  try {
    const kubeconfig = path.join(home, 'admin.kubeconfig');
    await waitFor('API server kubeconfig', async () => (await fs.stat(kubeconfig).catch(() => undefined)) !== undefined, { timeoutMs: 60_000 });
    const token = /token:\s*(\S+)/.exec(await fs.readFile(kubeconfig, 'utf8'))![1];
    agent.options.ca = await fs.readFile(path.join(home, 'pki', 'ca.crt'), 'utf8');
    const request = (method: string, urlPath: string, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const sent = https.request(new URL(urlPath, `https://127.0.0.1:${port}`), { method, agent, headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) } }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        });
        sent.on('error', reject);
        sent.end(body);
      });
    await waitFor('API server ready', async () => (await request('GET', '/readyz').catch(() => 0)) === 200, { timeoutMs: 60_000 });
    await request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prof' } }));
    const create = async (name: string) => {
      const status = await request('POST', '/apis/network.photoncloud.io/v1alpha1/namespaces/prof/vpcs', JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name }, spec: { cidrBlocks: ['10.0.0.0/16'] } }));
      if (status !== 201) throw new Error(`create ${name}: ${status}`);
    };
    await runConcurrent(500, 64, (index) => create(`warm-${index}`));
    window.from = monotonicMicros();
    await runConcurrent(creates, 64, (index) => create(`vpc-${index}`));
    window.to = monotonicMicros();
  } finally {
    agent.destroy();
    await server.stop(); // SIGTERM: Node writes the profile on the way out
  }
  const [file] = await fs.readdir(profDir);
  const profile = JSON.parse(await fs.readFile(path.join(profDir, file), 'utf8')) as CpuProfile;
  await fs.rm(home, { recursive: true, force: true });
  return { profile, window };
}

export async function benchCreateProfile(creates: number): Promise<void> {
  console.log(`\n## CPU per create by stage (photon apiserver under --cpu-prof; the samples taken while it made ${creates} Vpc creates at c=64)`);
  const etcd = await startEtcd();
  try {
    const { profile, window } = await profiledRun(etcd, creates);
    const loaded = byStage(profile, window);
    const rows = [...loaded.keys()].map((stage) => [stage, loaded.get(stage)! / creates] as const).sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((sum, [, micros]) => sum + micros, 0);
    console.log(`total: ${fmt(total)} µs of CPU per create (${fmt(1e6 / total)} creates/s per core at this cost)`);
    record('createCpu', 'totalMicroseconds', total);
    for (const [stage, micros] of rows) record('createCpu', stage, micros);
    for (const [stage, micros] of rows) if (micros >= total * 0.005) console.log(`  ${stage.padEnd(40)} ${fmt(micros).padStart(8)} µs  ${fmt((100 * micros) / total).padStart(5)}%`);
  } finally {
    await etcd.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const number = process.argv.slice(2).find((argument) => /^\d+$/.test(argument));
  benchCreateProfile(number ? Number(number) : process.argv.includes('--quick') ? 1000 : 5000).then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
