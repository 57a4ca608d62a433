// Watches on the etcd backend: one raw gRPC Watch stream per watch, with its own resume point and confirmed
// progress (see EtcdWatch, and etcd.ts's header for what the etcd3 package's Watcher got wrong).
import { EventEmitter } from 'node:events';
import { errorMessage } from '../../lib/logging.ts';
import { decodeWatchResponse, encodeWatchRequest, type EventMessage, type WatchRequest, type WatchResponse } from './etcd-proto.ts';
import type { RpcStream } from './etcd-rpc.ts';
import { StorageError, type WatchEvent, type WatchHandle, type WatchHandler } from './types.ts';
import { callHandler } from './handlers.ts';

/** What a watch needs from the store that owns it. */
export interface EtcdWatchOwner {
  /** A new Watch stream (a gRPC call of its own); throws when it cannot even be started. */
  openWatchStream(): WatchStream;
  /** How long a watch keeps reconnecting before it reports Unavailable. */
  readonly watchRetryTimeoutMs: number;
  learnCompacted(revision: number): void;
  forget(watch: EtcdWatch): void;
  event(event: EventMessage): WatchEvent;
}

/** An etcd key range: [key, end). */
export interface KeyRange {
  key: Buffer;
  end: Buffer;
}

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

/** A Watch call as EtcdWatch uses it: requests in, decoded responses out as 'data', then 'error' or 'end'. */
export interface WatchStream {
  write(request: WatchRequest): void;
  on(event: 'data', listener: (response: WatchResponse) => void): this;
  on(event: 'error', listener: (error: unknown) => void): this;
  on(event: 'end', listener: () => void): this;
  /** Ends the call from this side; nothing is emitted afterwards. */
  cancel(): void;
}

/** A WatchStream over an RpcStream: requests encoded, responses decoded (a malformed one ends the stream). */
export class DecodedWatchStream extends EventEmitter implements WatchStream {
  constructor(private readonly rpc: RpcStream) {
    super();
    rpc.on('message', (message: Buffer) => {
      let response: WatchResponse;
      try {
        response = decodeWatchResponse(message);
      } catch (error) {
        rpc.cancel();
        this.emit('error', error);
        return;
      }
      this.emit('data', response);
    });
    rpc.on('error', (error) => this.emit('error', error));
    rpc.on('end', () => this.emit('end'));
  }

  write(request: WatchRequest): void {
    this.rpc.write(encodeWatchRequest(request));
  }

  cancel(): void {
    this.rpc.cancel();
  }
}

