// Compact JWS (RFC 7515) JSON Web Tokens (RFC 7519), ES256 only, written by hand on node:crypto so nothing
// in the path of every request depends on a JWT library's defaults. Verification is strict on purpose:
// exactly one algorithm (a token cannot pick `none` or an HMAC keyed with our public key), a key id we hold,
// and the time and audience claims always present and checked.
import { createSign, createVerify, type KeyObject } from 'node:crypto';

export const JWT_ALGORITHM = 'ES256';

/** Clocks of the issuer and of the servers that verify may differ this much (Kubernetes allows 60 s). */
export const CLOCK_SKEW_SECONDS = 30;

/** Who the token speaks for, as PhotonCloud's private claim (the standard claims cannot say the kind). */
export interface SubjectClaim {
  kind: 'user' | 'serviceaccount' | 'node';
  name: string;
  namespace?: string;
  uid?: string;
}

export const SUBJECT_CLAIM = 'photoncloud.io';

export interface JwtClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  [SUBJECT_CLAIM]: SubjectClaim;
}

export interface JwtHeader {
  alg: string;
  typ?: string;
  kid?: string;
}

/** Why a token was refused: for logs and tests only; a client only ever sees 401. */
export class JwtError extends Error {
  constructor(
    readonly reason: 'malformed' | 'algorithm' | 'unknown-key' | 'signature' | 'expired' | 'not-yet-valid' | 'audience' | 'issuer' | 'claims',
    message: string,
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

/** Three base64url segments: the only shape a signed token has (static tokens are one segment). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Whether a bearer token is meant as a JWT (and so must verify as one: no fallback to other token kinds). */
export function looksLikeJwt(token: string): boolean {
  return COMPACT_JWS.test(token);
}

function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', 'a token segment is not base64url-encoded JSON');
  }
}

/** Signs claims with an ES256 key; the header names the key so verifiers can pick it among several. */
export function signJwt(claims: JwtClaims, key: { kid: string; privateKey: KeyObject }): string {
  const header: JwtHeader = { alg: JWT_ALGORITHM, typ: 'JWT', kid: key.kid };
  const signingInput = `${encodeSegment(header)}.${encodeSegment(claims)}`;
  // JWS wants the raw r||s (IEEE P1363), not the DER that node:crypto produces by default.
  const signature = createSign('SHA256').update(signingInput).sign({ key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

export interface VerifyOptions {
  /** The public key of a key id, or undefined when the id is not (or no longer) ours. */
  keyFor(kid: string): KeyObject | undefined;
  /** The token's aud must contain this. */
  audience: string;
  issuer: string;
  /** Seconds since the epoch (tests pass their own clock). */
  now?: number;
}

/** Verifies signature and claims; returns the claims or throws JwtError saying which check failed. */
export function verifyJwt(token: string, options: VerifyOptions): JwtClaims {
  if (!looksLikeJwt(token)) throw new JwtError('malformed', 'not a compact JWS');
  const [headerSegment, payloadSegment, signatureSegment] = token.split('.') as [string, string, string];
  const header = decodeSegment(headerSegment) as JwtHeader;
  if (typeof header !== 'object' || header === null) throw new JwtError('malformed', 'the header is not an object');
  // Checked before any key is touched: `none` and HS256 (keyed with a public key) are the classic forgeries.
  if (header.alg !== JWT_ALGORITHM) throw new JwtError('algorithm', `algorithm ${JSON.stringify(header.alg)} is not accepted (only ${JWT_ALGORITHM})`);
  if (typeof header.kid !== 'string' || header.kid === '') throw new JwtError('unknown-key', 'the header names no key id');
  const publicKey = options.keyFor(header.kid);
  if (!publicKey) throw new JwtError('unknown-key', `key id ${JSON.stringify(header.kid)} is not a signing key of this cluster`);
  const signature = Buffer.from(signatureSegment, 'base64url');
  const valid = signature.length === 64 && createVerify('SHA256').update(`${headerSegment}.${payloadSegment}`).verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  if (!valid) throw new JwtError('signature', 'the signature does not verify');
  const claims = decodeSegment(payloadSegment) as JwtClaims;
  checkClaims(claims, options);
  return claims;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function checkClaims(claims: JwtClaims, options: VerifyOptions): void {
  if (typeof claims !== 'object' || claims === null) throw new JwtError('malformed', 'the payload is not an object');
  const now = options.now ?? Date.now() / 1000;
  // exp, nbf and iat are required: a token without an end would be valid forever.
  if (!isNumericDate(claims.exp) || !isNumericDate(claims.nbf) || !isNumericDate(claims.iat)) throw new JwtError('claims', 'exp, nbf and iat must be numbers');
  if (now > claims.exp + CLOCK_SKEW_SECONDS) throw new JwtError('expired', `the token expired at ${new Date(claims.exp * 1000).toISOString()}`);
  if (claims.nbf > now + CLOCK_SKEW_SECONDS || claims.iat > now + CLOCK_SKEW_SECONDS) throw new JwtError('not-yet-valid', 'the token is not valid yet');
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(options.audience)) throw new JwtError('audience', `the token is not meant for ${JSON.stringify(options.audience)}`);
  if (claims.iss !== options.issuer) throw new JwtError('issuer', `the token was issued by ${JSON.stringify(claims.iss)}`);
  const subject = claims[SUBJECT_CLAIM];
  if (typeof subject !== 'object' || subject === null || typeof subject.name !== 'string' || typeof claims.sub !== 'string') {
    throw new JwtError('claims', `the token has no ${SUBJECT_CLAIM} subject`);
  }
}
