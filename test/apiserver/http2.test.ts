// HTTP/2 on the API port (issue 15): kubectl negotiates it by ALPN and every verb it uses works over it
// (create, list, watch, impersonation with repeated headers), clients without ALPN still get HTTP/1.1, and
// HTTP/2's own attack surface is bounded — streams per connection, header list size, connections that open
// no stream, request bodies that trickle, watches that are never read, and a rapid-reset flood — while other
// clients are served throughout. Short limits come from flags, as an operator would set them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http2 from 'node:http2';
import tls from 'node:tls';
import { runKubectl } from '../env/apiserver.ts';
import { duringAttack, metricValue, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';
import { waitFor } from '../env/process.ts';

const MAX_STREAMS = 8;
const NS = 'h2';

let server: ApiServerProcess;
const sessions = new Set<http2.ClientHttp2Session>();

beforeAll(async () => {
  server = await startApiServerProcess({ args: ['--request-headers-timeout', '2', '--http2-max-streams-per-connection', String(MAX_STREAMS)] });
  const created = await server.client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }) });
  expect(created.status).toBe(201);
}, 120_000);

afterAll(async () => {
  for (const session of sessions) session.destroy();
  await server?.stop();
});

/** An HTTP/2 connection to the server, once its SETTINGS arrived (so its limits are known). */
async function connect(): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(server.url, { ca: server.caCertificatePem });
  sessions.add(session);
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  return session;
}

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/** One request on a session, read to its end. */
function request(session: http2.ClientHttp2Session, path: string, options: { method?: string; body?: string; headers?: http2.OutgoingHttpHeaders; token?: string } = {}): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': options.method ?? 'GET', ':path': path, authorization: `Bearer ${options.token ?? server.adminToken}`, ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers });
    let headers: http2.IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (received) => (headers = received));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body }));
    stream.on('error', reject);
    stream.end(options.body);
  });
}

const metric = (name: string, labels: string) => metricValue(server, name, labels);

const configMap = (name: string, data: Record<string, string> = {}) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });

