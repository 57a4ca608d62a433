// `photon apiserver --workers N` as an operator runs it: N API server processes on one port, each with its own
// watch cache, on the embedded store (held by the primary and shared over IPC) and on etcd. What users rely
// on: every worker serves; a write through one is seen by a watch and a read through another; a worker that
// dies is replaced while the others keep serving; SIGTERM stops them all, and when the primary is killed no
// worker outlives it; a taken port stops the whole server with the port's name.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { runKubectl } from '../env/apiserver.ts';
import { startEtcd, type EtcdInstance } from '../env/etcd.ts';
import { freePort } from '../env/ports.ts';
import { processRunning, startProcess, waitFor, type ManagedProcess } from '../env/process.ts';

const PHOTON = path.join(REPOSITORY_ROOT, 'cli', 'photon.ts');
const NS = 'workers';

interface Server {
  process: ManagedProcess;
  home: string;
  port: number;
  token: string;
  ca: string;
  /** Worker number → pid, from the primary's log (the latest start of each). */
  workers(): Map<number, number>;
}

async function startServer(args: string[]): Promise<Server> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-workers-'));
  const port = await freePort();
  const child = startProcess('photon apiserver', process.execPath, ['--import', 'tsx', PHOTON, 'apiserver', '--home', home, '--secure-port', String(port), ...args], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, PHOTON_LOG_FORMAT: 'json', PHOTON_LOG_LEVEL: 'info' },
  });
  const workers = () => {
    const pids = new Map<number, number>();
    for (const line of child.output().split('\n')) {
      if (!line.includes('API server worker serving')) continue;
      const entry = JSON.parse(line) as { worker: number; pid: number };
      pids.set(entry.worker, entry.pid);
    }
    return pids;
  };
  await waitFor('all workers to serve', () => {
    if (child.child.exitCode !== null) throw new Error(`photon apiserver exited early:\n${child.output()}`);
    return child.output().includes('is serving with');
  }, { timeoutMs: 90_000, intervalMs: 200 });
  const kubeconfig = await fs.readFile(path.join(home, 'admin.kubeconfig'), 'utf8');
  const token = /token:\s*(\S+)/.exec(kubeconfig)![1]!;
  const ca = await fs.readFile(path.join(home, 'pki', 'ca.crt'), 'utf8');
  return { process: child, home, port, token, ca, workers };
}

