// The API server's one TLS port speaks HTTP/2 and HTTP/1.1. A client that offers `h2` in its TLS handshake
// (ALPN) gets HTTP/2: kubectl and every client-go program do, and then carry all their requests and watches
// on one connection. Clients that offer nothing (@kubernetes/client-node, curl --http1.1, raw sockets) get
// HTTP/1.1, exactly as before. `--disable-http2-serving` (Kubernetes' flag) turns HTTP/2 off.
//
// Both reach the same request handler: Node's compatibility layer gives an HTTP/2 stream the shape of an
// IncomingMessage/ServerResponse. HTTP/2 has bounds of its own that HTTP/1's timeouts do not cover, so they
// are set here:
//   - streams per connection (`--http2-max-streams-per-connection`, Go's and Kubernetes' 250 by default);
//     APF still bounds what each user has in flight;
//   - the header list a stream may send (the same budget as HTTP/1's header bytes);
//   - a connection with no open stream is closed after the keep-alive timeout (and one that never opens a
//     stream after the header timeout) — HTTP/1's idle rules; a quiet watch is an open stream, so it stays;
//   - a request's body must arrive within the request timeout, as on HTTP/1, else the stream is reset;
//   - nghttp2 itself limits invalid frames, rejected streams, SETTINGS and PING floods and rapid resets;
//     a client that resets more than MAX_CLIENT_RESETS_PER_SECOND streams in a second is told GOAWAY and
//     disconnected a moment later here (nghttp2's own rapid-reset limit sends GOAWAY but leaves the TCP
//     connection open, still read).
import https from 'node:https';
import http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { ConnectionLimits } from './connections.ts';

/** How many bytes of request headers a client may send (Node's HTTP/1 default, kept for HTTP/2). */
export const MAX_REQUEST_HEADER_BYTES = 16 * 1024;
/** HTTP/2 counts 32 bytes of overhead per header field on top of its name and value; room for ~64 fields. */
const HTTP2_HEADER_FIELD_OVERHEAD = 64 * 32;
/** An idle connection (no request in flight) is closed after this, as HTTP/1's keep-alive. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** How long a closing HTTP/2 connection may take to say goodbye before it is destroyed. */
const CLOSE_GRACE_MS = 1000;
/**
 * Streams a client may cancel (RST_STREAM before the stream ended) in one second before its connection is
 * closed: a rapid-reset flood (CVE-2023-44487) makes the server start work for every stream it cancels. A
 * client-go program that stops its informers cancels a few dozen watches at once.
 */
export const MAX_CLIENT_RESETS_PER_SECOND = 100;

export interface ServingOptions {
  cert: string;
  key: string;
  ca: string;
  limits: ConnectionLimits;
  /** HTTP/2 is offered by ALPN unless false. */
  http2: boolean;
  onRequest(request: IncomingMessage, response: ServerResponse): void;
}

export interface ServingServer {
  readonly server: tls.Server;
  /** Destroys every connection, of either protocol (watches included): the last step of stopping. */
  closeAllConnections(): void;
}

/** The server for the API port: HTTP/2 by ALPN beside HTTP/1.1, with both protocols' limits applied. */
export function createServingServer(options: ServingOptions): ServingServer {
  const server = createServer(options);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    server,
    closeAllConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

function createServer(options: ServingOptions): tls.Server {
  const { limits } = options;
  const tlsOptions = {
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    // Client certificates are optional (tokens work too) but, when sent, must chain to our CA to count.
    requestCert: true,
    rejectUnauthorized: false,
    handshakeTimeout: limits.handshakeTimeoutMs,
  };
  const http1Limits = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    maxHeaderSize: MAX_REQUEST_HEADER_BYTES,
  };
  if (!options.http2) {
    const server = https.createServer({ ...tlsOptions, ...http1Limits });
    server.on('request', options.onRequest);
    return server;
  }
  const server = http2.createSecureServer({
    ...tlsOptions,
    allowHTTP1: true,
    Http2ServerRequest: Http2Request,
    Http2ServerResponse: Http2Response,
    settings: {
      maxConcurrentStreams: limits.maxStreamsPerConnection,
      maxHeaderListSize: MAX_REQUEST_HEADER_BYTES + HTTP2_HEADER_FIELD_OVERHEAD,
      enablePush: false,
    },
  });
  // HTTP/1.1 connections: Node's own header and request timeouts (408), and its keep-alive. The HTTP/2
  // server reads them from its properties (its options are HTTP/2's).
  Object.assign(server, http1Limits);
  server.on('session', (session) => {
    closeWhenIdle(session, limits);
    closeOnResetFlood(session);
  });
  server.on('stream', (stream) => limitRequestTime(stream, limits.requestTimeoutMs));
  server.on('request', (request: IncomingMessage | http2.Http2ServerRequest, response: ServerResponse | http2.Http2ServerResponse) => {
    // The compatibility layer's request and response (Http2Request, Http2Response) are what the handler reads of
    // IncomingMessage and ServerResponse (headers, url, method, socket address and certificate, write/end/drain/close).
    options.onRequest(request as unknown as IncomingMessage, response as unknown as ServerResponse);
  });
  return server;
}

