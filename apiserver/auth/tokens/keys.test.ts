import { afterEach, describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../../../test/env/process.ts';
import { addSigningKey, ensureSigningKey, keyIdOf, readSigningKeys, removeSigningKey, WatchedSigningKeys } from './keys.ts';

const directories: string[] = [];
const watched: WatchedSigningKeys[] = [];
afterEach(() => {
  for (const keys of watched.splice(0)) keys.stop();
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

function freshDirectory(): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'token-keys-'));
  directories.push(directory);
  return path.join(directory, 'pki', 'token-signing');
}

/** Makes a file look older, so which key is newest does not depend on timer resolution. */
function age(file: string, seconds: number): void {
  const when = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(file, when, when);
}

describe('token signing keys', () => {
  it('creates one private (0600) ES256 key on first start, named after its public key, and keeps it', () => {
    const directory = freshDirectory();
    const [key] = ensureSigningKey(directory);
    expect(key!.file).toBe(path.join(directory, `${key!.kid}.key`));
    expect(fs.statSync(key!.file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(directory).mode & 0o777).toBe(0o700);
    expect(key!.kid).toBe(keyIdOf(key!.publicKey));
    expect(key!.kid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(ensureSigningKey(directory).map((k) => k.kid)).toEqual([key!.kid]);
  });

  it('the newest key signs, every key verifies; remove refuses the last key and unknown ids', () => {
    const directory = freshDirectory();
    const first = addSigningKey(directory);
    age(first.file, 60);
    const second = addSigningKey(directory);
    expect(readSigningKeys(directory).map((key) => key.kid)).toEqual([second.kid, first.kid]);
    expect(() => removeSigningKey(directory, 'AAAAAAAAAAAAAAAAAAAAAA')).toThrow('no token signing key AAAAAAAAAAAAAAAAAAAAAA');
    expect(() => removeSigningKey(directory, '../../ca')).toThrow('is not a key id');
    removeSigningKey(directory, second.kid);
    expect(readSigningKeys(directory).map((key) => key.kid)).toEqual([first.kid]);
    expect(() => removeSigningKey(directory, first.kid)).toThrow('is the only token signing key');
    expect(fs.existsSync(first.file)).toBe(true);
  });

  it('skips (and reports) a loosened key file, a key under another key id, and a key that is not P-256', () => {
    const directory = freshDirectory();
    const good = addSigningKey(directory);
    const loosened = addSigningKey(directory);
    fs.chmodSync(loosened.file, 0o644);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    fs.writeFileSync(path.join(directory, `${good.kid.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    fs.writeFileSync(path.join(directory, `${keyIdOf(createPublicKey(rsa))}.key`), rsa.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const problems: string[] = [];
    const keys = readSigningKeys(directory, (file, error) => problems.push(`${path.basename(file)}: ${(error as Error).message}`));
    expect(keys.map((key) => key.kid)).toEqual([good.kid]);
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toContain('has mode 0644');
    expect(problems.join('\n')).toContain('its file must be named');
    expect(problems.join('\n')).toContain('is not an EC P-256 key');
    expect(() => readSigningKeys(directory)).toThrow();
  });

  it('a running server follows the directory: an added key signs, a removed key stops verifying', async () => {
    const directory = freshDirectory();
    const first = ensureSigningKey(directory)[0]!;
    age(first.file, 60);
    const keys = new WatchedSigningKeys(directory, undefined, 50);
    watched.push(keys);
    expect(keys.current().kid).toBe(first.kid);
    const second = addSigningKey(directory);
    await waitFor('the added key to sign', () => keys.current().kid === second.kid, { timeoutMs: 5000 });
    expect(keys.publicKey(first.kid)).toBeDefined();
    removeSigningKey(directory, first.kid);
    await waitFor('the removed key to be forgotten', () => keys.publicKey(first.kid) === undefined, { timeoutMs: 5000 });
    expect(keys.current().kid).toBe(second.kid);
  });

  it('with no usable key left, current() throws and nothing verifies', () => {
    const directory = freshDirectory();
    const key = ensureSigningKey(directory)[0]!;
    const keys = new WatchedSigningKeys(directory, undefined, 0);
    fs.rmSync(key.file);
    keys.reloadIfChanged();
    expect(() => keys.current()).toThrow('no token signing key');
    expect(keys.publicKey(key.kid)).toBeUndefined();
  });
});
