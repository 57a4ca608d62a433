// Prometheus metrics on /metrics (names follow the Kubernetes API server's where one exists). One registry
// per server instance, so tests can run several servers in one process.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './storage/types.ts';
import { codecCounts } from './registry/codec.ts';
import { TalliedHistogram } from './tallied-histogram.ts';

/** A request's labels on apiserver_request_total. */
export interface RequestCountLabels {
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  code: string;
}

/**
 * Counts kept as plain numbers per label set and added to a prom-client Counter when it is read: a labelled
 * inc() validates and hashes its labels every time, which on a per-request or per-line path is a cost of its own.
 */
class CounterTallies<Label extends string> {
  private readonly tallies = new Map<string, { labels: Record<Label, string>; count: number }>();

  /** The tally of a label set, `key` naming it; whoever counts adds to its `count`. */
  tally(key: string, labels: Record<Label, string>): { count: number } {
    let tally = this.tallies.get(key);
    if (!tally) this.tallies.set(key, (tally = { labels: { ...labels }, count: 0 }));
    return tally;
  }

  /** Adds what was counted since the last read to `counter` (its collect hook). */
  flushInto(counter: Counter<Label>): void {
    for (const tally of this.tallies.values()) {
      if (tally.count === 0) continue;
      counter.inc(tally.labels, tally.count);
      tally.count = 0;
    }
  }
}

export class ApiMetrics {
  readonly registry = new Registry();
  /** Requests, tallied (a labelled inc() per request validated and hashed its labels each time). */
  private readonly requestTallies = new CounterTallies<keyof RequestCountLabels>();
  readonly requests: Counter<keyof RequestCountLabels> = new Counter({
    name: 'apiserver_request_total',
    help: 'Requests by verb, API group, resource, subresource and HTTP code.',
    labelNames: ['verb', 'group', 'resource', 'subresource', 'code'] as const,
    registers: [this.registry],
    collect: () => this.requestTallies.flushInto(this.requests),
  });

  /** Counts one request on apiserver_request_total. */
  countRequest(labels: RequestCountLabels): void {
    this.requestTallies.tally(`${labels.verb}\u0000${labels.group}\u0000${labels.resource}\u0000${labels.subresource}\u0000${labels.code}`, labels).count++;
  }

  /** Label values: verb, group, resource. */
  readonly requestDuration = new TalliedHistogram(
    'apiserver_request_duration_seconds',
    'Response latency by verb, group and resource (watches: time to first byte).',
    ['verb', 'group', 'resource'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
  readonly openWatches = new Gauge({
    name: 'apiserver_longrunning_requests',
    help: 'Open watch requests by group and resource.',
    labelNames: ['group', 'resource'] as const,
    registers: [this.registry],
  });
  /**
   * Watch events sent, tallied per resource: a labelled inc() per line per watcher (label hashing) was ~5% of
   * the server's time fanning events out to 1,000 watchers.
   */
  private readonly watchEventTallies = new CounterTallies<'group' | 'resource'>();
  readonly watchEventsSent: Counter<'group' | 'resource'> = new Counter({
    name: 'apiserver_watch_events_total',
    help: 'Watch events sent to clients by group and resource.',
    labelNames: ['group', 'resource'] as const,
    registers: [this.registry],
    collect: () => this.watchEventTallies.flushInto(this.watchEventsSent),
  });

  /** The tally a watch of this resource adds its sent events to (`count++` per line). */
  watchEventTally(group: string, resource: string): { count: number } {
    return this.watchEventTallies.tally(`${group}/${resource}`, { group, resource });
  }
  readonly watchSlowReadersTerminated = new Counter({
    name: 'apiserver_watch_slow_readers_terminated_total',
    help: 'Watches cut off because their client fell too far behind reading them, by group and resource.',
    labelNames: ['group', 'resource'] as const,
    registers: [this.registry],
  });
  readonly flowControlRejected = new Counter({
    name: 'apiserver_flowcontrol_rejected_requests_total',
    help: 'Requests answered 429 by per-user flow control, by kind (watch, mutating, readonly) and reason.',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  /** Label value: the operation. */
  readonly storageDuration = new TalliedHistogram(
    'apiserver_storage_request_duration_seconds',
    'Storage backend latency by operation.',
    ['operation'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    this.registry,
  );
  readonly codec = new Counter({
    name: 'apiserver_storage_codec_total',
    help: 'Objects encoded for storage and decoded from it, in this process.',
    labelNames: ['operation'] as const,
    registers: [this.registry],
    collect() {
      this.reset();
      this.inc({ operation: 'encode' }, codecCounts.encode);
      this.inc({ operation: 'decode' }, codecCounts.decode);
    },
  });
  readonly storageErrors = new Counter({
    name: 'apiserver_storage_errors_total',
    help: 'Storage operations that failed with an unavailable backend, by operation.',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly connectionsRefused = new Counter({
    name: 'apiserver_connections_refused_total',
    help: 'Connections closed on arrival because a client address (per-client) or the server (total) held too many.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly requestsByProtocol = new Counter({
    name: 'apiserver_requests_by_protocol_total',
    help: 'Requests by HTTP version (2.0: clients that negotiated HTTP/2, such as kubectl; 1.1: the others).',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });

  readonly storageWatches = new Gauge({
    name: 'apiserver_storage_watches',
    help: 'Open watches on the storage backend (the watch cache needs one, however many clients watch).',
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: 'apiserver_audit_event_total',
    help: 'Audit events written to the audit log.',
    registers: [this.registry],
  });

  readonly auditErrors = new Counter({
    name: 'apiserver_audit_error_total',
    help: 'Audit events lost, by reason (write: the disk failed; unavailable: the log was being reopened; backlog: the disk fell behind; event: a bug building the event).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Wraps a store so every call is timed; the wrapper is a Store itself. */
  instrument(store: Store): Store {
    const timed = <T>(operation: string, call: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const end = () => this.storageDuration.observe([operation], (performance.now() - started) / 1000);
      return call().then(
        (value) => {
          end();
          return value;
        },
        (error: unknown) => {
          end();
          if ((error as { code?: string }).code === 'Unavailable') this.storageErrors.inc({ operation });
          throw error;
        },
      );
    };
    return {
      backend: store.backend,
      get: (key) => timed('get', () => store.get(key)),
      list: (prefix, options) => timed('list', () => store.list(prefix, options)),
      count: (prefix) => timed('count', () => store.count(prefix)),
      create: (key, value) => timed('create', () => store.create(key, value)),
      update: (key, value, revision) => timed('update', () => store.update(key, value, revision)),
      delete: (key, revision) => timed('delete', () => store.delete(key, revision)),
      watch: (prefix, after, handler) => {
        this.storageWatches.inc();
        let open = true;
        const closed = () => {
          if (open) this.storageWatches.dec();
          open = false;
        };
        const watch = store.watch(prefix, after, {
          onEvents: (events) => handler.onEvents(events),
          onProgress: (revision) => handler.onProgress?.(revision),
          onError: (error) => {
            closed();
            handler.onError(error);
          },
        });
        return {
          close: () => {
            closed();
            watch.close();
          },
          requestProgress: () => watch.requestProgress?.(),
        };
      },
      currentRevision: () => timed('currentRevision', () => store.currentRevision()),
      compact: (revision) => timed('compact', () => store.compact(revision)),
      compactedRevision: () => store.compactedRevision(),
      close: () => store.close(),
    };
  }
}
