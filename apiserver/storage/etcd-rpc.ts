// etcd's gRPC calls as plain HTTP/2 over one node:http2 session: unary KV calls (Range, Txn, Compact) and
// long-lived Watch streams (openStream, used by etcd-watch.ts), with the messages encoded by etcd-proto.ts.
// Why not the etcd3 package's client: every unary call through it cost ~3× the client CPU of a bare HTTP/2
// request (cockatiel policies, grpc-js's call stack and filters, protobufjs), measured at 224 µs against
// 75 µs per create txn at concurrency 64, and the API server makes one or two such calls per request.
//
// What a gRPC client owes etcd here, and how:
//   - Deadlines: every call has one (grpc-timeout tells etcd too); a call past it is cancelled and fails
//     DEADLINE_EXCEEDED. The session is then pinged, and dropped if it does not answer, so a peer that
//     vanished without a reset (partition) is noticed without a keepalive timer on an idle connection
//     (etcd's keepalive policy penalises pings without calls).
//   - Keepalive: while streams are open, the session is pinged every KEEPALIVE_INTERVAL_MS and dropped when
//     a ping goes unanswered for KEEPALIVE_TIMEOUT_MS, so a watch on a vanished peer ends and reconnects.
//   - Failover: a session that fails (connection refused, reset, GOAWAY, no answer to a ping) is dropped and
//     the next call connects to the next endpoint. A write is never repeated: one whose answer was lost may
//     have been applied, and only the caller knows whether repeating it is safe. Two things are: a request
//     that never left (the session closed just before it), and a read (idempotent: true) whose connection
//     was lost before etcd answered — etcd stopping gracefully closes its connections under calls in flight.
//   - Bounds: a response larger than MAX_RESPONSE_BYTES fails the call (RESOURCE_EXHAUSTED) instead of
//     growing memory; lists are paged by the callers well below it.
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import { errorMessage } from '../../lib/logging.ts';
import { requestStream } from './http2-request.ts';

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
/** Keepalive of a session with open streams (as grpc's keepalive_time_ms / keepalive_timeout_ms were). */
const KEEPALIVE_INTERVAL_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
/** Flow-control windows: large answers (list pages) arrive without waiting for window updates. */
const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 32 * 1024 * 1024;

export class EtcdRpcError extends Error {
  constructor(
    message: string,
    /** The gRPC status; UNAVAILABLE for failures of the connection itself. */
    readonly code: number,
    /** The connection failed before etcd finished answering: a read may be repeated on a new one. */
    readonly connectionLost = false,
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
  /** Keepalive while streams are open (defaults KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS). */
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
}

export class EtcdRpcClient {
  private session: http2.ClientHttp2Session | undefined;
  private endpointIndex = 0;
  private closed = false;
  private readonly pinging = new WeakSet<http2.ClientHttp2Session>();
  /** Open streams (watches), for keepalive. */
  private openStreams = 0;
  private keepalive: NodeJS.Timeout | undefined;
  readonly maxResponseBytes: number;
  readonly timeoutMs: number;
  private readonly grpcTimeout: string;

  constructor(private readonly options: EtcdRpcOptions) {
    if (options.endpoints.length === 0) throw new Error('EtcdRpcClient: no endpoints');
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.timeoutMs = options.timeoutMs;
    this.grpcTimeout = `${options.timeoutMs}m`;
  }

  /**
   * Calls /etcdserverpb.<service>/<method> with an encoded request; resolves with the encoded response. An
   * idempotent call (a read) whose connection is lost before etcd answers is made once more, on a new one.
   */
  call(service: 'KV', method: string, request: Buffer, options: { idempotent?: boolean } = {}): Promise<Buffer> {
    const attempt = this.callOnce(service, method, request);
    if (!options.idempotent) return attempt;
    return attempt.catch(async (error: unknown) => {
      if (!(error instanceof EtcdRpcError && error.connectionLost) || this.closed) throw error;
      // A session that failed closes its streams before it reports its own end: let it, so the second try
      // does not go to the same dead session.
      await new Promise((resolve) => setImmediate(resolve));
      return this.callOnce(service, method, request);
    });
  }

