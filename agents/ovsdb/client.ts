// An OVSDB client (RFC 7047 JSON-RPC over unix, TCP or SSL/TLS sockets) with an in-memory replica kept
// current by a monitor: one long-lived connection, no process spawned per operation.
//
// Guarantees and behaviour:
// - connect() resolves once connected and the monitor's initial snapshot is in the replica; until then it
//   retries (with backoff) for connectTimeoutMs, then rejects with OvsdbConnectionError.
// - transact() resolves after the server committed, and the replica already reflects the transaction:
//   ovsdb-server flushes pending monitor updates on a session before it sends any reply on that session
//   (ovsdb_jsonrpc_session_send flushes the monitors first), and this client applies updates synchronously as
//   they are read. As a safety net, when an inserted row of a monitored table is still missing after the
//   reply, transact waits for an echo round trip (which the server can only answer after flushing) first.
// - The monitor is monitor_cond (update2: a modified row carries only its changed columns, a set or map
//   column only the elements that changed), falling back to plain monitor (whole rows) on a server without it.
// - Row updates are applied a whole notification at a time, then listeners are told (table, uuid, old, new).
// - Keepalive: the server's "echo" requests are answered; after probeIntervalMs without any traffic the client
//   sends its own echo, and a connection silent for another probeIntervalMs is considered dead and dropped.
// - When the connection drops, requests in flight reject with OvsdbConnectionError (a transact whose reply was
//   lost may or may not have committed: callers must be idempotent and re-read the replica), transact() while
//   disconnected rejects at once, and the client reconnects with exponential backoff and jitter (rotating
//   through the endpoints when several are given, comma-separated). After reconnecting it monitors again and
//   replaces the replica atomically with the new snapshot, emitting updates for the rows that differ.
// - close() rejects what is in flight, and leaves no timers or sockets behind.
// - ssl:HOST:PORT endpoints authenticate as OVS's own tools do (ovn-nbctl -p/-c/-C): the client presents its
//   certificate (ovsdb-server requires one) and the server's certificate must chain to the given CA; its
//   names are not compared with HOST, since OVN's PKI (ovs-pki) issues certificates without host names. The
//   files are read at every connection attempt, so renewed certificates are picked up on reconnect.
import { jsonEqual } from '../../apis/meta/equality.ts';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { OvsdbConnectionError, OvsdbError, OvsdbRpcError, OvsdbTransactionError } from './errors.ts';
import { JsonStreamParser } from './framing.ts';
import { applyDatumDiff, decodeDatum, defaultDatum, decodeRow, decodeValue, parseSchema, type ColumnType, type DatabaseSchema, type Row, type TableSchema } from './codec.ts';
import { decodeResults, encodeOperations, type Operation, type OperationResult } from './operations.ts';

/** The logging surface the client needs (a winston Logger fits). */
export interface OvsdbLogger {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

const silentLogger: OvsdbLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Table name → row type. Untyped clients use Record<string, Row>. */
export type TableRows = Record<string, Row>;

export type MonitorSpec<T extends TableRows> = Partial<Record<keyof T & string, readonly string[] | 'all'>>;

/** PEM files for ssl: endpoints (ovn-nbctl's --ca-cert, --certificate, --private-key). */
export interface OvsdbTlsFiles {
  /** The CA the server's certificate must chain to. */
  caCertFile: string;
  /** This client's certificate and its private key. */
  certFile: string;
  keyFile: string;
}

export interface OvsdbClientOptions<T extends TableRows = TableRows> {
  /**
   * 'unix:/path/to.sock', 'tcp:127.0.0.1:6641' or 'ssl:127.0.0.1:6641' ('tcp:[::1]:6641' for IPv6); several
   * comma-separated.
   */
  endpoint: string;
  /** Credentials for ssl: endpoints (required when there is one). */
  tls?: OvsdbTlsFiles;
  /** e.g. 'OVN_Northbound'. */
  database: string;
  /** Tables to keep in the replica, with the columns to monitor ('all': every column of the schema). */
  monitor?: MonitorSpec<T>;
  logger?: OvsdbLogger;
  /** How long connect() keeps trying before it rejects. Default 10000 ms. */
  connectTimeoutMs?: number;
  /**
   * Aborting gives up: connect() closes the client and rejects at once, leaving no socket or timer behind (a
   * caller that stops while connect() still retries would otherwise keep the process alive until the deadline).
   */
  signal?: AbortSignal;
  /** Reconnect backoff: first delay (default 100 ms), doubled per failed attempt up to maxBackoffMs (default 8000 ms). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Idle time before the client sends an echo; the same again without any reply drops the connection. Default 5000 ms. */
  probeIntervalMs?: number;
}

export type UpdateListener<T extends TableRows = TableRows> = <K extends keyof T & string>(
  table: K,
  uuid: string,
  oldRow: T[K] | undefined,
  newRow: T[K] | undefined,
) => void;

export type ConnectionState = 'connected' | 'disconnected' | 'closed';

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  /** Runs synchronously when the reply is read (before any later message is processed). */
  onResult?: (result: unknown) => void;
}

