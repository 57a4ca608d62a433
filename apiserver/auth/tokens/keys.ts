// The keys that sign tokens: one ES256 private key per file, $PHOTON_HOME/pki/token-signing/<kid>.key
// (PKCS#8 PEM, mode 0600), where kid is derived from the public key, so a file cannot claim another key's id.
// The newest file (by modification time) signs; every key present verifies. Rotation is therefore "add a key,
// wait until tokens signed by the old one have expired (or accept that they stop working), remove the old
// key"; running API servers follow the directory (WatchedSigningKeys), so neither step needs a restart.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../lib/logging.ts';
import { errorMessage } from '../../../lib/logging.ts';
import { assertPrivateFile, syncDirectory, writePrivateFileAtomic } from '../credentials.ts';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The file's modification time: the newest key signs. */
  modifiedAt: Date;
  file: string;
}

/** The signing keys' directory in a PHOTON_HOME. */
export function signingKeyDirectory(home: string): string {
  return path.join(home, 'pki', 'token-signing');
}

const KEY_SUFFIX = '.key';
/** 128 bits of the public key's hash: enough to never collide, short enough to read in a log line. */
const KID_LENGTH = 22;
const KID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** Whether text has the shape of a key id (it may start with '-': one id in 64 does). */
export function isKeyId(text: string): boolean {
  return KID_PATTERN.test(text);
}

/** base64url(sha256(SubjectPublicKeyInfo DER)), truncated: the same key always gets the same id. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url').slice(0, KID_LENGTH);
}

/** Reads one key file; throws when it is loosened, not an EC P-256 key, or named after another key. */
function readKeyFile(file: string): SigningKey {
  assertPrivateFile(file);
  const privateKey = createPrivateKey(fs.readFileSync(file));
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`token signing key ${file} is not an EC P-256 key (ES256)`);
  }
  const publicKey = createPublicKey(privateKey);
  const kid = keyIdOf(publicKey);
  if (path.basename(file) !== `${kid}${KEY_SUFFIX}`) throw new Error(`token signing key ${file} holds the key ${kid}; its file must be named ${kid}${KEY_SUFFIX}`);
  return { kid, privateKey, publicKey, modifiedAt: fs.statSync(file).mtime, file };
}

function keyFiles(directory: string): string[] {
  try {
    return fs
      .readdirSync(directory)
      .filter((name) => name.endsWith(KEY_SUFFIX))
      .map((name) => path.join(directory, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Newest first (the signer), ties broken by kid so every server picks the same one. */
function newestFirst(a: SigningKey, b: SigningKey): number {
  return b.modifiedAt.getTime() - a.modifiedAt.getTime() || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

/**
 * Every usable key in directory, newest first. A file that cannot be used is reported through onBadFile
 * and skipped (default: thrown), so one stray file does not take every token down with it.
 */
export function readSigningKeys(directory: string, onBadFile: (file: string, error: unknown) => void = (_file, error) => { throw error; }): SigningKey[] {
  const keys: SigningKey[] = [];
  for (const file of keyFiles(directory)) {
    try {
      keys.push(readKeyFile(file));
    } catch (error) {
      onBadFile(file, error);
    }
  }
  return keys.sort(newestFirst);
}

/** Generates a key, writes it (0600, atomically) and returns it: from now on it signs. */
export function addSigningKey(directory: string): SigningKey {
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = keyIdOf(createPublicKey(privateKey));
  writePrivateFileAtomic(path.join(directory, `${kid}${KEY_SUFFIX}`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return readKeyFile(path.join(directory, `${kid}${KEY_SUFFIX}`));
}

/** First start: a key when the directory has none. Returns the keys, newest first. */
export function ensureSigningKey(directory: string): SigningKey[] {
  const keys = readSigningKeys(directory);
  return keys.length > 0 ? keys : [addSigningKey(directory)];
}

/**
 * Removes a key: every token it signed stops authenticating (within the servers' poll interval). Refuses to
 * remove the last key, which would leave the cluster unable to issue or accept any token.
 */
export function removeSigningKey(directory: string, kid: string): void {
  if (!isKeyId(kid)) throw new Error(`${JSON.stringify(kid)} is not a key id (see photon token-keys list)`);
  const keys = readSigningKeys(directory);
  if (!keys.some((key) => key.kid === kid)) throw new Error(`no token signing key ${kid} in ${directory}`);
  if (keys.length === 1) throw new Error(`${kid} is the only token signing key; rotate (add a new key) before removing it`);
  fs.rmSync(path.join(directory, `${kid}${KEY_SUFFIX}`));
  syncDirectory(directory);
}

/** What changes when a key file is added, removed or replaced: names, times, sizes and inodes. */
function listingFingerprint(directory: string): string {
  return keyFiles(directory)
    .sort()
    .map((file) => {
      try {
        const stat = fs.statSync(file);
        return `${file}:${stat.mtimeMs}:${stat.size}:${stat.ino}:${stat.mode}`;
      } catch {
        return `${file}:gone`; // removed between readdir and stat: the next poll sees the final state
      }
    })
    .join('\n');
}

/**
 * The keys of a running server, following the directory: it is polled (a listing and a stat per file, every
 * pollMs) rather than watched with fs.watch, which misses renames on some filesystems and needs a handle per
 * directory. Readers (every request) only read the in-memory set; a reload replaces it at once.
 */
export class WatchedSigningKeys {
  private keys: SigningKey[] = [];
  private byKid = new Map<string, SigningKey>();
  private fingerprint = '';
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly directory: string,
    private readonly log?: Logger,
    pollMs = 1000,
  ) {
    this.reload();
    if (pollMs > 0) {
      this.timer = setInterval(() => this.reloadIfChanged(), pollMs);
      this.timer.unref();
    }
  }

  /** The key that signs new tokens; throws when the directory has no usable key. */
  current(): SigningKey {
    const key = this.keys[0];
    if (!key) throw new Error(`no token signing key in ${this.directory}`);
    return key;
  }

  /** The public key of kid, while its file is present. */
  publicKey(kid: string): KeyObject | undefined {
    return this.byKid.get(kid)?.publicKey;
  }

  list(): readonly SigningKey[] {
    return this.keys;
  }

  reloadIfChanged(): void {
    try {
      if (listingFingerprint(this.directory) !== this.fingerprint) this.reload();
    } catch (error) {
      this.log?.error('cannot read the token signing keys; keeping the previous set', { directory: this.directory, error: errorMessage(error) });
    }
  }

  private reload(): void {
    const fingerprint = listingFingerprint(this.directory);
    const keys = readSigningKeys(this.directory, (file, error) => this.log?.error('ignoring a token signing key file', { file, error: errorMessage(error) }));
    const before = this.keys.map((key) => key.kid).join(',');
    this.keys = keys;
    this.byKid = new Map(keys.map((key) => [key.kid, key]));
    this.fingerprint = fingerprint;
    const after = keys.map((key) => key.kid).join(',');
    if (before && before !== after) this.log?.info('token signing keys changed', { keys: after, signing: keys[0]?.kid ?? '' });
    if (keys.length === 0) this.log?.error('no usable token signing key: every signed token is refused', { directory: this.directory });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