  private callOnce(service: 'KV', method: string, request: Buffer): Promise<Buffer> {
    let started: { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream };
    try {
      started = this.start(service, method, this.grpcTimeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const { session, stream } = started;
    const call = new UnaryCall(this, session, stream);
    stream.end(frame(request));
    return call.promise;
  }

  /**
   * Opens a long-lived call (a bidirectional stream) on the current session: no deadline; its messages are
   * written with write() and arrive as 'message' events; it ends with 'end' (etcd finished it) or 'error'.
   */
  openStream(service: 'Watch', method: string): RpcStream {
    const { stream } = this.start(service, method, undefined);
    this.openStreams++;
    this.scheduleKeepalive();
    return new RpcStream(stream, this.maxResponseBytes, () => this.openStreams--);
  }

  /** A new gRPC call's HTTP/2 stream on the current session; grpcTimeout tells etcd the call's deadline. */
  private start(service: string, method: string, grpcTimeout: string | undefined): { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream } {
    if (this.closed) throw new EtcdRpcError('the etcd client is closed', GRPC_STATUS.UNAVAILABLE);
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': `/etcdserverpb.${service}/${method}`, 'content-type': 'application/grpc', te: 'trailers' };
    if (grpcTimeout) headers['grpc-timeout'] = grpcTimeout;
    for (let attempt = 1; ; attempt++) {
      const session = this.currentSession();
      try {
        return { session, stream: requestStream(session, headers) };
      } catch (error) {
        // The session closed between the check and the request: nothing was sent, so a new session may take it.
        this.dropSession(session, error);
        if (attempt === 2) throw new EtcdRpcError(`cannot start a call to etcd: ${errorMessage(error)}`, GRPC_STATUS.UNAVAILABLE, true);
      }
    }
  }

  /** For UnaryCall: a call missed its deadline on session. */
  missedDeadline(session: http2.ClientHttp2Session): void {
    this.checkAlive(session);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.keepalive);
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

  private scheduleKeepalive(): void {
    if (this.keepalive) return;
    this.keepalive = setInterval(() => {
      if (this.openStreams === 0) {
        clearInterval(this.keepalive);
        this.keepalive = undefined;
        return;
      }
      if (this.session) this.checkAlive(this.session, this.options.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS);
    }, this.options.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS);
    this.keepalive.unref();
  }

  /** After a missed deadline, or for keepalive: a session that does not answer a ping in time is dropped. */
  private checkAlive(session: http2.ClientHttp2Session, timeoutMs = PING_TIMEOUT_MS): void {
    if (session.destroyed || session.closed || this.pinging.has(session)) return;
    this.pinging.add(session);
    const dead = () => this.dropSession(session, new Error('etcd did not answer a ping'));
    const timer = setTimeout(dead, timeoutMs);
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

/**
 * One call in flight: its stream's events go to listeners shared by every call (the call is found through
 * the stream), so a call allocates no closures; at tens of thousands of calls a second that is measurable.
 */
class UnaryCall {
  readonly promise: Promise<Buffer>;
  private resolve!: (response: Buffer) => void;
  private reject!: (error: Error) => void;
  private settled = false;
  private status: GrpcStatus | undefined;
  private httpStatus: number | undefined;
  private received = 0;
  private readonly chunks: Buffer[] = [];
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly client: EtcdRpcClient,
    private readonly session: http2.ClientHttp2Session,
    private readonly stream: http2.ClientHttp2Stream,
  ) {
    this.promise = new Promise<Buffer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.deadline = setTimeout(onDeadline, client.timeoutMs, this);
    (stream as CallStream)[CALL] = this;
    stream.on('response', onResponse);
    stream.on('trailers', onTrailers);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('close', onClose);
  }

  headers(headers: http2.IncomingHttpHeaders, isTrailers: boolean): void {
    if (!isTrailers) this.httpStatus = Number(headers[':status']);
    this.status = readGrpcStatus(headers) ?? this.status;
  }

  data(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > this.client.maxResponseBytes) {
      this.settle(new EtcdRpcError(`etcd's answer is larger than ${this.client.maxResponseBytes} bytes`, GRPC_STATUS.RESOURCE_EXHAUSTED));
      this.stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    }
    this.chunks.push(chunk);
  }

  failed(error: unknown): void {
    this.settle(new EtcdRpcError(`the call to etcd failed: ${errorMessage(error)}`, GRPC_STATUS.UNAVAILABLE, true));
  }

  closed(): void {
    if (this.settled) return;
    const why =
      this.httpStatus !== undefined && this.httpStatus !== 200 ? `HTTP status ${this.httpStatus} without a gRPC status` : 'the stream closed before etcd answered';
    const error = endOfCallError(this.status, why);
    if (error) return this.settle(error);
    try {
      this.settle(undefined, unframe(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)));
    } catch (error) {
      this.settle(error as Error);
    }
  }

  expired(): void {
    this.settle(new EtcdRpcError(`etcd did not answer within ${this.client.timeoutMs} ms`, GRPC_STATUS.DEADLINE_EXCEEDED));
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.client.missedDeadline(this.session);
  }

  private settle(error: Error | undefined, response?: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.deadline);
    if (error) this.reject(error);
    else this.resolve(response!);
  }
}

const CALL = Symbol('etcd-rpc call');
type CallStream = http2.ClientHttp2Stream & { [CALL]: UnaryCall };

function onResponse(this: CallStream, headers: http2.IncomingHttpHeaders): void {
  this[CALL].headers(headers, false);
}
function onTrailers(this: CallStream, headers: http2.IncomingHttpHeaders): void {
  this[CALL].headers(headers, true);
}
function onData(this: CallStream, chunk: Buffer): void {
  this[CALL].data(chunk);
}
function onError(this: CallStream, error: Error): void {
  this[CALL].failed(error);
}
function onClose(this: CallStream): void {
  this[CALL].closed();
}
function onDeadline(call: UnaryCall): void {
  call.expired();
}

/**
 * A long-lived call: length-prefixed messages both ways. Events: 'message' (Buffer, one whole message),
 * 'end' (etcd finished the call with status OK), 'error' (EtcdRpcError: the connection failed, etcd ended the
 * call with an error status, or a message broke the framing or the size bound). After cancel(), nothing.
 */
export class RpcStream extends EventEmitter {
  private status: GrpcStatus | undefined;
  private finished = false;
  /** Bytes received and not yet handed out as messages. */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly maxMessageBytes: number,
    private readonly onFinish: () => void,
  ) {
    super();
    const readStatus = (headers: http2.IncomingHttpHeaders) => {
      this.status = readGrpcStatus(headers) ?? this.status;
    };
    stream.on('response', readStatus);
    stream.on('trailers', readStatus);
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('error', (error) => this.finish(new EtcdRpcError(`the call to etcd failed: ${errorMessage(error)}`, GRPC_STATUS.UNAVAILABLE)));
    // etcd ends the call with its status (trailers); our side is still open then, so the stream would never
    // close by itself: 'end' of what etcd sends is the end of the call.
    const ended = () => {
      this.finish(endOfCallError(this.status, 'the stream closed before etcd ended it'));
      if (!stream.closed) stream.close();
    };
    stream.on('end', ended);
    stream.on('close', ended);
  }