/** Everything that belongs to one TCP/unix connection; a new one per reconnect. */
interface Session {
  readonly socket: net.Socket;
  readonly parser: JsonStreamParser;
  readonly pending: Map<number, Pending>;
  readonly endpoint: string;
  monitorId?: string;
  /** update2 (monitor_cond: modifications carry only what changed) or update (plain monitor). */
  updates?: 'update' | 'update2';
  ready: boolean;
  dead: boolean;
  lastReceive: number;
  echoSentAt?: number;
  keepalive?: NodeJS.Timeout;
  closed: Promise<void>;
}

type Replica = Map<string, Map<string, Row>>;

export type OvsdbEndpoint = { transport: 'unix'; path: string } | { transport: 'tcp' | 'ssl'; host: string; port: number };

export function parseEndpoint(endpoint: string): OvsdbEndpoint {
  if (endpoint.startsWith('unix:')) return { transport: 'unix', path: endpoint.slice('unix:'.length) };
  const network = /^(tcp|ssl):(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(endpoint);
  if (network) return { transport: network[1] as 'tcp' | 'ssl', host: network[2] ?? network[3], port: Number(network[4]) };
  throw new OvsdbError(`unsupported OVSDB endpoint ${JSON.stringify(endpoint)} (use unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)`);
}

/** Reads one of the TLS files; a missing or unreadable one is an OvsdbError naming it (retrying cannot help). */
function readTlsFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new OvsdbError(`cannot read the OVSDB ${what} ${file}: ${(error as Error).message}`);
  }
}

/** Starts a connection to endpoint; the socket emits `ready` once it can carry JSON-RPC. */
function dial(endpoint: string, tlsFiles: OvsdbTlsFiles | undefined): { socket: net.Socket; ready: 'connect' | 'secureConnect' } {
  const target = parseEndpoint(endpoint);
  if (target.transport === 'unix') return { socket: net.connect({ path: target.path }), ready: 'connect' };
  if (target.transport === 'tcp') return { socket: net.connect({ host: target.host, port: target.port }), ready: 'connect' };
  if (!tlsFiles) throw new OvsdbError(`${endpoint}: ssl: endpoints need a CA certificate, a certificate and a private key`);
  const socket = tls.connect({
    host: target.host,
    port: target.port,
    ca: readTlsFile(tlsFiles.caCertFile, 'CA certificate'),
    cert: readTlsFile(tlsFiles.certFile, 'certificate'),
    key: readTlsFile(tlsFiles.keyFile, 'private key'),
    // SNI only for names (an IP address there is not allowed by RFC 6066).
    servername: net.isIP(target.host) ? undefined : target.host,
    // The chain is verified against the CA (rejectUnauthorized stays true); names are not (see the header).
    checkServerIdentity: () => undefined,
  });
  return { socket, ready: 'secureConnect' };
}

