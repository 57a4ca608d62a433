// First-start (and every-start) preparation of PHOTON_HOME: PKI, the token file, the admin credential and
// its kubeconfig. Idempotent: what exists and is still valid is kept.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TokenAuthenticator } from './auth/authenticate.ts';
import { writeKubeconfig } from './auth/kubeconfig.ts';
import { ensureServerPki, type ServerPki } from './auth/pki.ts';

export interface PreparedHome {
  home: string;
  pki: ServerPki;
  tokens: TokenAuthenticator;
  adminToken: string;
  adminKubeconfig: string;
}

/** The admin token, reused from admin.kubeconfig when it still authenticates, otherwise issued anew. */
function ensureAdminToken(kubeconfig: string, tokens: TokenAuthenticator): string {
  if (fs.existsSync(kubeconfig)) {
    const match = /token:\s*(\S+)/.exec(fs.readFileSync(kubeconfig, 'utf8'));
    if (match && tokens.authenticate(match[1])) return match[1];
  }
  return tokens.issue('admin', ['system:masters'], 'bootstrap administrator (admin.kubeconfig)');
}

/** Names the serving certificate must cover: loopback, this host, the bind address and extra SANs. */
export function servingHosts(bindAddress: string, extra: string[] = []): string[] {
  const wildcard = bindAddress === '0.0.0.0' || bindAddress === '::';
  return [...new Set(['localhost', '127.0.0.1', '::1', os.hostname(), ...(wildcard ? [] : [bindAddress]), ...extra])];
}

export async function prepareHome(homeDir: string, hosts: string[]): Promise<PreparedHome> {
  const home = path.resolve(homeDir);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const pki = await ensureServerPki(path.join(home, 'pki'), hosts);
  const tokens = new TokenAuthenticator(path.join(home, 'tokens.json'));
  const adminKubeconfig = path.join(home, 'admin.kubeconfig');
  const adminToken = ensureAdminToken(adminKubeconfig, tokens);
  return { home, pki, tokens, adminToken, adminKubeconfig };
}

export function writeAdminKubeconfig(prepared: PreparedHome, url: string): void {
  writeKubeconfig(prepared.adminKubeconfig, { server: url, caCertificatePem: prepared.pki.ca.certificatePem, user: 'admin', token: prepared.adminToken });
}
