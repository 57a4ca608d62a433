// `?watch=true`: a chunked stream of `{"type","object"}` lines served from the watch cache. Selector
// transitions become ADDED/DELETED as in Kubernetes; bookmarks, timeouts and 410 Expired are handled here,
// and output goes through a WatchWriter, which paces it to the client and cuts off slow readers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../apis/meta/types.ts';
import { createLogger, errorMessage, type Logger } from '../../lib/logging.ts';
import { badRequest, expired, serviceUnavailable } from '../errors.ts';
import { negotiateRepresentation } from './negotiate.ts';
import { booleanParam } from './query.ts';
import { listScope, parseResourceVersion } from '../registry/list.ts';
import { apiVersionOf, fromStorage, type ResourceInfo } from '../registry/resource.ts';
import { renderRow, renderTable, type IncludeObject } from '../table/table.ts';
import { ExpiredError, type CacheEvent, type WatchCache } from '../watch/cache.ts';
import { bytesOf, ownBytes, watchLine } from '../watch/encoded.ts';
import { WatchWriter, type Line } from '../watch/writer.ts';

export interface WatchHandlerOptions {
  bookmarkIntervalMs: number;
  /** Upper bound for a watch without timeoutSeconds (Kubernetes: 30–60 minutes, randomised). */
  maxTimeoutSeconds: number;
  /** A watcher whose unread output (queued plus in the socket buffer) would exceed this is cut off; its client re-watches. */
  maxBufferedBytes: number;
  logger?: Logger;
  onOpen?(resource: ResourceInfo): void;
  onClose?(resource: ResourceInfo): void;
  /** Where a watch of this resource counts the events it sent (`count++`, read by the metrics). */
  eventTally?(resource: ResourceInfo): { count: number };
  onSlowReaderTerminated?(resource: ResourceInfo): void;
}

/** A stream still flushing after it ended is destroyed after this long (its client does not read). */
const END_GRACE_MS = 10_000;

/**
 * timeoutSeconds: a whole number of seconds, at most the server's maximum (larger values are clamped, as
 * setTimeout cannot wait longer than ~24.8 days and would end the watch at once); absent or 0 means the
 * server's default, randomised so that watches opened together do not all end together.
 */
export function watchTimeoutSeconds(query: URLSearchParams, maxTimeoutSeconds: number, random = Math.random): number {
  const value = query.get('timeoutSeconds');
  if (value !== null && value !== '' && !/^\d+$/.test(value)) {
    throw badRequest(`invalid value for timeoutSeconds: ${JSON.stringify(value.slice(0, 64))} (expected a whole number of seconds)`);
  }
  const requested = value ? Number(value) : 0;
  if (requested === 0) return Math.max(1, Math.round(maxTimeoutSeconds * (0.5 + random() / 2)));
  return Math.min(requested, maxTimeoutSeconds);
}

type WireType = 'ADDED' | 'MODIFIED' | 'DELETED';

export class WatchHandler {
  private readonly log: Logger;
  /** Open watches and how each ends. */
  private readonly open = new Map<ServerResponse, () => void>();

  constructor(
    private readonly cache: WatchCache,
    private readonly options: WatchHandlerOptions,
  ) {
    this.log = options.logger ?? createLogger('watch');
  }

  /** Ends every open watch (server shutdown). */
  closeAll(): void {
    for (const finish of [...this.open.values()]) finish();
    this.open.clear();
  }

