// Watches on the embedded backend, served in-process: the store publishes each committed write to the hub,
// which queues it for every watcher whose prefix covers it and delivers outside the write (see WatchHub).
import { directoryOf, type StorageError, type WatchEvent, type WatchHandle, type WatchHandler } from './types.ts';
import { callHandler } from './handlers.ts';

/**
 * Live watchers and their delivery. Events are queued during a write and delivered from a setImmediate, in
 * one onEvents batch per watcher, so a slow or throwing handler never runs inside a write transaction.
 *
 * Progress: requestProgress() marks the watcher pending like an event does; its delivery first hands over
 * the queued events, then reports the store's revision as of that moment. Every write publishes its event
 * synchronously right after committing, so by then every change at or below that revision is either
 * delivered or in the queue just handed over.
 */
export class WatchHub {
  private readonly watchers = new Set<EmbeddedWatch>();
  private readonly pending = new Set<EmbeddedWatch>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(readonly revision: () => number) {}

  add(watcher: EmbeddedWatch, history: WatchEvent[]): void {
    this.watchers.add(watcher);
    if (history.length > 0) this.enqueue(watcher, history);
  }

  publish(event: WatchEvent): void {
    for (const watcher of this.watchers) {
      if (watcher.wants(event)) this.enqueue(watcher, [event]);
    }
  }

  /** Schedules an onProgress for the watcher, after anything already queued for it. */
  requestProgress(watcher: EmbeddedWatch): void {
    if (!this.watchers.has(watcher)) return;
    this.pending.add(watcher);
    this.schedule();
  }

  /** Ends the watch with error (delivered asynchronously, after anything already queued). */
  fail(watcher: EmbeddedWatch, error: StorageError): void {
    watcher.error = error;
    this.pending.add(watcher);
    this.schedule();
  }

  remove(watcher: EmbeddedWatch): void {
    this.watchers.delete(watcher);
    this.pending.delete(watcher);
  }

  closeAll(): void {
    for (const watcher of this.watchers) watcher.close();
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.pending.clear();
  }

  private enqueue(watcher: EmbeddedWatch, events: WatchEvent[]): void {
    watcher.queue.push(...events);
    this.pending.add(watcher);
    this.schedule();
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = undefined;
    const due = [...this.pending];
    this.pending.clear();
    for (const watcher of due) watcher.deliver();
  }
}

export class EmbeddedWatch implements WatchHandle {
  queue: WatchEvent[] = [];
  error: StorageError | undefined;
  private closed = false;
  private progressWanted = false;
  private reportedProgress = 0;
  private readonly dir: string;

  constructor(
    private readonly hub: WatchHub,
    prefix: string,
    private readonly afterRevision: number,
    private readonly handler: WatchHandler,
  ) {
    this.dir = directoryOf(prefix);
  }

  wants(event: WatchEvent): boolean {
    return !this.closed && event.modRevision > this.afterRevision && event.key.startsWith(this.dir);
  }

  deliver(): void {
    if (this.closed) return;
    const events = this.queue;
    this.queue = [];
    if (events.length > 0) callHandler(() => this.handler.onEvents(events));
    // The handler may have closed the watch; onError is never called after close().
    if (this.error && !this.closed) {
      const error = this.error;
      this.close();
      callHandler(() => this.handler.onError(error));
    }
    if (this.progressWanted && !this.closed) {
      this.progressWanted = false;
      // Changes at or below afterRevision are not this watch's business, so that much is always covered.
      this.reportedProgress = Math.max(this.reportedProgress, this.hub.revision(), this.afterRevision);
      const revision = this.reportedProgress;
      callHandler(() => this.handler.onProgress?.(revision));
    }
  }

  requestProgress(): void {
    if (this.closed || this.error) return;
    this.progressWanted = true;
    this.hub.requestProgress(this);
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.hub.remove(this);
  }
}