/** One connection attempt ran out of time (as opposed to being refused). */
class AttemptTimedOut extends OvsdbConnectionError {}

export class OvsdbClient<T extends TableRows = TableRows> {
  readonly database: string;
  private readonly endpoints: string[];
  private readonly tlsFiles: OvsdbTlsFiles | undefined;
  private readonly monitorSpec: MonitorSpec<T>;
  /** The columns monitored per table, as last requested (update2 rows leave out those at their default). */
  private monitoredColumns = new Map<string, string[]>();
  private readonly log: OvsdbLogger;
  private readonly connectTimeoutMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly probeIntervalMs: number;

  private replica: Replica = new Map();
  private currentSchema: DatabaseSchema | undefined;
  private session: Session | undefined;
  private closed = false;
  private nextId = 1;
  private nextMonitor = 1;
  private endpointIndex = 0;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** A connection still connecting (not yet this.session), so close() can abort it and wait for its socket. */
  private connecting: Session | undefined;
  private readonly updateListeners = new Set<UpdateListener<T>>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();

  private constructor(options: OvsdbClientOptions<T>) {
    this.database = options.database;
    this.endpoints = options.endpoint.split(',').map((endpoint) => endpoint.trim()).filter(Boolean);
    if (this.endpoints.length === 0) throw new OvsdbError('no OVSDB endpoint given');
    for (const endpoint of this.endpoints) {
      if (parseEndpoint(endpoint).transport === 'ssl' && !options.tls) throw new OvsdbError(`${endpoint}: ssl: endpoints need a CA certificate, a certificate and a private key (options.tls)`);
    }
    this.tlsFiles = options.tls;
    this.monitorSpec = options.monitor ?? {};
    this.log = options.logger ?? silentLogger;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 8_000;
    this.probeIntervalMs = options.probeIntervalMs ?? 5_000;
    for (const table of Object.keys(this.monitorSpec)) this.replica.set(table, new Map());
  }