  write(message: Buffer): void {
    if (!this.finished) this.stream.write(frame(message));
  }

  /** Ends the call from this side (RST_STREAM CANCEL); no event follows. */
  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish();
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private receive(chunk: Buffer): void {
    if (this.finished) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 5) {
      const head = this.pending[0].length >= 5 ? this.pending[0] : Buffer.concat(this.pending);
      let length: number;
      try {
        length = messageLength(head);
      } catch (error) {
        return this.broken(error as EtcdRpcError);
      }
      if (length > this.maxMessageBytes) {
        return this.broken(new EtcdRpcError(`etcd sent a message larger than ${this.maxMessageBytes} bytes`, GRPC_STATUS.RESOURCE_EXHAUSTED));
      }
      if (this.pendingBytes < 5 + length) return;
      // One copy per message at most: the common case is a message that arrived in one chunk.
      const bytes = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      const message = bytes.subarray(5, 5 + length);
      const rest = bytes.subarray(5 + length);
      this.pending.length = 0;
      this.pendingBytes = rest.length;
      if (rest.length > 0) this.pending.push(rest);
      this.emit('message', message);
      if (this.finished) return;
    }
  }

  private broken(error: EtcdRpcError): void {
    this.finish(error);
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private finish(error: EtcdRpcError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish();
    if (error) this.emit('error', error);
    else this.emit('end');
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

/** The length in a message's 5-byte prefix (at least 5 bytes given); a compressed message is refused. */
function messageLength(head: Buffer): number {
  if (head[0] !== 0) throw new EtcdRpcError('etcd sent a compressed message, which this client never asks for', GRPC_STATUS.INTERNAL);
  return head.readUInt32BE(1);
}

/** The one message of a unary response. */
function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new EtcdRpcError(`etcd answered with ${body.length} bytes, not a gRPC message`, GRPC_STATUS.INTERNAL);
  const length = messageLength(body);
  if (body.length < 5 + length) throw new EtcdRpcError(`etcd's answer is truncated (${body.length - 5} of ${length} bytes)`, GRPC_STATUS.INTERNAL);
  return body.subarray(5, 5 + length);
}

/** The status a call ended with (in its trailers, or in the headers of a trailers-only answer). */
interface GrpcStatus {
  code: number;
  message: string;
}

function readGrpcStatus(headers: http2.IncomingHttpHeaders): GrpcStatus | undefined {
  const code = headers['grpc-status'];
  return code === undefined ? undefined : { code: Number(code), message: decodeStatusMessage(headers['grpc-message']) };
}

/**
 * Why a call that ended failed, or undefined when it succeeded: etcd's status, or — without one — a lost
 * connection (noStatus says how), after which a read may be repeated.
 */
function endOfCallError(status: GrpcStatus | undefined, noStatus: string): EtcdRpcError | undefined {
  if (status === undefined) return new EtcdRpcError(`the call to etcd failed: ${noStatus}`, GRPC_STATUS.UNAVAILABLE, true);
  if (status.code !== GRPC_STATUS.OK) return new EtcdRpcError(status.message || `gRPC status ${status.code}`, status.code);
  return undefined;
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
