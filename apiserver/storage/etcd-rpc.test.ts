// The gRPC transport of etcd-rpc.ts against scripted HTTP/2 servers on loopback: the answers etcd gives
// rarely or only when something is wrong (a status in trailers-only form, a split message, no answer, a
// black-holed connection, an oversized answer, a non-gRPC server). The real-etcd suites in test/storage
// cover the ordinary calls, TLS and restarts.
import { afterEach, describe, expect, it } from '@jest/globals';
import http2 from 'node:http2';
import net from 'node:net';
import { EtcdRpcClient, EtcdRpcError, GRPC_STATUS } from './etcd-rpc.ts';

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, request: Buffer) => void;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** An HTTP/2 server that hands each complete request body to handler; returns its http:// URL. */
async function grpcServer(handler: Handler): Promise<string> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => handler(stream, headers, Buffer.concat(chunks)));
    stream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const session of sessions) session.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** Answers a unary call with message (framed) and grpc-status 0 in trailers, in two DATA frames. */
function answer(stream: http2.ServerHttp2Stream, message: Buffer): void {
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
  framed.writeUInt32BE(message.length, 1);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.write(framed.subarray(0, 3));
  stream.end(framed.subarray(3));
}

/** A TCP server that accepts connections and never says a word (a peer behind a partition). */
async function blackHole(): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

function client(endpoints: string[], options: { timeoutMs?: number; maxResponseBytes?: number } = {}): EtcdRpcClient {
  const rpc = new EtcdRpcClient({ endpoints, timeoutMs: options.timeoutMs ?? 2000, maxResponseBytes: options.maxResponseBytes });
  cleanups.push(() => rpc.close());
  return rpc;
}

async function failure(call: Promise<unknown>): Promise<EtcdRpcError> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof EtcdRpcError)) throw new Error(`expected an EtcdRpcError, got ${String(error)}`);
  return error;
}