describe('HTTP/2', () => {
  it('is what kubectl negotiates: create, get, watch and impersonation work over it; clients without ALPN get HTTP/1.1', async () => {
    const h2Before = await metric('apiserver_requests_by_protocol_total', 'protocol="2.0"');
    const h1Before = await metric('apiserver_requests_by_protocol_total', 'protocol="1.1"');
    const watch = runKubectl(server.kubeconfig, ['get', 'configmaps', '-n', NS, '--watch', '--request-timeout', '8s', '-o', 'name']);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await runKubectl(server.kubeconfig, ['create', 'configmap', 'from-kubectl', '-n', NS, '--from-literal', 'a=1'])).code).toBe(0);
    const got = await runKubectl(server.kubeconfig, ['get', 'configmap', 'from-kubectl', '-n', NS, '-o', 'jsonpath={.data.a}']);
    expect(got.stdout).toBe('1');
    // --as/--as-group send Impersonate-Group twice: both must arrive as separate groups.
    const whoami = await runKubectl(server.kubeconfig, ['auth', 'whoami', '--as', 'alice', '--as-group', 'team-a', '--as-group', 'team-b', '-o', 'json']);
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout).status.userInfo.groups).toEqual(expect.arrayContaining(['team-a', 'team-b']));
    const watched = await watch;
    expect(watched.stdout).toContain('configmap/from-kubectl');
    expect(await metric('apiserver_requests_by_protocol_total', 'protocol="2.0"')).toBeGreaterThanOrEqual(h2Before + 4);
    // The test's own client offers no ALPN, like client-node: HTTP/1.1.
    expect(await metric('apiserver_requests_by_protocol_total', 'protocol="1.1"')).toBeGreaterThan(h1Before);
  }, 60_000);

  it('multiplexes requests and a watch on one connection, and sends events to the watch', async () => {
    const session = await connect();
    const sentBefore = await metric('apiserver_watch_events_total', 'group="",resource="configmaps"');
    const lines: string[] = [];
    const watch = session.request({ ':path': `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=0`, authorization: `Bearer ${server.adminToken}` });
    watch.setEncoding('utf8');
    watch.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
    watch.on('error', () => undefined);
    await new Promise((resolve) => watch.once('response', resolve));
    const created = await Promise.all(Array.from({ length: 5 }, (_, index) => request(session, `/api/v1/namespaces/${NS}/configmaps`, { method: 'POST', body: configMap(`multiplexed-${index}`) })));
    expect(created.map((response) => response.status)).toEqual([201, 201, 201, 201, 201]);
    await waitFor('the watch to see all five', () => [0, 1, 2, 3, 4].every((index) => lines.some((line) => line.includes(`"multiplexed-${index}"`))), { timeoutMs: 10_000 });
    // Every event sent is counted (tallied per watch, added to the counter when it is read).
    expect(await metric('apiserver_watch_events_total', 'group="",resource="configmaps"')).toBeGreaterThanOrEqual(sentBefore + 5);
    // A bad request is a Status over HTTP/2 as over HTTP/1.
    const bad = await request(session, `/api/v1/namespaces/${NS}/configmaps`, { method: 'POST', body: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}' });
    expect(bad.status).toBe(422);
    expect(JSON.parse(bad.body)).toMatchObject({ kind: 'Status', reason: 'Invalid' });
    watch.close();
    session.close();
  });

  it('advertises its stream and header limits and refuses what exceeds them', async () => {
    const session = await connect();
    expect(session.remoteSettings.maxConcurrentStreams).toBe(MAX_STREAMS);
    expect(session.remoteSettings.maxHeaderListSize).toBeGreaterThanOrEqual(16 * 1024);
    const oversized = session.request({ ':path': '/api/v1/namespaces', authorization: `Bearer ${server.adminToken}`, 'x-padding': 'a'.repeat(64 * 1024) });
    oversized.on('error', () => undefined);
    oversized.end();
    await new Promise((resolve) => oversized.once('close', resolve));
    expect(oversized.rstCode).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
    // The connection itself still serves.
    expect((await request(session, '/api/v1/namespaces')).status).toBe(200);
    session.destroy();
  });

  it('closes a connection that opens no stream, but keeps a quiet watch open past that time', async () => {
    const idle = await connect();
    const quiet = await connect();
    const started = Date.now();
    const lines: string[] = [];
    const watch = quiet.request({ ':path': `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=0&fieldSelector=metadata.name%3Dlater`, authorization: `Bearer ${server.adminToken}` });
    watch.setEncoding('utf8');
    watch.on('data', (chunk: string) => lines.push(chunk));
    watch.on('error', () => undefined);
    await waitFor('the idle connection to be closed by the server', () => idle.closed || idle.destroyed, { timeoutMs: 10_000 });
    expect(Date.now() - started).toBeGreaterThan(1500); // the header timeout (2 s), not at once
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(quiet.closed || quiet.destroyed).toBe(false);
    expect((await server.client.request(`/api/v1/namespaces/${NS}/configmaps`, { method: 'POST', body: configMap('later') })).status).toBe(201);
    await waitFor('the quiet watch to get the event', () => lines.join('').includes('"later"'), { timeoutMs: 10_000 });
    quiet.destroy();
  }, 30_000);

  it('resets a stream whose request body trickles past the request timeout, and serves others meanwhile', async () => {
    const session = await connect();
    const { readyz } = await duringAttack(server, async () => {
      const stream = session.request({ ':method': 'POST', ':path': `/api/v1/namespaces/${NS}/configmaps`, authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' });
      stream.on('error', () => undefined);
      stream.write('{');
      const drip = setInterval(() => !stream.destroyed && stream.write(' '), 300);
      const started = Date.now();
      try {
        await new Promise((resolve) => stream.once('close', resolve));
      } finally {
        clearInterval(drip);
      }
      expect(stream.rstCode).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
      // The whole request may take 3 × 2 s; checked on a timer, so well within 15 s.
      expect(Date.now() - started).toBeGreaterThan(4000);
      expect(Date.now() - started).toBeLessThan(15_000);
    });
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    session.destroy();
  }, 30_000);

  it('cuts off a watch whose client stops reading, without holding its output, and keeps the connection', async () => {
    const session = await connect();
    const before = await metric('apiserver_watch_slow_readers_terminated_total', 'group="",resource="configmaps"');
    const unread = session.request({ ':path': `/api/v1/namespaces/${NS}/configmaps?watch=true&fieldSelector=metadata.name%21%3Dnone`, authorization: `Bearer ${server.adminToken}` });
    unread.on('error', () => undefined);
    await new Promise((resolve) => unread.once('response', resolve));
    unread.pause();
    // 8 × 1 MiB of events: beyond the 4 MiB a watcher may leave unread.
    const blob = 'x'.repeat(1024 * 1024);
    for (let index = 0; index < 8; index++) {
      expect((await server.client.request(`/api/v1/namespaces/${NS}/configmaps`, { method: 'POST', body: configMap(`big-${index}`, { blob }) })).status).toBe(201);
    }
    await waitFor('the unread watch to be cut off', async () => (await metric('apiserver_watch_slow_readers_terminated_total', 'group="",resource="configmaps"')) > before, { timeoutMs: 15_000 });
    await waitFor('its stream to be reset', () => unread.closed || unread.destroyed || unread.rstCode !== undefined, { timeoutMs: 10_000 });
    expect(server.alive()).toBe(true);
    // Only that stream was reset: the same connection serves the next request.
    expect((await request(session, '/api/v1/namespaces')).status).toBe(200);
    session.destroy();
  }, 60_000);

  it('keeps the connection of a client that cancels a few dozen watches at once (an informer factory stopping)', async () => {
    const session = await connect();
    // Quiet watches (no initial events: other tests leave megabytes of ConfigMaps here). This server allows
    // MAX_STREAMS at once, and Node counts a cancelled stream until it has cleaned it up: rounds of half that
    // many, each round cancelled at once (32 cancels within about a second).
    for (let round = 0; round < 8; round++) {
      const watches = Array.from({ length: MAX_STREAMS / 2 }, () => session.request({ ':method': 'GET', ':path': `/api/v1/namespaces/${NS}/configmaps?watch=true&fieldSelector=metadata.name%3Dquiet`, authorization: `Bearer ${server.adminToken}` }));
      await Promise.all(watches.map((watch) => new Promise((resolve) => watch.once('response', resolve))));
      for (const watch of watches) watch.close(http2.constants.NGHTTP2_CANCEL);
      await Promise.all(watches.map((watch) => new Promise((resolve) => watch.once('close', resolve))));
    }
    expect((await request(session, '/api/v1/namespaces')).status).toBe(200);
    expect(session.destroyed).toBe(false);
  });

  it('survives a rapid-reset flood (HEADERS then RST_STREAM, past the stream limit) and serves other clients', async () => {
    const { readyz } = await duringAttack(server, async () => {
      // Raw frames: Node's own client would honour the stream limit, an attacker does not.
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: server.caCertificatePem, servername: 'localhost', ALPNProtocols: ['h2'] });
      let socketError = '';
      socket.on('error', (error: NodeJS.ErrnoException) => (socketError ||= error.code ?? error.message));
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      expect(socket.alpnProtocol).toBe('h2');
      const received = frameTypes(socket);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(0x4, 0, 0, Buffer.alloc(0))]));
      // The client reads nothing while it floods (an attacker need not): what the server sends meanwhile,
      // its GOAWAY included, waits unread in the client's kernel.
      socket.pause();
      let sent = 0;
      for (let batch = 0; batch < 40 && !socket.destroyed; batch++) {
        const frames: Buffer[] = [];
        for (let index = 0; index < 500; index++) {
          const id = 2 * sent++ + 1;
          frames.push(frame(0x1, 0x5, id, GET_ROOT_HEADERS), frame(0x3, 0, id, Buffer.from([0, 0, 0, 8])));
        }
        // (The server may close the connection mid-flood: then there is no 'drain' to wait for.)
        if (!socket.write(Buffer.concat(frames))) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
        await new Promise((resolve) => setImmediate(resolve));
      }
      socket.resume();
      // The server says GOAWAY (nghttp2's own reset rate limit, or ours) and closes the TCP connection: the
      // client does not get to keep it, or to keep the server reading its frames. The server reads on for a
      // moment after its GOAWAY before it closes, so a client that was still sending gets the GOAWAY rather
      // than a reset that would drop it unread.
      await waitFor('the server to close the connection', () => socket.closed, { timeoutMs: 15_000 });
      expect({ goaway: received.has(FRAME_GOAWAY), socketError }).toEqual({ goaway: true, socketError: '' });
    });
    expect(server.alive()).toBe(true);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    expect((await request(await connect(), '/api/v1/namespaces')).status).toBe(200);
  }, 60_000);
});

