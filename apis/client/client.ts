// A small typed HTTP client for the PhotonCloud API server (any Kubernetes-conventions server): CRUD, the
// status subresource, merge/JSON/apply patches, paginated lists and watches, over one keep-alive agent.
// Controllers, agents and photonctl use it; @kubernetes/client-node stays available for programs that
// prefer it. Bodies are JSON. Credentials never appear in errors: ApiStatusError carries the Status and the
// request's method and path only.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { KubeList, KubeObject, Status, WatchEvent } from '../meta/types.ts';
import { ApiStatusError, ApiTimeoutError, statusFromResponse } from './errors.ts';
import { loadKubeconfig, type ClusterConnection } from './kubeconfig.ts';
import { apiVersionOf, type ResourceRef } from './resources.ts';

export interface ClientOptions {
  /** Names the caller in the User-Agent header: `photon/<component>`. Default `client`. */
  component?: string;
  /** Timeout of each request but watches, in ms. Default 30 s. */
  timeoutMs?: number;
  /** Most sockets open to the server at once. Default 32. */
  maxSockets?: number;
  /** Kubeconfig context to use instead of current-context (clientFromKubeconfig only). */
  context?: string;
  /**
   * fieldManager for writes that name none (e.g. `vpc-controller`). Without it the server records the
   * User-Agent's product, `photon`, for every component alike.
   */
  fieldManager?: string;
}

/** What every call accepts. */
export interface CallOptions {
  /** Aborts the request (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Overrides the client's request timeout for this call. */
  timeoutMs?: number;
}

export interface ObjectOptions extends CallOptions {
  /** Namespace of a namespaced resource. */
  namespace?: string;
}

export interface ListOptions extends CallOptions {
  /** Omit to list across all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
}

export interface WriteOptions extends CallOptions {
  /** For create: defaults to the object's metadata.namespace. */
  namespace?: string;
  fieldManager?: string;
  dryRun?: boolean;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
}

export type PatchType = 'merge' | 'json' | 'apply';

export interface PatchOptions extends WriteOptions {
  /** Default `merge`. `apply` is server-side apply and needs fieldManager. */
  type?: PatchType;
  /** Apply only: take ownership of conflicting fields. */
  force?: boolean;
  /** `status` patches the /status subresource. */
  subresource?: 'status';
}

export interface DeleteOptions extends CallOptions {
  namespace?: string;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
  dryRun?: boolean;
}

export interface WatchOptions {
  namespace?: string;
  /** Start after this resourceVersion; omit (or '0') to get ADDED events for what exists first. */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
  /** The server ends the stream after this many seconds. */
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
  /** Closes the watch (done resolves) when aborted. */
  signal?: AbortSignal;
  /** Fails the watch (done rejects with ApiTimeoutError) when nothing, not even a bookmark, arrives this long. */
  idleTimeoutMs?: number;
}

export interface WatchHandle {
  /** Ends the stream from this side; `done` then resolves. Idempotent. */
  close(): void;
  /**
   * Resolves when the stream ends normally (the server closed it, its timeout passed, or close() was called);
   * rejects with the error otherwise: an ApiStatusError for an ERROR event (e.g. code 410 Expired), a
   * transport error when the connection broke, or whatever onEvent threw.
   */
  readonly done: Promise<void>;
}

export interface RequestSpec extends CallOptions {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
}