  async serve(request: IncomingMessage, response: ServerResponse, resource: ResourceInfo, namespace: string | undefined, query: URLSearchParams): Promise<void> {
    const scope = listScope(resource, namespace, query.get('labelSelector') ?? undefined, query.get('fieldSelector') ?? undefined);
    const rvParam = query.get('resourceVersion') ?? '';
    const requested = parseResourceVersion(rvParam);
    const bookmarks = booleanParam(query, 'allowWatchBookmarks');
    const sendInitialEvents = query.has('sendInitialEvents') ? booleanParam(query, 'sendInitialEvents') : undefined;
    if (sendInitialEvents !== undefined && query.get('resourceVersionMatch') !== 'NotOlderThan') {
      throw badRequest('sendInitialEvents requires resourceVersionMatch=NotOlderThan');
    }
    if (sendInitialEvents && !bookmarks) throw badRequest('sendInitialEvents requires allowWatchBookmarks=true');
    const timeoutSeconds = watchTimeoutSeconds(query, this.options.maxTimeoutSeconds);
    const representation = negotiateRepresentation(request.headers.accept);
    const include: IncludeObject = (query.get('includeObject') as IncludeObject | null) ?? 'Metadata';
    if (!['None', 'Metadata', 'Object'].includes(include)) throw badRequest(`includeObject: unsupported value ${JSON.stringify(include)}`);

    if (!this.cache.ready && !(await this.cache.waitUntilReady(10_000))) throw serviceUnavailable('the watch cache is not ready yet; retry shortly');

    const keyPrefix = scope.exactKey ?? scope.prefix;
    const matches = scope.matches;
    const apiVersion = apiVersionOf(resource);
    // The cache holds stored objects; watchers see (and select on) this resource's form of them.
    // (Stored in this version already, the usual case, it is the cache's object itself: this runs for every
    // watcher of every event.)
    const view = (object: KubeObject) => (!resource.conversion && object.apiVersion === apiVersion ? object : fromStorage(resource, object));
    // Initial state is sent when no revision is given ("" / "0"), or when explicitly asked for.
    const fromRevision = sendInitialEvents === true || requested === undefined || requested === 0 ? undefined : requested;

    // What an encoded line depends on besides the event: watchers that agree share the line.
    const shapeOf = (type: WireType | 'BOOKMARK') => `${representation.as}:${include}:${apiVersion}:${type}`;
    const shapes = { ADDED: shapeOf('ADDED'), MODIFIED: shapeOf('MODIFIED'), DELETED: shapeOf('DELETED'), BOOKMARK: shapeOf('BOOKMARK') };
    // A line is bytes. A live event's is kept on the event and written as is to every watcher of its shape; the
    // object's own JSON is remembered by the cache (bytesOf) for other watchers' lines and lists.
    const encode = (type: WireType | 'BOOKMARK', object: KubeObject, event?: CacheEvent): Line => {
      const shape = shapes[type];
      const cached = event?.encoded?.get(shape);
      if (cached) return cached;
      let wireObject: unknown = object;
      if (type !== 'BOOKMARK') {
        if (representation.as === 'Table') {
          const table = renderTable(resource, [], { resourceVersion: object.metadata.resourceVersion }, include, representation.apiVersion);
          table.rows = [renderRow(resource, object, include, representation.apiVersion)];
          wireObject = table;
        } else if (representation.as === 'PartialObjectMetadata') {
          wireObject = { kind: 'PartialObjectMetadata', apiVersion: representation.apiVersion, metadata: object.metadata };
        }
      }
      const line = wireObject === object ? watchLine(type, bytesOf(object), event !== undefined) : JSON.stringify({ type, object: wireObject }) + '\n';
      if (!event) return line;
      const bytes = typeof line === 'string' ? ownBytes(line) : line;
      (event.encoded ??= new Map()).set(shape, bytes);
      return bytes;
    };

    // No length: HTTP/1.1 sends it chunked, HTTP/2 as DATA frames (where Transfer-Encoding is not allowed).
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    response.flushHeaders();

    const tally = this.options.eventTally?.(resource);
    let finished = false;
    let registration: { cancel(): void } | undefined;
    let bookmarkTimer: NodeJS.Timeout | undefined;
    const writer = new WatchWriter(response, {
      maxBufferedBytes: this.options.maxBufferedBytes,
      onLineSent: tally ? () => void tally.count++ : undefined,
      onSlowReader: (buffered) => {
        this.log.warn('cut off a watch whose client does not keep up', { resource: resource.plural, buffered });
        this.options.onSlowReaderTerminated?.(resource);
      },
      onError: (error) => this.log.error('watch stream failed', { resource: resource.plural, error: errorMessage(error) }),
    });
    const finish = () => {
      if (finished) return;
      finished = true;
      registration?.cancel();
      clearTimeout(timeoutTimer);
      clearInterval(bookmarkTimer);
      writer.finish();
      this.open.delete(response);
      this.options.onClose?.(resource);
      endGracefully(response);
    };
    const timeoutTimer = setTimeout(finish, timeoutSeconds * 1000);
    request.on('close', finish);
    response.on('close', finish);
    this.open.set(response, finish);
    this.options.onOpen?.(resource);

    /** The line an event becomes for this watcher (selector transitions included), or none. */
    const lineFor = (event: CacheEvent): Line | undefined => {
      const object = view(event.object);
      const now = matches(object);
      const before = event.prevObject !== undefined && event.type !== 'ADDED' ? matches(view(event.prevObject)) : false;
      if (event.type === 'DELETED') return before || (event.prevObject === undefined && now) ? encode('DELETED', object, event) : undefined;
      if (now && before) return encode('MODIFIED', object, event);
      if (now) return encode('ADDED', object, event);
      if (before) return encode('DELETED', object, event);
      return undefined;
    };
    const bookmarkLine = (revision: number, annotations?: Record<string, string>) =>
      JSON.stringify({ type: 'BOOKMARK', object: { kind: resource.kind, apiVersion, metadata: { resourceVersion: String(revision), ...(annotations ? { annotations } : {}) } } }) + '\n';
    // Encoded one at a time as the client reads: a large initial list is never held encoded in full.
    function* initialLines(initial: CacheEvent[], revision: number): Generator<Line> {
      for (const event of initial) {
        if (fromRevision !== undefined) {
          const line = lineFor(event);
          if (line) yield line;
          continue;
        }
        const object = view(event.object);
        if (matches(object)) yield encode('ADDED', object);
      }
      if (sendInitialEvents) yield bookmarkLine(revision, { 'k8s.io/initial-events-end': 'true' });
    }

    try {
      const watch = this.cache.watch(
        {
          keyPrefix,
          onEvent: (event) => {
            const line = lineFor(event);
            if (line) writer.send(line);
          },
          onTerminate: finish,
        },
        fromRevision,
      );
      registration = watch.registration;
      // Queued before any live event can arrive (dispatch is synchronous), so live events follow the initial ones.
      writer.sendLazily(initialLines(watch.initial, watch.revision));
    } catch (error) {
      if (error instanceof ExpiredError) {
        writer.send(JSON.stringify({ type: 'ERROR', object: expired(error.message).toStatus() }) + '\n');
        finish();
        return;
      }
      finish();
      throw error;
    }

    if (bookmarks) {
      bookmarkTimer = setInterval(() => {
        // A bookmark says "everything up to here was sent"; a client that is behind gets it once it caught up.
        if (!writer.backlogged) writer.send(bookmarkLine(this.cache.revision));
      }, this.options.bookmarkIntervalMs);
    }
  }
}

/** Ends a stream; one whose client does not take the rest is destroyed after a grace period. */
function endGracefully(response: ServerResponse): void {
  if (response.destroyed || response.writableEnded) return;
  response.end();
  const timer = setTimeout(() => response.destroy(), END_GRACE_MS);
  timer.unref();
  response.once('close', () => clearTimeout(timer));
}
