// Authenticated encryption of stored values (Secrets at rest), compatible in spirit and byte layout with
// Kubernetes' EncryptionConfiguration "aesgcm" provider:
//
//   k8s:enc:aesgcm:v1:<keyName>:<nonce><ciphertext><tag>
//   └──── ASCII prefix, names the key ───┘└ 12 B ┘└ n B ──┘└ 16 B ┘
//
// AES-256-GCM with a fresh random 96-bit nonce per value; the ciphertext is exactly as long as the plaintext.
// The additional authenticated data is the storage key (UTF-8), so a ciphertext copied to another key fails to
// decrypt instead of silently turning into that other object. Values that do not start with "k8s:enc:" were
// written before encryption was enabled and are returned as they are.
//
// Random 96-bit nonces keep the collision risk negligible up to about 2^32 values per key; rotating keys
// (see README.md) keeps any one key far from that.
//
// Nothing here puts key bytes or plaintext into an error message: errors name the storage key and the
// encryption key's name only. Keys are held as KeyObjects, which print as "SecretKeyObject { … }".
import crypto, { type KeyObject } from 'node:crypto';

/** Every encrypted value starts with this; anything else is plaintext. */
export const ENCRYPTED_PREFIX = 'k8s:enc:';
/** The one provider written and read here. */
export const AESGCM_PREFIX = 'k8s:enc:aesgcm:v1:';
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Key names end up in the value prefix, so they cannot contain ':'. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface EncryptionKey {
  name: string;
  /** 32 bytes (AES-256). */
  secret: KeyObject;
}

/** A value that cannot be decrypted: unknown key, failed authentication, malformed or truncated data. */
export class DecryptionError extends Error {
  constructor(
    message: string,
    /** The storage key the value was read from. */
    readonly context: string,
    /** The encryption key named by the value, when it names one. */
    readonly keyName?: string,
  ) {
    super(message);
    this.name = 'DecryptionError';
  }
}

const encryptedPrefix = Buffer.from(ENCRYPTED_PREFIX);
const aesgcmPrefix = Buffer.from(AESGCM_PREFIX);
const COLON = 0x3a;

/** What a store needs to encrypt and re-encrypt values (SecretEnvelope, or one whose keys can be swapped). */
export type ValueCipher = Pick<SecretEnvelope, 'encrypt' | 'decrypt' | 'needsRewrite'>;

export class SecretEnvelope {
  private readonly keys = new Map<string, KeyObject>();
  /** The key new values are encrypted with: the first one given. */
  readonly writeKeyName: string;
  private readonly writePrefix: Buffer;

  /** keys: the first encrypts, all decrypt. Secrets are 32-byte Buffers or secret KeyObjects. */
  constructor(keys: readonly { name: string; secret: Buffer | KeyObject }[]) {
    if (keys.length === 0) throw new Error('SecretEnvelope: at least one encryption key is needed');
    for (const { name, secret } of keys) {
      if (typeof name !== 'string' || !KEY_NAME_PATTERN.test(name)) {
        throw new Error(`SecretEnvelope: invalid key name ${JSON.stringify(name)} (letters, digits, '.', '_' and '-'; at most 63)`);
      }
      if (this.keys.has(name)) throw new Error(`SecretEnvelope: key name "${name}" is used twice`);
      const key = Buffer.isBuffer(secret) ? crypto.createSecretKey(Buffer.from(secret)) : secret;
      if (key.type !== 'secret' || key.symmetricKeySize !== KEY_BYTES) {
        throw new Error(`SecretEnvelope: key "${name}" must be ${KEY_BYTES} bytes (AES-256)`);
      }
      this.keys.set(name, key);
    }
    this.writeKeyName = keys[0].name;
    this.writePrefix = Buffer.from(`${AESGCM_PREFIX}${this.writeKeyName}:`);
  }

  /** The configured key names, the write key first. */
  get keyNames(): string[] {
    return [...this.keys.keys()];
  }

  /** Encrypts with the write key, bound to context (the storage key). */
  encrypt(plaintext: Buffer, context: string): Buffer {
    const nonce = crypto.randomBytes(NONCE_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.keys.get(this.writeKeyName)!, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([this.writePrefix, nonce, body, cipher.getAuthTag()]);
  }

  /**
   * The plaintext of a stored value read from context (the storage key): decrypted with the key it names,
   * or returned as is when it is not encrypted. Throws DecryptionError otherwise.
   */
  decrypt(stored: Buffer, context: string): Buffer {
    if (!isEncryptedValue(stored)) return stored;
    if (!startsWith(stored, aesgcmPrefix)) {
      const provider = stored.subarray(encryptedPrefix.length, encryptedPrefix.length + 32).toString('latin1').split(':')[0];
      throw new DecryptionError(
        `cannot decrypt ${context}: it was written by encryption provider "${provider}", and only aesgcm (v1) is supported`,
        context,
      );
    }
    const { name = '', end = -1 } = aesgcmKeyName(stored) ?? {};
    if (!KEY_NAME_PATTERN.test(name)) throw new DecryptionError(`cannot decrypt ${context}: malformed encrypted value (no key name)`, context);
    const key = this.keys.get(name);
    if (!key) {
      throw new DecryptionError(
        `cannot decrypt ${context}: it was encrypted with key "${name}", which is not among the configured keys (${this.keyNames.join(', ')})`,
        context,
        name,
      );
    }
    const data = stored.subarray(end + 1);
    if (data.length < NONCE_BYTES + TAG_BYTES) {
      throw new DecryptionError(`cannot decrypt ${context} with key "${name}": the value is truncated`, context, name);
    }
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new DecryptionError(
        `cannot decrypt ${context} with key "${name}": authentication failed (the value was altered or copied from another storage key, or key "${name}" is not the key it was written with)`,
        context,
        name,
      );
    }
  }

  /** True when the value is not encrypted with the current write key (older key, or not encrypted at all). */
  needsRewrite(stored: Buffer): boolean {
    return !startsWith(stored, this.writePrefix);
  }
}

/** True for values in the "k8s:enc:" envelope (of any provider); false for plaintext. */
export function isEncryptedValue(stored: Buffer): boolean {
  return startsWith(stored, encryptedPrefix);
}

/** The key name an aesgcm value was encrypted with (undefined for plaintext or other providers). */
export function encryptionKeyNameOf(stored: Buffer): string | undefined {
  return aesgcmKeyName(stored)?.name;
}

/** The key name of an aesgcm value and the offset of the ':' after it; undefined when there is none. */
function aesgcmKeyName(stored: Buffer): { name: string; end: number } | undefined {
  if (!startsWith(stored, aesgcmPrefix)) return undefined;
  const end = stored.indexOf(COLON, aesgcmPrefix.length);
  return end > aesgcmPrefix.length ? { name: stored.subarray(aesgcmPrefix.length, end).toString('latin1'), end } : undefined;
}

function startsWith(value: Buffer, prefix: Buffer): boolean {
  return value.length >= prefix.length && value.subarray(0, prefix.length).equals(prefix);
}
