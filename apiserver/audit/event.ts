// From a completed request to an `audit.k8s.io/v1` Event (the fields kube-apiserver writes), at the level
// the policy chose, with credentials left out (redact.ts) and its size bounded.
import { secondText } from '../../apis/meta/time.ts';
import type { AuditRequest } from './types.ts';
import type { Level, PolicyAttributes } from './policy.ts';
import { omittedBecause, scrub } from './redact.ts';

/** A line larger than this loses its request and response objects (and says so in an annotation). */
export const MAX_EVENT_BYTES = 256 * 1024;
export const OMITTED_ANNOTATION = 'audit.photoncloud.io/objects-omitted';

export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: Level;
  auditID: string;
  stage: 'ResponseComplete';
  requestURI: string;
  verb: string;
  user: { username?: string; uid?: string; groups?: string[] };
  impersonatedUser?: { username?: string; uid?: string; groups?: string[] };
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string };
  responseStatus: { metadata: Record<string, never>; code: number };
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  /** Last, always: the hash chain is appended at its end (chain.ts). */
  annotations: Record<string, string>;
}

/** RFC 3339 with microseconds, as Kubernetes' MicroTime (the second's text is shared with timestamp()). */
export function microTime(epochMicros: number): string {
  const micros = Math.floor(epochMicros);
  const second = Math.floor(micros / 1_000_000);
  return `${secondText(second).slice(0, -1)}.${String(micros - second * 1_000_000).padStart(6, '0')}Z`;
}

/** Now, in microseconds since the epoch (Date alone has milliseconds). */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

function pathOf(requestUri: string): string {
  const query = requestUri.indexOf('?');
  return query === -1 ? requestUri : requestUri.slice(0, query);
}

/**
 * What the policy is evaluated on. Requests that never got attributes (public endpoints, failed
 * authentication, ...) count as non-resource requests for their path by the anonymous user.
 */
export function policyAttributes(request: AuditRequest): PolicyAttributes {
  const user = request.user ? { name: request.user.name, groups: request.user.groups } : { name: 'system:anonymous', groups: ['system:unauthenticated'] };
  const attributes = request.attributes;
  if (!attributes) return { user, verb: request.method === 'HEAD' ? 'get' : request.method.toLowerCase(), resourceRequest: false, path: pathOf(request.requestUri) };
  if (!attributes.resourceRequest) return { user, verb: attributes.verb, resourceRequest: false, path: attributes.path };
  const { verb, apiGroup, resource, subresource, namespace, name } = attributes;
  return { user, verb, resourceRequest: true, apiGroup, resource, subresource, namespace, name };
}

function objectRef(request: AuditRequest, body: unknown): AuditEvent['objectRef'] {
  const attributes = request.attributes;
  if (!attributes?.resourceRequest) return undefined;
  const ref: NonNullable<AuditEvent['objectRef']> = {};
  // A create names its object in the body only; Kubernetes fills the name in from there, and so do we (a name
  // is never a credential, whatever the level).
  const metadata = attributes.verb === 'create' && typeof body === 'object' && body !== null ? (body as { metadata?: { name?: unknown } }).metadata : undefined;
  const name = attributes.name || (typeof metadata?.name === 'string' ? metadata.name.slice(0, 253) : '');
  // Empty values are left out, as Kubernetes' omitempty does.
  if (attributes.resource) ref.resource = attributes.resource;
  if (attributes.namespace) ref.namespace = attributes.namespace;
  if (name) ref.name = name;
  if (attributes.apiGroup) ref.apiGroup = attributes.apiGroup;
  if (attributes.apiVersion) ref.apiVersion = attributes.apiVersion;
  if (attributes.subresource) ref.subresource = attributes.subresource;
  return ref;
}

function userOf(request: AuditRequest, code: number): AuditEvent['user'] {
  if (request.user) return { username: request.user.name, uid: request.user.uid || undefined, groups: request.user.groups };
  // A failed authentication has no user (kube-apiserver logs `{}`); a public endpoint is the anonymous user.
  return code === 401 ? {} : { username: 'system:anonymous', groups: ['system:unauthenticated'] };
}

/** The event for a completed request at `level` (not None), its objects redacted (the writer bounds its size). */
export function buildEvent(request: AuditRequest, code: number, level: Exclude<Level, 'None'>, stageMicros: number = nowMicros()): AuditEvent {
  const policy = policyAttributes(request);
  const annotations: Record<string, string> = { ...request.annotations };
  let requestObject: unknown;
  let responseObject: unknown;
  const wantsRequest = level === 'Request' || level === 'RequestResponse';
  const omitted = omittedBecause(request.attributes, pathOf(request.requestUri));
  if (omitted && (wantsRequest && (request.requestObject !== undefined || request.responseObject !== undefined))) {
    annotations[OMITTED_ANNOTATION] = `${omitted}: objects are never logged`;
  } else if (!omitted) {
    if (wantsRequest && request.requestObject !== undefined) requestObject = scrub(request.requestObject);
    if (level === 'RequestResponse' && request.responseObject !== undefined) responseObject = scrub(request.responseObject);
  }
  // Keys keep their insertion order, and annotations must be the last (the chain seals the line's end).
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level,
    auditID: request.auditId,
    stage: 'ResponseComplete',
    requestURI: request.requestUri,
    verb: policy.verb,
    user: userOf(request, code),
    ...(request.impersonatedUser ? { impersonatedUser: { username: request.impersonatedUser.name, uid: request.impersonatedUser.uid || undefined, groups: request.impersonatedUser.groups } } : {}),
    sourceIPs: request.sourceIps,
    userAgent: request.userAgent,
    objectRef: objectRef(request, request.requestObject),
    responseStatus: { metadata: {}, code },
    requestReceivedTimestamp: microTime(request.requestReceivedTimestamp.getTime() * 1000),
    stageTimestamp: microTime(stageMicros),
    ...(requestObject !== undefined ? { requestObject } : {}),
    ...(responseObject !== undefined ? { responseObject } : {}),
    annotations,
  };
}

/** The event without its objects, saying why: for a line over MAX_EVENT_BYTES (`size`). */
export function withoutObjects(event: AuditEvent, size: number): AuditEvent {
  const { requestObject: _request, responseObject: _response, annotations, ...small } = event;
  return { ...small, annotations: { ...annotations, [OMITTED_ANNOTATION]: `the event would be ${size} bytes (limit ${MAX_EVENT_BYTES}): request and response objects left out` } };
}
