// The encryption key file (e.g. $PHOTON_HOME/encryption.yaml, mode 0600):
//
//   keys:
//     - name: key2
//       secret: <base64 of 32 random bytes>
//     - name: key1
//       secret: <…>
//
// The first key encrypts new writes; every listed key decrypts. Rotation (see README.md): addKey → every API
// server restarted with the new file → rewriteWithCurrentKey → removeKey of the old one.
//
// Every write replaces the file atomically (temporary file, fsync, rename): a crash never leaves a
// half-written key file, and losing a key means losing every value encrypted with it. No message here
// contains secret material; YAML errors are reported by position only, since a parser's excerpt of the
// offending line could be a secret.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { syncDirectory } from '../auth/credentials.ts';
import { KEY_BYTES, KEY_NAME_PATTERN, type EncryptionKey } from './envelope.ts';

interface KeyEntry {
  name: string;
  /** base64, exactly as in the file (rewritten unchanged by addKey/removeKey). */
  secret: string;
}

const HEADER = `# PhotonCloud encryption keys for Secrets at rest (AES-256-GCM).
# The first key encrypts new writes; every listed key decrypts. Keep this file private (mode 0600) and
# backed up: a value encrypted with a key cannot be read without it. To rotate: add a key (first in the
# list) in every API server's copy; each server notices within seconds and re-encrypts the stored Secrets
# (it logs "re-encrypted Secrets with the current key"); then remove the old key.
`;

/** Reads and validates the key file; the first key returned is the write key. */
export function loadEncryptionKeys(file: string): EncryptionKey[] {
  return readKeyFile(file).map((entry) => ({
    name: entry.name,
    secret: crypto.createSecretKey(Buffer.from(entry.secret, 'base64')),
  }));
}

/**
 * First start: writes a new key file holding one random key, "key1", with mode 0600 (creating the
 * directory, 0700, when missing). Refuses to replace an existing file. Returns the keys.
 */
export function createKeyFile(file: string): EncryptionKey[] {
  if (fs.existsSync(file)) throw new Error(`encryption key file ${file} already exists; refusing to replace its keys`);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeKeyFile(file, [{ name: 'key1', secret: randomSecret() }], { replace: false });
  return loadEncryptionKeys(file);
}

/** The keys in file, after creating it with createKeyFile when it does not exist yet. */
export function loadOrCreateEncryptionKeys(file: string): EncryptionKey[] {
  return fs.existsSync(file) ? loadEncryptionKeys(file) : createKeyFile(file);
}

/**
 * Rotation, step 1: puts a fresh random key first (it becomes the write key once servers load the file) and
 * keeps every other key. Returns the new key's name: "key<N+1>" for the highest "key<N>" in the file.
 */
export function addKey(file: string): string {
  const entries = readKeyFile(file);
  const highest = Math.max(0, ...entries.map((entry) => /^key(\d+)$/.exec(entry.name)).map((match) => (match ? Number(match[1]) : 0)));
  const name = `key${highest + 1}`;
  writeKeyFile(file, [{ name, secret: randomSecret() }, ...entries], { replace: true });
  return name;
}

/**
 * Rotation, last step: removes a key that no stored value uses any more (after rewriteWithCurrentKey).
 * Refuses to remove the only key, or the write key (the first one).
 */
export function removeKey(file: string, name: string): void {
  const entries = readKeyFile(file);
  const index = entries.findIndex((entry) => entry.name === name);
  if (index < 0) {
    throw new Error(`no key named "${name}" in ${file} (it has: ${entries.map((entry) => entry.name).join(', ')})`);
  }
  if (entries.length === 1) {
    throw new Error(
      `refusing to remove key "${name}": it is the only key in ${file}, and nothing encrypted with it could be read any more`,
    );
  }
  if (index === 0) {
    throw new Error(
      `refusing to remove key "${name}": it is the write key (first in ${file}), so new values are being encrypted with it. ` +
        'To retire it: add a new key first (every API server follows its file and re-encrypts the stored values with it), wait for "re-encrypted Secrets with the current key" in the servers\' logs, then remove it.',
    );
  }
  writeKeyFile(file, entries.filter((entry) => entry.name !== name), { replace: true });
}

function randomSecret(): string {
  return crypto.randomBytes(KEY_BYTES).toString('base64');
}

function readKeyFile(file: string): KeyEntry[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`encryption key file ${file} does not exist`);
    throw error;
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new Error(
      `encryption key file ${file} is readable or writable by other users (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `restrict it with chmod 600 ${file}`,
    );
  }
  const text = fs.readFileSync(file, 'utf8');
  const document = YAML.parseDocument(text, { prettyErrors: false });
  if (document.errors.length > 0) {
    const error = document.errors[0];
    const before = text.slice(0, error.pos[0]).split('\n');
    throw new Error(
      `encryption key file ${file} is not valid YAML at line ${before.length}, column ${before[before.length - 1].length + 1} (${error.code})`,
    );
  }
  const content: unknown = document.toJS();
  const invalid = (what: string) => new Error(`encryption key file ${file}: ${what}`);
  if (typeof content !== 'object' || content === null || Array.isArray(content)) throw invalid('expected a mapping with a "keys" list');
  const unknownFields = Object.keys(content).filter((field) => field !== 'keys');
  if (unknownFields.length > 0) throw invalid(`unknown field(s) ${unknownFields.join(', ')} (only "keys" is allowed)`);
  const keys = (content as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw invalid('"keys" must be a non-empty list');
  const names = new Set<string>();
  return keys.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalid(`keys[${index}] must be a mapping with name and secret`);
    const extra = Object.keys(entry).filter((field) => field !== 'name' && field !== 'secret');
    if (extra.length > 0) throw invalid(`keys[${index}] has unknown field(s) ${extra.join(', ')} (only name and secret are allowed)`);
    const { name, secret } = entry as { name?: unknown; secret?: unknown };
    if (typeof name !== 'string' || !KEY_NAME_PATTERN.test(name)) {
      throw invalid(`keys[${index}].name must be 1-63 letters, digits, '.', '_' or '-' (starting with a letter or digit)`);
    }
    if (names.has(name)) throw invalid(`key name "${name}" appears twice`);
    names.add(name);
    if (typeof secret !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
      throw invalid(`key "${name}": secret must be a base64 string`);
    }
    const length = Buffer.from(secret, 'base64').length;
    if (length !== KEY_BYTES) throw invalid(`key "${name}": secret must be ${KEY_BYTES} bytes, base64-encoded (it is ${length} bytes)`);
    return { name, secret };
  });
}

/**
 * Writes entries to a temporary file (0600) next to file and renames it into place (replace) or hard-links it
 * into place, failing when file exists (!replace), then fsyncs the directory.
 */
function writeKeyFile(file: string, entries: KeyEntry[], { replace }: { replace: boolean }): void {
  const directory = path.dirname(file);
  const temporary = path.join(directory, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const content = HEADER + YAML.stringify({ keys: entries.map(({ name, secret }) => ({ name, secret })) });
  const fd = fs.openSync(temporary, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    if (replace) {
      fs.renameSync(temporary, file);
    } else {
      try {
        fs.linkSync(temporary, file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`encryption key file ${file} already exists; refusing to replace its keys`);
        throw error;
      }
    }
  } finally {
    fs.rmSync(temporary, { force: true });
  }
  syncDirectory(directory);
}

