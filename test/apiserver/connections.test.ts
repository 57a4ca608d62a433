// Issue 7, class 8: connections that never become requests. The landed server had no TLS handshake timeout,
// no header timeout and no connection caps: raw TCP connections that never started TLS stayed open
// indefinitely. Here (with short timeouts set by flags) connections that never start TLS, finish TLS and say
// nothing, trickle their headers, or trickle their body are all closed by the server; one client address
// cannot hold more than its share of connections; other clients are served throughout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import tls from 'node:tls';
import { runKubectl } from '../env/apiserver.ts';
import { duringAttack, metricValue, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';
import { waitFor } from '../env/process.ts';

let server: ApiServerProcess;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  server = await startApiServerProcess({ args: ['--max-connections-per-client', '20', '--tls-handshake-timeout', '2', '--request-headers-timeout', '2'] });
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await server?.stop();
});

/** A raw TCP connection from a given loopback address (so the attacker is a different client from the probe). */
function rawConnection(localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, localAddress });
    sockets.add(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
    socket.on('error', () => undefined);
  });
}

/** A TLS connection that completed its handshake, from a given loopback address. */
function tlsConnection(localAddress: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port: server.port, localAddress });
    raw.on('error', () => undefined);
    const socket = tls.connect({ socket: raw, ca: server.caCertificatePem, servername: 'localhost' });
    sockets.add(raw);
    sockets.add(socket);
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
    socket.on('error', () => undefined);
  });
}

const closed = (socket: net.Socket) => socket.destroyed || socket.readyState === 'closed';
const isClosed = (socket: net.Socket) => new Promise<boolean>((resolve) => (closed(socket) ? resolve(true) : socket.once('close', () => resolve(true))));

const metric = (name: string, labels: string) => metricValue(server, name, labels);

describe('connection limits', () => {
  it('closes raw TCP connections that never start TLS, once the handshake timeout passes', async () => {
    const { result: idle, readyz } = await duringAttack(server, async () => {
      const idle = await Promise.all(Array.from({ length: 15 }, () => rawConnection('127.0.0.2')));
      const started = Date.now();
      await waitFor('every raw connection to be closed by the server', () => idle.every(closed), { timeoutMs: 15_000 });
      return Date.now() - started;
    });
    expect(idle).toBeGreaterThan(1000); // held until the timeout, not refused
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
  });

  it('caps the connections of one client address, while other clients are served', async () => {
    const before = await metric('apiserver_connections_refused_total', 'reason="per-client"');
    const { readyz } = await duringAttack(server, async () => {
      const attempts = await Promise.all(Array.from({ length: 40 }, () => tlsConnection('127.0.0.3').catch(() => undefined)));
      // Refused connections are closed at once; at most 20 stay.
      await waitFor('connections over the cap to be closed', () => attempts.filter((socket) => socket && !closed(socket)).length <= 20, { timeoutMs: 5000 });
      expect((await runKubectl(server.kubeconfig, ['get', 'namespaces'])).code).toBe(0);
      for (const socket of attempts) socket?.destroy();
    });
    expect(await metric('apiserver_connections_refused_total', 'reason="per-client"')).toBeGreaterThan(before);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
  });

  it('closes connections that finish TLS but never send a request, or trickle their headers or body', async () => {
    const { readyz } = await duringAttack(server, async () => {
      const silent = await tlsConnection('127.0.0.4');
      const slowHeaders = await tlsConnection('127.0.0.4');
      const slowBody = await tlsConnection('127.0.0.4');
      slowHeaders.write('GET /api/v1/namespaces HTTP/1.1\r\nHost: localhost\r\n');
      slowBody.write(`POST /api/v1/namespaces HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${server.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
      const drip = setInterval(() => {
        if (!closed(slowHeaders)) slowHeaders.write('X');
        if (!closed(slowBody)) slowBody.write(' ');
      }, 300);
      try {
        const started = Date.now();
        await Promise.all([silent, slowHeaders, slowBody].map(isClosed));
        // Headers within 2 s, whole request within 6 s (checked every second): all gone well before 15 s.
        expect(Date.now() - started).toBeLessThan(15_000);
      } finally {
        clearInterval(drip);
      }
    });
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
  }, 60_000);

  it('keeps serving ordinary keep-alive clients', async () => {
    for (let index = 0; index < 50; index++) expect((await server.client.request('/api/v1/namespaces')).status).toBe(200);
    expect(server.alive()).toBe(true);
  });
});
