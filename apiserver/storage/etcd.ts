// The etcd backend (production). Revisions are etcd's: a key's modRevision is its mod_revision and every
// conditional write is a single txn whose compares make it a compare-and-swap.
//
// Unary calls (reads, conditional writes, compaction) go through etcd-rpc.ts, a lean gRPC client over
// node:http2; watch streams go through etcd3's client.
//
// Things about etcd3@1.1.2 this module works around (checked against etcd 3.4):
//   - Its Watcher is not used:
//       * a watch started below the compacted revision ends with a bare EtcdError("Watcher canceled: "):
//         the response's compact_revision is dropped;
//       * after a disconnect it resumes from the revision in the header of the last response, including the
//         "created" response, whose header is the *current* revision: a disconnect while history is still
//         being replayed silently skips the rest of it (read from its source);
//       * its reconnect-backoff timer (up to 30 s) survives client.close() and keeps the process alive;
//       * when etcd cancels the only watcher on the client's shared stream (compaction), the manager cancels
//         the stream but stays "connected": a watcher created afterwards resolved create() and then never
//         received an event or a disconnect, even across an etcd restart.
//     Watches here run on raw Watch streams with their own resume point (see etcd-watch.ts).
//   - Its dialTimeout option is never read; requests are bounded by a per-call deadline instead.
//   - Its default fault handling (still configured for the watch streams' connection) retries failed calls three times, including writes whose response was lost
//     after etcd applied them (the compare then fails on the retry: a create that succeeded is reported as
//     AlreadyExists), and opens a per-endpoint circuit breaker for 5 s after 3 failures (a single etcd that
//     restarted stays "unavailable" for 5 s more). Here: no retries (Unavailable goes to the caller, who
//     knows whether the write is safe to repeat), and a short breaker only when there are several endpoints
//     to fail over to.
// And one about etcd itself: before 3.4.31 / 3.5.13 its answer to a watch progress request can overtake the
// watcher's events, so the answer is confirmed before it is reported (see etcd-watch.ts).
import fs from 'node:fs';
import tls from 'node:tls';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, noop } from 'cockatiel';
import { ClientClosedError, Etcd3, isRecoverableError, type IEvent, type IOptions } from 'etcd3';
import { errorMessage } from '../../lib/logging.ts';
import {
  directoryOf,
  isStorageError,
  StorageError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type WatchEvent,
  type WatchHandle,
  type WatchHandler,
} from './types.ts';
import { EtcdWatch, type KeyRange } from './etcd-watch.ts';
import {
  decodeRangeResponse,
  decodeTxnResponse,
  encodeCompactionRequest,
  encodeRangeRequest,
  encodeTxnRequest,
  type Compare,
  type KeyValueMessage,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
} from './etcd-proto.ts';
import { EtcdRpcClient, EtcdRpcError } from './etcd-rpc.ts';

export interface EtcdStoreOptions {
  /** Client URLs, e.g. ['http://127.0.0.1:2379']; https:// URLs use TLS. */
  endpoints: string[];
  /**
   * Key namespace: every key is stored as prefix + key (default ''). A byte prefix, as in etcd: give two
   * stores prefixes where neither starts with the other (e.g. '/photon-a' and '/photon-b', not '/p' and '/p2').
   */
  prefix?: string;
  /** Upper bound for one request, connecting included (default 5000 ms). Watches are not bounded. */
  dialTimeoutMs?: number;
  /** PEM buffers; without ca, Node's bundled root certificates are trusted. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /**
   * How long a watch keeps reconnecting after losing its stream before it gives up with
   * onError(StorageError('Unavailable')) (default 30000 ms).
   */
  watchRetryTimeoutMs?: number;
}

/** PEM files for TLS to etcd (kube-apiserver's --etcd-cafile, --etcd-certfile, --etcd-keyfile). */
export interface EtcdTlsFiles {
  /** Verifies etcd's serving certificate (default: the system's root CAs). */
  caFile?: string;
  /** Client certificate and key, for an etcd that requires them (--client-cert-auth). */
  certFile?: string;
  keyFile?: string;
}

/** Reads the files into EtcdStoreOptions.tls; one that cannot be read is an error naming it. */
export function readEtcdTlsFiles(files: EtcdTlsFiles): NonNullable<EtcdStoreOptions['tls']> {
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new Error(`cannot read the etcd ${what} ${file}: ${errorMessage(error)}`);
    }
  };
  return { ca: read(files.caFile, 'CA file'), cert: read(files.certFile, 'client certificate'), key: read(files.keyFile, 'client key') };
}

