// etcd's unary KV calls (Range, Txn, Compact) as plain gRPC over one node:http2 session, with the messages
// encoded by etcd-proto.ts. Why not etcd3's client for these: every call through it costs ~3× the client
// CPU of a bare HTTP/2 request (cockatiel policies, grpc-js's call stack and filters, protobufjs), measured
// at 224 µs against 75 µs per create txn at concurrency 64, and the API server makes one or two such calls
// per request. Watch streams stay on etcd3 (etcd-watch.ts).
//
// What a gRPC client owes etcd here, and how:
//   - Deadlines: every call has one (grpc-timeout tells etcd too); a call past it is cancelled and fails
//     DEADLINE_EXCEEDED. The session is then pinged, and dropped if it does not answer, so a peer that
//     vanished without a reset (partition) is noticed without a keepalive timer on an idle connection
//     (etcd's keepalive policy penalises pings without calls).
//   - Failover: a session that fails (connection refused, reset, GOAWAY, no answer to a ping) is dropped and
//     the next call connects to the next endpoint. No call is retried: a write whose answer was lost may
//     have been applied, and only the caller knows whether repeating it is safe.
//   - Bounds: a response larger than MAX_RESPONSE_BYTES fails the call (RESOURCE_EXHAUSTED) instead of
//     growing memory; lists are paged by the callers well below it.
import http2 from 'node:http2';
import { errorMessage } from '../../lib/logging.ts';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) this module names. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** Codes that mean "etcd could not be reached or did not finish", not "etcd refused the request". */
const TRANSIENT_STATUS = new Set<number>([
  GRPC_STATUS.CANCELLED,
  GRPC_STATUS.UNKNOWN,
  GRPC_STATUS.DEADLINE_EXCEEDED,
  GRPC_STATUS.RESOURCE_EXHAUSTED,
  GRPC_STATUS.ABORTED,
  GRPC_STATUS.INTERNAL,
  GRPC_STATUS.UNAVAILABLE,
]);

/** 64 MiB: the largest answer accepted (grpc-js's default is 4 MiB; the watch cache lists 1,000 keys a page). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** How long a session has to answer a ping after one of its calls missed its deadline. */
const PING_TIMEOUT_MS = 2000;
/** Flow-control windows: large answers (list pages) arrive without waiting for window updates. */
const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 32 * 1024 * 1024;

export class EtcdRpcError extends Error {
  constructor(
    message: string,
    /** The gRPC status; UNAVAILABLE for failures of the connection itself. */
    readonly code: number,
  ) {
    super(message);
    this.name = 'EtcdRpcError';
  }

  /** etcd unreachable, the connection lost, or the call not finished in time: the request may not have run. */
  get transient(): boolean {
    return TRANSIENT_STATUS.has(this.code);
  }
}