  /** Connects, loads the monitor snapshot, and returns the client (see the file header). */
  static async connect<T extends TableRows = TableRows>(options: OvsdbClientOptions<T>): Promise<OvsdbClient<T>> {
    const client = new OvsdbClient<T>(options);
    const deadline = Date.now() + client.connectTimeoutMs;
    const signal = options.signal;
    let wake: (() => void) | undefined;
    const onAbort = () => {
      void client.close(); // destroys a socket still connecting
      wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let lastError: unknown;
    try {
      for (;;) {
        if (signal?.aborted) throw new OvsdbConnectionError(`connecting to OVSDB ${client.database} was aborted`);
        try {
          await client.establish(Math.max(1, deadline - Date.now()));
          return client;
        } catch (error) {
          // An attempt cut short by the deadline says less than the refusal before it (a certificate the server
          // rejected, a connection refused): keep that one for the message.
          if (!(error instanceof AttemptTimedOut && lastError !== undefined)) lastError = error;
          // A schema that lacks a monitored table will not fix itself: fail at once.
          if (error instanceof OvsdbError && !(error instanceof OvsdbConnectionError)) break;
        }
        if (signal?.aborted) throw new OvsdbConnectionError(`connecting to OVSDB ${client.database} was aborted`);
        const delay = client.backoffDelay();
        if (Date.now() + delay >= deadline) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } catch (error) {
      await client.close();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    await client.close();
    if (lastError instanceof OvsdbError && !(lastError instanceof OvsdbConnectionError)) throw lastError;
    throw new OvsdbConnectionError(
      `cannot connect to OVSDB ${client.database} at ${client.endpoints.join(',')} within ${client.connectTimeoutMs} ms: ${errorText(lastError)}`,
      { cause: lastError },
    );
  }

  // ---- replica --------------------------------------------------------------------------------------

  /** The database schema (as of the current connection). */
  get schema(): DatabaseSchema {
    if (!this.currentSchema) throw new OvsdbConnectionError('not connected');
    return this.currentSchema;
  }

  get connected(): boolean {
    return this.session?.ready === true && !this.closed;
  }

  /** Every replicated row of a monitored table, by UUID. */
  rows<K extends keyof T & string>(table: K): ReadonlyMap<string, T[K]> {
    const rows = this.replica.get(table);
    if (!rows) throw new OvsdbError(`table ${table} is not monitored`);
    return rows as unknown as ReadonlyMap<string, T[K]>;
  }

  get<K extends keyof T & string>(table: K, uuid: string): T[K] | undefined {
    return this.rows(table).get(uuid);
  }

  find<K extends keyof T & string>(table: K, predicate: (row: T[K]) => boolean): T[K][] {
    const found: T[K][] = [];
    for (const row of this.rows(table).values()) if (predicate(row)) found.push(row);
    return found;
  }

  /** Called for every row change after it is in the replica; returns an unsubscribe function. */
  onUpdate(listener: UpdateListener<T>): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** Called when the connection goes up (monitor loaded) or down; returns an unsubscribe function. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  // ---- requests -------------------------------------------------------------------------------------

  /**
   * Runs a transaction. Resolves with one result per operation once the server committed it (and the replica
   * shows it); rejects with OvsdbTransactionError when any operation or the commit failed (nothing written),
   * OvsdbConnectionError when not connected or the connection dropped before the reply (outcome unknown).
   */
  /** Transactions sent, and how many of them the server refused (for metrics and benchmarks). */
  readonly stats = { transactions: 0, failedTransactions: 0 };

  async transact(operations: readonly Operation[]): Promise<OperationResult[]> {
    const session = this.readySession();
    const encoded = encodeOperations(this.currentSchema, operations);
    this.stats.transactions++;
    const reply = await this.request(session, 'transact', [this.database, ...encoded]);
    if (!Array.isArray(reply)) throw new OvsdbError(`malformed transact reply: ${JSON.stringify(reply)}`);
    const results = decodeResults(this.currentSchema, operations, reply);
    const failed = results.findIndex((result) => result.error !== undefined);
    if (failed >= 0) {
      const result = results[failed]!;
      this.stats.failedTransactions++;
      throw new OvsdbTransactionError(failed, operations[failed], result.error!, result.details, results);
    }
    if (results.length < operations.length) {
      throw new OvsdbError(`transact reply has ${results.length} results for ${operations.length} operations`);
    }
    if (this.missingInserts(operations, results) && session === this.session && !session.dead) {
      this.log.debug('ovsdb: reply arrived before the monitor update; waiting for an echo round trip');
      await this.request(session, 'echo', ['barrier']);
    }
    return results;
  }

  /** A JSON-RPC echo round trip (also a barrier: every update the server had queued arrives before it). */
  async echo(): Promise<void> {
    await this.request(this.readySession(), 'echo', ['photon']);
  }

  /** Any other RFC 7047 method (list_dbs, get_schema, …) on the current connection. */
  async call(method: string, params: unknown[]): Promise<unknown> {
    return this.request(this.readySession(), method, params);
  }

  /** Stops reconnecting, drops the connection, rejects what is in flight. Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.emitState('closed');
    }
    // A connection attempt in flight: its socket and connect timer go away on the socket's 'close' event,
    // which comes a loop turn after destroy(); wait for it so close() leaves nothing behind when it resolves.
    const connecting = this.connecting;
    if (connecting) {
      connecting.socket.destroy();
      await connecting.closed;
    }
    const session = this.session;
    if (session) {
      this.teardown(session, new OvsdbConnectionError('client closed'));
      await session.closed;
    }
  }

  // ---- connection lifecycle -------------------------------------------------------------------------

  private readySession(): Session {
    if (this.closed) throw new OvsdbConnectionError('client closed');
    const session = this.session;
    if (!session || !session.ready || session.dead) throw new OvsdbConnectionError(`not connected to ${this.database}`);
    return session;
  }

  private backoffDelay(): number {
    const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  /** One connection attempt: socket, schema, monitor + snapshot. Throws on failure (socket closed). */
  private async establish(timeoutMs: number): Promise<void> {
    const endpoint = this.endpoints[this.endpointIndex % this.endpoints.length]!;
    this.endpointIndex++;
    const session = await this.open(endpoint, timeoutMs);
    try {
      const schema = parseSchema(await this.request(session, 'get_schema', [this.database]));
      const requests: Record<string, { columns: string[] }> = {};
      for (const [table, columns] of Object.entries(this.monitorSpec) as Array<[string, readonly string[] | 'all']>) {
        const tableSchema = schema.tables[table];
        if (!tableSchema) throw new OvsdbError(`database ${this.database} has no table ${table}`);
        const wanted = columns === 'all' ? Object.keys(tableSchema.columns) : [...columns];
        for (const column of wanted) {
          if (!tableSchema.columns[column]) throw new OvsdbError(`table ${table} has no column ${column}`);
        }
        requests[table] = { columns: wanted };
      }
      if (Object.keys(requests).length > 0) {
        // monitor_cond (ovsdb-server ≥ 2.6) sends a modified row's changes only — for a set column the elements
        // added or removed — where monitor resends the whole row; plain monitor is the fallback.
        const load = (method: 'monitor_cond' | 'monitor') => {
          const monitorId = `photon-${this.nextMonitor++}`;
          return this.request(session, method, [this.database, monitorId, requests], (result) => {
            // Synchronous: later messages (updates for this monitor) are applied on top of this snapshot.
            session.monitorId = monitorId;
            session.updates = method === 'monitor_cond' ? 'update2' : 'update';
            this.currentSchema = schema;
            this.monitoredColumns = new Map(Object.entries(requests).map(([table, request]) => [table, request.columns]));
            this.installSnapshot(schema, method === 'monitor_cond' ? this.initialRows(schema, result) : result);
          });
        };
        try {
          await load('monitor_cond');
        } catch (error) {
          if (!(error instanceof OvsdbRpcError) || error.error !== 'unknown method') throw error;
          await load('monitor');
        }
      }
      this.currentSchema = schema;
      if (this.closed) throw new OvsdbConnectionError('client closed');
      if (session.dead) throw new OvsdbConnectionError(`connection to ${endpoint} closed while loading the monitor`);
      session.ready = true;
      this.failures = 0;
      this.log.info('ovsdb: connected', { database: this.database, endpoint });
      this.emitState('connected');
    } catch (error) {
      this.teardown(session, error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  private open(endpoint: string, timeoutMs: number): Promise<Session> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new OvsdbConnectionError('client closed'));
      const { socket, ready } = dial(endpoint, this.tlsFiles);
      socket.setNoDelay?.(true);
      let closedResolve!: () => void;
      const session: Session = {
        socket,
        parser: new JsonStreamParser(),
        pending: new Map(),
        endpoint,
        ready: false,
        dead: false,
        lastReceive: Date.now(),
        closed: new Promise<void>((done) => (closedResolve = done)),
      };
      this.connecting = session;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(new AttemptTimedOut(`connecting to ${endpoint} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once(ready, () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.connecting = undefined;
        if (this.closed) {
          socket.destroy();
          reject(new OvsdbConnectionError('client closed'));
          return;
        }
        this.session = session;
        this.startKeepalive(session);
        resolve(session);
      });
      socket.on('data', (chunk: Buffer) => this.onData(session, chunk));
      socket.on('error', (error) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new OvsdbConnectionError(`cannot connect to ${endpoint}: ${error.message}`, { cause: error }));
          return;
        }
        this.log.debug('ovsdb: socket error', { database: this.database, endpoint, error: error.message });
      });
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.connecting === session) this.connecting = undefined;
        closedResolve();
        if (!settled) {
          settled = true;
          reject(new OvsdbConnectionError(`connection to ${endpoint} closed while connecting`));
          return;
        }
        if (this.session === session) this.onDisconnect(session);
      });
    });
  }

  private startKeepalive(session: Session): void {
    const tick = Math.max(10, Math.floor(this.probeIntervalMs / 4));
    session.keepalive = setInterval(() => {
      if (session.dead) return;
      const now = Date.now();
      if (session.echoSentAt !== undefined) {
        if (now - session.echoSentAt >= this.probeIntervalMs) {
          this.log.warn('ovsdb: no reply to echo, dropping the connection', { database: this.database, endpoint: session.endpoint });
          session.socket.destroy();
        }
        return;
      }
      if (now - session.lastReceive >= this.probeIntervalMs) {
        session.echoSentAt = now;
        this.request(session, 'echo', ['keepalive']).then(
          () => (session.echoSentAt = undefined),
          () => undefined,
        );
      }
    }, tick);
    session.keepalive.unref();
  }

  private onDisconnect(session: Session): void {
    const wasReady = session.ready;
    this.teardown(session, new OvsdbConnectionError(`connection to ${this.database} at ${session.endpoint} lost`));
    if (this.closed) return;
    if (wasReady) {
      this.log.warn('ovsdb: connection lost, reconnecting', { database: this.database, endpoint: session.endpoint });
      this.emitState('disconnected');
      this.scheduleReconnect();
    }
    // A session that never became ready belongs to connect() or to a reconnect attempt, which handle it.
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoffDelay();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.establish(Math.max(1000, this.maxBackoffMs)).catch((error: unknown) => {
        if (this.closed) return;
        this.log.debug('ovsdb: reconnect attempt failed', { database: this.database, error: errorText(error) });
        if (error instanceof OvsdbError && !(error instanceof OvsdbConnectionError)) {
          this.log.error('ovsdb: reconnect failed', { database: this.database, error: errorText(error) });
        }
        this.scheduleReconnect();
      });
    }, delay);
  }

  /** Marks a session dead, rejects its requests, stops its timers and destroys its socket. */
  private teardown(session: Session, reason: Error): void {
    if (!session.dead) {
      session.dead = true;
      session.ready = false;
      if (session.keepalive) clearInterval(session.keepalive);
      const error = reason instanceof OvsdbConnectionError ? reason : new OvsdbConnectionError(reason.message, { cause: reason });
      for (const pending of session.pending.values()) pending.reject(error);
      session.pending.clear();
    }
    session.socket.destroy();
  }

  // ---- wire -----------------------------------------------------------------------------------------

  private request(session: Session, method: string, params: unknown[], onResult?: (result: unknown) => void): Promise<unknown> {
    if (session.dead) return Promise.reject(new OvsdbConnectionError(`connection to ${this.database} lost`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      session.pending.set(id, { method, resolve, reject, ...(onResult ? { onResult } : {}) });
      this.send(session, { id, method, params });
    });
  }

  private send(session: Session, message: unknown): void {
    session.socket.write(JSON.stringify(message));
  }

  private onData(session: Session, chunk: Buffer): void {
    if (session.dead) return;
    session.lastReceive = Date.now();
    let messages: unknown[];
    try {
      messages = session.parser.push(chunk);
    } catch (error) {
      this.log.error('ovsdb: protocol error, dropping the connection', { database: this.database, error: errorText(error) });
      session.socket.destroy();
      return;
    }
    for (const message of messages) {
      if (session.dead) return;
      try {
        this.onMessage(session, message as Record<string, unknown>);
      } catch (error) {
        this.log.error('ovsdb: cannot handle a message, dropping the connection', { database: this.database, error: errorText(error) });
        session.socket.destroy();
        return;
      }
    }
  }

  private onMessage(session: Session, message: Record<string, unknown>): void {
    if (typeof message.method === 'string') {
      const params = Array.isArray(message.params) ? message.params : [];
      const isRequest = message.id !== null && message.id !== undefined;
      if (message.method === 'echo' && isRequest) {
        this.send(session, { id: message.id, result: params, error: null });
      } else if (message.method === session.updates && !isRequest) {
        if (params[0] === session.monitorId && session.monitorId !== undefined) {
          if (session.updates === 'update2') this.applyUpdate2(params[1] as Record<string, Record<string, RowUpdate2>>);
          else this.applyUpdate(params[1] as Record<string, Record<string, RowUpdate>>);
        }
      } else if (isRequest) {
        this.send(session, { id: message.id, result: null, error: 'unknown method' });
      } else {
        this.log.debug('ovsdb: ignoring notification', { database: this.database, method: message.method });
      }
      return;
    }
    // A reply.
    const id = message.id;
    if (typeof id !== 'number') return;
    const pending = session.pending.get(id);
    if (!pending) return;
    session.pending.delete(id);
    if (message.error !== null && message.error !== undefined) {
      pending.reject(new OvsdbRpcError(pending.method, message.error));
      return;
    }
    if (pending.onResult) pending.onResult(message.result);
    pending.resolve(message.result);
  }

  // ---- replica maintenance --------------------------------------------------------------------------

  /** Replaces the replica with a monitor snapshot; emits updates for every row that differs from before. */
  private installSnapshot(schema: DatabaseSchema, result: unknown): void {
    const next: Replica = new Map();
    for (const table of Object.keys(this.monitorSpec)) next.set(table, new Map());
    const updates = (result ?? {}) as Record<string, Record<string, RowUpdate>>;
    for (const [table, rows] of Object.entries(updates)) {
      const target = next.get(table);
      if (!target) continue;
      const tableSchema = schema.tables[table];
      for (const [id, update] of Object.entries(rows)) {
        if (update.new) target.set(id, Object.freeze(decodeRow(tableSchema, id, update.new)));
      }
    }
    const previous = this.replica;
    this.replica = next;
    const events: ChangeEvent[] = [];
    for (const [table, rows] of next) {
      const before = previous.get(table) ?? new Map<string, Row>();
      for (const [id, row] of rows) {
        const old = before.get(id);
        if (!old || !jsonEqual(old, row)) events.push([table, id, old, row]);
      }
      for (const [id, old] of before) if (!rows.has(id)) events.push([table, id, old, undefined]);
    }
    this.emitUpdates(events);
  }

  /** An update notification (plain monitor): whole new rows, or for a modification the changed columns. */
  private applyUpdate(tableUpdates: Record<string, Record<string, RowUpdate>>): void {
    this.applyRows(tableUpdates, (_table, schema, id, update, old) => {
      if (!update.new) return undefined;
      return old && update.old ? mergeRow(schema, old, update.new) : decodeRow(schema, id, update.new);
    });
  }

  /** Applies one notification's rows to the replica: `next` gives a row's new state (undefined: deleted). */
  private applyRows<U>(
    tableUpdates: Record<string, Record<string, U>>,
    next: (table: string, schema: TableSchema | undefined, id: string, update: U, old: Row | undefined) => Row | undefined,
  ): void {
    const events: ChangeEvent[] = [];
    for (const [table, rows] of Object.entries(tableUpdates ?? {})) {
      const target = this.replica.get(table);
      if (!target) continue;
      const tableSchema = this.currentSchema?.tables[table];
      for (const [id, update] of Object.entries(rows)) {
        const old = target.get(id);
        const row = next(table, tableSchema, id, update, old);
        if (!row) {
          if (old) {
            target.delete(id);
            events.push([table, id, old, undefined]);
          }
          continue;
        }
        Object.freeze(row);
        target.set(id, row);
        events.push([table, id, old, row]);
      }
    }
    this.emitUpdates(events);
  }

  /** An update2 row (columns holding their default left out) with every monitored column. */
  private withDefaults(tableSchema: TableSchema | undefined, table: string, json: Record<string, unknown>): Record<string, unknown> {
    const complete: Record<string, unknown> = {};
    for (const column of this.monitoredColumns.get(table) ?? []) {
      const type = tableSchema?.columns[column]?.type;
      if (!type || column in json) continue;
      const value = defaultDatum(type);
      // In wire form, for decodeRow: a map or set as its empty form, a scalar as itself.
      if (value !== undefined) complete[column] = Array.isArray(value) ? ['set', []] : typeof value === 'object' ? ['map', []] : type.key.type === 'uuid' ? ['uuid', value] : value;
    }
    return { ...complete, ...json };
  }

  /** A monitor_cond reply (<table-updates2>, rows as `initial`) in the shape of a monitor reply (`new`). */
  private initialRows(schema: DatabaseSchema, result: unknown): Record<string, Record<string, RowUpdate>> {
    const tables: Record<string, Record<string, RowUpdate>> = {};
    for (const [table, rows] of Object.entries((result ?? {}) as Record<string, Record<string, RowUpdate2>>)) {
      tables[table] = {};
      for (const [id, update] of Object.entries(rows)) {
        const row = update.initial ?? update.insert;
        if (row) tables[table][id] = { new: this.withDefaults(schema.tables[table], table, row) };
      }
    }
    return tables;
  }

  /** An update2 notification: rows inserted, deleted, or modified by the changes of their columns. */
  private applyUpdate2(tableUpdates: Record<string, Record<string, RowUpdate2>>): void {
    this.applyRows(tableUpdates, (table, schema, id, update, old) => {
      if (update.modify && old) return mergeRow(schema, old, update.modify, (diff, type, current) => applyDatumDiff(current, diff, type));
      const inserted = update.insert ?? update.initial;
      // Otherwise a delete (or a modify of a row this replica never had, which a correct server does not send).
      return inserted ? decodeRow(schema, id, this.withDefaults(schema, table, inserted)) : undefined;
    });
  }

  private emitUpdates(events: ChangeEvent[]): void {
    for (const [table, id, old, row] of events) {
      for (const listener of this.updateListeners) {
        try {
          (listener as UpdateListener)(table, id, old, row);
        } catch (error) {
          this.log.error('ovsdb: update listener threw', { database: this.database, table, error: errorText(error) });
        }
      }
    }
  }

  private emitState(state: ConnectionState): void {
    for (const listener of this.stateListeners) {
      try {
        listener(state);
      } catch (error) {
        this.log.error('ovsdb: state listener threw', { database: this.database, error: errorText(error) });
      }
    }
  }

  private missingInserts(operations: readonly Operation[], results: OperationResult[]): boolean {
    return operations.some((operation, index) => {
      if (operation.op !== 'insert') return false;
      const rows = this.replica.get(operation.table);
      const inserted = results[index]?.uuid;
      return rows !== undefined && inserted !== undefined && !rows.has(inserted);
    });
  }
}

interface RowUpdate {
  old?: Record<string, unknown>;
  new?: Record<string, unknown>;
}

/** A <row-update2> of monitor_cond: exactly one member is present. */
interface RowUpdate2 {
  initial?: Record<string, unknown>;
  insert?: Record<string, unknown>;
  modify?: Record<string, unknown>;
  delete?: null;
}

type ChangeEvent = [table: string, uuid: string, oldRow: Row | undefined, newRow: Row | undefined];

/** A "modify" update: the old row with every column the server sent replaced (empty optional → removed). */
function mergeRow(
  table: TableSchema | undefined,
  old: Row,
  json: Record<string, unknown>,
  decode: (value: unknown, type: ColumnType, current: unknown) => unknown = (value, type) => decodeDatum(value, type),
): Row {
  const row: Record<string, unknown> = { ...old };
  for (const [column, value] of Object.entries(json)) {
    if (column === '_uuid') continue;
    const schema = table?.columns[column];
    const decoded = schema ? decode(value, schema.type, old[column]) : decodeValue(value);
    if (decoded === undefined) delete row[column];
    else row[column] = decoded;
  }
  return row as Row;
}


function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
