import crypto from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { AESGCM_PREFIX, DecryptionError, encryptionKeyNameOf, isEncryptedValue, NONCE_BYTES, SecretEnvelope, TAG_BYTES } from './envelope.ts';

const key1 = { name: 'key1', secret: crypto.randomBytes(32) };
const key2 = { name: 'key2', secret: crypto.randomBytes(32) };
const context = '/registry/core/secrets/default/db-password';
const plaintext = Buffer.from(JSON.stringify({ kind: 'Secret', data: { password: 'aHVudGVyMg==' } }));

function decryptError(envelope: SecretEnvelope, stored: Buffer, at = context): DecryptionError {
  try {
    envelope.decrypt(stored, at);
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionError);
    return error as DecryptionError;
  }
  throw new Error('decrypt succeeded');
}

/** No error message may carry key bytes or plaintext, in any common rendering. */
function expectNoSecretsIn(message: string): void {
  for (const secret of [key1.secret, key2.secret, plaintext]) {
    for (const encoding of ['base64', 'hex', 'latin1', 'utf8'] as const) {
      expect(message).not.toContain(secret.toString(encoding).slice(0, 12));
    }
  }
  expect(message).not.toContain('hunter2');
  expect(message).not.toContain('aHVudGVyMg');
}

describe('SecretEnvelope', () => {
  it('writes k8s:enc:aesgcm:v1:<key>: + 12-byte nonce + ciphertext + 16-byte tag, and reads it back', () => {
    const envelope = new SecretEnvelope([key1]);
    const stored = envelope.encrypt(plaintext, context);
    const prefix = Buffer.from(`${AESGCM_PREFIX}key1:`);
    expect(stored.subarray(0, prefix.length)).toEqual(prefix);
    expect(stored.length).toBe(prefix.length + NONCE_BYTES + plaintext.length + TAG_BYTES);
    expect(stored.includes(plaintext)).toBe(false);
    expect(isEncryptedValue(stored)).toBe(true);
    expect(encryptionKeyNameOf(stored)).toBe('key1');

    // The layout is plain AES-256-GCM with the storage key as additional data: decryptable by hand.
    const nonce = stored.subarray(prefix.length, prefix.length + NONCE_BYTES);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key1.secret, nonce);
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(stored.subarray(stored.length - TAG_BYTES));
    expect(Buffer.concat([decipher.update(stored.subarray(prefix.length + NONCE_BYTES, stored.length - TAG_BYTES)), decipher.final()])).toEqual(plaintext);

    expect(envelope.decrypt(stored, context)).toEqual(plaintext);
  });

  it('gives equal plaintexts different ciphertexts (a fresh nonce each time)', () => {
    const envelope = new SecretEnvelope([key1]);
    const values = Array.from({ length: 50 }, () => envelope.encrypt(plaintext, context));
    expect(new Set(values.map((value) => value.toString('hex'))).size).toBe(50);
    const nonces = values.map((value) => value.subarray(`${AESGCM_PREFIX}key1:`.length, `${AESGCM_PREFIX}key1:`.length + NONCE_BYTES).toString('hex'));
    expect(new Set(nonces).size).toBe(50);
    for (const value of values) expect(envelope.decrypt(value, context)).toEqual(plaintext);
  });

  it('handles empty and binary plaintexts', () => {
    const envelope = new SecretEnvelope([key1]);
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const value of [Buffer.alloc(0), binary]) expect(envelope.decrypt(envelope.encrypt(value, context), context)).toEqual(value);
  });

  it('encrypts with the first key and decrypts with any listed one', () => {
    const old = new SecretEnvelope([key1]);
    const rotated = new SecretEnvelope([key2, key1]);
    const written = old.encrypt(plaintext, context);
    expect(rotated.writeKeyName).toBe('key2');
    expect(rotated.keyNames).toEqual(['key2', 'key1']);
    expect(rotated.decrypt(written, context)).toEqual(plaintext);
    const fresh = rotated.encrypt(plaintext, context);
    expect(encryptionKeyNameOf(fresh)).toBe('key2');
    expect(new SecretEnvelope([key1, key2]).decrypt(fresh, context)).toEqual(plaintext);
  });

  it('refuses a ciphertext moved to another storage key', () => {
    const envelope = new SecretEnvelope([key1]);
    const stored = envelope.encrypt(plaintext, context);
    const error = decryptError(envelope, stored, '/registry/core/secrets/default/other');
    expect(error.message).toContain('/registry/core/secrets/default/other');
    expect(error.message).toContain('"key1"');
    expect(error.message).toContain('authentication failed');
    expect(error.keyName).toBe('key1');
    expectNoSecretsIn(error.message);
  });

  it('refuses tampered values: any flipped bit in nonce, ciphertext or tag, or a cut', () => {
    const envelope = new SecretEnvelope([key1]);
    const stored = envelope.encrypt(plaintext, context);
    const prefixLength = `${AESGCM_PREFIX}key1:`.length;
    for (const offset of [prefixLength, prefixLength + NONCE_BYTES - 1, prefixLength + NONCE_BYTES, stored.length - TAG_BYTES - 1, stored.length - 1]) {
      const tampered = Buffer.from(stored);
      tampered[offset] ^= 0x01;
      expectNoSecretsIn(decryptError(envelope, tampered).message);
    }
    expect(decryptError(envelope, stored.subarray(0, stored.length - 1)).message).toContain('authentication failed');
    expect(decryptError(envelope, stored.subarray(0, prefixLength + NONCE_BYTES + TAG_BYTES - 1)).message).toContain('truncated');
    // Another key of the same name is another key.
    const impostor = new SecretEnvelope([{ name: 'key1', secret: crypto.randomBytes(32) }]);
    expect(decryptError(impostor, stored).message).toContain('authentication failed');
  });

  it('names an unknown key without revealing anything else', () => {
    const stored = new SecretEnvelope([key2]).encrypt(plaintext, context);
    const error = decryptError(new SecretEnvelope([key1]), stored);
    expect(error.message).toBe(
      `cannot decrypt ${context}: it was encrypted with key "key2", which is not among the configured keys (key1)`,
    );
    expect(error.keyName).toBe('key2');
    expect(error.context).toBe(context);
  });

  it('rejects other providers and malformed envelopes clearly', () => {
    const envelope = new SecretEnvelope([key1]);
    expect(decryptError(envelope, Buffer.from('k8s:enc:secretbox:v1:key1:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')).message).toContain('"secretbox"');
    expect(decryptError(envelope, Buffer.from('k8s:enc:aesgcm:v1:')).message).toContain('malformed');
    expect(decryptError(envelope, Buffer.from('k8s:enc:aesgcm:v1:key1')).message).toContain('malformed');
  });

  it('passes plaintext (written before encryption was enabled) through as it is', () => {
    const envelope = new SecretEnvelope([key1]);
    for (const value of [plaintext, Buffer.alloc(0), Buffer.from('k8s:en'), Buffer.from([0xff, 0x00])]) {
      expect(envelope.decrypt(value, context)).toBe(value);
      expect(isEncryptedValue(value)).toBe(false);
      expect(envelope.needsRewrite(value)).toBe(true);
    }
  });

  it('tells which values need rewriting: plaintext and other keys, not the write key', () => {
    const rotated = new SecretEnvelope([key2, key1]);
    expect(rotated.needsRewrite(new SecretEnvelope([key1]).encrypt(plaintext, context))).toBe(true);
    expect(rotated.needsRewrite(rotated.encrypt(plaintext, context))).toBe(false);
    expect(rotated.needsRewrite(plaintext)).toBe(true);
    // A key whose name starts like the write key's is another key.
    const similar = new SecretEnvelope([{ name: 'key22', secret: crypto.randomBytes(32) }]);
    expect(rotated.needsRewrite(similar.encrypt(plaintext, context))).toBe(true);
  });

  it('validates its keys', () => {
    expect(() => new SecretEnvelope([])).toThrow('at least one');
    expect(() => new SecretEnvelope([key1, { ...key2, name: 'key1' }])).toThrow('used twice');
    expect(() => new SecretEnvelope([{ name: 'a:b', secret: key1.secret }])).toThrow('invalid key name');
    let message = '';
    try {
      new SecretEnvelope([{ name: 'short', secret: crypto.randomBytes(16) }]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('must be 32 bytes');
    // KeyObjects work as well as Buffers: the same key either way.
    const asKeyObject = new SecretEnvelope([{ name: 'key1', secret: crypto.createSecretKey(key1.secret) }]);
    expect(new SecretEnvelope([key1]).decrypt(asKeyObject.encrypt(plaintext, context), context)).toEqual(plaintext);
  });
});
