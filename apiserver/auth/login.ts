// `POST /login`: a User's name and password for a signed token (`photon login` uses it). Anonymous, so it
// sits among the public paths (authenticate.ts) and the router hands it here before any authorization. A
// non-resource path rather than a resource: it stores nothing, and a token request for a user who has not
// authenticated yet has no object to hang from.
//
//   POST /login  Content-Type: application/json
//   {"username": "alice", "password": "…", "expirationSeconds": 86400}      (expirationSeconds optional)
//   200 {"token": "<JWT>", "expirationTimestamp": "2025-…Z"}                (Cache-Control: no-store)
//
// Every way a login can fail on the credentials (wrong password, unknown user, disabled user, a user without
// a password) is the same 401 with the same message after the same work (an unknown user's password is
// checked against a dummy hash), so the answer does not tell which names exist. Failures are limited per
// name and per client address (login-limiter.ts). Neither body is ever audited: the router gives this
// handler no audit objects, and audit/redact.ts drops the objects of any login path whatever the policy.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logging.ts';
import { ApiError, methodNotAllowed, tooManyRequests, unsupportedMediaType } from '../errors.ts';
import { mediaType, readBody } from '../http/body.ts';
import { addressKey, type LoginLimiter } from './login-limiter.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { MAX_LIFETIME_SECONDS } from './tokens/issuer.ts';
import type { SubjectDirectory } from './tokens/authenticator.ts';
import type { TokenIssuer } from './tokens/types.ts';

export const LOGIN_PATH = '/login';
/** Far more than a name, a 1024-character password (the CRD's maximum) and a number need. */
export const MAX_LOGIN_BODY_BYTES = 4096;
export const DEFAULT_LOGIN_EXPIRATION_SECONDS = 24 * 3600;
/** Kubernetes' minimum for a TokenRequest: a shorter token would expire while a client is still using it. */
export const MIN_LOGIN_EXPIRATION_SECONDS = 600;
/** The one answer to every wrong credential. */
export const LOGIN_FAILED_MESSAGE = 'invalid user name or password';

/** User names are DNS-1123 labels (the User CRD, as `photon kubeconfig user` checks). */
const USER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_PASSWORD_LENGTH = 1024;
const FIELDS = new Set(['username', 'password', 'expirationSeconds']);

export interface LoginDependencies {
  users: Pick<SubjectDirectory, 'user'>;
  issuer: TokenIssuer;
  limiter: LoginLimiter;
  log: Logger;
}

interface LoginRequest {
  username: string;
  password: string;
  expirationSeconds: number;
}

function invalidField(field: string, message: string): ApiError {
  return new ApiError(400, 'BadRequest', `${field}: ${message}`, { causes: [{ reason: 'FieldValueInvalid', field, message }] });
}

/** The body as a LoginRequest, or a 400 naming the first field that is wrong. */
export function parseLoginRequest(body: Buffer): LoginRequest {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'BadRequest', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'BadRequest', 'the body must be a JSON object');
  const fields = value as Record<string, unknown>;
  // Refused rather than ignored: "user" instead of "username" should say so, not answer 400 on a missing field.
  const unknown = Object.keys(fields).find((key) => !FIELDS.has(key));
  if (unknown !== undefined) throw invalidField(unknown.slice(0, 64), 'unknown field (expected username, password, expirationSeconds)');
  const { username, password, expirationSeconds } = fields;
  if (typeof username !== 'string' || username === '') throw invalidField('username', 'required (a string)');
  if (username.length > 63 || !USER_NAME.test(username)) throw invalidField('username', 'must be a user name (a DNS-1123 label: lower-case letters, digits and -, at most 63)');
  if (typeof password !== 'string' || password === '') throw invalidField('password', 'required (a string)');
  if (password.length > MAX_PASSWORD_LENGTH) throw invalidField('password', `must be at most ${MAX_PASSWORD_LENGTH} characters`);
  let seconds = DEFAULT_LOGIN_EXPIRATION_SECONDS;
  if (expirationSeconds !== undefined) {
    if (typeof expirationSeconds !== 'number' || !Number.isInteger(expirationSeconds)) throw invalidField('expirationSeconds', 'must be a whole number of seconds');
    if (expirationSeconds < MIN_LOGIN_EXPIRATION_SECONDS) throw invalidField('expirationSeconds', `must be at least ${MIN_LOGIN_EXPIRATION_SECONDS}`);
    // Refused, not shortened (the issuer would shorten it): a client that asked for 90 days must not find out on day 31.
    if (expirationSeconds > MAX_LIFETIME_SECONDS.user) throw invalidField('expirationSeconds', `must be at most ${MAX_LIFETIME_SECONDS.user} (30 days)`);
    seconds = expirationSeconds;
  }
  return { username, password, expirationSeconds: seconds };
}

