// Unread watches must not pin memory (issue 7, class 4), and one user must not be able to take the watch
// budget from others. Against a real `photon apiserver` in its own process, on the embedded store:
//  - ~100 MB of large ConfigMaps, then 40 watches on them whose client never reads: the server's RSS stays
//    bounded, /readyz keeps answering within 1 s, the readers are cut off (metric, connections closed) once
//    changes pile up behind them, and a watcher that reads in parallel gets every event in order;
//  - a user over its watch limit gets 429 TooManyRequests with Retry-After while another user is served;
//  - a huge timeoutSeconds is clamped (the watch stays open), a negative or fractional one is a 400.
// Tenants authenticate with client certificates signed by the cluster CA (CN = user, no groups), the way a
// user without system:masters would; the admin token is exempt from the per-user limits.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { issueCertificate, type KeyPairPem } from '../../apiserver/auth/pki.ts';
import { probeReadyz, rssOf, startApiServerProcess, type ApiServerProcess, type ReadyzReport } from '../env/apiserver-process.ts';
import type { WatchStream } from '../env/http.ts';
import { waitFor, WaitAborted } from '../env/process.ts';

const MiB = 1024 * 1024;
const BIG_NS = 'watch-memory';
const OBJECTS = 200;
const OBJECT_BYTES = 500_000;
const UNREAD_WATCHES = 40;
const MODIFICATIONS = 20;
const WATCHES_PER_USER = 45;
/**
 * What 40 unread watches may add to the server's RSS. Each may leave at most the 4 MiB buffer cap unread
 * (40 × 4 MiB = 160 MiB if all were at the cap at once, which the cut-off prevents), and until the client
 * socket's kernel buffers are full (several MB each on loopback) the server encodes objects for it, which is
 * short-lived garbage the GC returns later (as is the reader's own 100 MB initial list): measured +140–230 MiB at the peak. Before the fix each unread
 * watch kept ~185 MB (its initial list, up to the old 64 MiB cap, plus copies in the TLS layer): 40 of them
 * ~7 GB; the sampler below stops the test at the bound.
 */
const RSS_BOUND = 400 * MiB;

/** A process and its descendants, from /proc. */
function processTree(pid: number): number[] {
  const children = fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
  return [pid, ...children.flatMap(processTree)];
}

/**
 * The API server's RSS. `photon apiserver` runs the server in a child of the CLI process, so
 * ApiServerProcess.rssBytes() (the CLI's own RSS) does not see it: sum the whole process tree.
 */
function serverRss(server: ApiServerProcess): number {
  const rss = (pid: number) => {
    try {
      return rssOf(pid);
    } catch {
      return 0; // exited meanwhile
    }
  };
  return processTree(server.process.child.pid!).reduce((sum, pid) => sum + rss(pid), 0);
}

const configMaps = (namespace: string) => `/api/v1/namespaces/${namespace}/configmaps`;

/** A watch opened with raw https as a given user; the unread ones pause their response and never read. */
interface RawWatch {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The connection is gone (the server cut it off or ended the stream). */
  closed: boolean;
  bytes: number;
  /** With parse: each event's type, name, resourceVersion and `round` label (not the large object). */
  events: Array<{ type: string; name: string; resourceVersion: number; round?: string }>;
  resume(): void;
  close(): void;
}