/** Whether a TLS connection negotiated HTTP/2 (its session, not Node's HTTP/1 parser, reads it). */
export function isHttp2Connection(socket: tls.TLSSocket): boolean {
  return socket.alpnProtocol === 'h2';
}

/**
 * Closes an HTTP/2 connection that holds no stream: after the header timeout if it never opened one, after
 * the keep-alive timeout once its last stream ended. Streams may be long (watches): only idleness counts.
 */
function closeWhenIdle(session: http2.ServerHttp2Session, limits: ConnectionLimits): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      session.close();
      setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
    }, ms);
    timer.unref();
  };
  arm(limits.headersTimeoutMs);
  session.on('stream', (stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => {
      if (--open === 0 && !session.closed && !session.destroyed) arm(KEEP_ALIVE_TIMEOUT_MS);
    });
  });
  session.once('close', () => clearTimeout(timer));
  // A session error (a protocol violation, a reset connection) ends the session; nothing else to do.
  session.on('error', () => undefined);
}

/**
 * Closes a connection whose client cancels streams faster than MAX_CLIENT_RESETS_PER_SECOND: GOAWAY with
 * ENHANCE_YOUR_CALM (Go's answer to the same flood), then, CLOSE_GRACE_MS later, the TCP connection.
 *
 * Why not at once: a client still sending when the server closes gets its connection reset (the server's
 * kernel holds bytes nobody will read), and a reset makes the client's kernel drop what it had received but
 * not read yet — the GOAWAY too, so the client never learns why. During the grace nghttp2 goes on reading
 * and discarding (after a GOAWAY it opens no new stream), as Go's server does for its GOAWAY timeout; the
 * grace is short and fixed, so the flood's cost stays bounded.
 */
function closeOnResetFlood(session: http2.ServerHttp2Session): void {
  let windowStart = 0;
  let resets = 0;
  let closing = false;
  session.on('stream', (stream) => {
    stream.once('close', () => {
      // A stream that ended normally closes with NO_ERROR; one the client cancelled, with its RST_STREAM code.
      if (closing || stream.rstCode === http2.constants.NGHTTP2_NO_ERROR || session.destroyed) return;
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        resets = 0;
      }
      if (++resets <= MAX_CLIENT_RESETS_PER_SECOND) return;
      closing = true;
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
    });
  });
}

/** A request body not received in full within the request timeout resets its stream (HTTP/1: 408). */
function limitRequestTime(stream: http2.ServerHttp2Stream, requestTimeoutMs: number): void {
  if (stream.endAfterHeaders) return;
  const timer = setTimeout(() => {
    if (!stream.destroyed && stream.readable) stream.close(http2.constants.NGHTTP2_CANCEL);
  }, requestTimeoutMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  stream.once('end', done);
  stream.once('close', done);
  // Reading the body stops at the stream's end or error; an error here is the client's (a reset stream).
  stream.on('error', () => undefined);
}

/**
 * The compatibility layer's request, with the one IncomingMessage property the handler reads that it lacks:
 * `headersDistinct`, every value of a repeated header (Impersonate-Group), from the raw header list. A class
 * the server is given (not a property defined on each request: that cost every HTTP/2 request a closure and a
 * slow-mode object).
 */
class Http2Request extends http2.Http2ServerRequest {
  #distinct?: Record<string, string[]>;

  get headersDistinct(): Record<string, string[]> {
    if (this.#distinct) return this.#distinct;
    const distinct = Object.create(null) as Record<string, string[]>;
    const raw = this.rawHeaders;
    for (let index = 0; index + 1 < raw.length; index += 2) (distinct[raw[index]!.toLowerCase()] ??= []).push(raw[index + 1]!);
    return (this.#distinct = distinct);
  }
}

/**
 * The compatibility layer's response, with the one ServerResponse property the handler reads that it lacks:
 * `destroyed` (a watch writer and flow control check it before writing or releasing): its stream's.
 */
class Http2Response extends http2.Http2ServerResponse<Http2Request> {}
// Node's class has no `destroyed` (its typings declare one): a getter on the prototype, defined once.
Object.defineProperty(Http2Response.prototype, 'destroyed', {
  get(this: Http2Response) {
    return this.stream.destroyed;
  },
  configurable: true,
});
