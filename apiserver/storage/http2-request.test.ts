// requestStream: a real request on a loopback HTTP/2 server, made while the session connects and once it is
// connected; AsyncResource.prototype.bind is Node's own again afterwards, also when request() throws; and the
// binding used meanwhile runs the callback in the async context it was made in.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { once } from 'node:events';
import http2 from 'node:http2';
import type net from 'node:net';
import { plainBind, requestStream } from './http2-request.ts';

let server: http2.Http2Server;
let url: string;
const nodeBind = AsyncResource.prototype.bind;

beforeAll(async () => {
  server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(`you asked for ${headers[':path']}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The status and text of a stream's answer. */
async function body(stream: http2.ClientHttp2Stream): Promise<{ status: number; text: string }> {
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { status: Number(headers[':status']), text: Buffer.concat(chunks).toString() };
}

describe('requestStream', () => {
  it('sends the request and leaves AsyncResource.bind as Node has it, whether the session is connecting or connected', async () => {
    const session = http2.connect(url);
    try {
      // Still connecting: request() queues the bound callback until 'connect'.
      const early = requestStream(session, { ':path': '/early' });
      expect(AsyncResource.prototype.bind).toBe(nodeBind);
      expect(await body(early)).toEqual({ status: 200, text: 'you asked for /early' });
      const connected = requestStream(session, { ':path': '/connected' });
      expect(AsyncResource.prototype.bind).toBe(nodeBind);
      expect(await body(connected)).toEqual({ status: 200, text: 'you asked for /connected' });
    } finally {
      session.destroy();
    }
  });

  it('puts bind back when request() throws', async () => {
    const session = http2.connect(url);
    session.destroy();
    expect(() => requestStream(session, { ':path': '/gone' })).toThrow(/session/i);
    expect(AsyncResource.prototype.bind).toBe(nodeBind);
  });
});

describe('plainBind', () => {
  it('runs the function in the async context the resource was made in, with the caller\'s arguments and this', () => {
    const storage = new AsyncLocalStorage<string>();
    const seen: unknown[] = [];
    function record(this: unknown, ...args: unknown[]) {
      seen.push({ context: storage.getStore(), self: this, args });
      return 'returned';
    }
    const [unbound, withThis] = storage.run('made here', () => {
      const resource = new AsyncResource('test');
      return [plainBind.call(resource, record), plainBind.call(resource, record, 'fixed')] as const;
    });
    const target = { name: 'target' };
    expect(storage.run('called here', () => unbound.call(target, 1, 2))).toBe('returned');
    expect(storage.run('called here', () => withThis(3))).toBe('returned');
    expect(seen).toEqual([
      { context: 'made here', self: target, args: [1, 2] },
      { context: 'made here', self: 'fixed', args: [3] },
    ]);
  });
});