/** One HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

const FRAME_GOAWAY = 0x7;

/** The types of the frames a raw HTTP/2 connection receives, as they arrive. */
function frameTypes(socket: tls.TLSSocket): Set<number> {
  const types = new Set<number>();
  let pending = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
      types.add(pending[3]);
      pending = pending.subarray(9 + pending.readUIntBE(0, 3));
    }
  });
  return types;
}

/** HPACK for `GET https://localhost/`: static-table :method GET, :scheme https, :path /, and :authority by its indexed name. */
const GET_ROOT_HEADERS = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x41, 9]), Buffer.from('localhost')]);

describe('--disable-http2-serving', () => {
  it('serves HTTP/1.1 only: kubectl still works and an HTTP/2 client is refused by ALPN', async () => {
    const plain = await startApiServerProcess({ args: ['--disable-http2-serving'] });
    try {
      expect((await runKubectl(plain.kubeconfig, ['get', 'namespaces', '-o', 'name'])).stdout).toContain('namespace/default');
      const text = (await plain.client.request('/metrics')).text;
      expect(text).not.toContain('protocol="2.0"');
      const session = http2.connect(plain.url, { ca: plain.caCertificatePem });
      const failed = await new Promise<Error | undefined>((resolve) => {
        session.once('error', resolve);
        session.once('remoteSettings', () => resolve(undefined));
      });
      session.destroy();
      // Node's client gives up when the server's ALPN answer is not h2.
      expect(failed?.message).toMatch(/protocol|ALPN/i);
    } finally {
      await plain.stop();
    }
  }, 120_000);
});
