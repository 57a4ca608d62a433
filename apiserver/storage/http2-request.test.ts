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

  it("does not go through the bind it found (Node's request() does), and puts that one back, an instrumentation's wrapper included", async () => {
    const calls: unknown[] = [];
    const wrapper = function (this: AsyncResource, ...args: Parameters<typeof nodeBind>) {
      calls.push(args);
      return nodeBind.apply(this, args);
    } as typeof nodeBind;
    AsyncResource.prototype.bind = wrapper;
    const session = http2.connect(url);
    try {
      const stream = requestStream(session, { ':path': '/wrapped' });
      expect(calls).toHaveLength(0);
      expect(AsyncResource.prototype.bind).toBe(wrapper);
      expect(await body(stream)).toEqual({ status: 200, text: 'you asked for /wrapped' });
      // On this Node, request() itself binds through it: the check above is not vacuous.
      const plain = session.request({ ':path': '/plain' });
      expect(calls).toHaveLength(1);
      expect(await body(plain)).toEqual({ status: 200, text: 'you asked for /plain' });
    } finally {
      session.destroy();
      AsyncResource.prototype.bind = nodeBind;
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
