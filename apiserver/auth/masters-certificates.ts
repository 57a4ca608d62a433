// Which client certificates may carry system:masters. The cluster CA signs certificates for many purposes
// (components, nodes, later users), and anything it signed with O=system:masters would otherwise be an
// unrevocable superuser. So the group counts only on a certificate the server issued to an administrator
// itself, recorded by SHA-256 fingerprint in $PHOTON_HOME/pki/masters-client-certificates (one per line);
// deleting a line revokes that certificate's system:masters at once (the file is re-read when it changes).
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writePrivateFileAtomic } from './credentials.ts';
import { issueCertificate, type CertificateAuthority, type KeyPairPem } from './pki.ts';

export const MASTERS_GROUP = 'system:masters';

export function mastersCertificatesFile(home: string): string {
  return path.join(home, 'pki', 'masters-client-certificates');
}

/** SHA-256 fingerprint as Node prints it for a peer certificate (upper-case hex pairs joined by colons). */
export function fingerprintOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256;
}

function parse(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim().toUpperCase())
      .filter((line) => line !== ''),
  );
}

/** Adds a certificate's fingerprint to the file (created with mode 0600 when missing). */
export function recordMastersCertificate(file: string, certificatePem: string, note = ''): void {
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# SHA-256 fingerprints of client certificates that keep O=system:masters (issued by this server)\n';
  const line = `${fingerprintOf(certificatePem)}${note ? `  # ${note.replace(/\n/g, ' ')}` : ''}\n`;
  writePrivateFileAtomic(file, existing.endsWith('\n') || existing === '' ? existing + line : `${existing}\n${line}`);
}

/** Issues an administrator's client certificate (O=system:masters) and records it, so the group holds. */
export async function issueMastersClientCertificate(ca: CertificateAuthority, file: string, commonName: string, validDays = 365): Promise<KeyPairPem> {
  const pair = await issueCertificate(ca, { commonName, organizations: [MASTERS_GROUP], usage: 'client', validDays });
  recordMastersCertificate(file, pair.certificatePem, `${commonName}, issued ${new Date().toISOString()}`);
  return pair;
}

/** The recorded fingerprints, re-read whenever the file's mtime or size changes (checked on each question). */
export class MastersCertificates {
  private fingerprints = new Set<string>();
  private seen = '';

  constructor(private readonly file: string) {}

  /** Whether a certificate with this fingerprint (Node's fingerprint256) may keep system:masters. */
  has(fingerprint256: string): boolean {
    this.refresh();
    return this.fingerprints.has(fingerprint256.toUpperCase());
  }

  private refresh(): void {
    let stamp: string;
    try {
      const stat = fs.statSync(this.file);
      stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    } catch {
      stamp = 'missing';
    }
    if (stamp === this.seen) return;
    this.seen = stamp;
    this.fingerprints = stamp === 'missing' ? new Set() : parse(fs.readFileSync(this.file, 'utf8'));
  }
}