export interface EtcdRpcOptions {
  /** http:// or https:// URLs, tried in order when a session fails. */
  endpoints: string[];
  /** PEM buffers for https:// endpoints; without ca, Node's bundled root certificates are trusted. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Deadline of each call, connecting included. */
  timeoutMs: number;
  /** The largest answer accepted (default MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
}

export class EtcdRpcClient {
  private session: http2.ClientHttp2Session | undefined;
  private endpointIndex = 0;
  private closed = false;
  private readonly pinging = new WeakSet<http2.ClientHttp2Session>();
  private readonly maxResponseBytes: number;

  constructor(private readonly options: EtcdRpcOptions) {
    if (options.endpoints.length === 0) throw new Error('EtcdRpcClient: no endpoints');
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  }

  /** Calls /etcdserverpb.<service>/<method> with an encoded request; resolves with the encoded response. */
  call(service: 'KV', method: string, request: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new EtcdRpcError('the etcd client is closed', GRPC_STATUS.UNAVAILABLE));
    return new Promise((resolve, reject) => {
      let session: http2.ClientHttp2Session;
      let stream: http2.ClientHttp2Stream;
      try {
        session = this.currentSession();
        stream = session.request({
          ':method': 'POST',
          ':path': `/etcdserverpb.${service}/${method}`,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${this.options.timeoutMs}m`,
        });
      } catch (error) {
        // The session closed between the check and the request; the next call opens another.
        this.dropSession(this.session, error);
        reject(new EtcdRpcError(`cannot start a call to etcd: ${errorMessage(error)}`, GRPC_STATUS.UNAVAILABLE));
        return;
      }
      let settled = false;
      let status: number | undefined;
      let statusMessage = '';
      let httpStatus: number | undefined;
      let received = 0;
      const chunks: Buffer[] = [];
      const settle = (error: Error | undefined, response?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (error) reject(error);
        else resolve(response!);
      };
      const deadline = setTimeout(() => {
        settle(new EtcdRpcError(`etcd did not answer within ${this.options.timeoutMs} ms`, GRPC_STATUS.DEADLINE_EXCEEDED));
        stream.close(http2.constants.NGHTTP2_CANCEL);
        this.checkAlive(session);
      }, this.options.timeoutMs);
      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        const code = headers['grpc-status'];
        if (code === undefined) return;
        status = Number(code);
        statusMessage = decodeStatusMessage(headers['grpc-message']);
      };
      stream.on('response', (headers) => {
        httpStatus = Number(headers[':status']);
        readStatus(headers);
      });
      stream.on('trailers', readStatus);
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > this.maxResponseBytes) {
          settle(new EtcdRpcError(`etcd's answer is larger than ${this.maxResponseBytes} bytes`, GRPC_STATUS.RESOURCE_EXHAUSTED));
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (error) => settle(new EtcdRpcError(`the call to etcd failed: ${errorMessage(error)}`, GRPC_STATUS.UNAVAILABLE)));
      stream.on('close', () => {
        if (settled) return;
        if (status === undefined) {
          const why = httpStatus !== undefined && httpStatus !== 200 ? `HTTP status ${httpStatus} without a gRPC status` : 'the stream closed before etcd answered';
          return settle(new EtcdRpcError(`the call to etcd failed: ${why}`, GRPC_STATUS.UNAVAILABLE));
        }
        if (status !== GRPC_STATUS.OK) return settle(new EtcdRpcError(statusMessage || `gRPC status ${status}`, status));
        try {
          settle(undefined, unframe(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
        } catch (error) {
          settle(error as Error);
        }
      });
      stream.end(frame(request));
    });
  }

  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }

  private currentSession(): http2.ClientHttp2Session {
    const existing = this.session;
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const endpoint = this.options.endpoints[this.endpointIndex % this.options.endpoints.length];
    const tls = this.options.tls;
    const session = http2.connect(endpoint, {
      ...(tls && { ca: tls.ca, cert: tls.cert, key: tls.key }),
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES },
      // Node's default of 10 MB for everything queued on one session is low for many calls with list pages.
      maxSessionMemory: 64,
    });
    // Calls keep the process alive through their deadline timers; an idle session must not.
    session.unref();
    session.on('connect', () => session.setLocalWindowSize(SESSION_WINDOW_BYTES));
    // Without a listener an 'error' would crash the process; the session's calls fail through their streams.
    session.on('error', (error) => this.dropSession(session, error));
    session.on('goaway', () => this.dropSession(session));
    session.on('close', () => this.dropSession(session));
    this.session = session;
    return session;
  }

  /** Forgets a failed or closing session; with an error, the next session goes to the next endpoint. */
  private dropSession(session: http2.ClientHttp2Session | undefined, error?: unknown): void {
    if (!session || this.session !== session) return;
    this.session = undefined;
    if (error !== undefined) {
      this.endpointIndex++;
      session.destroy();
    } else if (!session.closed) {
      // GOAWAY: calls in flight may finish; new ones go to a new session.
      session.close();
    }
  }

  /** After a missed deadline: a session that does not answer a ping in time is dropped. */
  private checkAlive(session: http2.ClientHttp2Session): void {
    if (session.destroyed || session.closed || this.pinging.has(session)) return;
    this.pinging.add(session);
    const dead = () => this.dropSession(session, new Error('etcd did not answer a ping'));
    const timer = setTimeout(dead, PING_TIMEOUT_MS);
    timer.unref();
    const sent = session.ping((error) => {
      clearTimeout(timer);
      this.pinging.delete(session);
      if (error) dead();
    });
    if (!sent) {
      clearTimeout(timer);
      this.pinging.delete(session);
    }
  }
}

/** A gRPC length-prefixed message: no compression flag, 4-byte big-endian length, the bytes. */
function frame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  return framed;
}

/** The one message of a unary response. */
function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new EtcdRpcError(`etcd answered with ${body.length} bytes, not a gRPC message`, GRPC_STATUS.INTERNAL);
  if (body[0] !== 0) throw new EtcdRpcError('etcd answered with a compressed message, which this client never asks for', GRPC_STATUS.INTERNAL);
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new EtcdRpcError(`etcd's answer is truncated (${body.length - 5} of ${length} bytes)`, GRPC_STATUS.INTERNAL);
  return body.subarray(5, 5 + length);
}

/** grpc-message is percent-encoded (gRPC over HTTP/2, "Responses"). */
function decodeStatusMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(', ') : (value ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