/** Connects and checks that etcd answers; rejects with StorageError('Unavailable') when it does not. */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<Store> {
  if (options.endpoints.length === 0) throw new Error('openEtcdStore: no endpoints');
  const store = new EtcdStore(options);
  try {
    await store.currentRevision();
  } catch (error) {
    await store.close();
    throw withTlsHint(error);
  }
  return store;
}

/** Node's (OpenSSL's) words for "the server's certificate did not verify", and for "etcd refused ours". */
const SERVER_NOT_VERIFIED = /unable to verify|self[- ]signed certificate|unable to get (local )?issuer|certificate has expired|certificate is not yet valid|does not match certificate's altnames/i;
const CLIENT_REFUSED = /alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired)/i;

/**
 * A failed first connection explained: gRPC reports TLS failures as a bare UNAVAILABLE with OpenSSL's words
 * in it; say which side's certificate was the problem and which flag provides it.
 */
function withTlsHint(error: unknown): unknown {
  if (!isStorageError(error)) return error;
  const message = error.message;
  if (SERVER_NOT_VERIFIED.test(message)) {
    return new StorageError(error.code, `${message} — etcd's serving certificate could not be verified: give the CA that signed it (photon apiserver --etcd-cafile), and an endpoint name the certificate covers`);
  }
  if (CLIENT_REFUSED.test(message)) {
    return new StorageError(error.code, `${message} — etcd refused this client's certificate (or its absence): give one signed by a CA etcd trusts (photon apiserver --etcd-certfile and --etcd-keyfile)`);
  }
  return error;
}

class EtcdStore implements Store {
  readonly backend = 'etcd' as const;
  /** Carries the watch streams only (etcd-watch.ts). */
  readonly client: Etcd3;
  private readonly rpc: EtcdRpcClient;
  readonly watchRetryTimeoutMs: number;
  private readonly prefix: Buffer;
  private readonly watches = new Set<EtcdWatch>();
  /** Highest compacted revision seen so far (a lower bound; see compactedRevision()). */
  private knownCompacted = 0;
  private closed = false;

  constructor(options: EtcdStoreOptions) {
    this.prefix = Buffer.from(options.prefix ?? '');
    this.watchRetryTimeoutMs = options.watchRetryTimeoutMs ?? 30_000;
    const timeoutMs = options.dialTimeoutMs ?? 5000;
    const several = options.endpoints.length > 1;
    const clientOptions: IOptions = {
      hosts: options.endpoints,
      credentials: options.tls && {
        rootCertificate: options.tls.ca ?? Buffer.from(tls.rootCertificates.join('\n')),
        privateKey: options.tls.key,
        certChain: options.tls.cert,
      },
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      // Notice a dead peer on an idle watch stream (no RST, e.g. a network partition).
      grpcOptions: { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 },
      faultHandling: {
        // etcd3 resolves the project's cockatiel (3.2.1, one copy), so these policies are its own type.
        host: () =>
          several ? circuitBreaker(handleWhen(isTransportError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }) : noop,
        global: noop,
      },
    };
    this.client = new Etcd3(clientOptions);
    this.rpc = new EtcdRpcClient({ endpoints: options.endpoints, tls: options.tls, timeoutMs });
  }

  async get(key: string): Promise<KeyValue | null> {
    const response = await this.range('get', { key: this.key(key) });
    return response.kvs.length > 0 ? this.keyValue(response.kvs[0]) : null;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    const range = this.keyRange(prefix);
    let from = range.key;
    if (options.startAfter !== undefined) {
      // The smallest key greater than startAfter is startAfter + '\0'.
      const next = Buffer.concat([this.key(options.startAfter), Buffer.from([0])]);
      if (Buffer.compare(next, from) > 0) from = next;
    }
    const revision = options.revision !== undefined && options.revision > 0 ? options.revision : 0;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0;
    const response = await this.range(`list ${prefix}`, { key: from, rangeEnd: range.end, revision, limit });
    return {
      items: response.kvs.map((kv) => this.keyValue(kv)),
      revision: revision || response.revision,
      more: response.more,
    };
  }

  async count(prefix: string): Promise<number> {
    const range = this.keyRange(prefix);
    const response = await this.range(`count ${prefix}`, { key: range.key, rangeEnd: range.end, countOnly: true });
    return response.count;
  }

