// The AuditSink the API server uses: decides each completed request's level by policy, builds the event,
// seals it into the hash chain and appends it to the audit log through one append stream, so lines land in
// the order they were chained. Requests never wait for the disk and never fail because of it: a write error
// is logged and counted, the lines still buffered are lost (and counted), and the file is reopened after a
// pause, the chain resuming from whatever the file really ends with.
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import { GENESIS, sealEvent, sealedHash } from './chain.ts';
import { buildEvent, MAX_EVENT_BYTES, policyAttributes, withoutObjects } from './event.ts';
import { evaluatePolicy, type AuditPolicy } from './policy.ts';
import type { AuditRequest, AuditSink } from './types.ts';

export type AuditErrorReason = 'write' | 'backlog' | 'unavailable' | 'event';

export interface AuditLogOptions {
  file: string;
  policy: AuditPolicy;
  log: Logger;
  /** A line reached the file (the OS, not necessarily the platter: there is no fsync per line). */
  onWritten?: () => void;
  /** An event was lost, and why. */
  onError?: (reason: AuditErrorReason) => void;
  /** Events are dropped (never queued without bound) while this much is waiting for the disk. */
  maxBacklogBytes?: number;
  /** How long after a write error the file is reopened. */
  reopenDelayMs?: number;
}

/** How far back from the end a resume looks for the start of the last line before giving up. */
const MAX_TAIL_SEARCH = 4 * MAX_EVENT_BYTES;

/**
 * Where the chain continues in an existing file: the hash of its last line. A last line without a newline is
 * what a crash (or a full disk) leaves of a write cut short; it can never verify, and nothing a chain protects
 * is lost by dropping it (it was never acknowledged as written), so it is truncated away and the loss logged.
 * A last line that is not a sealed event (edited, or not ours) cannot be chained from: new lines start from
 * GENESIS, and `photon audit verify` reports that line.
 */
export function resumeChain(file: string, log: Logger): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return GENESIS;
    throw error;
  }
  try {
    let size = fs.fstatSync(fd).size;
    if (size === 0) return GENESIS;
    const lastNewline = findLastNewline(fd, size);
    if (lastNewline === undefined) {
      // Megabytes without a newline were never written by this server: keep them, but end them first.
      log.error('the audit log ends in a very long line this server did not write; new lines start a new chain', { file });
      fs.writeSync(fd, '\n', size);
      return GENESIS;
    }
    if (lastNewline !== size - 1) {
      const keep = lastNewline + 1;
      log.warn('the audit log ends in an incomplete line (a write was cut short); removing it', { file, bytes: size - keep });
      fs.ftruncateSync(fd, keep);
      size = keep;
    }
    if (size === 0) return GENESIS;
    const previousNewline = findLastNewline(fd, size - 1);
    let hash: string | undefined;
    if (previousNewline !== undefined) {
      const line = Buffer.alloc(size - 2 - previousNewline);
      fs.readSync(fd, line, 0, line.length, previousNewline + 1);
      hash = sealedHash(line.toString('utf8'));
    }
    if (!hash) log.error('the audit log\'s last line is not an audit event this server wrote; new lines start a new chain', { file });
    return hash ?? GENESIS;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The offset of the last newline before `end`, -1 when there is none from the start of the file, or
 * undefined when none is within MAX_TAIL_SEARCH bytes (no line this server writes is that long).
 */
function findLastNewline(fd: number, end: number): number | undefined {
  const chunk = Buffer.alloc(64 * 1024);
  let position = end;
  while (position > 0) {
    if (end - position > MAX_TAIL_SEARCH) return undefined;
    const length = Math.min(chunk.length, position);
    position -= length;
    fs.readSync(fd, chunk, 0, length, position);
    const index = chunk.subarray(0, length).lastIndexOf(0x0a);
    if (index !== -1) return position + index;
  }
  return -1;
}

export class AuditLog implements AuditSink {
  private stream?: fs.WriteStream;
  private previous = GENESIS;
  private closed = false;
  private reopenTimer?: NodeJS.Timeout;
  private readonly maxBacklogBytes: number;

  constructor(private readonly options: AuditLogOptions) {
    this.maxBacklogBytes = options.maxBacklogBytes ?? 16 * 1024 * 1024;
    fs.mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
    // At start-up a file that cannot be opened is the operator's to fix: let it throw.
    this.open();
  }

  private open(): void {
    this.previous = resumeChain(this.options.file, this.options.log);
    const stream = fs.createWriteStream(this.options.file, { flags: 'a', mode: 0o600 });
    stream.on('error', (error) => this.failed(stream, error));
    this.stream = stream;
  }

  private failed(stream: fs.WriteStream, error: Error): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.destroy();
    this.options.log.error('writing the audit log failed; events are lost until it can be reopened', { file: this.options.file, error: errorMessage(error) });
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.closed) return;
      try {
        this.open();
        this.options.log.info('the audit log is writable again', { file: this.options.file });
      } catch (error) {
        this.options.log.error('reopening the audit log failed', { file: this.options.file, error: errorMessage(error) });
        this.scheduleReopen();
      }
    }, this.options.reopenDelayMs ?? 5000);
    this.reopenTimer.unref();
  }

  complete(request: AuditRequest, code: number): void {
    try {
      const decision = evaluatePolicy(this.options.policy, policyAttributes(request));
      if (decision.level === 'None' || decision.omitStages.includes('ResponseComplete')) return;
      const stream = this.stream;
      if (!stream || this.closed) return this.options.onError?.('unavailable');
      // Dropped before sealing, so the chain only ever links lines that were handed to the file.
      if (stream.writableLength > this.maxBacklogBytes) return this.options.onError?.('backlog');
      let event = buildEvent(request, code, decision.level);
      let sealed = sealEvent(event, this.previous);
      const size = Buffer.byteLength(sealed.line);
      if (size > MAX_EVENT_BYTES) {
        event = withoutObjects(event, size);
        sealed = sealEvent(event, this.previous);
      }
      this.previous = sealed.hash;
      stream.write(`${sealed.line}\n`, (error) => {
        if (error) this.options.onError?.('write');
        else this.options.onWritten?.();
      });
    } catch (error) {
      // A bug here must not become a failed request.
      this.options.onError?.('event');
      this.options.log.error('building an audit event failed', { auditId: request.auditId, error: errorMessage(error) });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      stream.end();
    });
  }
}
