// Credential files in PHOTON_HOME (private keys, the token file, the encryption keys, kubeconfigs): written
// atomically with mode 0600, and refused at start when their mode lets other users at them. A mode is only
// set when a file is created, so a later `chmod 644`, a restore from a backup or a copy with a permissive
// umask would otherwise go unnoticed; like ssh with a private key, the server refuses to use such a file.
import crypto from 'node:crypto';
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

/**
 * Replaces (or creates) file with content, atomically and privately: the content goes to a new temporary
 * file with mode 0600 in the same directory, is fsynced, and is renamed over file, so a reader (or a crash)
 * sees the old file or the new one, never a half-written or briefly world-readable one. The rename also
 * resets the mode of a file that had been loosened. The directory is fsynced so the rename is durable.
 */
export function writePrivateFileAtomic(file: string, content: string | Buffer): void {
  const directory = path.dirname(file);
  const temporary = path.join(directory, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow or reuse something already at the temporary name.
  const fd = fs.openSync(temporary, 'wx', 0o600);
  try {
    try {
      fs.fchmodSync(fd, 0o600); // the umask can only remove bits; this makes the mode exact
      fs.writeFileSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  syncDirectory(directory);
}

/** fsyncs a directory, so a rename into it survives a crash (where the filesystem allows it). */
export function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(directory, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not every platform or filesystem can fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
