// Writing a private file (credentials, kubeconfigs) so that no reader and no crash ever sees it half-written
// or readable by others. Shared by the API server (PHOTON_HOME) and the CLI (a user's kubeconfig).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

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
