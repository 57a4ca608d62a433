// First-start (and every-start) preparation of PHOTON_HOME: PKI, the token signing keys, the token file, the
// admin credential and its kubeconfig. Idempotent: what exists and is still valid is kept.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TokenAuthenticator } from './auth/authenticate.ts';
import { assertPrivateCredentials } from './auth/credentials.ts';
import { writeKubeconfig } from './auth/kubeconfig.ts';
import { ensureServerPki, type ServerPki } from './auth/pki.ts';
import { ensureSigningKey, signingKeyDirectory } from './auth/tokens/keys.ts';

export interface PreparedHome {
  home: string;
  pki: ServerPki;
  tokens: TokenAuthenticator;
  adminToken: string;
  adminKubeconfig: string;
}

/** A credential's token, reused from its kubeconfig when it still authenticates, otherwise issued anew. */
function ensureToken(kubeconfig: string, tokens: TokenAuthenticator, user: string, groups: string[], description: string): string {
  if (fs.existsSync(kubeconfig)) {
    const match = /token:\s*(\S+)/.exec(fs.readFileSync(kubeconfig, 'utf8'));
    if (match && tokens.authenticate(match[1])?.name === user) return match[1];
  }
  return tokens.issue(user, groups, description);
}

/**
 * Components that run as their own processes, each with its own credential and kubeconfig in PHOTON_HOME
 * (`<component>.kubeconfig`), so their requests are attributable and revocable one by one.
 */
export const COMPONENT_IDENTITIES: Record<string, { user: string; groups: string[] }> = {
  'controller-manager': { user: 'system:photon:controller-manager', groups: ['system:photon:controllers', 'system:masters'] },
};

/** Names the serving certificate must cover: loopback, this host, the bind address and extra SANs. */
export function servingHosts(bindAddress: string, extra: string[] = []): string[] {
  const wildcard = bindAddress === '0.0.0.0' || bindAddress === '::';
  return [...new Set(['localhost', '127.0.0.1', '::1', os.hostname(), ...(wildcard ? [] : [bindAddress]), ...extra])];
}

export async function prepareHome(homeDir: string, hosts: string[]): Promise<PreparedHome> {
  const home = path.resolve(homeDir);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  // Before anything is read or rewritten: a credential file others can read is refused, not silently fixed
  // (its secrets may already have leaked; the operator decides whether to chmod or to replace them).
  assertPrivateCredentials(home);
  const pki = await ensureServerPki(path.join(home, 'pki'), hosts);
  ensureSigningKey(signingKeyDirectory(home));
  const tokens = new TokenAuthenticator(path.join(home, 'tokens.json'));
  const adminKubeconfig = path.join(home, 'admin.kubeconfig');
  const adminToken = ensureToken(adminKubeconfig, tokens, 'admin', ['system:masters'], 'bootstrap administrator (admin.kubeconfig)');
  return { home, pki, tokens, adminToken, adminKubeconfig };
}

/** Writes admin.kubeconfig and one kubeconfig per component, all pointing at `url`. */
export function writeKubeconfigs(prepared: PreparedHome, url: string): void {
  const caCertificatePem = prepared.pki.ca.certificatePem;
  for (const [component, identity] of Object.entries(COMPONENT_IDENTITIES)) {
    const file = path.join(prepared.home, `${component}.kubeconfig`);
    const token = ensureToken(file, prepared.tokens, identity.user, identity.groups, `${component} (${component}.kubeconfig)`);
    writeKubeconfig(file, { server: url, caCertificatePem, user: identity.user, token });
  }
  // Written last: tools (and `npm start` users) wait for it as the sign that the server is up.
  writeKubeconfig(prepared.adminKubeconfig, { server: url, caCertificatePem, user: 'admin', token: prepared.adminToken });
}
