// `?watch=true`: a chunked stream of `{"type","object"}` lines served from the watch cache. Selector
// transitions become ADDED/DELETED as in Kubernetes; bookmarks, timeouts, 410 Expired, and slow readers are
// handled here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../apis/meta/types.ts';
import { createLogger, type Logger } from '../../apis/logging.ts';
import { badRequest, expired, serviceUnavailable } from '../errors.ts';
import { negotiateRepresentation } from '../http/negotiate.ts';
import { booleanParam, integerParam } from '../http/query.ts';
import { listScope, parseResourceVersion } from '../registry/list.ts';
import { apiVersionOf, fromStorage, type ResourceInfo } from '../registry/resource.ts';
import { renderRow, renderTable, type IncludeObject } from '../table/table.ts';
import { ExpiredError, type CacheEvent, type WatchCache } from './cache.ts';

export interface WatchHandlerOptions {
  bookmarkIntervalMs: number;
  /** Upper bound for a watch without timeoutSeconds (Kubernetes: 30–60 minutes, randomised). */
  maxTimeoutSeconds: number;
  /** A watcher whose unsent output exceeds this is cut off; its client re-watches. */
  maxBufferedBytes: number;
  logger?: Logger;
  onOpen?(resource: ResourceInfo): void;
  onClose?(resource: ResourceInfo): void;
  onEventSent?(resource: ResourceInfo): void;
}

type WireType = 'ADDED' | 'MODIFIED' | 'DELETED';

export class WatchHandler {
  private readonly log: Logger;
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly cache: WatchCache,
    private readonly options: WatchHandlerOptions,
  ) {
    this.log = options.logger ?? createLogger('watch');
  }

  /** Ends every open watch (server shutdown). */
  closeAll(): void {
    for (const response of this.open) response.end();
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
    const timeoutSeconds = integerParam(query, 'timeoutSeconds') ?? Math.round(this.options.maxTimeoutSeconds * (0.5 + Math.random() / 2));
    const representation = negotiateRepresentation(request.headers.accept);
    const include: IncludeObject = (query.get('includeObject') as IncludeObject | null) ?? 'Metadata';
    if (!['None', 'Metadata', 'Object'].includes(include)) throw badRequest(`includeObject: unsupported value ${JSON.stringify(include)}`);

    if (!this.cache.ready && !(await this.cache.waitUntilReady(10_000))) throw serviceUnavailable('the watch cache is not ready yet; retry shortly');

    const keyPrefix = scope.exactKey ?? scope.prefix;
    const matches = scope.matches;
    const apiVersion = apiVersionOf(resource);
    // The cache holds stored objects; watchers see (and select on) this resource's form of them.
    const view = (object: KubeObject) => fromStorage(resource, object);
    // Initial state is sent when no revision is given ("" / "0"), or when explicitly asked for.
    const fromRevision = sendInitialEvents === true || requested === undefined || requested === 0 ? undefined : requested;

    const encode = (type: WireType | 'BOOKMARK', object: KubeObject, event?: CacheEvent): string => {
      const shape = `${representation.as}:${include}:${apiVersion}:${type}`;
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
      const line = JSON.stringify({ type, object: wireObject }) + '\n';
      if (event) (event.encoded ??= new Map()).set(shape, line);
      return line;
    };

    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();

    let finished = false;
    let registration: { cancel(): void } | undefined;
    let bookmarkTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      registration?.cancel();
      clearTimeout(timeoutTimer);
      clearInterval(bookmarkTimer);
      this.open.delete(response);
      this.options.onClose?.(resource);
      if (!response.writableEnded) response.end();
    };
    const write = (line: string) => {
      if (finished) return;
      response.write(line);
      this.options.onEventSent?.(resource);
      if (response.writableLength > this.options.maxBufferedBytes) {
        this.log.warn('closing a watch whose client does not keep up', { resource: resource.plural, buffered: response.writableLength });
        finish();
      }
    };
    const timeoutTimer = setTimeout(finish, timeoutSeconds * 1000);
    request.on('close', finish);
    response.on('close', finish);
    this.open.add(response);
    this.options.onOpen?.(resource);

    const deliver = (event: CacheEvent) => {
      const object = view(event.object);
      const now = matches(object);
      const before = event.prevObject !== undefined && event.type !== 'ADDED' ? matches(view(event.prevObject)) : false;
      if (event.type === 'DELETED') {
        if (before || (event.prevObject === undefined && now)) write(encode('DELETED', object, event));
        return;
      }
      if (now && before) write(encode('MODIFIED', object, event));
      else if (now) write(encode('ADDED', object, event));
      else if (before) write(encode('DELETED', object, event));
    };

    try {
      const watch = this.cache.watch(
        {
          keyPrefix,
          onEvent: deliver,
          onTerminate: finish,
        },
        fromRevision,
      );
      registration = watch.registration;
      if (fromRevision === undefined) {
        for (const event of watch.initial) {
          const object = view(event.object);
          if (matches(object)) write(encode('ADDED', object));
        }
      } else {
        for (const event of watch.initial) deliver(event);
      }
      if (sendInitialEvents) {
        write(JSON.stringify({ type: 'BOOKMARK', object: { kind: resource.kind, apiVersion, metadata: { resourceVersion: String(watch.revision), annotations: { 'k8s.io/initial-events-end': 'true' } } } }) + '\n');
      }
    } catch (error) {
      if (error instanceof ExpiredError) {
        const status = expired(error.message).toStatus();
        write(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
        finish();
        return;
      }
      finish();
      throw error;
    }

    if (bookmarks) {
      bookmarkTimer = setInterval(() => {
        write(JSON.stringify({ type: 'BOOKMARK', object: { kind: resource.kind, apiVersion, metadata: { resourceVersion: String(this.cache.revision) } } }) + '\n');
      }, this.options.bookmarkIntervalMs);
    }
  }
}
