// The TokenIssuer (types.ts) on signed JWTs: used by the API server (TokenRequest, later `photon login`) and
// by the admin-side `photon kubeconfig user|node`, which reads the same key directory.
import { randomUUID } from 'node:crypto';
import { signJwt, SUBJECT_CLAIM, type JwtClaims, type SubjectClaim } from './jwt.ts';
import type { SigningKey } from './keys.ts';
import type { IssuedToken, TokenIssuer, TokenSubject } from './types.ts';

/** Every token's iss, and the audience the API server requires in aud. */
export const TOKEN_ISSUER = 'photoncloud';
export const API_AUDIENCE = 'photoncloud';

const HOUR = 3600;
const DAY = 24 * HOUR;

/**
 * The longest a token may live, per kind of subject. Users: a month (disabling or deleting the User revokes
 * earlier). Service accounts: two days, as they renew through TokenRequest. Nodes: a year, like a kubelet's
 * client certificate, since a node agent has no one to ask for a new token yet.
 */
export const MAX_LIFETIME_SECONDS: Record<TokenSubject['kind'], number> = {
  user: 30 * DAY,
  serviceaccount: 48 * HOUR,
  node: 365 * DAY,
};

/** The authenticated user name of a subject: what sub holds and what RBAC sees. */
export function subjectName(subject: SubjectClaim): string {
  switch (subject.kind) {
    case 'user':
      return subject.name;
    case 'serviceaccount':
      return `system:serviceaccount:${subject.namespace}:${subject.name}`;
    case 'node':
      return `system:node:${subject.name}`;
  }
}

function claimOf(subject: TokenSubject): SubjectClaim {
  switch (subject.kind) {
    case 'user':
      return { kind: 'user', name: subject.name };
    case 'serviceaccount':
      return { kind: 'serviceaccount', name: subject.name, namespace: subject.namespace, uid: subject.uid };
    case 'node':
      return { kind: 'node', name: subject.name };
  }
}

export interface JwtIssuerOptions {
  /** Seconds since the epoch; tests issue tokens in the past with their own clock. */
  now?: () => number;
}

export class JwtTokenIssuer implements TokenIssuer {
  constructor(
    /** The signing key of the moment (the newest in the directory). */
    private readonly signingKey: () => SigningKey,
    private readonly options: JwtIssuerOptions = {},
  ) {}

  issue(subject: TokenSubject, expirationSeconds: number, audiences: string[] = [API_AUDIENCE]): IssuedToken {
    if (!Number.isInteger(expirationSeconds) || expirationSeconds <= 0) throw new RangeError(`expirationSeconds must be a positive whole number, got ${expirationSeconds}`);
    if (audiences.length === 0) throw new RangeError('a token needs at least one audience');
    // Bounded, not refused, as Kubernetes' TokenRequest does; callers that must not be surprised check first.
    const lifetime = Math.min(expirationSeconds, MAX_LIFETIME_SECONDS[subject.kind]);
    const now = Math.floor(this.options.now?.() ?? Date.now() / 1000);
    const claim = claimOf(subject);
    const claims: JwtClaims = {
      iss: TOKEN_ISSUER,
      sub: subjectName(claim),
      aud: audiences,
      exp: now + lifetime,
      iat: now,
      nbf: now,
      jti: randomUUID(),
      [SUBJECT_CLAIM]: claim,
    };
    const key = this.signingKey();
    return { token: signJwt(claims, key), expiresAt: new Date(claims.exp * 1000) };
  }
}