  async create(key: string, value: Buffer): Promise<KeyValue> {
    const k = this.key(key);
    const response = await this.txn(`create ${key}`, {
      compare: [{ key: k, target: 'create', result: 'equal', operand: 0 }],
      success: [{ put: { key: k, value } }],
    });
    if (!response.succeeded) throw new StorageError('AlreadyExists', `key ${key} already exists`);
    const revision = response.revision;
    return { key, value, createRevision: revision, modRevision: revision };
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue> {
    const k = this.key(key);
    const response = await this.txn(`update ${key}`, {
      compare: [exists(k), { key: k, target: 'mod', result: 'equal', operand: expectedModRevision }],
      success: [{ put: { key: k, value, prevKv: true } }],
      failure: [{ range: { key: k } }],
    });
    if (!response.succeeded) throw failedWrite(key, expectedModRevision, response.responses[0]);
    const op = response.responses[0];
    const previous = 'put' in op ? op.put.prevKv : null;
    if (!previous) throw new StorageError('Unavailable', `update ${key}: etcd's answer has no previous value`);
    return { key, value, createRevision: previous.createRevision, modRevision: response.revision };
  }

  async delete(key: string, expectedModRevision?: number): Promise<{ revision: number; deleted: KeyValue }> {
    const k = this.key(key);
    const compare: Compare[] =
      expectedModRevision === undefined
        ? [exists(k)]
        : [exists(k), { key: k, target: 'mod', result: 'equal', operand: expectedModRevision }];
    const response = await this.txn(`delete ${key}`, {
      compare,
      success: [{ deleteRange: { key: k, prevKv: true } }],
      failure: [{ range: { key: k } }],
    });
    if (!response.succeeded) throw failedWrite(key, expectedModRevision, response.responses[0]);
    const op = response.responses[0];
    const deleted = 'deleteRange' in op ? op.deleteRange.prevKvs[0] : undefined;
    if (!deleted) throw new StorageError('Unavailable', `delete ${key}: etcd's answer has no deleted value`);
    return { revision: response.revision, deleted: this.keyValue(deleted) };
  }

  watch(prefix: string, afterRevision: number, handler: WatchHandler): WatchHandle {
    if (this.closed) throw new StorageError('Unavailable', 'the etcd store is closed');
    const watch = new EtcdWatch(this, this.keyRange(prefix), afterRevision, handler);
    this.watches.add(watch);
    watch.start();
    return watch;
  }

  async currentRevision(): Promise<number> {
    // A count-only range over one key is the cheapest linearizable request that returns a header.
    const response = await this.range('currentRevision', { key: this.prefix.length > 0 ? this.prefix : Buffer.from([0]), countOnly: true });
    return response.revision;
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call(`compact ${revision}`, () => this.rpc.call('KV', 'Compact', encodeCompactionRequest(revision)));
      this.learnCompacted(revision);
    } catch (error) {
      // Compacting at or below an earlier compaction is a no-op, as in the embedded store.
      if (!isStorageError(error, 'Compacted')) throw error;
    }
  }

