// The etcd backend (production). Revisions are etcd's: a key's modRevision is its mod_revision and every
// conditional write is a single txn whose compares make it a compare-and-swap.
//
// All calls go through etcd-rpc.ts: plain gRPC over one node:http2 session per store, with the few KV and
// Watch messages encoded by etcd-proto.ts. The etcd3 package was the client before; what it did that this
// module must not repeat (checked with etcd3@1.1.2 against etcd 3.4):
//   - its Watcher, after a disconnect, resumed from the header revision of the last response, including the
//     "created" one (the *current* revision): a disconnect during a history replay skipped the rest of it; a
//     watch below the compacted revision ended without the compact_revision; when etcd cancelled the only
//     watcher of its shared stream, later watchers never received anything. Watches here run on raw Watch
//     streams with their own resume point (etcd-watch.ts).
//   - its default fault handling retried failed calls, including writes whose answer was lost after etcd
//     applied them (a create that succeeded came back AlreadyExists). Here no write is retried: Unavailable
//     goes to the caller, who knows whether the write is safe to repeat; only a read whose connection was
//     lost under it is made once more (etcd-rpc.ts); a failed session moves to the next endpoint.
//   - each unary call cost ~3× the client CPU of a bare HTTP/2 request (see etcd-rpc.ts).
// And one about etcd itself: before 3.4.31 / 3.5.13 its answer to a watch progress request can overtake the
// watcher's events, so the answer is confirmed before it is reported (see etcd-watch.ts).
import fs from 'node:fs';
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
import { DecodedWatchStream, EtcdWatch, type KeyRange, type WatchStream } from './etcd-watch.ts';
import {
  decodeRangeResponse,
  decodeTxnResponse,
  encodeCompactionRequest,
  encodeRangeRequest,
  encodeTxnRequest,
  type Compare,
  type EventMessage,
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
      await this.call(`compact ${revision}`, 'Compact', encodeCompactionRequest(revision));
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
    this.rpc.close();
  }

  /** Called by watches that learned the compacted revision from etcd. */
  learnCompacted(revision: number): void {
    this.knownCompacted = Math.max(this.knownCompacted, revision);
  }

  forget(watch: EtcdWatch): void {
    this.watches.delete(watch);
  }

  openWatchStream(): WatchStream {
    return new DecodedWatchStream(this.rpc.openStream('Watch', 'Watch'));
  }

  event(event: EventMessage): WatchEvent {
    const key = this.unkey(event.kv.key);
    const modRevision = event.kv.modRevision;
    const previous = event.prevKv ? { prevValue: event.prevKv.value, prevModRevision: event.prevKv.modRevision } : {};
    return event.type === 'delete'
      ? { type: 'delete', key, modRevision, ...previous }
      : { type: 'put', key, modRevision, value: event.kv.value, createRevision: event.kv.createRevision, ...previous };
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
    return decodeRangeResponse(await this.call(what, 'Range', encodeRangeRequest(request), withCompactedRevision));
  }

  private async txn(what: string, request: TxnRequest): Promise<TxnResponse> {
    return decodeTxnResponse(await this.call(what, 'Txn', encodeTxnRequest(request)));
  }

  /** Runs one KV call (reads are idempotent), translating etcd/gRPC failures into StorageErrors. */
  private async call(what: string, method: 'Range' | 'Txn' | 'Compact', request: Buffer, withCompactedRevision = true): Promise<Buffer> {
    if (this.closed) throw new StorageError('Unavailable', `${what}: the etcd store is closed`);
    try {
      return await this.rpc.call('KV', method, request, { idempotent: method === 'Range' });
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

/** etcd unreachable, the connection lost or the client closed, or a call not finished in time. */
function isTransportError(error: unknown): boolean {
  return error instanceof EtcdRpcError && error.transient;
}
