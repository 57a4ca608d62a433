// `npm run bench -- ab --base <rev> [--rounds N] [--requests N] [--client]`: the API server's CPU per request of
// this checkout against another revision's, in one run. On a shared 2-core machine the same build's figures move by
// 10–40% from one run to the next, so a change of a few percent only shows against a baseline measured
// alternately beside it: each round starts this tree's `photon apiserver` and the base's (a git worktree of
// <rev> in a temporary directory, sharing this checkout's node_modules), in turn, on one etcd, and sends each the
// same Vpc creates and GETs at c=64. A request's cost is the server's CPU time (user + system of its process
// tree — workers too — from /proc) over the requests, divided by their number: all of it (TLS, GC, the store client), not only what a
// profiler attributes. Prints each round and the medians, and the ratio this/base (< 1: this tree is cheaper).
// `--client`: the typed client's (apis/client: controllers, agents, photonctl) own CPU per request instead —
// this tree's and the base's clients, both loaded into this process, take turns against one API server (this
// tree's) at c=8, and the cost is this process's CPU over their requests.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startEtcd } from '../../test/env/etcd.ts';
import { startBenchApiServer } from './api.ts';
import { stringOption, wholeNumberOption } from './args.ts';
import { fmt, runConcurrent } from './load.ts';
import { cpuSeconds } from './proc.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const run = promisify(execFile);

interface Costs {
  createMicros: number;
  getMicros: number;
}

/** One build's API server on etcd: warm it up, then its CPU per create and per GET at c=64. */
async function measure(root: string, etcdEndpoint: string, prefix: string, requests: number): Promise<Costs> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-ab-'));
  const api = await startBenchApiServer(home, ['--storage', 'etcd', '--etcd-endpoints', etcdEndpoint, '--etcd-prefix', prefix], { root });
  try {
    const pid = api.process.child.pid!;
    await api.client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ab' } }));
    await runConcurrent(1000, 64, (index) => api.client.create('ab', `warm-${index}`));
    let before = await cpuSeconds(pid);
    await runConcurrent(requests, 64, (index) => api.client.create('ab', `vpc-${index}`));
    const createMicros = ((await cpuSeconds(pid)) - before) * 1e6 / requests;
    before = await cpuSeconds(pid);
    await runConcurrent(requests, 64, async (index) => {
      const { status } = await api.client.request('GET', `/apis/network.photoncloud.io/v1alpha1/namespaces/ab/vpcs/vpc-${index}`);
      if (status !== 200) throw new Error(`GET vpc-${index}: ${status}`);
    });
    const getMicros = ((await cpuSeconds(pid)) - before) * 1e6 / requests;
    return { createMicros, getMicros };
  } finally {
    await api.stop();
    await fs.rm(home, { recursive: true, force: true });
  }
}

/** The typed client's calls this bench makes, as either checkout's `apis/client` exports them. */
interface TypedClient {
  create(resource: unknown, object: unknown): Promise<unknown>;
  get(resource: unknown, name: string, options: { namespace: string }): Promise<unknown>;
  close(): void;
}

/**
 * One checkout's typed client, loaded from its own files: its CPU per create and per GET at c=8 (a controller's
 * few workers) against `kubeconfig`'s server, from this process's CPU time.
 */
async function measureClient(root: string, kubeconfig: string, namespace: string, requests: number): Promise<Costs> {
  const { clientFromKubeconfig } = (await import(path.join(root, 'apis/client/index.ts'))) as { clientFromKubeconfig(file: string, options: { component: string }): TypedClient };
  const { VpcResource } = (await import(path.join(root, 'apis/network/v1alpha1/index.ts'))) as { VpcResource: { apiVersion: string } };
  const client = clientFromKubeconfig(kubeconfig, { component: 'ab' });
  const vpc = (name: string) => ({ apiVersion: VpcResource.apiVersion, kind: 'Vpc', metadata: { name, namespace }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
  const cpuMicros = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  try {
    await runConcurrent(500, 8, (index) => client.create(VpcResource, vpc(`warm-${index}`)));
    let before = cpuMicros();
    await runConcurrent(requests, 8, (index) => client.create(VpcResource, vpc(`vpc-${index}`)));
    const createMicros = (cpuMicros() - before) / requests;
    before = cpuMicros();
    await runConcurrent(requests, 8, (index) => client.get(VpcResource, `vpc-${index}`, { namespace }));
    return { createMicros, getMicros: (cpuMicros() - before) / requests };
  } finally {
    client.close();
  }
}

export async function runAbBench(args: string[]): Promise<void> {
  const base = stringOption(args, '--base');
  if (!base) throw new Error('usage: npm run bench -- ab --base <git revision> [--rounds N] [--requests N] [--client]');
  const clientSide = args.includes('--client');
  const rounds = wholeNumberOption(args, '--rounds', 4);
  const requests = wholeNumberOption(args, '--requests', 8000);
  const { stdout } = await run('git', ['rev-parse', '--verify', `${base}^{commit}`], { cwd: ROOT });
  const commit = stdout.trim();
  const worktree = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-ab-base-'));
  await run('git', ['worktree', 'add', '--detach', worktree, commit], { cwd: ROOT });
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(worktree, 'node_modules'));
  const etcd = await startEtcd();
  const results: Record<'this' | 'base', Costs[]> = { this: [], base: [] };
  // --client: one API server (this tree's) for both clients, with a namespace per round and side.
  const home = clientSide ? await fs.mkdtemp(path.join(os.tmpdir(), 'photon-ab-')) : undefined;
  const server = home ? await startBenchApiServer(home, ['--storage', 'etcd', '--etcd-endpoints', etcd.endpoint]) : undefined;
  try {
    const what = clientSide ? 'the typed client\'s CPU per request' : 'API server CPU per request';
    console.log(`\n## ${what}, this tree against ${base} (${commit.slice(0, 10)}): ${rounds} rounds, ${requests} creates and GETs at c=${clientSide ? 8 : 64} each`);
    for (let round = 0; round < rounds; round++) {
      // Alternating which goes first: a machine that slows down during a round does not favour one side.
      for (const side of round % 2 === 0 ? (['base', 'this'] as const) : (['this', 'base'] as const)) {
        const root = side === 'this' ? ROOT : worktree;
        let costs: Costs;
        if (server && home) {
          const namespace = `ab-${round}-${side}`;
          await server.client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }));
          costs = await measureClient(root, path.join(home, 'admin.kubeconfig'), namespace, requests);
        } else costs = await measure(root, etcd.endpoint, `/ab-${round}-${side}/`, requests);
        results[side].push(costs);
        console.log(`round ${round + 1} ${side.padEnd(4)}  create ${fmt(costs.createMicros, 0)} µs   get ${fmt(costs.getMicros, 0)} µs`);
      }
    }
    const median = (side: 'this' | 'base', key: keyof Costs) => {
      const sorted = results[side].map((costs) => costs[key]).sort((a, b) => a - b);
      const middle = Math.floor(sorted.length / 2);
      return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
    };
    for (const key of ['createMicros', 'getMicros'] as const) {
      const verb = key === 'createMicros' ? 'create' : 'get';
      console.log(`${verb.padEnd(6)} median this ${fmt(median('this', key), 0)} µs, base ${fmt(median('base', key), 0)} µs: ratio ${fmt(median('this', key) / median('base', key), 3)}`);
    }
  } finally {
    await server?.stop();
    if (home) await fs.rm(home, { recursive: true, force: true });
    await etcd.stop();
    await run('git', ['worktree', 'remove', '--force', worktree], { cwd: ROOT }).catch(() => fs.rm(worktree, { recursive: true, force: true }));
  }
}
