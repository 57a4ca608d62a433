// The etcd backend (production). Revisions are etcd's: a key's modRevision is its mod_revision and every
// conditional write is a single txn whose compares make it a compare-and-swap.
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
//     Watches here run on raw Watch streams with their own resume point (see EtcdWatch).
//   - Its dialTimeout option is never read; requests are bounded by a per-call deadline instead.
//   - Its default fault handling retries failed calls three times, including writes whose response was lost
//     after etcd applied them (the compare then fails on the retry: a create that succeeded is reported as
//     AlreadyExists), and opens a per-endpoint circuit breaker for 5 s after 3 failures (a single etcd that
//     restarted stays "unavailable" for 5 s more). Here: no retries (Unavailable goes to the caller, who
//     knows whether the write is safe to repeat), and a short breaker only when there are several endpoints
//     to fail over to.
// And one about etcd itself: before 3.4.31 / 3.5.13 its answer to a watch progress request can overtake the
// watcher's events, so the answer is confirmed before it is reported (see EtcdWatch).
import tls from 'node:tls';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, noop, type IPolicy } from 'cockatiel';
import {
  ClientClosedError,
  CompareResult,
  CompareTarget,
  Etcd3,
  isRecoverableError,
  type IDuplexStream,
  type IEvent,
  type IKeyValue,
  type IOptions,
  type IWatchRequest,
  type IWatchResponse,
} from 'etcd3';
import {
  StorageError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type WatchEvent,
  type WatchHandle,
  type WatchHandler,
} from './types.ts';
import { callHandler } from './handlers.ts';

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