/** The watch_id etcd puts on its answer to a progress_request (not tied to any one watcher of the stream). */
const PROGRESS_RESPONSE_WATCH_ID = '-1';
/** The probe's watch_id (see EtcdWatch): far above the ids etcd hands out on a stream (0, 1, 2, …). */
const PROBE_WATCH_ID = '1000000000000000000';
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
/** Answers, after a candidate's, that must arrive with no event at or below it in between (see EtcdWatch). */
const CONFIRMING_ANSWERS = 2;

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
 * Starting the watcher: first optimistically at lastRevision + 1. etcd registers a watcher as caught up
 * ("synced") if its start is above the current revision at that moment; otherwise the watcher has history to
 * replay, which a background pass sends up to 100 ms later. The created response cannot tell which: etcd 3.4
 * reads its revision just before registering the watcher, and a write landing in between leaves a watcher
 * that looks caught up but replays that write after the answers to progress requests (seen under CPU load
 * with etcd 3.4.23 for 1–3 % of the watches created while writing). So every create request is followed by a
 * probe: a watcher that can send nothing (its filters drop every event), created and cancelled right behind
 * it with a watch_id of our own (etcd ≥ 3.4). etcd handles a stream's requests in order, so the probe's
 * created revision is at least the revision the watcher was registered at: a start above it is caught up.
 * Otherwise the watcher is replaced by one starting at lastRevision itself: that makes etcd's own check
 * ("start < compacted revision" → canceled with compact_revision) mean exactly "events after lastRevision may
 * be gone" (a watcher from lastRevision + 1 with the compaction at exactly that revision would silently miss
 * a delete there).
 *
 * Progress requests (requestProgress). etcd 3.4 answers WatchRequest.progress_request with a header-only
 * response (watch_id -1) whose revision is the store's current revision — but before 3.4.31 / 3.5.13 it is
 * sent on the stream's control channel, which overtakes events: (1) a watcher still replaying history gets
 * its events from a background pass up to 100 ms later, so the answer arrives before them (observed here on
 * every try with etcd 3.4.23: watch from the current revision, write under it, request progress); (2) even a
 * caught-up watcher's events queued in the stream's send buffer can be passed (observed under write bursts;
 * etcd-io/etcd#15220). So an answer is only a candidate:
 *   - progress is requested only once the watcher is known to have caught up: created with nothing to
 *     replay (as its probe shows), or after a response that says so (any event batch from fewer than
 *     WATCH_BATCH_MAX_REVISIONS revisions, or a periodic progress notification), or — the one guess — after
 *     SILENT_CATCH_UP_MS without a word from a watcher that had history to replay;
 *   - a candidate R is confirmed by an event above R (etcd delivers a watcher's events in revision order,
 *     so everything up to R came first), or by the answers to CONFIRMING_ANSWERS more requests, each sent
 *     once the previous answer is in, with no event at or below R arriving in between. Otherwise the newer
 *     answer is the candidate. Why that holds: a caught-up watcher's event is queued before its revision
 *     becomes current, so before R was read; etcd's sender, having sent an answer, takes a queued event next
 *     — unless it stalls right there for the whole round trip of the next request, and then picks the next
 *     answer (Go's select chooses at random among ready channels). Rare, but a loaded machine does stall;
 *     a second round needs a second such stall right after the first.
 * onProgress then reports max(R, lastRevision). Confirmed progress is reported but is not a resume point:
 * should the guess ever be wrong, an event arrives late instead of being skipped on a reconnect.
 * etcd ≥ 3.4.31 / 3.5.13 orders these answers itself; the confirmation then merely costs the round trips.
 * Not covered: a caught-up watcher falling behind again without the client seeing it (etcd's "victim" path
 * after 128 responses queued on the stream, or a follower restoring a snapshot) — both come with a backlog
 * that the confirming round trips normally see.
 */
export class EtcdWatch implements WatchHandle {
  private lastRevision: number;
  private stream: WatchStream | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private disconnectedSince: number | undefined;
  // Per stream (reset by dropStream):
  /** start_revision of the watcher being created on the stream. */
  private createStart = 0;
  /** The watcher's created response said nothing to replay; its probe's created response decides. */
  private awaitingProbe = false;
  /** The stream's current watcher, once created; responses for any other watcher are ignored. */
  private watchId: string | undefined;
  /** Known to have caught up (see the class comment). */
  private synced = false;
  private catchUpTimer: NodeJS.Timeout | undefined;
  private progressInFlight = false;
  /** The progress answer awaiting confirmation, and whether an event at or below it arrived since. */
  private candidate: number | undefined;
  private candidateDisturbed = false;
  /** Answers since the candidate's with no event at or below it in between. */
  private confirmations = 0;
  // Across streams:
  /** requestProgress() called and not yet being answered. */
  private progressWanted = false;
  /** A confirmation round is running (on the current stream). */
  private progressRound = false;
  private reportedProgress = 0;

  constructor(
    private readonly store: EtcdWatchOwner,
    private readonly range: KeyRange,
    afterRevision: number,
    private readonly handler: WatchHandler,
  ) {
    this.lastRevision = afterRevision;
    this.reportedProgress = afterRevision;
  }

  start(): void {
    this.connect();
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

  private connect(): void {
    if (this.closed) return;
    let stream: WatchStream;
    try {
      stream = this.store.openWatchStream();
    } catch (error) {
      return this.disconnected(error);
    }
    this.stream = stream;
    stream.on('data', (response) => this.stream === stream && this.receive(stream, response));
    stream.on('error', (error) => this.stream === stream && this.lost(error));
    stream.on('end', () => this.stream === stream && this.lost(new Error('watch stream ended')));
    this.create(stream, this.lastRevision + 1);
  }

  private create(stream: WatchStream, start: number): void {
    this.createStart = start;
    stream.write({ create: { key: this.range.key, rangeEnd: this.range.end, startRevision: start, prevKv: true, progressNotify: true } });
    // The probe (see the class comment). Its cancellation is ignored like that of any watcher not ours.
    stream.write({ create: { key: this.range.key, watchId: PROBE_WATCH_ID, filters: ['noput', 'nodelete'] } });
    stream.write({ cancel: { watchId: PROBE_WATCH_ID } });
  }

  private receive(stream: WatchStream, response: WatchResponse): void {
    const id = response.watchId;
    if (response.created && !response.canceled) {
      const revision = response.revision;
      return id === PROBE_WATCH_ID ? this.probed(stream, revision) : this.created(stream, id, revision);
    }
    if (id === PROGRESS_RESPONSE_WATCH_ID && !response.created) return this.progressAnswer(response.revision);
    // Responses of a watcher this stream replaced (its events, its cancellation) are not ours.
    if (!response.created && id !== this.watchId) return;
    if (response.canceled) {
      const compacted = response.compactRevision;
      if (compacted > 0) {
        this.store.learnCompacted(compacted);
        return this.fail(
          new StorageError('Compacted', `watch from revision ${this.lastRevision}: compacted at ${compacted}`, compacted),
        );
      }
      // Cancelled for another reason (e.g. a member losing its leader): try again from where we are.
      return this.lost(new Error(`watch canceled by etcd: ${response.cancelReason || 'no reason given'}`));
    }
    if (response.events.length === 0) {
      // A periodic progress notification: sent only to a caught-up watcher, behind all of its events.
      this.lastRevision = Math.max(this.lastRevision, response.revision);
      this.markSynced();
      if (this.candidate !== undefined && this.lastRevision >= this.candidate) return this.answerProgress();
      return this.report(false);
    }
    const revisions = new Set(response.events.map((event) => event.kv.modRevision)).size;
    const events = response.events
      .filter((event) => event.kv.modRevision > this.lastRevision)
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
    this.watchId = id;
    // Nothing to replay at that revision, but was it so when etcd registered the watcher? The probe tells.
    if (this.createStart > revision) this.awaitingProbe = true;
    else this.replay(stream);
  }

  /** The created response of the probe that followed the watcher's create request (see the class comment). */
  private probed(stream: WatchStream, revision: number): void {
    // The probe of a watcher already replaced (its created response showed history) has nothing to add.
    if (!this.awaitingProbe) return;
    this.awaitingProbe = false;
    if (this.createStart > revision) return this.markSynced();
    // A write came in between: the watcher may have it to replay, unless a batch that came meanwhile showed it
    // caught up.
    if (!this.synced) this.replay(stream);
  }

  /** For a watcher that may have history to replay. */
  private replay(stream: WatchStream): void {
    const inclusive = Math.max(this.lastRevision, 1);
    if (this.createStart > inclusive) {
      // Started after lastRevision: replaced by one from lastRevision itself (see the class comment).
      stream.write({ cancel: { watchId: this.watchId! } });
      this.watchId = undefined;
      return this.create(stream, inclusive);
    }
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
    this.stream.write({ progress: true });
  }

  private progressAnswer(revision: number): void {
    this.progressInFlight = false;
    if (!this.progressRound) return this.pumpProgress();
    if (this.candidate === undefined || this.candidateDisturbed) {
      this.candidate = revision;
      this.candidateDisturbed = false;
      this.confirmations = 0;
      return this.pumpProgress();
    }
    // Another whole round trip after the candidate without an event at or below it.
    if (++this.confirmations < CONFIRMING_ANSWERS) return this.pumpProgress();
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
    this.awaitingProbe = false;
    this.synced = false;
    clearTimeout(this.catchUpTimer);
    this.progressInFlight = false;
    this.candidate = undefined;
    this.candidateDisturbed = false;
    // An unfinished round is asked again on the next stream.
    if (this.progressRound) this.progressWanted = true;
    this.progressRound = false;
    stream?.cancel();
  }

  /** Schedules a reconnect with capped exponential backoff, or gives up after watchRetryTimeoutMs. */
  private disconnected(error: unknown): void {
    if (this.closed) return;
    this.disconnectedSince ??= Date.now();
    if (Date.now() - this.disconnectedSince > this.store.watchRetryTimeoutMs) {
      return this.fail(new StorageError('Unavailable', `watch lost its etcd connection: ${errorMessage(error)}`));
    }
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.failures++);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay * (0.5 + Math.random() / 2));
  }

  private fail(error: StorageError): void {
    if (this.closed) return;
    this.close();
    callHandler(() => this.handler.onError(error));
  }
}