export type LoginHandler = (request: IncomingMessage, response: ServerResponse, annotations: Record<string, string>) => Promise<void>;

export function createLoginHandler(deps: LoginDependencies): LoginHandler {
  // Made once, up front, with the current cost: checking an unknown user's password against it takes as long
  // as checking a real one. Nobody knows its password (random, discarded).
  const dummyHash = hashPassword(randomBytes(32).toString('base64'));
  dummyHash.catch((error: unknown) => deps.log.error('login: making the dummy password hash failed', { error: String(error) }));

  /** Whether password is this user's, after the same work whatever the user's state. */
  async function check(username: string, password: string): Promise<boolean> {
    const user = deps.users.user(username);
    const spec = user?.spec as { passwordHash?: unknown; disabled?: unknown } | undefined;
    const hash = typeof spec?.passwordHash === 'string' ? spec.passwordHash : undefined;
    const usable = user !== undefined && !user.metadata.deletionTimestamp && spec?.disabled !== true && hash !== undefined;
    const matches = await verifyPassword(password, hash ?? (await dummyHash));
    return usable && matches;
  }

  return async function login(request, response, annotations) {
    if (request.method !== 'POST') {
      response.setHeader('Allow', 'POST');
      throw methodNotAllowed(request.method ?? '');
    }
    const contentType = mediaType(request.headers['content-type']);
    if (contentType !== 'application/json') throw unsupportedMediaType(contentType, ['application/json']);
    const { username, password, expirationSeconds } = parseLoginRequest(await readBody(request, MAX_LOGIN_BODY_BYTES));
    annotations['login.photoncloud.io/user'] = username;

    const address = addressKey(request.socket.remoteAddress);
    const wait = deps.limiter.retryAfterSeconds(username, address);
    if (wait > 0) {
      annotations['login.photoncloud.io/result'] = 'rate-limited';
      throw tooManyRequests(wait, `too many failed logins; try again in ${wait} seconds`);
    }
    const release = deps.limiter.startCheck();
    if (!release) {
      annotations['login.photoncloud.io/result'] = 'busy';
      throw tooManyRequests(1, 'too many logins in progress; try again in a second');
    }
    let ok: boolean;
    try {
      ok = await check(username, password);
    } finally {
      release();
    }
    if (!ok) {
      annotations['login.photoncloud.io/result'] = 'failure';
      deps.limiter.failed(username, address);
      // Debug only, like refused tokens: a guessing client must not flood the log. The password never is.
      if (deps.log.isLevelEnabled('debug')) deps.log.debug('login failed', { user: username, address });
      throw new ApiError(401, 'Unauthorized', LOGIN_FAILED_MESSAGE);
    }
    deps.limiter.succeeded(username);
    const issued = deps.issuer.issue({ kind: 'user', name: username }, expirationSeconds);
    annotations['login.photoncloud.io/result'] = 'success';
    // no-store: the body is a credential, no proxy or client cache should keep it.
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    response.end(JSON.stringify({ token: issued.token, expirationTimestamp: issued.expiresAt.toISOString() }));
  };
}