/** Connects and checks that etcd answers; rejects with StorageError('Unavailable') when it does not. */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<Store> {
  if (options.endpoints.length === 0) throw new Error('openEtcdStore: no endpoints');
  const store = new EtcdStore(options);
  try {
    await store.currentRevision();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

class EtcdStore implements Store {
  readonly backend = 'etcd' as const;
  readonly client: Etcd3;
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
        host: () =>
          etcdPolicy(
            several ? circuitBreaker(handleWhen(isTransportError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }) : noop,
          ),
        global: etcdPolicy(noop),
      },
    };
    this.client = new Etcd3(clientOptions);
  }

  async get(key: string): Promise<KeyValue | null> {
    const response = await this.call('get', () => this.client.kv.range({ key: this.key(key) }));
    return response.kvs.length > 0 ? this.keyValue(response.kvs[0]) : null;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    const range = this.range(prefix);
    let from = range.key;
    if (options.startAfter !== undefined) {
      // The smallest key greater than startAfter is startAfter + '\0'.
      const next = Buffer.concat([this.key(options.startAfter), Buffer.from([0])]);
      if (Buffer.compare(next, from) > 0) from = next;
    }
    const revision = options.revision !== undefined && options.revision > 0 ? options.revision : 0;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0;
    const response = await this.call(`list ${prefix}`, () =>
      this.client.kv.range({ key: from, range_end: range.end, revision, limit }),
    );
    return {
      items: response.kvs.map((kv) => this.keyValue(kv)),
      revision: revision || Number(response.header.revision),
      more: response.more,
    };
  }

  async count(prefix: string): Promise<number> {
    const range = this.range(prefix);
    const response = await this.call(`count ${prefix}`, () =>
      this.client.kv.range({ key: range.key, range_end: range.end, count_only: true }),
    );
    return Number(response.count);
  }

  async create(key: string, value: Buffer): Promise<KeyValue> {
    const k = this.key(key);
    const response = await this.call(`create ${key}`, () =>
      this.client.kv.txn({
        compare: [{ key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
        success: [{ request_put: { key: k, value } }],
      }),
    );
    if (!response.succeeded) throw new StorageError('AlreadyExists', `key ${key} already exists`);
    const revision = Number(response.header.revision);
    return { key, value, createRevision: revision, modRevision: revision };
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue> {
    const k = this.key(key);
    const response = await this.call(`update ${key}`, () =>
      this.client.kv.txn({
        compare: [...exists(k), { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedModRevision }],
        success: [{ request_put: { key: k, value, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (!response.succeeded) throw failedWrite(key, expectedModRevision, response.responses[0].response_range.kvs);
    const previous = response.responses[0].response_put.prev_kv;
    return { key, value, createRevision: Number(previous.create_revision), modRevision: Number(response.header.revision) };
  }

  async delete(key: string, expectedModRevision?: number): Promise<{ revision: number; deleted: KeyValue }> {
    const k = this.key(key);
    const compare =
      expectedModRevision === undefined
        ? exists(k)
        : [...exists(k), { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedModRevision }];
    const response = await this.call(`delete ${key}`, () =>
      this.client.kv.txn({
        compare,
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (!response.succeeded) throw failedWrite(key, expectedModRevision, response.responses[0].response_range.kvs);
    const deleted = response.responses[0].response_delete_range.prev_kvs[0];
    return { revision: Number(response.header.revision), deleted: this.keyValue(deleted) };
  }

  watch(prefix: string, afterRevision: number, handler: WatchHandler): WatchHandle {
    if (this.closed) throw new StorageError('Unavailable', 'the etcd store is closed');
    const watch = new EtcdWatch(this, this.range(prefix), afterRevision, handler);
    this.watches.add(watch);
    watch.start();
    return watch;
  }

  async currentRevision(): Promise<number> {
    // A count-only range over one key is the cheapest linearizable request that returns a header.
    const response = await this.call('currentRevision', () =>
      this.client.kv.range({ key: this.prefix.length > 0 ? this.prefix : Buffer.from([0]), count_only: true }),
    );
    return Number(response.header.revision);
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call(`compact ${revision}`, () => this.client.kv.compact({ revision }));
      this.learnCompacted(revision);
    } catch (error) {
      // Compacting at or below an earlier compaction is a no-op, as in the embedded store.
      if (!(error instanceof StorageError && error.code === 'Compacted')) throw error;
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
      await this.call('compaction probe', () => this.client.kv.range({ key: Buffer.from([0]), revision, count_only: true }), false);
      return true;
    } catch (error) {
      if (error instanceof StorageError && error.code === 'Compacted') return false;
      throw error;
    }
  }

  /** Runs one request, translating etcd/gRPC failures into StorageErrors. */
  private async call<T>(what: string, request: () => Promise<T>, withCompactedRevision = true): Promise<T> {
    if (this.closed) throw new StorageError('Unavailable', `${what}: the etcd store is closed`);
    try {
      return await request();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
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

  private keyValue(kv: IKeyValue): KeyValue {
    return {
      key: this.unkey(kv.key),
      value: kv.value,
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
    };
  }

  /**
   * The etcd key range a prefix covers. A prefix is a directory: '/a/b' covers '/a/b/x' but neither '/a/bc'
   * nor '/a/b' itself (a trailing '/' is implied); '' covers every key in the namespace.
   */
  private range(prefix: string): KeyRange {
    const start = this.key(prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`);
    return { key: start.length > 0 ? start : Buffer.from([0]), end: prefixEnd(start) };
  }
}

type EtcdPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * etcd3 bundles cockatiel 3; the project's cockatiel 4 policies work with it (etcd3 only calls execute()), but
 * the typings differ in the failure-event payload (Error vs unknown), hence the cast.
 */
function etcdPolicy(policy: IPolicy): EtcdPolicy {
  return policy as unknown as EtcdPolicy;
}

interface KeyRange {
  key: Buffer;
  end: Buffer;
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
function exists(key: Buffer) {
  return [{ key, target: CompareTarget.Version, result: CompareResult.Greater, version: 0 }];
}

/** Why a conditional write's compares failed, from the failure branch's read of the key. */
function failedWrite(key: string, expected: number | undefined, current: IKeyValue[]): StorageError {
  if (current.length === 0) return new StorageError('NotFound', `key ${key} not found`);
  const modRevision = Number(current[0].mod_revision);
  return new StorageError('Conflict', `key ${key} is at modRevision ${modRevision}, not ${expected}`, modRevision);
}

/** Network-level failures: etcd unreachable, closed client, timeouts, an open circuit breaker. */
function isTransportError(error: unknown): boolean {
  // Not `instanceof Error`: errors raised inside Node's own modules come from another realm under a test
  // runner's VM context.
  return (
    typeof error === 'object' &&
    error !== null &&
    (isRecoverableError(error as Error) || error instanceof ClientClosedError || 'isBrokenCircuitError' in error)
  );
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/** The watch_id etcd puts on its answer to a progress_request (not tied to any one watcher of the stream). */
const PROGRESS_RESPONSE_WATCH_ID = '-1';
/**
 * etcd's watchBatchMaxRevs (3.4 and 3.5): a catch-up batch holding events of this many distinct revisions may
 * have been cut short; one with fewer is complete up to its header revision.
 */
const WATCH_BATCH_MAX_REVISIONS = 1000;
/**
 * How long a watcher that has history to replay (or whose last catch-up batch was at the limit) may stay
 * silent before it is taken to have caught up. etcd replays history in a background pass that runs every
 * 100 ms and says nothing when there is nothing to send; this is the only guess in this module (EtcdWatch).
 */
const SILENT_CATCH_UP_MS = 1000;

/**
 * One watch on its own gRPC Watch stream (etcd multiplexes streams over the one HTTP/2 connection).
 *
 * Exactly-once across reconnects: lastRevision is the revision up to which everything has been delivered.
 * A (re)connect asks etcd for events after lastRevision, and events at or below it are dropped. It advances
 * only on delivered events (etcd never splits one revision's events across responses) and on periodic
 * progress notifications (sent only to a watcher that has caught up, through the same channel as its
 * events); never on the header of a created response or of a catch-up batch, which carry the current
 * revision while older events may still be on the way, nor on answers to progress requests (below).
 *
 * Starting the watcher: first optimistically at lastRevision + 1. When that is above the revision etcd
 * reports in the created response, there was nothing to replay and etcd registered the watcher as caught up
 * ("synced") at once. Otherwise the watcher is replaced by one starting at lastRevision itself: that makes
 * etcd's own check ("start < compacted revision" → canceled with compact_revision) mean exactly "events after
 * lastRevision may be gone" (a watcher from lastRevision + 1 with the compaction at exactly that revision
 * would silently miss a delete there).
 *
 * Progress requests (requestProgress). etcd 3.4 answers WatchRequest.progress_request with a header-only
 * response (watch_id -1) whose revision is the store's current revision — but before 3.4.31 / 3.5.13 it is
 * sent on the stream's control channel, which overtakes events: (1) a watcher still replaying history gets
 * its events from a background pass up to 100 ms later, so the answer arrives before them (observed here on
 * every try with etcd 3.4.23: watch from the current revision, write under it, request progress); (2) even a
 * caught-up watcher's events queued in the stream's send buffer can be passed (observed under write bursts;
 * etcd-io/etcd#15220). So an answer is only a candidate:
 *   - progress is requested only once the watcher is known to have caught up: created with nothing to
 *     replay, or after a response that says so (any event batch from fewer than WATCH_BATCH_MAX_REVISIONS
 *     revisions, or a periodic progress notification), or — the one guess — after SILENT_CATCH_UP_MS without
 *     a word from a watcher that had history to replay;
 *   - a candidate R is confirmed by an event above R (etcd delivers a watcher's events in revision order,
 *     so everything up to R came first), or by a second request's answer arriving with no event at or below
 *     R in between (whatever was queued at R's time has drained). Otherwise the newer answer is the candidate.
 * onProgress then reports max(R, lastRevision). Confirmed progress is reported but is not a resume point:
 * should the guess ever be wrong, an event arrives late instead of being skipped on a reconnect.
 * etcd ≥ 3.4.31 / 3.5.13 orders these answers itself; the confirmation then merely costs one round trip.
 * Not covered: a caught-up watcher falling behind again without the client seeing it (etcd's "victim" path
 * after 1024 unsent responses, or a follower restoring a snapshot) — both come with a backlog that the
 * confirming round trip normally sees.
 */
class EtcdWatch implements WatchHandle {
  private lastRevision: number;
  private stream: WatchStream | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private disconnectedSince: number | undefined;
  // Per stream (reset by dropStream):
  /** start_revision of the watcher being created on the stream. */
  private createStart = 0;
  /** The stream's current watcher, once created; responses for any other watcher are ignored. */
  private watchId: string | undefined;
  /** Known to have caught up (see the class comment). */
  private synced = false;
  private catchUpTimer: NodeJS.Timeout | undefined;
  private progressInFlight = false;
  /** The progress answer awaiting confirmation, and whether an event at or below it arrived since. */
  private candidate: number | undefined;
  private candidateDisturbed = false;
  // Across streams:
  /** requestProgress() called and not yet being answered. */
  private progressWanted = false;
  /** A confirmation round is running (on the current stream). */
  private progressRound = false;
  private reportedProgress = 0;

  constructor(
    private readonly store: EtcdStore,
    private readonly range: KeyRange,
    afterRevision: number,
    private readonly handler: WatchHandler,
  ) {
    this.lastRevision = afterRevision;
    this.reportedProgress = afterRevision;
  }

  start(): void {
    void this.connect();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.dropStream();
    this.store.forget(this);
  }

  requestProgress(): void {
    if (this.closed) return;
    this.progressWanted = true;
    this.pumpProgress();
  }

  private async connect(): Promise<void> {
    let stream: WatchStream;
    try {
      stream = await this.store.client.watchClient.watch();
    } catch (error) {
      return this.disconnected(error);
    }
    if (this.closed) return endStream(stream);
    this.stream = stream;
    stream.on('data', (response) => this.stream === stream && this.receive(stream, response));
    stream.on('error', (error) => this.stream === stream && this.lost(error));
    stream.on('end', () => this.stream === stream && this.lost(new Error('watch stream ended')));
    this.create(stream, this.lastRevision + 1);
  }

  private create(stream: WatchStream, start: number): void {
    this.createStart = start;
    stream.write({
      create_request: {
        key: this.range.key,
        range_end: this.range.end,
        start_revision: start,
        prev_kv: true,
        progress_notify: true,
      },
    });
  }

  private receive(stream: WatchStream, response: IWatchResponse): void {
    const id = String(response.watch_id);
    if (response.created && !response.canceled) return this.created(stream, id, Number(response.header.revision));
    if (id === PROGRESS_RESPONSE_WATCH_ID && !response.created) return this.progressAnswer(Number(response.header.revision));
    // Responses of a watcher this stream replaced (its events, its cancellation) are not ours.
    if (!response.created && id !== this.watchId) return;
    if (response.canceled) {
      const compacted = Number(response.compact_revision);
      if (compacted > 0) {
        this.store.learnCompacted(compacted);
        return this.fail(
          new StorageError('Compacted', `watch from revision ${this.lastRevision}: compacted at ${compacted}`, compacted),
        );
      }
      // Cancelled for another reason (e.g. a member losing its leader): try again from where we are.
      return this.lost(new Error(`watch canceled by etcd: ${response.cancel_reason || 'no reason given'}`));
    }
    if (response.events.length === 0) {
      // A periodic progress notification: sent only to a caught-up watcher, behind all of its events.
      this.lastRevision = Math.max(this.lastRevision, Number(response.header.revision));
      this.markSynced();
      if (this.candidate !== undefined && this.lastRevision >= this.candidate) return this.answerProgress();
      return this.report(false);
    }
    const revisions = new Set(response.events.map((event) => String(event.kv.mod_revision))).size;
    const events = response.events
      .filter((event) => Number(event.kv.mod_revision) > this.lastRevision)
      .map((event) => this.store.event(event));
    if (events.length > 0) {
      this.lastRevision = events[events.length - 1].modRevision;
      callHandler(() => this.handler.onEvents(events));
    }
    if (this.closed) return;
    if (this.candidate !== undefined) {
      if (this.lastRevision > this.candidate) return this.answerProgress();
      this.candidateDisturbed = true;
    }
    if (this.synced) return;
    // A batch etcd did not cut short holds everything up to its header revision: the watcher has caught up.
    // One at the limit may continue in etcd's next background pass, which comes within ~100 ms.
    if (revisions < WATCH_BATCH_MAX_REVISIONS) this.markSynced();
    else this.guessCatchUp(stream);
  }

  private created(stream: WatchStream, id: string, revision: number): void {
    this.failures = 0;
    this.disconnectedSince = undefined;
    if (this.createStart > revision) {
      // Nothing to replay: etcd registered the watcher as caught up.
      this.watchId = id;
      return this.markSynced();
    }
    const inclusive = Math.max(this.lastRevision, 1);
    if (this.createStart !== inclusive) {
      // History to replay: start from lastRevision itself (see the class comment) with a new watcher.
      stream.write({ cancel_request: { watch_id: id } });
      return this.create(stream, inclusive);
    }
    this.watchId = id;
    // Caught up once its replay arrives, or (nothing to replay after all) after etcd's silent background pass.
    this.guessCatchUp(stream);
  }

  /** Takes the watcher as caught up unless it delivers something within SILENT_CATCH_UP_MS. */
  private guessCatchUp(stream: WatchStream): void {
    clearTimeout(this.catchUpTimer);
    this.catchUpTimer = setTimeout(() => this.stream === stream && this.markSynced(), SILENT_CATCH_UP_MS);
    this.catchUpTimer.unref();
  }

  private markSynced(): void {
    clearTimeout(this.catchUpTimer);
    if (this.synced) return;
    this.synced = true;
    this.pumpProgress();
  }

  /** Sends a progress request when one is wanted and the stream is ready for it. */
  private pumpProgress(): void {
    if (this.closed || !this.stream || !this.synced || this.progressInFlight) return;
    if (!this.progressRound) {
      if (!this.progressWanted) return;
      // Requests made from now on need an answer computed after them: a later round.
      this.progressWanted = false;
      this.progressRound = true;
    }
    this.progressInFlight = true;
    this.stream.write({ progress_request: {} });
  }

  private progressAnswer(revision: number): void {
    this.progressInFlight = false;
    if (!this.progressRound) return this.pumpProgress();
    if (this.candidate === undefined || this.candidateDisturbed) {
      this.candidate = revision;
      this.candidateDisturbed = false;
      return this.pumpProgress();
    }
    // A whole round trip after the candidate without an event at or below it: confirmed.
    this.answerProgress();
  }

  /** Ends the confirmation round: everything up to the candidate (and lastRevision) has been delivered. */
  private answerProgress(): void {
    const candidate = this.candidate ?? 0;
    this.candidate = undefined;
    this.candidateDisturbed = false;
    this.progressRound = false;
    this.reportedProgress = Math.max(this.reportedProgress, candidate);
    this.report(true);
    this.pumpProgress();
  }

  /** onProgress(max of what is known), if it moved or a request is being answered. */
  private report(answering: boolean): void {
    const revision = Math.max(this.reportedProgress, this.lastRevision);
    if (this.closed || (!answering && revision <= this.reportedProgress)) return;
    this.reportedProgress = revision;
    callHandler(() => this.handler.onProgress?.(revision));
  }

  private lost(error: unknown): void {
    this.dropStream();
    this.disconnected(error);
  }

  /** Forgets the stream first, so that whatever it emits while being ended is ignored. */
  private dropStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    this.watchId = undefined;
    this.synced = false;
    clearTimeout(this.catchUpTimer);
    this.progressInFlight = false;
    this.candidate = undefined;
    this.candidateDisturbed = false;
    // An unfinished round is asked again on the next stream.
    if (this.progressRound) this.progressWanted = true;
    this.progressRound = false;
    if (stream) endStream(stream);
  }

  /** Schedules a reconnect with capped exponential backoff, or gives up after watchRetryTimeoutMs. */
  private disconnected(error: unknown): void {
    if (this.closed) return;
    this.disconnectedSince ??= Date.now();
    if (Date.now() - this.disconnectedSince > this.store.watchRetryTimeoutMs) {
      const reason = error instanceof Error ? error.message : String(error);
      return this.fail(new StorageError('Unavailable', `watch lost its etcd connection: ${reason}`));
    }
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.failures++);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay * (0.5 + Math.random() / 2));
  }

  private fail(error: StorageError): void {
    if (this.closed) return;
    this.close();
    this.handler.onError(error);
  }
}


/**
 * Ends a watch stream. end() first: the connection pool counts an error on a still-writable stream as a
 * failure of the endpoint (resetting its connections), and cancel() makes the stream emit CANCELLED.
 */
function endStream(stream: WatchStream): void {
  stream.on('error', () => undefined);
  stream.end();
  stream.cancel();
}
