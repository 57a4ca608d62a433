// One watch stream's output, written with backpressure. A client that does not read must not make the
// server hold its output: lines are handed to the socket only while it takes them (`write()` returning false
// waits for 'drain'), the initial list is encoded one object at a time as the socket drains (not all at
// once), and a reader that falls further behind than maxBufferedBytes is cut off by destroying the
// connection (`end()` would keep the buffer until it is flushed, which for a client that never reads is
// never). Its client re-watches from the last resourceVersion it saw, as after any watch that ends.
// A socket that takes a lot at once (a fast client's kernel buffers hold megabytes) is fed at most
// maxBytesPerTurn before the writer yields to the event loop, so one watch's initial list cannot hold up
// every other request while it is encoded.
// Lines that come while the socket still holds unsent output (typically: earlier lines of the same turn)
// are written together on the next turn, as one chunk: a busy server fanning events out to many watchers
// spent most of its time in a TLS record and a write per line per watcher (1,000 watchers: 12 µs a line).
// A line may be a Buffer: a live event's line is encoded to bytes once and that one Buffer is written to
// every watcher (a string would be encoded to UTF-8 again by every watcher's write: ~1 µs of each of the
// ~4 µs a watcher's write costs Node's HTTP/2).

/** The part of a ServerResponse the writer uses (a fake in unit tests). */
export interface WatchOutput {
  write(chunk: Line): boolean;
  /** Bytes accepted by write() but not yet taken by the client's socket. */
  readonly writableLength: number;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
  destroy(): void;
}

export interface WatchWriterOptions {
  /** What a reader may leave unread (queued here plus Node's socket buffer) before it is cut off. */
  maxBufferedBytes: number;
  /** The reader was cut off (after the connection was destroyed). */
  onSlowReader?(bufferedBytes: number): void;
  /** What one turn of the event loop writes before yielding (default 1 MiB). */
  maxBytesPerTurn?: number;
  /** A line was handed to the socket. */
  onLineSent?(): void;
  /** Producing a line failed (a bug): the connection was destroyed; the client re-watches. */
  onError?(error: unknown): void;
}

/** What one write takes at most of the queued lines (more lines than that are written in several). */
const MAX_CHUNK = 64 * 1024;

/** One line of output, as text or as its UTF-8 bytes. */
export type Line = string | Buffer;

/** Queued output: a line, or lines produced on demand (the initial list) that are encoded as they are sent. */
type Pending = Line | Iterator<Line>;

/** A line's size: characters of a string (the measure Node's writableLength uses for strings), bytes of a Buffer. */
const sizeOf = (line: Line): number => line.length;

const isLine = (item: Pending | undefined): item is Line => typeof item === 'string' || Buffer.isBuffer(item);

/**
 * The last chunk joined from Buffers, and the lines it was joined from. Watchers of one shape that fell behind
 * by the same events queue the very same line Buffers, and their pumps run in the same turn: the first joins
 * them, the rest write that chunk (1,000 watchers each copying the same lines into a chunk of their own was
 * ~7% of the server's CPU while it fanned events out).
 */
let lastJoined: { lines: Buffer[]; chunk: Buffer } | undefined;

function sameLines(lines: Line[], known: Buffer[]): boolean {
  if (lines.length !== known.length) return false;
  for (let index = 0; index < lines.length; index++) if (lines[index] !== known[index]) return false;
  return true;
}

/** Lines as one chunk: a single line as it is (a shared Buffer is not copied), text joined, bytes concatenated. */
function joined(lines: Line[]): Line {
  if (lines.length === 1) return lines[0]!;
  if (lines.every((line) => typeof line === 'string')) return lines.join('');
  if (lastJoined && sameLines(lines, lastJoined.lines)) return lastJoined.chunk;
  if (!lines.every((line) => Buffer.isBuffer(line))) return Buffer.concat(lines.map((line) => (typeof line === 'string' ? Buffer.from(line) : line)));
  const chunk = Buffer.concat(lines as Buffer[]);
  lastJoined = { lines: lines as Buffer[], chunk };
  return chunk;
}

export class WatchWriter {
  private readonly pending: Pending[] = [];
  /** The size of the queued lines (sizeOf). */
  private queuedBytes = 0;
  private waitingForDrain = false;
  /** A pump is scheduled for the next turn (this turn's budget was spent). */
  private yielded?: NodeJS.Immediate;
  private closed = false;
  private readonly onDrain = () => {
    this.waitingForDrain = false;
    this.pump();
  };

