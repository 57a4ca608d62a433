import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import YAML from 'yaml';
import { SecretEnvelope } from './envelope.ts';
import { addKey, createKeyFile, loadEncryptionKeys, loadOrCreateEncryptionKeys, removeKey } from './keys.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-keys-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshFile = () => path.join(root, `home-${++files}`, 'encryption.yaml');

function fileKeys(file: string): { name: string; secret: string }[] {
  return (YAML.parse(fs.readFileSync(file, 'utf8')) as { keys: { name: string; secret: string }[] }).keys;
}

function errorOf(call: () => unknown): Error {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('no error');
}

/** Writes a key file by hand (mode 0600 unless told otherwise). */
function writeRaw(content: string, mode = 0o600): string {
  const file = freshFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return file;
}

const secret = () => Buffer.alloc(32, files).toString('base64');

describe('encryption key file', () => {
  it('createKeyFile writes one random 32-byte key "key1", mode 0600, in a 0700 directory, and never overwrites', () => {
    const file = freshFile();
    const keys = createKeyFile(file);
    expect(keys.map((key) => key.name)).toEqual(['key1']);
    expect(keys[0].secret.symmetricKeySize).toBe(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const [entry] = fileKeys(file);
    expect(entry.name).toBe('key1');
    expect(Buffer.from(entry.secret, 'base64')).toHaveLength(32);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^# PhotonCloud encryption keys/);
    // No temporary files left behind.
    expect(fs.readdirSync(path.dirname(file))).toEqual(['encryption.yaml']);

    const before = fs.readFileSync(file, 'utf8');
    expect(errorOf(() => createKeyFile(file)).message).toContain('already exists');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    // Two files never share a key.
    const other = freshFile();
    createKeyFile(other);
    expect(fileKeys(other)[0].secret).not.toBe(entry.secret);
  });

  it('loadOrCreateEncryptionKeys creates once, then loads the same key', () => {
    const file = freshFile();
    const created = loadOrCreateEncryptionKeys(file);
    const loaded = loadOrCreateEncryptionKeys(file);
    expect(loaded.map((key) => key.name)).toEqual(['key1']);
    expect(loaded[0].secret.export()).toEqual(created[0].secret.export());
  });

  it('addKey puts a fresh key first and keeps the others byte for byte; removeKey drops an old one', () => {
    const file = freshFile();
    createKeyFile(file);
    const [original] = fileKeys(file);
    expect(addKey(file)).toBe('key2');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const rotated = fileKeys(file);
    expect(rotated.map((key) => key.name)).toEqual(['key2', 'key1']);
    expect(rotated[1]).toEqual(original);
    expect(rotated[0].secret).not.toBe(original.secret);
    expect(addKey(file)).toBe('key3');
    expect(loadEncryptionKeys(file).map((key) => key.name)).toEqual(['key3', 'key2', 'key1']);

    removeKey(file, 'key1');
    expect(fileKeys(file).map((key) => key.name)).toEqual(['key3', 'key2']);
    expect(fileKeys(file)[1]).toEqual(rotated[0]);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['encryption.yaml']);
  });

  it('names a new key after the highest keyN, whatever the order and other names', () => {
    const file = writeRaw(YAML.stringify({ keys: [{ name: 'key7', secret: secret() }, { name: 'legacy', secret: secret() }, { name: 'key12', secret: secret() }] }));
    expect(addKey(file)).toBe('key13');
    const custom = writeRaw(YAML.stringify({ keys: [{ name: 'primary', secret: secret() }] }));
    expect(addKey(custom)).toBe('key1');
  });

  it('removeKey refuses the only key and the write key, and says why', () => {
    const file = freshFile();
    createKeyFile(file);
    const only = errorOf(() => removeKey(file, 'key1'));
    expect(only.message).toContain('only key');
    addKey(file);
    const current = errorOf(() => removeKey(file, 'key2'));
    expect(current.message).toContain('write key');
    expect(current.message).toContain('re-encrypt');
    expect(errorOf(() => removeKey(file, 'nope')).message).toBe(`no key named "nope" in ${file} (it has: key2, key1)`);
    expect(fileKeys(file).map((key) => key.name)).toEqual(['key2', 'key1']);
  });

  it('loads keys a SecretEnvelope can use, the first one writing', () => {
    const file = freshFile();
    createKeyFile(file);
    const old = new SecretEnvelope(loadEncryptionKeys(file));
    const stored = old.encrypt(Buffer.from('s3cret'), '/k');
    addKey(file);
    const rotated = new SecretEnvelope(loadEncryptionKeys(file));
    expect(rotated.writeKeyName).toBe('key2');
    expect(rotated.decrypt(stored, '/k').toString()).toBe('s3cret');
  });

  it('refuses a key file other users can read, a missing one, and invalid content, without quoting secrets', () => {
    const good = YAML.stringify({ keys: [{ name: 'key1', secret: secret() }] });
    expect(errorOf(() => loadEncryptionKeys(writeRaw(good, 0o644))).message).toMatch(/mode 0644.*chmod 600/);
    expect(errorOf(() => loadEncryptionKeys(writeRaw(good, 0o640))).message).toContain('chmod 600');
    expect(errorOf(() => loadEncryptionKeys(path.join(root, 'missing.yaml'))).message).toContain('does not exist');

    const leaky = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==';
    const cases: [string, string][] = [
      [`keys:\n  - name: key1\n    secret: "${leaky}\n`, 'not valid YAML at line'],
      ['keys: []\n', 'non-empty list'],
      ['nothing: here\n', 'unknown field(s) nothing'],
      ['- a\n', 'expected a mapping'],
      [YAML.stringify({ keys: [{ name: 'key1', secret: leaky }] }), 'must be 32 bytes, base64-encoded (it is 34 bytes)'],
      [YAML.stringify({ keys: [{ name: 'key1', secret: `${leaky}!` }] }), 'secret must be a base64 string'],
      [YAML.stringify({ keys: [{ name: 'key1', secret: secret() }, { name: 'key1', secret: secret() }] }), 'appears twice'],
      [YAML.stringify({ keys: [{ name: 'a:b', secret: secret() }] }), 'keys[0].name must be'],
      [YAML.stringify({ keys: [{ name: 'key1', secret: secret(), scret: leaky }] }), 'unknown field(s) scret'],
      [YAML.stringify({ keys: [{ name: 'key1' }] }), 'secret must be a base64 string'],
    ];
    for (const [content, expected] of cases) {
      const message = errorOf(() => loadEncryptionKeys(writeRaw(content))).message;
      expect(message).toContain(expected);
      expect(message).not.toContain(leaky.slice(0, 16));
      expect(message).not.toContain('c2VjcmV0');
    }
  });
});
