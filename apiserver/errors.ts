// API errors: every failure the server answers is one of these, turned into a metav1.Status in one place
// (apiserver/http/responses.ts). Messages follow the wording of the Kubernetes API server so kubectl prints
// the texts users already know.
import type { Status, StatusCause } from '../apis/meta/types.ts';

export interface ErrorTarget {
  /** Plural resource (404/409 texts) or Kind (422 texts), per Kubernetes convention. */
  kind?: string;
  group?: string;
  name?: string;
}

/** Longest Status message returned; longer ones (which echo client input) are cut. */
export const MAX_STATUS_MESSAGE = 4096;
/** Longest cause message or field path, and most causes, returned in a Status. */
const MAX_CAUSE_TEXT = 1024;
const MAX_CAUSES = 100;
/** Text all causes together may carry. */
const MAX_CAUSES_TEXT = 8192;

/** `text`, cut to `max` characters with a note of how much was left out (errors may echo huge client values). */
export function truncateEcho(value: string, max: number): string {
  // Callers pass what a client sent, which is not always the string its type says (a numeric name).
  const text = String(value);
  if (text.length <= max) return text;
  return `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

type ErrorDetails = { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number; uid?: string };

function boundedDetails(details: ErrorDetails | undefined): ErrorDetails | undefined {
  if (!details) return details;
  const bounded: ErrorDetails = { ...details };
  if (bounded.name !== undefined) bounded.name = truncateEcho(bounded.name, MAX_CAUSE_TEXT);
  if (bounded.causes) {
    // Each cause bounded, and the list cut once it has used its share of the response.
    const causes: StatusCause[] = [];
    let budget = MAX_CAUSES_TEXT;
    for (const cause of bounded.causes.slice(0, MAX_CAUSES)) {
      const kept = {
        ...cause,
        ...(cause.message !== undefined ? { message: truncateEcho(cause.message, MAX_CAUSE_TEXT) } : {}),
        ...(cause.field !== undefined ? { field: truncateEcho(cause.field, MAX_CAUSE_TEXT) } : {}),
      };
      budget -= (kept.message?.length ?? 0) + (kept.field?.length ?? 0) + (kept.reason?.length ?? 0);
      if (budget < 0 && causes.length > 0) break;
      causes.push(kept);
    }
    bounded.causes = causes;
  }
  return bounded;
}

export class ApiError extends Error {
  readonly details?: ErrorDetails;

  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    details?: ErrorDetails,
  ) {
    // Messages and causes often quote what the client sent: bounded, so a 2 MB value is not echoed back.
    super(truncateEcho(message, MAX_STATUS_MESSAGE));
    this.name = 'ApiError';
    this.details = boundedDetails(details);
  }

  toStatus(): Status {
    const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details && Object.values(this.details).some((value) => value !== undefined)) status.details = this.details;
    return status;
  }
}

/**
 * 404 or 409 from the server's own loops (namespace and CRD cleanup, event expiry): the object went away or
 * changed under the pass, which the next pass sees; not a failure.
 */
export function isGoneOrChanged(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 404 || error.code === 409);
}

/** `vpcs.network.photoncloud.io` or `namespaces` for the core group. */
export function qualifiedResource(plural: string, group: string): string {
  return group ? `${plural}.${group}` : plural;
}

export function notFound(plural: string, group: string, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(plural, group)} "${truncateEcho(name, 256)}" not found`, { name, group: group || undefined, kind: plural });
}

export function alreadyExists(plural: string, group: string, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(plural, group)} "${name}" already exists`, { name, group: group || undefined, kind: plural });
}

export function conflict(plural: string, group: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(plural, group)} "${name}": ${why}`, { name, group: group || undefined, kind: plural });
}

export interface FieldError {
  field: string;
  /** FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, FieldValueForbidden, FieldValueTooLong, FieldValueTooMany, FieldValueDuplicate */
  reason: string;
  /** The detail after the field, e.g. `Invalid value: "x": must be a CIDR`. */
  message: string;
}

/** 422 Invalid: `Vpc.network.photoncloud.io "x" is invalid: spec.cidr: Invalid value: …`. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): ApiError {
  const summary = errors.slice(0, MAX_CAUSES).map((error) => `${truncateEcho(error.field, MAX_CAUSE_TEXT)}: ${truncateEcho(error.message, MAX_CAUSE_TEXT)}`);
  if (errors.length > MAX_CAUSES) summary.push(`and ${errors.length - MAX_CAUSES} more errors`);
  const list = summary.length === 1 ? summary[0] : `[${summary.join(', ')}]`;
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${truncateEcho(name, 256)}" is invalid: ${list}`, {
    name,
    group: group || undefined,
    kind,
    causes: errors.map((error) => ({ reason: error.reason, message: error.message, field: error.field })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function unsupportedMediaType(contentType: string, supported: string[]): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${supported.join(', ')}`, {
    causes: [{ reason: 'UnsupportedMediaType', message: `unsupported Content-Type ${JSON.stringify(contentType)}` }],
  });
}

/** 413: Kubernetes' text for a body over the limit; `what` names something else that is too large. */
export function requestEntityTooLarge(limit: number, what?: string): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', what ? `Request entity too large: ${what} is larger than the limit of ${limit} bytes` : `Request entity too large: limit is ${limit}`);
}

export function methodNotAllowed(method: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

export function forbidden(message: string, target?: { plural: string; group: string; name?: string }): ApiError {
  return new ApiError(403, 'Forbidden', message, target ? { name: target.name, group: target.group || undefined, kind: target.plural } : undefined);
}

export function routeNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

/** 410 Gone with reason Expired: clients (informers) relist when they see it. */
export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

/**
 * 429 TooManyRequests, as Kubernetes' max-in-flight and priority-and-fairness filters answer; sendError also
 * sends a `Retry-After` header with the same number of seconds (client-go waits that long and retries).
 */
export function tooManyRequests(retryAfterSeconds: number, message = 'Too many requests, please try again later.'): ApiError {
  return new ApiError(429, 'TooManyRequests', message, { retryAfterSeconds });
}

export function serviceUnavailable(message: string): ApiError {
  return new ApiError(503, 'ServiceUnavailable', message);
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`);
}

export function timeout(message: string): ApiError {
  return new ApiError(504, 'Timeout', message);
}