  constructor(
    private readonly output: WatchOutput,
    private readonly options: WatchWriterOptions,
  ) {}

  /**
   * Lines sent after everything already queued, pulled one at a time only while the socket takes them, so a
   * large initial list costs its size only once the client has read it.
   */
  sendLazily(lines: Iterable<Line>): void {
    if (this.closed) return;
    this.pending.push(lines[Symbol.iterator]());
    this.pump();
  }

  /**
   * Sends one line after everything queued before it. A reader whose unread output would grow beyond the cap
   * is cut off; a single line into an empty buffer is always accepted, however large.
   */
  send(line: Line): void {
    if (this.closed) return;
    const unread = this.bufferedBytes();
    if (unread > 0 && unread + sizeOf(line) > this.options.maxBufferedBytes) {
      this.cutOff(unread + sizeOf(line));
      return;
    }
    this.pending.push(line);
    this.queuedBytes += sizeOf(line);
    if (this.output.writableLength > 0) this.schedulePump();
    else this.pump();
  }

  /** Pumps on the next turn of the event loop (once, however many lines come meanwhile). */
  private schedulePump(): void {
    this.yielded ??= setImmediate(() => {
      this.yielded = undefined;
      this.pump();
    });
  }

  /** Whether output is waiting for the client (bookmarks are skipped then: they would only add to it). */
  get backlogged(): boolean {
    return this.waitingForDrain || this.yielded !== undefined || this.pending.length > 0;
  }

  /** Unread output: queued here plus held in Node's buffers for the socket. */
  bufferedBytes(): number {
    return this.queuedBytes + this.output.writableLength;
  }

  /**
   * Ends the output: the lines already queued (up to a lazy list not produced yet) are handed to the socket
   * first — a line sent just before the end, such as an ERROR, must not wait for a turn that never comes —
   * then as close(). They fit the cap: send() enforced it.
   */
  finish(): void {
    const queued: Line[] = [];
    for (const item of this.pending) {
      if (!isLine(item)) break;
      queued.push(item);
    }
    if (queued.length > 0 && !this.closed && !this.output.destroyed && !this.output.writableEnded) this.output.write(joined(queued));
    this.close();
  }

  /** Stops writing and drops what is queued (the stream is ending). */
  close(): void {
    this.closed = true;
    this.pending.length = 0;
    this.queuedBytes = 0;
    this.output.removeListener('drain', this.onDrain);
    if (this.yielded) clearImmediate(this.yielded);
    this.yielded = undefined;
  }

  private cutOff(bufferedBytes: number): void {
    this.close();
    this.output.destroy();
    this.options.onSlowReader?.(bufferedBytes);
  }

  /**
   * Writes queued lines in order until the socket asks to wait (or nothing is left). Also runs from 'drain',
   * where nobody would catch an error: a line that cannot be produced ends the stream instead.
   */
  private pump(): void {
    if (this.yielded) return; // the scheduled pump continues in order
    let budget = this.options.maxBytesPerTurn ?? 1024 * 1024;
    while (!this.waitingForDrain && !this.closed && !this.output.destroyed && !this.output.writableEnded) {
      if (budget <= 0 && this.pending.length > 0) return this.schedulePump();
      let first: Line | undefined;
      try {
        first = this.next();
      } catch (error) {
        this.close();
        this.output.destroy();
        this.options.onError?.(error);
        return;
      }
      if (first === undefined) return;
      this.options.onLineSent?.();
      // Lines already queued go out with it, up to a chunk: one write (one TLS record) instead of one per
      // line. (Lines of a lazy list are not pulled for this: they are produced only as the socket takes them.)
      let chunk = first;
      let size = sizeOf(first);
      if (size < MAX_CHUNK && isLine(this.pending[0])) {
        const lines = [first];
        while (size < MAX_CHUNK && isLine(this.pending[0])) {
          const line = this.next()!;
          lines.push(line);
          size += sizeOf(line);
          this.options.onLineSent?.();
        }
        chunk = joined(lines);
      }
      budget -= size;
      if (!this.output.write(chunk)) {
        this.waitingForDrain = true;
        this.output.once('drain', this.onDrain);
      }
    }
  }

  private next(): Line | undefined {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      if (isLine(head)) {
        this.pending.shift();
        this.queuedBytes -= sizeOf(head);
        return head;
      }
      const produced = head.next();
      if (!produced.done) return produced.value;
      this.pending.shift();
    }
    return undefined;
  }
}
