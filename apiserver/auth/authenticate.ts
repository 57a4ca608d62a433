// Authentication: bearer tokens (stored as SHA-256 hashes in $PHOTON_HOME/tokens.json, like a hashed
// Kubernetes --token-auth-file) and client certificates signed by the cluster CA (CN = user, O = groups).
// Anonymous requests may only reach the health and version endpoints.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { assertPrivateFile, writePrivateFileAtomic } from './credentials.ts';

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

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
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
    const hash = hashToken(token);
    const stored = this.byHash.get(hash);
    // Map lookup by hash already avoids comparing secrets; the constant-time check guards the equality itself.
    if (!stored || !timingSafeEqual(Buffer.from(stored.sha256, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    return { name: stored.user, uid: stored.uid, groups: [...stored.groups, 'system:authenticated'] };
  }
}

/** Endpoints Kubernetes' system:public-info-viewer role opens to anyone. */
export const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);

export type AuthResult = { user: UserInfo } | { error: 'invalid-token' | 'no-credentials' };

export function authenticate(request: IncomingMessage, tokens: TokenAuthenticator): AuthResult {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const user = match ? tokens.authenticate(match[1]) : undefined;
    return user ? { user } : { error: 'invalid-token' };
  }
  const socket = request.socket as TLSSocket;
  if (socket.authorized) {
    const certificate = socket.getPeerCertificate();
    const subject = certificate?.subject as Record<string, string | string[]> | undefined;
    const commonName = subject?.CN;
    if (typeof commonName === 'string' && commonName) {
      const organizations = subject?.O === undefined ? [] : Array.isArray(subject.O) ? subject.O : [subject.O];
      return { user: { name: commonName, uid: '', groups: [...organizations, 'system:authenticated'] } };
    }
  }
  return { error: 'no-credentials' };
}