  /**
   * etcd 3.4 has no request that returns the compacted revision, and none is stored by this module: a marker
   * key would itself be a write (bumping the revision, showing up in lists and watches of any prefix that
   * covers it) and would miss compactions made by other clients or etcd's auto-compaction. Instead etcd is
   * asked: a read at revision r fails with "compacted" exactly when r < compacted revision, so the answer is
   * the smallest readable revision — confirmed with one request when nothing changed since the last answer,
   * otherwise found by binary search between it and the current revision (~log2(revisions) tiny reads).
   */
  async compactedRevision(): Promise<number> {
    const low = Math.max(this.knownCompacted, 1);
    if (await this.readableAt(low)) return this.knownCompacted;
    let unreadable = low;
    let readable = await this.currentRevision();
    while (readable - unreadable > 1) {
      const middle = Math.floor((unreadable + readable) / 2);
      if (await this.readableAt(middle)) readable = middle;
      else unreadable = middle;
    }
    this.learnCompacted(readable);
    return this.knownCompacted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of [...this.watches]) watch.close();
    this.client.close();
    this.rpc.close();
  }

  /** Called by watches that learned the compacted revision from etcd. */
  learnCompacted(revision: number): void {
    this.knownCompacted = Math.max(this.knownCompacted, revision);
  }

  forget(watch: EtcdWatch): void {
    this.watches.delete(watch);
  }

  event(event: IEvent): WatchEvent {
    const key = this.unkey(event.kv.key);
    const modRevision = Number(event.kv.mod_revision);
    // prev_kv is null (not absent) for creates: the proto loader fills defaults.
    const previous = event.prev_kv ? { prevValue: event.prev_kv.value, prevModRevision: Number(event.prev_kv.mod_revision) } : {};
    // The proto loader renders the enum by its proto name ('PUT' / 'DELETE'), not as its typings claim.
    return String(event.type).toUpperCase() === 'DELETE'
      ? { type: 'delete', key, modRevision, ...previous }
      : { type: 'put', key, modRevision, value: event.kv.value, createRevision: Number(event.kv.create_revision), ...previous };
  }

  private async readableAt(revision: number): Promise<boolean> {
    try {
      await this.range('compaction probe', { key: Buffer.from([0]), revision, countOnly: true }, false);
      return true;
    } catch (error) {
      if (isStorageError(error, 'Compacted')) return false;
      throw error;
    }
  }

  private async range(what: string, request: RangeRequest, withCompactedRevision = true): Promise<RangeResponse> {
    const response = await this.call(what, () => this.rpc.call('KV', 'Range', encodeRangeRequest(request)), withCompactedRevision);
    return decodeRangeResponse(response);
  }

  private async txn(what: string, request: TxnRequest): Promise<TxnResponse> {
    return decodeTxnResponse(await this.call(what, () => this.rpc.call('KV', 'Txn', encodeTxnRequest(request))));
  }

  /** Runs one request, translating etcd/gRPC failures into StorageErrors. */
  private async call<T>(what: string, request: () => Promise<T>, withCompactedRevision = true): Promise<T> {
    if (this.closed) throw new StorageError('Unavailable', `${what}: the etcd store is closed`);
    try {
      return await request();
    } catch (error) {
      const message = errorMessage(error);
      if (message.includes('required revision has been compacted')) {
        const compacted = withCompactedRevision ? await this.compactedRevision().catch(() => this.knownCompacted) : undefined;
        throw new StorageError('Compacted', `${what}: ${message}`, compacted);
      }
      if (message.includes('required revision is a future revision')) throw new RangeError(`${what}: ${message}`);
      if (isTransportError(error)) throw new StorageError('Unavailable', `${what}: ${message}`);
      throw error;
    }
  }

  private key(key: string): Buffer {
    return Buffer.concat([this.prefix, Buffer.from(key)]);
  }

  private unkey(key: Buffer): string {
    return key.subarray(this.prefix.length).toString();
  }

  private keyValue(kv: KeyValueMessage): KeyValue {
    return { key: this.unkey(kv.key), value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision };
  }

  /**
   * The etcd key range a prefix covers. A prefix is a directory: '/a/b' covers '/a/b/x' but neither '/a/bc'
   * nor '/a/b' itself (a trailing '/' is implied); '' covers every key in the namespace.
   */
  private keyRange(prefix: string): KeyRange {
    const start = this.key(directoryOf(prefix));
    return { key: start.length > 0 ? start : Buffer.from([0]), end: prefixEnd(start) };
  }
}

/** The first key after every key that starts with prefix ('\0' alone means "to the end of the keyspace"). */
function prefixEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i]++;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** A missing key has version 0; without this compare, "mod_revision == 0" would match a missing key. */
function exists(key: Buffer): Compare {
  return { key, target: 'version', result: 'greater', operand: 0 };
}

/** Why a conditional write's compares failed, from the failure branch's read of the key. */
function failedWrite(key: string, expected: number | undefined, failureRead: TxnResponse['responses'][number]): StorageError {
  const current = 'range' in failureRead ? failureRead.range.kvs : [];
  if (current.length === 0) return new StorageError('NotFound', `key ${key} not found`);
  const modRevision = current[0].modRevision;
  return new StorageError('Conflict', `key ${key} is at modRevision ${modRevision}, not ${expected}`, modRevision);
}

/** Network-level failures: etcd unreachable, closed client, timeouts, an open circuit breaker. */
function isTransportError(error: unknown): boolean {
  // Not `instanceof Error`: errors raised inside Node's own modules come from another realm under a test
  // runner's VM context.
  return (
    typeof error === 'object' &&
    error !== null &&
    ((error instanceof EtcdRpcError && error.transient) ||
      isRecoverableError(error as Error) ||
      error instanceof ClientClosedError ||
      'isBrokenCircuitError' in error)
  );
}
