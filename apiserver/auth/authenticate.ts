// Authentication: bearer tokens — signed tokens (JWTs, tokens/authenticator.ts) and static tokens (stored as
// SHA-256 hashes in $PHOTON_HOME/tokens.json, like a hashed Kubernetes --token-auth-file) — and client
// certificates signed by the cluster CA (CN = user, O = groups; system:masters only on certificates the
// server issued to an administrator, masters-certificates.ts). Anonymous requests may only reach the health
// and version endpoints, and /login (login.ts), where a password is the credential. Synchronous: everything
// it reads is in memory (or one stat), so the request path never waits on it.
import { hash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { assertPrivateFile, writePrivateFileAtomic } from './credentials.ts';
import { MASTERS_GROUP } from './masters-certificates.ts';
import { looksLikeJwt } from './tokens/jwt.ts';

export interface UserInfo {
  name: string;
  uid: string;
  groups: string[];
}

export const ANONYMOUS: UserInfo = { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'] };

interface StoredToken {
  sha256: string;
  user: string;
  uid: string;
  groups: string[];
  description?: string;
}

interface TokenFile {
  tokens: StoredToken[];
}

/** One-shot: a Hash object per request (createHash) took twice the CPU. */
function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

export class TokenAuthenticator {
  private byHash = new Map<string, StoredToken>();

  constructor(private readonly file: string) {
    this.reload();
  }

  /** Rereads the file; refuses one that other users can read or write (a hash would let them guess offline). */
  reload(): void {
    this.byHash = new Map(this.read().tokens.map((token) => [token.sha256, token]));
  }

  private read(): TokenFile {
    assertPrivateFile(this.file);
    return fs.existsSync(this.file) ? JSON.parse(fs.readFileSync(this.file, 'utf8')) : { tokens: [] };
  }

  /** Issues a new random token for a user and stores only its hash. Returns the token (shown once). */
  issue(user: string, groups: string[], description?: string): string {
    const token = randomBytes(32).toString('base64url');
    const existing = this.read();
    existing.tokens.push({ sha256: hashToken(token), user, uid: randomUUID(), groups, description });
    writePrivateFileAtomic(this.file, JSON.stringify(existing, null, 2) + '\n');
    this.reload();
    return token;
  }

  authenticate(token: string): UserInfo | undefined {
    const tokenHash = hashToken(token);
    const stored = this.byHash.get(tokenHash);
    // Map lookup by hash already avoids comparing secrets; the constant-time check guards the equality itself.
    if (!stored || !timingSafeEqual(Buffer.from(stored.sha256, 'hex'), Buffer.from(tokenHash, 'hex'))) return undefined;
    return { name: stored.user, uid: stored.uid, groups: [...stored.groups, 'system:authenticated'] };
  }
}

/**
 * Paths served without authentication nor authorization: those Kubernetes' system:public-info-viewer role
 * opens to anyone, and /login, which checks a password itself (auth/login.ts).
 */
export const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/login']);

export type AuthResult = { user: UserInfo } | { error: 'invalid-token' | 'no-credentials' };

/** Everything a request's credentials are checked against. */
export interface Authenticators {
  /** The static token file (tokens.json): the bootstrap admin and the components. */
  tokens: TokenAuthenticator;
  /** Signed tokens; absent, a bearer token shaped like a JWT is refused. */
  signedTokens?: { authenticate(token: string): UserInfo | undefined };
  /** Certificates that keep system:masters; absent, no client certificate does. */
  mastersCertificates?: { has(fingerprint256: string): boolean };
}

function authenticateBearer(token: string, authenticators: Authenticators): UserInfo | undefined {
  // A JWT never falls through to the static tokens (nor the reverse): one token, one way to be valid.
  if (looksLikeJwt(token)) return authenticators.signedTokens?.authenticate(token);
  return authenticators.tokens.authenticate(token);
}

export function authenticate(request: IncomingMessage, authenticators: Authenticators): AuthResult {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const user = match ? authenticateBearer(match[1]!, authenticators) : undefined;
    return user ? { user } : { error: 'invalid-token' };
  }
  const socket = request.socket as TLSSocket;
  if (socket.authorized) {
    const certificate = socket.getPeerCertificate();
    const subject = certificate?.subject as Record<string, string | string[]> | undefined;
    const commonName = subject?.CN;
    if (typeof commonName === 'string' && commonName) {
      const organizations = subject?.O === undefined ? [] : Array.isArray(subject.O) ? subject.O : [subject.O];
      const masters = organizations.includes(MASTERS_GROUP) && (authenticators.mastersCertificates?.has(certificate.fingerprint256) ?? false);
      const groups = organizations.filter((group) => group !== MASTERS_GROUP || masters);
      return { user: { name: commonName, uid: '', groups: [...groups, 'system:authenticated'] } };
    }
  }
  return { error: 'no-credentials' };
}
