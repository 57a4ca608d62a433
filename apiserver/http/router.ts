// The request pipeline: authenticate → authorize → route → handle, and the one place where errors become
// Status responses. Every request is counted and timed by verb/resource/code, and audited.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import { authenticate, PUBLIC_PATHS, type Authenticators, type UserInfo } from '../auth/authenticate.ts';
import { LOGIN_PATH, type LoginHandler } from '../auth/login.ts';
import { aggregatedContentType, aggregatedDiscovery, aggregatedDiscoveryVersion, apiGroup, apiGroupList, apiResourceList, apiVersions } from '../discovery/discovery.ts';
import type { OpenApiDocuments } from '../discovery/openapi.ts';
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_ACCEPT } from '../discovery/openapi-v2.ts';
import type { AuditRequest, AuditSink } from '../audit/types.ts';
import { forbiddenRequest, requestAttributes } from '../authz/attributes.ts';
import { impersonatedUser } from '../authz/impersonation.ts';
import type { Authorizer } from '../authz/types.ts';
import { ApiError, internalError, methodNotAllowed, routeNotFound, serviceUnavailable, unauthorized } from '../errors.ts';
import type { ApiMetrics } from '../metrics.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import { isStorageError } from '../storage/types.ts';
import { admitRequest, requestKind, type FlowControl } from './flow-control.ts';
import { acceptsJson, parseAccept } from './negotiate.ts';
import { parseRequestTarget, parseSegments, type ParsedPath } from './request-info.ts';
import { resolveResource, type ResourceHandler } from './resource-handler.ts';
import { sendError, sendJson } from './respond.ts';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

export interface RouterDeps {
  registry: ResourceRegistry;
  resources: ResourceHandler;
  openapi: OpenApiDocuments;
  /** Static and signed tokens, and which client certificates keep system:masters. */
  tokens: Authenticators;
  /** Decides every authenticated request (RBAC and the node authorizer); a denial is a 403 naming only the request. */
  authorizer: Authorizer;
  /** Receives every request once it completes (absent: no audit log). */
  audit?: AuditSink;
  /** Per-user and global budgets for requests in flight and open watches (429 beyond them). */
  flowControl: FlowControl;
  /** POST /login (anonymous, limited by its own per-name and per-address budgets); absent: 404. */
  login?: LoginHandler;
  metrics: ApiMetrics;
  /** What /metrics answers when it is more than this server's own (workers: every worker's, summed). */
  metricsText?: () => Promise<string>;
  version: VersionInfo;
  log: Logger;
  /** Named readiness checks (storage reachable, watch cache synced). */
  readiness: Record<string, () => Promise<boolean> | boolean>;
  serverAddress: string;
}

const READ_METHODS = new Set(['GET', 'HEAD']);
/** Methods counted under their own name in metrics; anything else is OTHER (labels must stay a small set). */
const METRIC_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface RequestLabels {
  verb: string;
  group: string;
  resource: string;
  subresource: string;
}

/**
 * Metric labels before the request is resolved: the method only. Group, resource and subresource are
 * filled in once the registry has resolved them, so a client's made-up paths never become label values.
 */
function unresolvedLabels(method: string | undefined): RequestLabels {
  const verb = method && METRIC_METHODS.has(method) ? method : 'OTHER';
  return { verb, group: '', resource: '', subresource: '' };
}