describe('EtcdRpcClient', () => {
  it('sends a framed gRPC request with a deadline and reads an answer that arrives in pieces', async () => {
    let seen: { headers: http2.IncomingHttpHeaders; body: Buffer } | undefined;
    const url = await grpcServer((stream, headers, body) => {
      seen = { headers, body };
      answer(stream, Buffer.from(body.subarray(5)).reverse());
    });
    const rpc = client([url], { timeoutMs: 1500 });
    const response = await rpc.call('KV', 'Range', Buffer.from('abc'));
    expect(response.toString()).toBe('cba');
    expect(seen?.headers[':path']).toBe('/etcdserverpb.KV/Range');
    expect(seen?.headers['content-type']).toBe('application/grpc');
    expect(seen?.headers['te']).toBe('trailers');
    expect(seen?.headers['grpc-timeout']).toBe('1500m');
    expect([...seen!.body]).toEqual([0, 0, 0, 0, 3, ...Buffer.from('abc')]);
    // Many calls share the one session.
    const answers = await Promise.all(Array.from({ length: 50 }, (_, index) => rpc.call('KV', 'Txn', Buffer.from(`call-${index}`))));
    expect(answers.map((answer) => answer.toString())).toEqual(Array.from({ length: 50 }, (_, index) => [...`call-${index}`].reverse().join('')));
  });

  it("reports etcd's status and decoded message from a trailers-only answer, as permanent or transient", async () => {
    const url = await grpcServer((stream, headers) => {
      const compacted = headers[':path'] === '/etcdserverpb.KV/Range';
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(compacted ? 11 : GRPC_STATUS.UNAVAILABLE),
          'grpc-message': encodeURIComponent(compacted ? 'etcdserver: mvcc: required revision has been compacted' : 'etcdserver: leader changed'),
        },
        { endStream: true },
      );
    });
    const rpc = client([url]);
    const compacted = await failure(rpc.call('KV', 'Range', Buffer.alloc(0)));
    expect([compacted.code, compacted.message, compacted.transient]).toEqual([11, 'etcdserver: mvcc: required revision has been compacted', false]);
    const leaderChanged = await failure(rpc.call('KV', 'Txn', Buffer.alloc(0)));
    expect([leaderChanged.code, leaderChanged.message, leaderChanged.transient]).toEqual([GRPC_STATUS.UNAVAILABLE, 'etcdserver: leader changed', true]);
  });

  it('fails a call that etcd does not answer in time with DEADLINE_EXCEEDED, and cancels its stream', async () => {
    let cancelled = false;
    const url = await grpcServer((stream) => stream.on('close', () => (cancelled = stream.rstCode === http2.constants.NGHTTP2_CANCEL)));
    const rpc = client([url], { timeoutMs: 300 });
    const begin = Date.now();
    const error = await failure(rpc.call('KV', 'Range', Buffer.from('x')));
    expect(error.code).toBe(GRPC_STATUS.DEADLINE_EXCEEDED);
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(/did not answer within 300 ms/);
    expect(Date.now() - begin).toBeLessThan(2000);
    const deadline = Date.now() + 5000;
    while (!cancelled && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cancelled).toBe(true);
  });

  it('moves to the next endpoint when one refuses connections, without retrying the failed call', async () => {
    // A port whose listener has closed: connections to it are refused.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const refused = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    let calls = 0;
    const good = await grpcServer((stream) => {
      calls++;
      answer(stream, Buffer.from('ok'));
    });
    const rpc = client([refused, good]);
    const error = await failure(rpc.call('KV', 'Range', Buffer.alloc(0)));
    expect(error.code).toBe(GRPC_STATUS.UNAVAILABLE);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(calls).toBe(0);
    expect((await rpc.call('KV', 'Range', Buffer.alloc(0))).toString()).toBe('ok');
    expect(calls).toBe(1);
  });

  it('drops a session that stops answering (no reset, no pings) and reaches the next endpoint', async () => {
    const silent = await blackHole();
    const good = await grpcServer((stream) => answer(stream, Buffer.from('ok')));
    const rpc = client([silent, good], { timeoutMs: 300 });
    expect((await failure(rpc.call('KV', 'Range', Buffer.alloc(0)))).code).toBe(GRPC_STATUS.DEADLINE_EXCEEDED);
    // The missed deadline sent a ping; once that goes unanswered, the next call goes to the next endpoint.
    const deadline = Date.now() + 10_000;
    let answered: string | undefined;
    while (answered === undefined && Date.now() < deadline) {
      answered = await rpc.call('KV', 'Range', Buffer.alloc(0)).then(
        (response) => response.toString(),
        () => undefined,
      );
    }
    expect(answered).toBe('ok');
  });

  it('refuses an answer larger than its bound without buffering it', async () => {
    const url = await grpcServer((stream) => answer(stream, Buffer.alloc(256 * 1024, 1)));
    const rpc = client([url], { maxResponseBytes: 64 * 1024 });
    const error = await failure(rpc.call('KV', 'Range', Buffer.alloc(0)));
    expect(error.code).toBe(GRPC_STATUS.RESOURCE_EXHAUSTED);
    expect(error.message).toMatch(/larger than 65536 bytes/);
  });

  it('names the HTTP status of a server that is not gRPC, and a malformed message', async () => {
    const url = await grpcServer((stream, headers) => {
      if (headers[':path'] === '/etcdserverpb.KV/Range') {
        stream.respond({ ':status': 404 }, { endStream: true });
        return;
      }
      // A gRPC "message" whose length prefix claims more than was sent.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 9, 1, 2]));
    });
    const rpc = client([url]);
    const notGrpc = await failure(rpc.call('KV', 'Range', Buffer.alloc(0)));
    expect([notGrpc.code, notGrpc.message]).toEqual([GRPC_STATUS.UNAVAILABLE, 'the call to etcd failed: HTTP status 404 without a gRPC status']);
    expect((await failure(rpc.call('KV', 'Txn', Buffer.alloc(0)))).message).toMatch(/truncated \(2 of 9 bytes\)/);
  });

  it('after close(), fails calls in flight and refuses new ones', async () => {
    const url = await grpcServer(() => {});
    const rpc = client([url], { timeoutMs: 10_000 });
    const inFlight = failure(rpc.call('KV', 'Range', Buffer.alloc(0)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    rpc.close();
    expect((await inFlight).code).toBe(GRPC_STATUS.UNAVAILABLE);
    const later = await failure(rpc.call('KV', 'Range', Buffer.alloc(0)));
    expect(later.message).toBe('the etcd client is closed');
  });
});
