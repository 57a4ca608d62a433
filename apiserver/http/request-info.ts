// Parses a request path into what it addresses, following Kubernetes' RequestInfoFactory:
//   /api/v1/namespaces/{ns}/{resource}/{name}/{subresource}
//   /apis/{group}/{version}/namespaces/{ns}/{resource}/{name}/{subresource}
//   /apis/{group}/{version}/{resource}/{name}/{subresource}   (cluster-scoped, or all namespaces)
//
// The raw request target is split here, never by `new URL()`: WHATWG URL parsing resolves dot-segments,
// including percent-encoded ones, so `/namespaces/a/secrets/%2e%2e/%2e%2e/b/secrets/db` would address
// namespace b. Every segment is decoded once and refused when it decodes to `.`/`..` or to something holding
// `/` or `%` (Kubernetes' path segment name rules), before anything is looked up.
import { ApiError, badRequest, methodNotAllowed, routeNotFound } from '../errors.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRequest {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  verb: Verb;
}

export type ParsedPath =
  | { type: 'resource'; request: ResourceRequest }
  | { type: 'apiRoot' } // /api
  | { type: 'apisRoot' } // /apis
  | { type: 'group'; group: string } // /apis/{group}
  | { type: 'groupVersion'; group: string; version: string } // /api/v1, /apis/{group}/{version}
  | { type: 'other'; path: string };

/** Subresources of a namespace that are addressed as /namespaces/{name}/{sub} rather than a resource. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** The longest request target (path and query) accepted; Node's header limit bounds it too. */
export const MAX_REQUEST_TARGET = 8192;

export interface RequestTarget {
  /** Decoded path segments (no empty ones: a trailing slash is ignored). */
  segments: string[];
  /** `/`-joined decoded segments, for the non-resource endpoints and logs. */
  pathname: string;
  query: URLSearchParams;
}

/** Why a decoded path segment cannot name anything, or undefined (Kubernetes' IsValidPathSegmentName). */
export function pathSegmentProblem(segment: string): string | undefined {
  if (segment === '.' || segment === '..') return `may not be '${segment}'`;
  if (segment.includes('/')) return "may not contain '/'";
  if (segment.includes('%')) return "may not contain '%'";
  return undefined;
}

/**
 * Splits a raw request target (`request.url`) into decoded path segments and the query. Only origin-form
 * targets are served; malformed escapes and unusable segments are 400s, empty inner segments (`a//b`) 404s.
 */
export function parseRequestTarget(rawUrl: string): RequestTarget {
  if (rawUrl.length > MAX_REQUEST_TARGET) throw new ApiError(414, 'RequestURITooLong', `the request URI is longer than ${MAX_REQUEST_TARGET} characters`);
  if (!rawUrl.startsWith('/')) throw badRequest('the request target must be an absolute path');
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  const query = new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1));
  const raw = rawPath.split('/').slice(1);
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  const segments: string[] = [];
  for (const part of raw) {
    if (part === '') throw routeNotFound();
    let segment = part;
    // decodeURIComponent costs ~0.2 µs a segment even with nothing to decode; most segments have no escape.
    if (part.includes('%')) {
      try {
        segment = decodeURIComponent(part);
      } catch {
        throw badRequest(`invalid path segment ${JSON.stringify(part.slice(0, 64))}: malformed percent-encoding`);
      }
    }
    const problem = pathSegmentProblem(segment);
    if (problem) throw badRequest(`invalid path segment ${JSON.stringify(segment.slice(0, 64))}: ${problem}`);
    segments.push(segment);
  }
  return { segments, pathname: '/' + segments.join('/'), query };
}

/** What already-decoded path segments address. */
export function parseSegments(decoded: string[], method: string, watchParam: boolean): ParsedPath {
  const pathname = '/' + decoded.join('/');
  let group: string;
  let version: string;
  let rest: string[];
  if (decoded[0] === 'api') {
    if (decoded.length === 1) return { type: 'apiRoot' };
    group = '';
    version = decoded[1];
    rest = decoded.slice(2);
  } else if (decoded[0] === 'apis') {
    if (decoded.length === 1) return { type: 'apisRoot' };
    if (decoded.length === 2) return { type: 'group', group: decoded[1] };
    group = decoded[1];
    version = decoded[2];
    rest = decoded.slice(3);
  } else {
    return { type: 'other', path: pathname };
  }
  if (rest.length === 0) return { type: 'groupVersion', group, version };

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2])) rest = rest.slice(2);
    else namespace = undefined; // the request is about the namespace object itself
  }
  const [resource, name, subresource, ...extra] = rest;
  if (extra.length > 0) return { type: 'other', path: pathname };
  const verb = verbFor(method, name !== undefined, watchParam);
  return { type: 'resource', request: { group, version, namespace, resource, name, subresource, verb } };
}

function verbFor(method: string, hasName: boolean, watch: boolean): Verb {
  switch (method) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      // A HEAD response has no body, so the client reuses the connection at once while the server would
      // still be streaming the watch: every request pipelined behind it would wait for the watch to end.
      if (watch && method === 'HEAD') throw methodNotAllowed('HEAD with watch; a watch streams its events in the body, use GET');
      if (watch) return 'watch';
      return hasName ? 'get' : 'list';
  }
}