export function createRouter(deps: RouterDeps) {
  return async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let labels = unresolvedLabels(request.method);
    let user: UserInfo | undefined;
    const audit: AuditRequest = {
      auditId: randomUUID(),
      method: request.method ?? 'GET',
      requestUri: (request.url ?? '/').slice(0, 2048),
      sourceIps: [request.socket.remoteAddress ?? ''],
      userAgent: request.headers['user-agent']?.slice(0, 256),
      annotations: {},
      requestReceivedTimestamp: new Date(),
    };
    response.setHeader('Audit-Id', audit.auditId);
    try {
      const target = parseRequestTarget(request.url ?? '/');
      const { pathname, query } = target;
      if (!PUBLIC_PATHS.has(pathname)) {
        const result = authenticate(request, deps.tokens);
        if ('error' in result) throw unauthorized();
        user = result.user;
        audit.user = user;
        const impersonated = impersonatedUser(request, user, deps.authorizer);
        if (impersonated) {
          audit.impersonatedUser = impersonated;
          user = impersonated;
        }
      }
      const parsed = parseSegments(target.segments, request.method ?? 'GET', ['true', '1'].includes(query.get('watch') ?? ''));
      if (user) {
        const attributes = requestAttributes(user, request.method ?? 'GET', pathname, parsed, query);
        audit.attributes = attributes;
        const decision = deps.authorizer.authorize(attributes);
        audit.annotations['authorization.k8s.io/decision'] = decision.allowed ? 'allow' : 'forbid';
        audit.annotations['authorization.k8s.io/reason'] = decision.reason;
        if (!decision.allowed) throw forbiddenRequest(attributes);
      }
      // Every authenticated request holds a slot until its response closes (a watch: until it ends).
      // A followed console is long-running like a watch (kube-apiserver counts pods/log?follow the same way).
      const longRunning = parsed.type === 'resource' && (parsed.request.verb === 'watch' || (parsed.request.subresource === 'console' && ['true', '1'].includes(query.get('follow') ?? '')));
      if (user) admitRequest(deps.flowControl, user, requestKind(request.method, longRunning), response);
      if (parsed.type === 'resource') {
        if (!acceptsJson(request.headers.accept)) {
          throw new ApiError(406, 'NotAcceptable', 'only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io');
        }
        const info = parsed.request;
        const resource = resolveResource(deps.registry, info);
        labels = { verb: info.verb.toUpperCase(), group: resource.group, resource: resource.plural, subresource: info.subresource ?? '' };
        await deps.resources.handle(request, response, query, info, resource, { user: user!, audit });
      } else if (pathname === LOGIN_PATH && deps.login) {
        // Anonymous (a public path): no authorization and no flow-control slot; it limits itself.
        await deps.login(request, response, audit.annotations);
      } else {
        if (!READ_METHODS.has(request.method ?? 'GET')) throw methodNotAllowed(request.method ?? '');
        labels.verb = 'GET';
        await serveNonResource(deps, request, response, query, pathname, parsed);
      }
    } catch (error) {
      const apiError = toApiError(error, deps.log, { user: user?.name, url: request.url?.slice(0, 2048), method: request.method });
      if (!response.headersSent) sendError(response, apiError, request.headers.accept);
      else response.end();
      response.statusCode = apiError.code;
    } finally {
      const code = String(response.statusCode);
      deps.audit?.complete(audit, response.statusCode);
      deps.metrics.countRequest({ ...labels, code });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.requestDuration.observe([labels.verb, labels.group, labels.resource], seconds);
      // Guarded: winston builds and pipes the entry even when the level filters it out.
      if (deps.log.isLevelEnabled('http')) deps.log.http('request', { method: request.method, url: request.url?.slice(0, 2048), code, user: user?.name, ms: Math.round(seconds * 1000) });
    }
  };
}

/**
 * The one place a failure becomes a response. Only errors the server raised on purpose (ApiError) say
 * what went wrong; anything else is a bug or an outage, answered with a generic 500 (or 503) whose id
 * leads to the full error in the log, so internal messages and stack details never reach clients.
 */
export function toApiError(error: unknown, log: Logger, context: Record<string, unknown>): ApiError {
  if (error instanceof ApiError) return error;
  const id = randomBytes(6).toString('hex');
  if (isStorageError(error, 'Unavailable')) {
    log.warn('storage unavailable', { ...context, errorId: id, error: errorMessage(error) });
    return serviceUnavailable(`storage is unavailable; retry later (error id ${id})`);
  }
  log.error('internal error', { ...context, errorId: id, error: errorMessage(error), stack: (error as Error)?.stack });
  return internalError(`an internal error occurred; the server log has the details under error id ${id}`);
}