interface RawResponse {
  status: number;
  text: string;
}

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** URL path of a collection, an object or an object's subresource. */
export function resourcePath(resource: ResourceRef, namespace: string | undefined, name?: string, subresource?: string): string {
  let path = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
  if (resource.namespaced && namespace !== undefined && namespace !== '') path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${resource.plural}`;
  if (name !== undefined) {
    if (name === '') throw new Error(`a ${resource.kind} name is required`);
    path += `/${encodeURIComponent(name)}`;
    if (subresource) path += `/${subresource}`;
  }
  return path;
}

function withQuery(path: string, query: RequestSpec['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Splits newline-delimited JSON as it arrives in chunks. */
export class LineSplitter {
  private buffer = '';
  push(chunk: string, onLine: (line: string) => void): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) onLine(line);
    }
  }
  /** What is left after the last newline (a final line without one). */
  flush(onLine: (line: string) => void): void {
    const line = this.buffer.trim();
    this.buffer = '';
    if (line) onLine(line);
  }
}

export class ApiClient {
  readonly server: string;
  /** The kubeconfig context's namespace, when it names one. */
  readonly defaultNamespace?: string;
  readonly userAgent: string;
  readonly timeoutMs: number;
  readonly fieldManager?: string;
  readonly #token?: string;
  readonly #agent: http.Agent;
  /** Watches hold their socket for minutes: a pool of their own keeps them from starving requests. */
  readonly #watchAgent: http.Agent;
  readonly #transport: typeof http | typeof https;
  /** The server's address as request options, parsed once (a URL string was parsed again for every request). */
  readonly #origin: { protocol: string; hostname: string; port?: string; basePath: string };

  constructor(connection: ClusterConnection, options: ClientOptions = {}) {
    const url = new URL(connection.server);
    this.server = connection.server.replace(/\/+$/, '');
    // WHATWG keeps an IPv6 host in brackets; request options take it bare.
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#origin = { protocol: url.protocol, hostname, port: url.port || undefined, basePath: url.pathname.replace(/\/+$/, '') };
    this.defaultNamespace = connection.namespace;
    this.userAgent = `photon/${options.component ?? 'client'}`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fieldManager = options.fieldManager;
    this.#token = connection.token;
    const agentOptions: https.AgentOptions = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: options.maxSockets ?? 32 };
    if (url.protocol === 'https:') {
      // One secure context for every connection, given as such rather than as ca/cert/key: an Agent names its
      // socket pool by the request's TLS options, PEM text included, so each request built and hashed a
      // ~4 KB pool name, and each new connection parsed the certificates again.
      const secure: https.AgentOptions = {
        secureContext: tls.createSecureContext({ ca: connection.caPem, cert: connection.clientCertificatePem, key: connection.clientKeyPem }),
        rejectUnauthorized: !connection.insecureSkipTlsVerify,
      };
      this.#transport = https;
      this.#agent = new https.Agent({ ...agentOptions, ...secure });
      this.#watchAgent = new https.Agent({ ...agentOptions, ...secure, maxSockets: Infinity, maxFreeSockets: 4 });
    } else if (url.protocol === 'http:') {
      this.#transport = http;
      this.#agent = new http.Agent(agentOptions);
      this.#watchAgent = new http.Agent({ ...agentOptions, maxSockets: Infinity, maxFreeSockets: 4 });
    } else {
      throw new Error(`unsupported server URL scheme ${url.protocol}`);
    }
  }

  /** Destroys every socket (requests and watches still open fail or end): call when done with the client. */
  close(): void {
    this.#agent.destroy();
    this.#watchAgent.destroy();
  }

  /** Never shows the token (console.log, util.inspect, winston metadata). */
  toJSON(): Record<string, unknown> {
    return { server: this.server, userAgent: this.userAgent };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ApiClient(${this.server})`;
  }

  // ---- reads ----

  async get<T extends KubeObject = KubeObject>(resource: ResourceRef, name: string, options: ObjectOptions = {}): Promise<T> {
    return this.requestJson<T>({ ...options, method: 'GET', path: resourcePath(resource, this.namespaceFor(resource, options.namespace), name) });
  }

  /** One page (or everything when no limit is given). */
  async list<T extends KubeObject = KubeObject>(resource: ResourceRef, options: ListOptions = {}): Promise<KubeList<T>> {
    return this.requestJson<KubeList<T>>({
      ...options,
      method: 'GET',
      path: resourcePath(resource, options.namespace),
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
        resourceVersion: options.resourceVersion,
        resourceVersionMatch: options.resourceVersionMatch,
      },
    });
  }

  /**
   * Every page, following `continue` (each page is read at the first page's revision, so the result is one
   * consistent snapshot whose metadata.resourceVersion is that revision). A continue token that expires
   * midway rejects with 410 (isGone): start over.
   */
  async listAll<T extends KubeObject = KubeObject>(resource: ResourceRef, options: Omit<ListOptions, 'continue' | 'limit'> & { pageSize?: number } = {}): Promise<KubeList<T>> {
    const { pageSize = 500, ...rest } = options;
    const first = await this.list<T>(resource, { ...rest, limit: pageSize });
    const items = [...first.items];
    let token = first.metadata?.continue;
    while (token) {
      const page = await this.list<T>(resource, { ...rest, resourceVersion: undefined, resourceVersionMatch: undefined, limit: pageSize, continue: token });
      items.push(...page.items);
      token = page.metadata?.continue;
    }
    return { ...first, metadata: { resourceVersion: first.metadata?.resourceVersion }, items };
  }

  // ---- writes ----

  async create<T extends KubeObject = KubeObject>(resource: ResourceRef, object: T, options: WriteOptions = {}): Promise<T> {
    const namespace = this.namespaceFor(resource, options.namespace ?? object.metadata?.namespace);
    return this.requestJson<T>({
      ...options,
      method: 'POST',
      path: resourcePath(resource, namespace),
      query: this.writeQuery(options),
      body: withTypeMeta(resource, object),
    });
  }

  /** PUT: replaces the object (a set metadata.resourceVersion makes it compare-and-swap: stale → 409). */
  async update<T extends KubeObject = KubeObject>(resource: ResourceRef, object: T, options: WriteOptions = {}): Promise<T> {
    return this.put(resource, object, options);
  }

  /** PUT on /status: replaces only the status (resourceVersion as in update). */
  async updateStatus<T extends KubeObject = KubeObject>(resource: ResourceRef, object: T, options: WriteOptions = {}): Promise<T> {
    return this.put(resource, object, options, 'status');
  }

  private async put<T extends KubeObject>(resource: ResourceRef, object: T, options: WriteOptions, subresource?: string): Promise<T> {
    const name = object.metadata?.name;
    if (!name) throw new Error(`update of a ${resource.kind}: metadata.name is required`);
    const namespace = this.namespaceFor(resource, options.namespace ?? object.metadata.namespace);
    return this.requestJson<T>({
      ...options,
      method: 'PUT',
      path: resourcePath(resource, namespace, name, subresource),
      query: this.writeQuery(options),
      body: withTypeMeta(resource, object),
    });
  }

  /**
   * PATCH with a merge patch (default), a JSON patch (an array of operations) or server-side apply (the
   * apply configuration; needs fieldManager; creates the object when missing).
   */
  async patch<T extends KubeObject = KubeObject>(resource: ResourceRef, name: string, patch: unknown, options: PatchOptions = {}): Promise<T> {
    const type = options.type ?? 'merge';
    if (type === 'apply' && !(options.fieldManager ?? this.fieldManager)) throw new Error('server-side apply needs a fieldManager');
    if (options.force && type !== 'apply') throw new Error('force applies to server-side apply only');
    let body = patch;
    if (type === 'apply' && body && typeof body === 'object' && !Array.isArray(body)) {
      const applied = body as Partial<KubeObject>;
      body = { apiVersion: apiVersionOf(resource), kind: resource.kind, ...applied, metadata: { name, ...(applied.metadata ?? {}) } };
    }
    return this.requestJson<T>({
      ...options,
      method: 'PATCH',
      path: resourcePath(resource, this.namespaceFor(resource, options.namespace), name, options.subresource),
      query: { ...this.writeQuery(options), force: options.force ? true : undefined },
      body,
      contentType: PATCH_CONTENT_TYPES[type],
    });
  }

  /**
   * DELETE. Resolves with the object when finalizers keep it (now carrying deletionTimestamp), or with the
   * server's Success Status when it is gone.
   */
  async delete<T extends KubeObject = KubeObject>(resource: ResourceRef, name: string, options: DeleteOptions = {}): Promise<T | Status> {
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    if (options.preconditions) body.preconditions = options.preconditions;
    if (options.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = options.gracePeriodSeconds;
    return this.requestJson<T | Status>({
      ...options,
      method: 'DELETE',
      path: resourcePath(resource, this.namespaceFor(resource, options.namespace), name),
      query: { dryRun: options.dryRun ? 'All' : undefined },
      body,
    });
  }

  // ---- watch ----

  /**
   * Opens a watch. Resolves once the server has accepted it (HTTP 200); rejects with an ApiStatusError when it
   * refuses (e.g. 410 for a resourceVersion it can no longer serve, 403) or a transport error. Every event
   * (BOOKMARK included) goes to onEvent, in order; ERROR events end the watch (see WatchHandle.done).
   */
  async watch<T extends KubeObject = KubeObject>(resource: ResourceRef, options: WatchOptions, onEvent: (event: WatchEvent<T>) => void): Promise<WatchHandle> {
    const path = withQuery(resourcePath(resource, options.namespace), {
      watch: 'true',
      resourceVersion: options.resourceVersion,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      allowWatchBookmarks: options.allowWatchBookmarks ? 'true' : undefined,
      timeoutSeconds: options.timeoutSeconds,
      sendInitialEvents: options.sendInitialEvents === undefined ? undefined : String(options.sendInitialEvents),
      resourceVersionMatch: options.sendInitialEvents === undefined ? undefined : 'NotOlderThan',
    });
    const requestInfo = { method: 'GET', path: path.split('?')[0] };
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');

    return new Promise<WatchHandle>((resolveStart, rejectStart) => {
      let started = false;
      let finished = false;
      let closedByUs = false;
      let idleTimer: NodeJS.Timeout | undefined;
      let resolveDone!: () => void;
      let rejectDone!: (error: unknown) => void;
      const done = new Promise<void>((resolve, reject) => {
        resolveDone = resolve;
        rejectDone = reject;
      });
      // A rejection nobody awaits must not crash the process; callers that care await done.
      done.catch(() => undefined);

      const request = this.#transport.request(this.requestOptions(path, 'GET', this.headers(), this.#watchAgent));

      const finish = (error?: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(idleTimer);
        options.signal?.removeEventListener('abort', onAbort);
        if (!request.destroyed) request.destroy();
        if (!started) {
          started = true;
          rejectStart(error ?? new Error('the watch ended before it started'));
          return;
        }
        if (error === undefined || closedByUs) resolveDone();
        else rejectDone(error);
      };
      const close = () => {
        if (finished) return;
        closedByUs = true;
        finish();
      };
      const onAbort = () => (started ? close() : finish(options.signal?.reason ?? new Error('aborted')));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const armIdle = () => {
        if (!options.idleTimeoutMs) return;
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => finish(new ApiTimeoutError(`watch ${requestInfo.path}: nothing received for ${options.idleTimeoutMs} ms`)), options.idleTimeoutMs);
        idleTimer.unref?.();
      };

      request.on('error', (error) => finish(error));
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => finish(new ApiStatusError(statusFromResponse(status, Buffer.concat(chunks).toString('utf8')), requestInfo)));
          response.on('error', (error) => finish(error));
          return;
        }
        started = true;
        resolveStart({ close, done });
        armIdle();
        const lines = new LineSplitter();
        const handleLine = (line: string) => {
          if (finished) return;
          let event: WatchEvent<T>;
          try {
            event = JSON.parse(line) as WatchEvent<T>;
          } catch {
            finish(new Error(`watch ${requestInfo.path}: undecodable event`));
            return;
          }
          if (event.type === 'ERROR') {
            const object = event.object as unknown as Partial<Status>;
            const statusBody = object && object.kind === 'Status' ? statusFromResponse(object.code ?? 500, JSON.stringify(object)) : statusFromResponse(500, JSON.stringify(object));
            finish(new ApiStatusError(statusBody, requestInfo));
            return;
          }
          try {
            onEvent(event);
          } catch (error) {
            finish(error);
          }
        };
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          armIdle();
          lines.push(chunk, handleLine);
        });
        response.on('end', () => {
          lines.flush(handleLine);
          finish();
        });
        response.on('aborted', () => finish(new Error(`watch ${requestInfo.path}: the connection was closed mid-stream`)));
        response.on('error', (error) => finish(error));
        response.on('close', () => {
          if (!response.complete) finish(new Error(`watch ${requestInfo.path}: the connection was closed mid-stream`));
          else finish();
        });
      });
      request.end();
    });
  }

  // ---- plumbing ----

  /** Any request on this server, JSON in and out (for paths the typed methods do not cover). */
  async requestJson<T>(spec: RequestSpec): Promise<T> {
    const response = await this.send(spec);
    if (response.status >= 400) throw new ApiStatusError(statusFromResponse(response.status, response.text), { method: spec.method, path: spec.path });
    if (!response.text) return undefined as T;
    try {
      return JSON.parse(response.text) as T;
    } catch {
      throw new Error(`${spec.method} ${spec.path}: the server answered ${response.status} with a body that is not JSON`);
    }
  }

  /**
   * Options for one request to `path` (already escaped, as resourcePath builds it). The path is sent as it is:
   * a URL would also resolve dot segments, turning a name `..` into its collection's path.
   */
  private requestOptions(path: string, method: string, headers: Record<string, string>, agent: http.Agent): http.RequestOptions {
    const { protocol, hostname, port, basePath } = this.#origin;
    return { protocol, hostname, port, path: basePath + path, method, headers, agent };
  }

  private headers(contentType?: string, length?: number): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    if (contentType) headers['Content-Type'] = contentType;
    if (length !== undefined) headers['Content-Length'] = String(length);
    return headers;
  }

  private async send(spec: RequestSpec): Promise<RawResponse> {
    // A keep-alive socket the server closed while idle fails the first write with ECONNRESET; Node's
    // documented remedy is to retry once on a fresh socket. Never for POST (it might have been received).
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sendOnce(spec);
      } catch (error) {
        const reused = (error as { reusedSocket?: boolean }).reusedSocket;
        const code = (error as NodeJS.ErrnoException).code;
        if (attempt === 1 && reused && code === 'ECONNRESET' && spec.method !== 'POST') continue;
        throw error;
      }
    }
  }

  private sendOnce(spec: RequestSpec): Promise<RawResponse> {
    const body = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const path = withQuery(spec.path, spec.query);
    const timeoutMs = spec.timeoutMs ?? this.timeoutMs;
    const signal = spec.signal;
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const request = this.#transport.request(this.requestOptions(path, spec.method, this.headers(body ? (spec.contentType ?? 'application/json') : undefined, body?.length), this.#agent));
      const settle = (error: unknown, response?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          if (request.reusedSocket && typeof error === 'object' && error !== null) (error as { reusedSocket?: boolean }).reusedSocket = true;
          reject(error);
        } else resolve(response!);
      };
      const timer = setTimeout(() => {
        const error = new ApiTimeoutError(`${spec.method} ${spec.path}: no answer within ${timeoutMs} ms`);
        settle(error);
        request.destroy(error);
      }, timeoutMs);
      const onAbort = () => {
        settle(signal!.reason ?? new Error('aborted'));
        request.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', (error) => settle(error));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => settle(undefined, { status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', (error) => settle(error));
        response.on('aborted', () => settle(new Error(`${spec.method} ${spec.path}: the connection was closed mid-response`)));
      });
      if (body) request.end(body);
      else request.end();
    });
  }

  private writeQuery(options: WriteOptions): Record<string, string | undefined> {
    return { fieldManager: options.fieldManager ?? this.fieldManager, dryRun: options.dryRun ? 'All' : undefined, fieldValidation: options.fieldValidation };
  }

  private namespaceFor(resource: ResourceRef, namespace: string | undefined): string | undefined {
    if (!resource.namespaced) return undefined;
    if (namespace) return namespace;
    throw new Error(`a namespace is required for ${resource.kind} (options.namespace or metadata.namespace)`);
  }
}


function withTypeMeta<T extends KubeObject>(resource: ResourceRef, object: T): T {
  return { ...object, apiVersion: object.apiVersion ?? apiVersionOf(resource), kind: object.kind ?? resource.kind };
}

/** A client from a kubeconfig file (its current context, or options.context). */
export function clientFromKubeconfig(file: string, options: ClientOptions = {}): ApiClient {
  return new ApiClient(loadKubeconfig(file, { context: options.context }), options);
}
