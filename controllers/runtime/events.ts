// The event recorder: `recorder.event(object, 'Normal' | 'Warning', reason, message)` writes a core v1 Event
// (what `kubectl describe` and `kubectl get events` show), the way client-go's recorder does:
//  - dedup: the same (object uid, type, reason, message) seen again within dedupWindowMs (10 minutes) of its
//    last occurrence bumps the existing Event's count and lastTimestamp with a merge patch instead of
//    creating another Event (if that Event is gone, e.g. expired, a new one is created);
//  - spam-safe: at most maxWritesPerObjectPerMinute writes (creates + patches) per object per minute; beyond
//    that, repeats of a known event are only counted locally (the next allowed write carries the total) and
//    new ones are dropped, with one warning per object per minute;
//  - never throws into a reconcile: event() resolves in every case and failures are logged. Writes for one
//    dedup key are serialised, so concurrent repeats count correctly.
import os from 'node:os';
import { EventResource, isNotFound, type ApiClient, type CoreEvent } from '../../apis/client/index.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { timestamp } from '../../apis/meta/time.ts';

export type EventType = 'Normal' | 'Warning';

/** What reconcilers get: record an event about an object. */
export interface EventRecorder {
  /** Resolves when the event has been written (or dropped or failed: it never rejects). */
  event(object: KubeObject, type: EventType, reason: string, message: string): Promise<void>;
}

export interface EventRecorderOptions {
  /** source.component and reportingComponent, e.g. `vpc-controller`. */
  component: string;
  /** reportingInstance; default `<hostname>-<pid>`. */
  instance?: string;
  /** source.host; default the hostname. */
  host?: string;
  logger?: Logger;
  /** Default 10 minutes. */
  dedupWindowMs?: number;
  /** Default 25 (client-go's per-object burst). */
  maxWritesPerObjectPerMinute?: number;
  /** Known events remembered for dedup (least recently seen forgotten first). Default 4096. */
  cacheSize?: number;
  now?: () => number;
}

interface SeenEvent {
  name: string;
  namespace: string;
  /** Occurrences so far (ahead of the Event's count while writes are capped). */
  count: number;
  firstTimestamp: string;
  lastSeenMs: number;
}

const MAX_MESSAGE_LENGTH = 1024;

/** A recorder that records nothing (tests of pure logic, dry runs). */
export const noopRecorder: EventRecorder = { event: async () => undefined };

export class ApiEventRecorder implements EventRecorder {
  private readonly seen = new Map<string, SeenEvent>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly writes = new Map<string, number[]>();
  private readonly warnedAt = new Map<string, number>();
  private readonly log: Logger;
  private readonly instance: string;
  private readonly host: string;
  private readonly dedupWindowMs: number;
  private readonly maxWrites: number;
  private readonly cacheSize: number;
  private readonly now: () => number;
  private sequence = 0;

  constructor(
    private readonly client: ApiClient,
    private readonly options: EventRecorderOptions,
  ) {
    this.log = options.logger ?? createLogger('events', { reportingComponent: options.component });
    this.host = options.host ?? os.hostname();
    this.instance = options.instance ?? `${this.host}-${process.pid}`;
    this.dedupWindowMs = options.dedupWindowMs ?? 10 * 60_000;
    this.maxWrites = options.maxWritesPerObjectPerMinute ?? 25;
    this.cacheSize = options.cacheSize ?? 4096;
    this.now = options.now ?? Date.now;
  }

  event(object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    let key: string;
    try {
      key = JSON.stringify([objectIdentity(object), type, reason, message]);
    } catch {
      return Promise.resolve();
    }
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.record(key, object, type, reason, message)).catch((error) => {
      this.log.warn('could not record an event', { reason, object: describe(object), error: errorMessage(error) });
    });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  /** Resolves when every event recorded so far has been written (or given up on). */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private async record(key: string, object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const now = this.now();
    const nowText = timestamp(new Date(now));
    const existing = this.seen.get(key);
    const repeat = existing !== undefined && now - existing.lastSeenMs < this.dedupWindowMs;
    if (repeat) {
      existing.count += 1;
      existing.lastSeenMs = now;
      this.touch(key, existing);
    }
    if (!this.allowWrite(object, now)) return; // a repeat is counted locally; the next write carries it
    if (repeat) {
      try {
        await this.client.patch<CoreEvent>(EventResource, existing.name, { count: existing.count, lastTimestamp: nowText }, { namespace: existing.namespace });
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
        // The Event expired or was deleted: start a new one.
      }
    }
    const namespace = object.metadata.namespace || 'default';
    const name = `${object.metadata.name ?? 'object'}.${this.uniqueSuffix(now)}`;
    const event: CoreEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.metadata.name,
        namespace: object.metadata.namespace,
        uid: object.metadata.uid,
        resourceVersion: object.metadata.resourceVersion,
      },
      reason,
      message: message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : message,
      type,
      source: { component: this.options.component, host: this.host },
      reportingComponent: this.options.component,
      reportingInstance: this.instance,
      firstTimestamp: repeat ? existing.firstTimestamp : nowText,
      lastTimestamp: nowText,
      count: repeat ? existing.count : 1,
    };
    await this.client.create<CoreEvent>(EventResource, event, { namespace });
    const entry: SeenEvent = { name, namespace, count: event.count!, firstTimestamp: event.firstTimestamp!, lastSeenMs: now };
    this.touch(key, entry);
  }

  /** Per-object write budget over the last minute. */
  private allowWrite(object: KubeObject, now: number): boolean {
    const id = objectIdentity(object);
    const recent = (this.writes.get(id) ?? []).filter((time) => now - time < 60_000);
    if (recent.length >= this.maxWrites) {
      this.writes.set(id, recent);
      const warned = this.warnedAt.get(id);
      if (warned === undefined || now - warned >= 60_000) {
        this.warnedAt.set(id, now);
        this.log.warn('too many events for one object; dropping some for a minute', { object: describe(object), limit: this.maxWrites });
      }
      return false;
    }
    recent.push(now);
    this.writes.set(id, recent);
    if (this.writes.size > this.cacheSize) this.writes.delete(this.writes.keys().next().value!);
    return true;
  }

  private touch(key: string, entry: SeenEvent): void {
    this.seen.delete(key);
    this.seen.set(key, entry);
    while (this.seen.size > this.cacheSize) this.seen.delete(this.seen.keys().next().value!);
  }

  /** Like client-go: `<object>.<hex of the time in ns>`, unique within this process. */
  private uniqueSuffix(now: number): string {
    this.sequence = (this.sequence + 1) % 1_000_000;
    return (BigInt(now) * 1_000_000n + BigInt(this.sequence)).toString(16);
  }
}

function objectIdentity(object: KubeObject): string {
  return object.metadata.uid ?? `${object.apiVersion ?? ''}/${object.kind ?? ''}/${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
}

function describe(object: KubeObject): string {
  return `${(object.kind ?? 'object').toLowerCase()}/${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name ?? ''}`;
}