/** One request on a connection of its own (so the primary deals it to the next worker). */
function request(server: Server, method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: server.port, path: url, method, ca: server.ca, agent: false, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${url}: no answer in 15 s`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A watch's ADDED names, read as they arrive. */
function watchNames(server: Server, url: string): { names: string[]; close(): void } {
  const names: string[] = [];
  const req = https.request({ host: '127.0.0.1', port: server.port, path: url, ca: server.ca, agent: false, headers: { authorization: `Bearer ${server.token}` } }, (response) => {
    let pending = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const event = JSON.parse(pending.slice(0, newline)) as { type: string; object: { metadata: { name: string } } };
        pending = pending.slice(newline + 1);
        if (event.type === 'ADDED') names.push(event.object.metadata.name);
      }
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { names, close: () => req.destroy() };
}

const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { name } });

/** ConfigMap creates answered 201, as /metrics counts them. */
async function configMapCreates(server: Server): Promise<number> {
  const text = (await new Promise<string>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: server.port, path: '/metrics', ca: server.ca, agent: false, headers: { authorization: `Bearer ${server.token}` } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  }));
  return text.split('\n').filter((line) => line.startsWith('apiserver_request_total{') && line.includes('verb="CREATE"') && line.includes('resource="configmaps"') && line.includes('code="201"')).reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function auditedCreates(file: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.includes('"verb":"create"') && line.includes('"resource":"configmaps"') && line.includes('"stage":"ResponseComplete"')).length;
}

describe('photon apiserver --workers 2 on the embedded store', () => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer(['--workers', '2']);
    expect((await request(server, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await server?.process.stop(20_000);
    if (server) await fs.rm(server.home, { recursive: true, force: true });
  });

  it('serves from both workers: each audits what it served, and a watch on one sees every write made through either', async () => {
    expect([...server.workers().keys()].sort()).toEqual([1, 2]);
    const createsBefore = await configMapCreates(server);
    const watch = watchNames(server, `/api/v1/namespaces/${NS}/configmaps?watch=1`);
    try {
      const names = Array.from({ length: 12 }, (_, index) => `spread-${index}`);
      for (const name of names) {
        expect((await request(server, 'POST', `/api/v1/namespaces/${NS}/configmaps`, configMap(name))).status).toBe(201);
        // Read back at once on another connection (another worker): a read without resourceVersion is never stale.
        const read = await request(server, 'GET', `/api/v1/namespaces/${NS}/configmaps/${name}`);
        expect(read).toMatchObject({ status: 200, body: { data: { name } } });
      }
      await waitFor('the watch to see every create', () => names.every((name) => watch.names.includes(name)), { timeoutMs: 20_000, intervalMs: 50 });
      const list = await request(server, 'GET', `/api/v1/namespaces/${NS}/configmaps`);
      expect(list.body.items.map((item: { metadata: { name: string } }) => item.metadata.name).sort()).toEqual([...names].sort());
    } finally {
      watch.close();
    }
    // Connections are dealt round-robin (above, every create and the read after it landed on different
    // workers): creates in a row go to both, each audited in its worker's own hash-chained log.
    for (let index = 0; index < 4; index++) expect((await request(server, 'POST', `/api/v1/namespaces/${NS}/configmaps`, configMap(`audited-${index}`))).status).toBe(201);
    await waitFor('both audit logs to hold creates', async () => (await auditedCreates(path.join(server.home, 'audit', 'audit.log'))) > 0 && (await auditedCreates(path.join(server.home, 'audit', 'audit.worker-2.log'))) > 0, { timeoutMs: 10_000 });
    // /metrics sums every worker's counters, whichever worker answers: each of the 16 creates counts once.
    expect((await configMapCreates(server)) - createsBefore).toBe(16);
    expect((await configMapCreates(server)) - createsBefore).toBe(16);
    for (const file of ['audit.log', 'audit.worker-2.log']) {
      const verify = startProcess('photon audit verify', process.execPath, ['--import', 'tsx', PHOTON, 'audit', 'verify', path.join(server.home, 'audit', file)], { cwd: REPOSITORY_ROOT });
      expect(await verify.exited).toBe(0);
    }
    const kubeconfig = path.join(server.home, 'admin.kubeconfig');
    const got = await runKubectl(kubeconfig, ['get', 'configmap', 'spread-3', '-n', NS, '-o', 'jsonpath={.data.name}']);
    expect(got).toMatchObject({ code: 0, stdout: 'spread-3' });
  });

  it('replaces a worker that dies while the other keeps serving', async () => {
    const before = server.workers().get(2)!;
    process.kill(before, 'SIGKILL');
    // Once the primary has seen it go, every request on a new connection succeeds: it deals only to live
    // workers. (A connection dealt in the moment between the crash and the primary noticing is lost, as with
    // any crashed server; clients time out and retry.)
    await waitFor('the primary to notice', () => server.process.output().includes('API server worker exited; restarting it'), { timeoutMs: 10_000, intervalMs: 20 });
    for (let index = 0; index < 6; index++) {
      expect((await request(server, 'POST', `/api/v1/namespaces/${NS}/configmaps`, configMap(`during-${index}`))).status).toBe(201);
    }
    await waitFor('worker 2 restarted', () => server.workers().get(2) !== before, { timeoutMs: 30_000, intervalMs: 200 });
    expect((await request(server, 'GET', `/api/v1/namespaces/${NS}/configmaps/during-5`)).status).toBe(200);
  }, 60_000);

  it('stops every worker on SIGTERM, keeping the data for the next start', async () => {
    expect((await request(server, 'POST', `/api/v1/namespaces/${NS}/configmaps`, configMap('kept'))).status).toBe(201);
    const pids = [...server.workers().values()];
    await server.process.stop(20_000);
    expect(server.process.child.exitCode).toBe(0);
    for (const pid of pids) expect(processRunning(pid)).toBe(false);
    const again = startProcess('photon apiserver', process.execPath, ['--import', 'tsx', PHOTON, 'apiserver', '--home', server.home, '--secure-port', String(server.port)], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, PHOTON_LOG_FORMAT: 'json', PHOTON_LOG_LEVEL: 'info' },
    });
    try {
      await waitFor('the single server to serve', () => {
        if (again.child.exitCode !== null) throw new Error(`photon apiserver exited early:\n${again.output()}`);
        return again.output().includes('is serving');
      }, { timeoutMs: 60_000 });
      expect((await request(server, 'GET', `/api/v1/namespaces/${NS}/configmaps/kept`)).body).toMatchObject({ data: { name: 'kept' } });
    } finally {
      await again.stop(20_000);
    }
  }, 90_000);
});

describe('photon apiserver --workers on etcd, and its failures', () => {
  let etcd: EtcdInstance;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  it('every worker opens its own etcd client: a write through one is read through the other', async () => {
    const server = await startServer(['--workers', '2', '--storage', 'etcd', '--etcd-endpoints', etcd.endpoint]);
    try {
      expect((await request(server, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).status).toBe(201);
      for (let index = 0; index < 4; index++) {
        expect((await request(server, 'POST', `/api/v1/namespaces/${NS}/configmaps`, configMap(`etcd-${index}`))).status).toBe(201);
        expect((await request(server, 'GET', `/api/v1/namespaces/${NS}/configmaps/etcd-${index}`)).status).toBe(200);
      }
      // No worker outlives a killed primary: their IPC ends with it.
      const pids = [...server.workers().values()];
      expect(pids).toHaveLength(2);
      await server.process.kill();
      await waitFor('the workers to exit with their primary', () => pids.every((pid) => !processRunning(pid)), { timeoutMs: 20_000, intervalMs: 100 });
    } finally {
      await server.process.stop();
      await fs.rm(server.home, { recursive: true, force: true });
    }
  }, 120_000);

  it('a taken port stops the whole server at once, naming the port; bad --workers values are usage errors', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as net.AddressInfo).port;
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-workers-'));
    try {
      const server = startProcess('photon apiserver', process.execPath, ['--import', 'tsx', PHOTON, 'apiserver', '--home', home, '--secure-port', String(taken), '--workers', '2'], { cwd: REPOSITORY_ROOT });
      expect(await server.exited).toBe(78);
      expect(server.output()).toContain(`127.0.0.1:${taken}`);
      expect(server.output()).toContain('already in use');
      for (const value of ['0', 'many', '65']) {
        const bad = startProcess('photon apiserver', process.execPath, ['--import', 'tsx', PHOTON, 'apiserver', '--home', home, '--workers', value], { cwd: REPOSITORY_ROOT });
        expect(await bad.exited).toBe(2);
        expect(bad.output()).toContain('--workers');
      }
    } finally {
      holder.close();
      await fs.rm(home, { recursive: true, force: true });
    }
  }, 60_000);
});
