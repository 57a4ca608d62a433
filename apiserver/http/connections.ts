// Limits on connections, before any request exists: how long a client may take to finish the TLS handshake
// and to send its request headers and body, how many connections one client address may hold, and how
// many the server holds in all. Without them a client can open raw TCP connections that never start TLS
// (or never finish a request) until the server runs out of sockets or memory.
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { isHttp2Connection } from './serving.ts';

export interface ConnectionLimits {
  /** A TLS handshake not finished in this time is dropped. */
  handshakeTimeoutMs: number;
  /** Request headers not received in this time: 408 and the connection closes. */
  headersTimeoutMs: number;
  /** A whole request (headers and body) not received in this time: 408. Responses (watches) are not limited. */
  requestTimeoutMs: number;
  /** How often those two timeouts are checked. */
  checkIntervalMs: number;
  /** Connections one client address may hold at once; more are closed at once. */
  maxConnectionsPerClient: number;
  /** Connections the server holds at once. */
  maxConnections: number;
  /** HTTP/2 streams (requests, watches) one connection may have open at once. */
  maxStreamsPerConnection: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 60_000,
  checkIntervalMs: 2_000,
  maxConnectionsPerClient: 2048,
  maxConnections: 16_384,
  maxStreamsPerConnection: 250,
};

/** Status lines for the HTTP-level failures a client can cause before a request exists. */
const CLIENT_ERROR_RESPONSES: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
};

/**
 * The server's 'clientError' handler. HTTP parse errors and request timeouts get a short status line; every
 * other failure (TLS handshake timeouts and errors) has no HTTP to speak. Either way the connection is
 * destroyed, not ended: ending waits for a client that may never read or close.
 */
export function answerClientError(error: Error, socket: Duplex): void {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const status = CLIENT_ERROR_RESPONSES[code] ?? (code.startsWith('HPE_') ? '400 Bad Request' : undefined);
  if (status && socket.writable) socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  else socket.destroy();
  // A client that never reads keeps the write pending: it is destroyed all the same.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Counts connections per client address and closes those over the limit as they arrive; `onRefused` is
 * told each time (for metrics). Returns the current count for an address (tests, metrics).
 */
export function limitConnections(server: tls.Server, limits: ConnectionLimits, onRefused: (reason: 'per-client' | 'total') => void): (address: string) => number {
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => onRefused('total'));
  const perClient = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = perClient.get(address) ?? 0;
    if (count >= limits.maxConnectionsPerClient) {
      onRefused('per-client');
      socket.destroy();
      return;
    }
    perClient.set(address, count + 1);
    socket.once('close', () => {
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  });
  // Node's header timeout starts with a request's first byte; a connection that finishes TLS and then says
  // nothing would be held forever (idle timeouts would also cut quiet watches), so it gets the same budget.
  // An HTTP/2 connection's session reads the socket itself; its idle rule is in serving.ts.
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    if (isHttp2Connection(socket)) return;
    const timer = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    timer.unref();
    socket.once('data', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
  return (address) => perClient.get(address) ?? 0;
}