async function serveNonResource(
  deps: RouterDeps,
  request: IncomingMessage,
  response: ServerResponse,
  query: URLSearchParams,
  pathname: string,
  parsed: ParsedPath,
): Promise<void> {
  const accept = request.headers.accept;
  switch (parsed.type) {
    case 'apiRoot': {
      const aggregated = aggregatedDiscoveryVersion(accept);
      if (aggregated) return sendJson(response, 200, aggregatedDiscovery(deps.registry, aggregated, true), { contentType: aggregatedContentType(aggregated) });
      return sendJson(response, 200, apiVersions(deps.serverAddress));
    }
    case 'apisRoot': {
      const aggregated = aggregatedDiscoveryVersion(accept);
      if (aggregated) return sendJson(response, 200, aggregatedDiscovery(deps.registry, aggregated, false), { contentType: aggregatedContentType(aggregated) });
      return sendJson(response, 200, apiGroupList(deps.registry));
    }
    case 'group': {
      const group = deps.registry.groups().find((candidate) => candidate.group === parsed.group);
      if (!group) throw routeNotFound();
      return sendJson(response, 200, apiGroup(group.group, group.versions));
    }
    case 'groupVersion': {
      const list = apiResourceList(deps.registry, parsed.group, parsed.version);
      if (!list) throw routeNotFound();
      return sendJson(response, 200, list);
    }
    case 'other':
    case 'resource':
      break;
  }
  if (pathname === '/version') return sendJson(response, 200, deps.version);
  if (pathname === '/livez' || pathname === '/healthz') return sendHealth(response, query, { ping: () => true });
  if (pathname === '/readyz') return sendHealth(response, query, deps.readiness);
  if (pathname === '/metrics') {
    const body = await (deps.metricsText ?? (() => deps.metrics.registry.metrics()))();
    response.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType });
    response.end(body);
    return;
  }
  if (pathname === '/openapi/v2') return sendOpenApiV2(deps, request, response);
  if (pathname === '/openapi/v3') return sendJson(response, 200, deps.openapi.index());
  if (pathname.startsWith('/openapi/v3/')) {
    const document = deps.openapi.document(pathname.slice('/openapi/v3/'.length));
    if (!document) throw routeNotFound();
    const etag = `"${document.hash}"`;
    const hashed = query.get('hash') === document.hash;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      ETag: etag,
      // A hashed URL names immutable content; an unhashed one must be revalidated.
      'Cache-Control': hashed ? 'public, immutable, max-age=31536000' : 'no-cache, private',
    };
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(200, headers);
    response.end(document.json);
    return;
  }
  throw routeNotFound();
}

/**
 * `/openapi/v2` as kube-apiserver serves it: gnostic protobuf when the Accept header asks for it first (kubectl
 * does), JSON otherwise; ETag per representation, revalidated (kubectl keeps it in its HTTP cache).
 */
function sendOpenApiV2(deps: RouterDeps, request: IncomingMessage, response: ServerResponse): void {
  const ranges = parseAccept(request.headers.accept);
  let format: 'json' | 'protobuf' | undefined = ranges.length === 0 ? 'json' : undefined;
  for (const range of ranges) {
    if (range.type === OPENAPI_V2_PROTOBUF || range.type === OPENAPI_V2_PROTOBUF_ACCEPT) format = 'protobuf';
    else if (['application/json', 'application/*', '*/*'].includes(range.type)) format = 'json';
    if (format) break;
  }
  if (!format) throw new ApiError(406, 'NotAcceptable', `only the following media types are accepted: application/json, ${OPENAPI_V2_PROTOBUF}`);
  const v2 = deps.openapi.v2();
  const etag = format === 'json' ? v2.jsonETag : v2.protobufETag;
  const headers: Record<string, string> = {
    'Content-Type': format === 'json' ? 'application/json' : OPENAPI_V2_PROTOBUF,
    ETag: etag,
    Vary: 'Accept',
    'Cache-Control': 'no-cache, private',
  };
  if (request.headers['if-none-match'] === etag) {
    response.writeHead(304, headers);
    response.end();
    return;
  }
  response.writeHead(200, headers);
  response.end(format === 'json' ? v2.json : v2.protobuf);
}

async function sendHealth(response: ServerResponse, query: URLSearchParams, checks: Record<string, () => Promise<boolean> | boolean>): Promise<void> {
  const results: Array<[string, boolean]> = [];
  for (const [name, check] of Object.entries(checks)) {
    let ok = false;
    try {
      ok = await check();
    } catch {
      ok = false;
    }
    results.push([name, ok]);
  }
  const healthy = results.every(([, ok]) => ok);
  const verbose = query.has('verbose');
  let body = healthy ? 'ok' : 'unhealthy';
  if (verbose || !healthy) {
    body = results.map(([name, ok]) => `[${ok ? '+' : '-'}]${name} ${ok ? 'ok' : 'failed'}`).join('\n') + `\n${healthy ? 'healthz check passed' : 'healthz check failed'}\n`;
  }
  response.writeHead(healthy ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  response.end(body);
}
