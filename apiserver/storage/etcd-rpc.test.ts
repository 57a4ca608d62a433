// The gRPC transport of etcd-rpc.ts against scripted HTTP/2 servers on loopback: the answers etcd gives
// rarely or only when something is wrong (a status in trailers-only form, a split message, no answer, a
// black-holed connection, an oversized answer, a non-gRPC server). The real-etcd suites in test/storage
// cover the ordinary calls, TLS and restarts.
import { afterEach, describe, expect, it } from '@jest/globals';
import http2 from 'node:http2';
import net from 'node:net';
import { EtcdRpcClient, EtcdRpcError, GRPC_STATUS, type RpcStream } from './etcd-rpc.ts';

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

function client(
  endpoints: string[],
  options: { timeoutMs?: number; maxResponseBytes?: number; keepaliveIntervalMs?: number; keepaliveTimeoutMs?: number } = {},
): EtcdRpcClient {
  const rpc = new EtcdRpcClient({ endpoints, timeoutMs: 2000, ...options });
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

  it('repeats a read whose connection was lost before the answer, once, on a new connection; never a write', async () => {
    const seen: string[] = [];
    let losses = 1;
    const url = await grpcServer((stream, headers, body) => {
      seen.push(`${headers[':path']} ${body.subarray(5).toString()}`);
      // The connection is lost under the call (as when etcd stops gracefully with calls in flight).
      if (losses > 0) {
        losses--;
        stream.session?.destroy();
        return;
      }
      answer(stream, Buffer.from('ok'));
    });
    const rpc = client([url]);
    expect((await rpc.call('KV', 'Range', Buffer.from('read'), { idempotent: true })).toString()).toBe('ok');
    expect(seen).toEqual(['/etcdserverpb.KV/Range read', '/etcdserverpb.KV/Range read']);
    // A write whose connection was lost may have been applied: the caller decides (here it is not repeated).
    seen.length = 0;
    losses = 1;
    const error = await failure(rpc.call('KV', 'Txn', Buffer.from('write')));
    expect([error.code, error.connectionLost]).toEqual([GRPC_STATUS.UNAVAILABLE, true]);
    expect(seen).toEqual(['/etcdserverpb.KV/Txn write']);
    // Once, not more: a read that loses its connection twice fails.
    seen.length = 0;
    losses = 2;
    expect((await failure(rpc.call('KV', 'Range', Buffer.from('read'), { idempotent: true }))).connectionLost).toBe(true);
    expect(seen).toHaveLength(2);
    // Not repeated either: a read that etcd answered with an error.
    const refusing = await grpcServer((stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'no leader' }, { endStream: true }));
    const refused = await failure(client([refusing]).call('KV', 'Range', Buffer.alloc(0), { idempotent: true }));
    expect([refused.message, refused.connectionLost]).toEqual(['no leader', false]);
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

/** gRPC frames of messages, concatenated. */
function framed(...messages: string[]): Buffer {
  return Buffer.concat(
    messages.map((text) => {
      const body = Buffer.from(text);
      const head = Buffer.from([0, 0, 0, 0, 0]);
      head.writeUInt32BE(body.length, 1);
      return Buffer.concat([head, body]);
    }),
  );
}

/** Collects a stream's messages and how it ended. */
function observe(stream: RpcStream) {
  const seen = { messages: [] as string[], ended: false, error: undefined as EtcdRpcError | undefined };
  stream.on('message', (message: Buffer) => seen.messages.push(message.toString()));
  stream.on('end', () => (seen.ended = true));
  stream.on('error', (error: EtcdRpcError) => (seen.error = error));
  return seen;
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('EtcdRpcClient streams', () => {
  /** A server whose stream handler gets the server stream at once (a bidirectional call). */
  async function streamServer(onStream: (stream: http2.ServerHttp2Stream) => void): Promise<string> {
    const server = http2.createServer();
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (session) => sessions.add(session));
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      onStream(stream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const session of sessions) session.destroy();
      server.close();
    });
    return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  it('reassembles messages split across DATA frames and several in one, both ways, and ends with OK', async () => {
    const received: string[] = [];
    const url = await streamServer((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      let pending = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          received.push(pending.subarray(5, 5 + pending.readUInt32BE(1)).toString());
          pending = pending.subarray(5 + pending.readUInt32BE(1));
        }
        if (received.length === 2) {
          const bytes = framed('one', 'two', 'three-is-longer');
          // A header split in two, then the rest of one, two whole messages in one write.
          stream.write(bytes.subarray(0, 2));
          stream.write(bytes.subarray(2, 6));
          setTimeout(() => stream.end(bytes.subarray(6)), 20);
        }
      });
    });
    const rpc = client([url]);
    const stream = rpc.openStream('Watch', 'Watch');
    const seen = observe(stream);
    stream.write(Buffer.from('first'));
    stream.write(Buffer.from('second'));
    await until('the stream to end', () => seen.ended || seen.error !== undefined);
    expect(received).toEqual(['first', 'second']);
    expect(seen).toEqual({ messages: ['one', 'two', 'three-is-longer'], ended: true, error: undefined });
  });

  it("ends with etcd's error status, and on an oversized message", async () => {
    const url = await streamServer((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('data', (chunk: Buffer) => {
        if (chunk.subarray(5).toString() === 'big') {
          stream.write(Buffer.from([0, 0, 1, 0, 0]));
          return;
        }
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '14', 'grpc-message': encodeURIComponent('etcdserver: no leader') }));
        stream.end(framed('before the error'));
      });
    });
    const rpc = client([url], { maxResponseBytes: 1024 });
    const failing = rpc.openStream('Watch', 'Watch');
    const seen = observe(failing);
    failing.write(Buffer.from('x'));
    await until('the stream to fail', () => seen.error !== undefined);
    expect(seen.messages).toEqual(['before the error']);
    expect([seen.error?.code, seen.error?.message, seen.ended]).toEqual([GRPC_STATUS.UNAVAILABLE, 'etcdserver: no leader', false]);

    const oversized = rpc.openStream('Watch', 'Watch');
    const big = observe(oversized);
    oversized.write(Buffer.from('big'));
    await until('the oversized stream to fail', () => big.error !== undefined);
    expect([big.error?.code, big.error?.message]).toEqual([GRPC_STATUS.RESOURCE_EXHAUSTED, 'etcd sent a message larger than 1024 bytes']);
  });

  it('after cancel(), emits nothing and the server sees the stream reset', async () => {
    let serverStream: http2.ServerHttp2Stream | undefined;
    let reset: number | undefined;
    const url = await streamServer((stream) => {
      serverStream = stream;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.on('close', () => (reset = stream.rstCode));
    });
    const rpc = client([url]);
    const stream = rpc.openStream('Watch', 'Watch');
    const seen = observe(stream);
    stream.write(Buffer.from('x'));
    await until('the server to see the stream', () => serverStream !== undefined);
    stream.cancel();
    await until('the server to see the reset', () => reset !== undefined);
    expect(reset).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(seen).toEqual({ messages: [], ended: false, error: undefined });
  });

  it('ends an open stream with an error when its session stops answering keepalive pings', async () => {
    const rpc = client([await blackHole()], { keepaliveIntervalMs: 100, keepaliveTimeoutMs: 200 });
    const stream = rpc.openStream('Watch', 'Watch');
    const seen = observe(stream);
    stream.write(Buffer.from('x'));
    await until('the stream to fail', () => seen.error !== undefined);
    expect(seen.error?.code).toBe(GRPC_STATUS.UNAVAILABLE);
  });
});
