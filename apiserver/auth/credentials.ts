// Credential files in PHOTON_HOME (private keys, the token file, the encryption keys, kubeconfigs): written
// atomically with mode 0600, and refused at start when their mode lets other users at them. A mode is only
// set when a file is created, so a later `chmod 644`, a restore from a backup or a copy with a permissive
// umask would otherwise go unnoticed; like ssh with a private key, the server refuses to use such a file.
import fs from 'node:fs';
import path from 'node:path';

/** Permission bits that give group or other users any access. */
const NOT_OWNER_BITS = 0o077;

/** A credential file whose mode lets users other than its owner read (or write) it. */
export class InsecureCredentialFileError extends Error {
  constructor(
    readonly file: string,
    readonly mode: number,
  ) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    super(`credential file ${file} has mode ${octal}: it is accessible by group or other users; restrict it with chmod 600 ${file} (and replace the credentials in it if others may have read them)`);
    this.name = 'InsecureCredentialFileError';
  }
}

/** Throws InsecureCredentialFileError when file exists and is accessible to group or others. */
export function assertPrivateFile(file: string): void {
  if (process.platform === 'win32') return; // modes do not describe access there
  let mode: number;
  try {
    mode = fs.statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((mode & NOT_OWNER_BITS) !== 0) throw new InsecureCredentialFileError(file, mode);
}

/**
 * The credential files the API server keeps in home: pki/*.key, pki/token-signing/*.key, tokens.json,
 * encryption.yaml, *.kubeconfig.
 */
export function credentialFiles(home: string): string[] {
  const list = (directory: string, suffix: string) => {
    try {
      return fs
        .readdirSync(directory)
        .filter((name) => name.endsWith(suffix))
        .map((name) => path.join(directory, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  };
  return [...list(path.join(home, 'pki'), '.key'), ...list(path.join(home, 'pki', 'token-signing'), '.key'), path.join(home, 'tokens.json'), path.join(home, 'encryption.yaml'), ...list(home, '.kubeconfig')];
}

/** Refuses (InsecureCredentialFileError) when any existing credential file in home is group/world accessible. */
export function assertPrivateCredentials(home: string): void {
  for (const file of credentialFiles(home)) assertPrivateFile(file);
}

export { syncDirectory, writePrivateFileAtomic } from '../../lib/private-file.ts';
