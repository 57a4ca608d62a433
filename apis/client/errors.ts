// Errors of the PhotonCloud API client. Every answer of the API server that is not a success is a
// metav1.Status; the client turns it into one ApiStatusError carrying the HTTP code, the Status reason and
// the Status body. Transport failures (connection refused, TLS, timeouts) stay ordinary Errors, except the
// client's own request timeout, which is an ApiTimeoutError. Messages never contain credentials.
import type { Status } from '../meta/types.ts';

export class ApiStatusError extends Error {
  /** HTTP status code (404, 409, 410, 422, …). */
  readonly code: number;
  /** Status reason (NotFound, AlreadyExists, Conflict, Expired, Invalid, …); '' when the server gave none. */
  readonly reason: string;
  /** The Status body as the server sent it (or one synthesised from the HTTP status when it sent none). */
  readonly status: Status;

  /** `GET /apis/…` of the request that failed (path and method only: never headers or credentials). */
  readonly request?: string;

  constructor(status: Status, request?: { method: string; path: string }) {
    super(status.message || status.reason || `HTTP ${status.code}`);
    this.name = 'ApiStatusError';
    this.code = status.code;
    this.reason = status.reason ?? '';
    this.status = status;
    if (request) this.request = `${request.method} ${request.path}`;
  }
}

/** The client gave up waiting for an answer (its own timeout, not the server's). */
export class ApiTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiTimeoutError';
  }
}

/** Builds a Status for an error answer whose body is not one (e.g. a proxy's HTML page). */
export function statusFromResponse(code: number, body: string): Status {
  try {
    const parsed = JSON.parse(body) as Partial<Status>;
    if (parsed && typeof parsed === 'object' && parsed.kind === 'Status') {
      return { ...parsed, kind: 'Status', apiVersion: 'v1', metadata: parsed.metadata ?? {}, status: parsed.status ?? 'Failure', code: typeof parsed.code === 'number' && parsed.code > 0 ? parsed.code : code } as Status;
    }
  } catch {
    // not JSON: fall through
  }
  const text = body.trim().slice(0, 200);
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason: reasonForCode(code), message: text ? `HTTP ${code}: ${text}` : `HTTP ${code}` };
}

function reasonForCode(code: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 406: 'NotAcceptable',
    409: 'Conflict', 410: 'Expired', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
    500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
  };
  return reasons[code] ?? '';
}

function isStatusError(error: unknown): error is ApiStatusError {
  return error instanceof ApiStatusError || (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'ApiStatusError' && typeof (error as { code?: unknown }).code === 'number');
}

/** The HTTP code of an ApiStatusError, or undefined for anything else. */
export function errorCode(error: unknown): number | undefined {
  return isStatusError(error) ? error.code : undefined;
}

export const isNotFound = (error: unknown): boolean => errorCode(error) === 404;
/** 409 with reason Conflict (a stale resourceVersion or a failed precondition), not AlreadyExists. */
export const isConflict = (error: unknown): boolean => errorCode(error) === 409 && (error as ApiStatusError).reason !== 'AlreadyExists';
export const isAlreadyExists = (error: unknown): boolean => errorCode(error) === 409 && (error as ApiStatusError).reason === 'AlreadyExists';
/** 410 Gone / Expired: a resourceVersion or continue token too old; relist. */
export const isGone = (error: unknown): boolean => errorCode(error) === 410;
export const isInvalid = (error: unknown): boolean => errorCode(error) === 422;