describe('watch memory and per-user limits', () => {
  let server: ApiServerProcess;
  const tenants: Record<string, KeyPairPem> = {};
  const open: RawWatch[] = [];
  const streams: WatchStream[] = [];

  /**
   * Opens a watch as `user` (a tenant's client certificate, or the admin token); resolves once the response
   * head arrived (or the connection failed). Lines are split as they arrive (no rescanning of a growing
   * buffer), so a reader of 100 MB does not stall this process and skew the /readyz probe beside it.
   */
  const rawWatch = (user: string, requestPath: string, { read, parse = false }: { read: boolean; parse?: boolean }): Promise<RawWatch> =>
    new Promise((resolve) => {
      const watch: RawWatch = { status: 0, headers: {}, body: '', closed: false, bytes: 0, events: [], resume: () => undefined, close: () => undefined };
      open.push(watch);
      const credentials = user === 'admin' ? { headers: { Authorization: `Bearer ${server.adminToken}` } } : { cert: tenants[user].certificatePem, key: tenants[user].keyPem };
      const request = https.request(new URL(requestPath, server.url), { ca: server.caCertificatePem, agent: false, ...credentials });
      let partial: Buffer[] = [];
      const parseLines = (chunk: Buffer) => {
        let start = 0;
        for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10, start)) {
          partial.push(chunk.subarray(start, newline));
          const event = JSON.parse(Buffer.concat(partial).toString('utf8'));
          partial = [];
          start = newline + 1;
          const metadata = event.object.metadata;
          watch.events.push({ type: event.type, name: metadata.name, resourceVersion: Number(metadata.resourceVersion), round: metadata.labels?.round });
        }
        if (start < chunk.length) partial.push(chunk.subarray(start));
      };
      watch.close = () => request.destroy();
      request.on('error', () => {
        watch.closed = true;
        resolve(watch);
      });
      request.on('close', () => (watch.closed = true));
      request.on('response', (response) => {
        watch.status = response.statusCode ?? 0;
        watch.headers = response.headers;
        // A client that never reads: the socket stops reading once its small buffer is full.
        if (!read) response.pause();
        response.on('data', (chunk: Buffer) => {
          watch.bytes += chunk.length;
          if (watch.body.length < 64 * 1024) watch.body += chunk.toString('utf8');
          if (parse) parseLines(chunk);
        });
        response.on('error', () => undefined);
        watch.resume = () => response.resume();
        resolve(watch);
      });
      request.end();
    });

  const metric = async (name: string, match: string) => {
    const text = (await server.client.request('/metrics')).text;
    return text
      .split('\n')
      .filter((line) => line.startsWith(name) && line.includes(match))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  };

  const createNamespace = async (name: string) => {
    const result = await server.client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) });
    expect(result.status).toBe(201);
  };

  beforeAll(async () => {
    server = await startApiServerProcess({ args: ['--max-watches-per-user', String(WATCHES_PER_USER)] });
    const ca = { certificatePem: server.caCertificatePem, keyPem: fs.readFileSync(path.join(server.home, 'pki', 'ca.key'), 'utf8') };
    for (const user of ['mallory', 'tenant-a', 'tenant-b']) tenants[user] = await issueCertificate(ca, { commonName: user, usage: 'client' });
    // Readers of every namespace's ConfigMaps (RBAC view, cluster-wide): what is under test is how much their
    // watches may hold, not whether they may watch.
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'watch-memory-readers' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: Object.keys(tenants).map((name) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name })),
    };
    expect((await server.client.request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { method: 'POST', body: JSON.stringify(binding) })).status).toBe(201);
  });
  afterAll(async () => {
    for (const watch of open) watch.close();
    for (const stream of streams) stream.close();
    await server?.stop();
  });

  it('serves a user its own watches and a list (client certificate, no groups)', async () => {
    await createNamespace('tenant-home');
    const watch = await rawWatch('tenant-b', `${configMaps('tenant-home')}?watch=true`, { read: true });
    expect(watch.status).toBe(200);
    watch.close();
  });

  it('bounds the memory of watches that are never read, cuts them off, and keeps serving', async () => {
    await createNamespace(BIG_NS);
    const blob = 'x'.repeat(OBJECT_BYTES);
    const started = Date.now();
    for (let first = 0; first < OBJECTS; first += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, OBJECTS - first) }, async (_, offset) => {
          const name = `big-${String(first + offset).padStart(3, '0')}`;
          const result = await server.client.request(configMaps(BIG_NS), { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { blob } }) });
          if (result.status !== 201) throw new Error(`create ${name}: ${result.status} ${result.text.slice(0, 300)}`);
        }),
      );
    }
    const createMs = Date.now() - started;

    const baseline = serverRss(server);

    const readyz = probeReadyz(server);
    let report: ReadyzReport | undefined;
    let peak = baseline;
    // Fails as soon as the server outgrows the bound, before it can take the machine down with it.
    const sample = () => {
      peak = Math.max(peak, serverRss(server));
      if (peak > baseline + RSS_BOUND) throw new WaitAborted(`server RSS ${Math.round(peak / MiB)} MiB exceeds baseline ${Math.round(baseline / MiB)} MiB + ${RSS_BOUND / MiB} MiB`);
      if (!server.alive()) throw new WaitAborted(`the server exited:\n${server.process.output()}`);
    };
    try {
      // A watcher that reads (admin, in parallel with the attack) and 40 that never read.
      const reader = await rawWatch('admin', `${configMaps(BIG_NS)}?watch=true`, { read: true, parse: true });
      const unread = await Promise.all(Array.from({ length: UNREAD_WATCHES }, () => rawWatch('mallory', `${configMaps(BIG_NS)}?watch=true`, { read: false })));
      expect(unread.map((watch) => watch.status)).toEqual(unread.map(() => 200));
      await waitFor('the reading watcher to get the initial list', () => {
        sample();
        return reader.events.length >= OBJECTS;
      }, { timeoutMs: 60_000, intervalMs: 200 });
      // The server has sent the others what their socket buffers take, and waits for them to read.
      await waitFor('the unread watches to stall, still open', async () => {
        sample();
        return (await metric('apiserver_longrunning_requests', 'resource="configmaps"')) >= UNREAD_WATCHES + 1;
      }, { timeoutMs: 30_000, intervalMs: 200 });

      // Changes pile up behind the unread watches until each is over its buffer cap and cut off.
      for (let i = 0; i < MODIFICATIONS; i++) {
        const name = `big-${String(i).padStart(3, '0')}`;
        const result = await server.client.request(`${configMaps(BIG_NS)}/${name}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/merge-patch+json' },
          body: JSON.stringify({ metadata: { labels: { round: String(i) } } }),
        });
        expect(result.status).toBe(200);
        sample();
      }
      await waitFor('every unread watch to be cut off', async () => {
        sample();
        return (await metric('apiserver_watch_slow_readers_terminated_total', 'resource="configmaps"')) >= UNREAD_WATCHES;
      }, { timeoutMs: 60_000, intervalMs: 200 });
      await waitFor('the cut-off watches to be closed', async () => {
        sample();
        return (await metric('apiserver_longrunning_requests', 'resource="configmaps"')) === 1;
      }, { timeoutMs: 30_000, intervalMs: 200 });
      // Seen from the client: once it reads again, the stream stops short of the initial list (truncated).
      for (const watch of unread) watch.resume();
      await waitFor('the clients to see their connections closed', () => unread.every((watch) => watch.closed), { timeoutMs: 60_000 });
      expect(Math.max(...unread.map((watch) => watch.bytes))).toBeLessThan(OBJECTS * OBJECT_BYTES);

      // The reader that kept up has every event, in order.
      await waitFor('the reading watcher to get every change', () => reader.events.length >= OBJECTS + MODIFICATIONS, { timeoutMs: 30_000 });
      expect(reader.closed).toBe(false);
      const names = reader.events.map((event) => `${event.type} ${event.name}`);
      expect(names).toEqual([
        ...Array.from({ length: OBJECTS }, (_, i) => `ADDED big-${String(i).padStart(3, '0')}`),
        ...Array.from({ length: MODIFICATIONS }, (_, i) => `MODIFIED big-${String(i).padStart(3, '0')}`),
      ]);
      const versions = reader.events.slice(OBJECTS).map((event) => event.resourceVersion);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(reader.events.slice(OBJECTS).map((event) => event.round)).toEqual(Array.from({ length: MODIFICATIONS }, (_, i) => String(i)));
    } finally {
      report = await readyz.stop();
      console.log(
        `watch-memory: ${OBJECTS} × ${OBJECT_BYTES / 1000} KB created in ${createMs} ms; RSS baseline ${Math.round(baseline / MiB)} MiB, ` +
          `peak with ${UNREAD_WATCHES} unread watches ${Math.round(peak / MiB)} MiB (+${Math.round((peak - baseline) / MiB)} MiB); ` +
          `/readyz ${report.probes} probes, ${report.failures} failed, max ${Math.round(report.maxMs)} ms`,
      );
    }
    expect(report.failures).toBe(0);
    expect(report.maxMs).toBeLessThan(1000);
    expect(peak - baseline).toBeLessThan(RSS_BOUND);
  });

  it('answers 429 TooManyRequests with Retry-After once a user is over its watch limit, and serves other users', async () => {
    await createNamespace('watch-limits');
    const watches = `${configMaps('watch-limits')}?watch=true`;
    const mine = await Promise.all(Array.from({ length: WATCHES_PER_USER }, () => rawWatch('tenant-a', watches, { read: true })));
    expect(mine.map((watch) => watch.status)).toEqual(mine.map(() => 200));

    const refused = await rawWatch('tenant-a', watches, { read: true });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    await waitFor('the refusal body', () => refused.closed);
    expect(JSON.parse(refused.body)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Too many requests, please try again later.',
      reason: 'TooManyRequests',
      details: { retryAfterSeconds: 1 },
      code: 429,
    });
    expect(await metric('apiserver_flowcontrol_rejected_requests_total', 'kind="watch"')).toBeGreaterThanOrEqual(1);

    // Another user is still served, and the admin (system:masters) is not limited.
    const other = await rawWatch('tenant-b', watches, { read: true });
    expect(other.status).toBe(200);
    const admin = server.client.watch(watches);
    streams.push(admin);
    await waitFor('the admin watch', () => admin.status !== 0);
    expect(admin.status).toBe(200);

    // A closed watch gives its slot back.
    mine[0].close();
    await waitFor('a slot to be free again', async () => {
      const retry = await rawWatch('tenant-a', watches, { read: true });
      if (retry.status === 200) return true;
      retry.close();
      return false;
    }, { timeoutMs: 10_000, intervalMs: 100 });
  });

  it('clamps a huge timeoutSeconds instead of ending the watch at once, and refuses a negative or fractional one', async () => {
    await createNamespace('watch-timeout');
    const huge = server.client.watch(`${configMaps('watch-timeout')}?watch=true&timeoutSeconds=99999999999`);
    streams.push(huge);
    await waitFor('the watch to open', () => huge.status !== 0);
    expect(huge.status).toBe(200);
    const created = await server.client.request(configMaps('watch-timeout'), { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'still-open' } }) });
    expect(created.status).toBe(201);
    await waitFor('the still-open watch to see the new object', () => huge.events.some((event) => event.object.metadata?.name === 'still-open') || huge.ended);
    expect(huge.ended).toBe(false);
    expect(huge.events.map((event) => event.type)).toEqual(['ADDED']);

    for (const value of ['-1', '1.5', '1e9', 'forever']) {
      const result = await server.client.request(`${configMaps('watch-timeout')}?watch=true&timeoutSeconds=${encodeURIComponent(value)}`);
      expect({ value, status: result.status }).toEqual({ value, status: 400 });
      expect(result.json()).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
      expect(result.json().message).toContain('timeoutSeconds');
    }
  });
});
