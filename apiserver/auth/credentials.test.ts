import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { prepareHome, writeKubeconfigs } from '../bootstrap.ts';
import { TokenAuthenticator } from './authenticate.ts';
import { assertPrivateCredentials, assertPrivateFile, credentialFiles, InsecureCredentialFileError, writePrivateFileAtomic } from './credentials.ts';
import { writeKubeconfig } from './kubeconfig.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-credentials-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let homes = 0;
const freshDir = () => fs.mkdtempSync(path.join(root, `home-${++homes}-`));
const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

function errorOf(call: () => unknown): Error {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('no error');
}

describe('credential files', () => {
  it('writePrivateFileAtomic creates 0600 files, replaces content whole, tightens a loosened file and leaves no temporary file', () => {
    const directory = freshDir();
    const file = path.join(directory, 'tokens.json');
    const umask = process.umask(0); // the widest umask: the mode must still be 0600
    try {
      writePrivateFileAtomic(file, 'first');
    } finally {
      process.umask(umask);
    }
    expect(modeOf(file)).toBe(0o600);
    const inodeBefore = fs.statSync(file).ino;
    fs.chmodSync(file, 0o644);
    writePrivateFileAtomic(file, 'second');
    expect(fs.readFileSync(file, 'utf8')).toBe('second');
    expect(modeOf(file)).toBe(0o600);
    expect(fs.statSync(file).ino).not.toBe(inodeBefore); // renamed into place, not rewritten in place
    expect(fs.readdirSync(directory)).toEqual(['tokens.json']);
  });

  it('writePrivateFileAtomic removes its temporary file when the rename fails, and keeps the old file', () => {
    const directory = freshDir();
    const target = path.join(directory, 'a-directory.kubeconfig');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x');
    expect(() => writePrivateFileAtomic(target, 'content')).toThrow();
    expect(fs.readdirSync(directory)).toEqual(['a-directory.kubeconfig']);
  });

  it('assertPrivateFile accepts 0600 and 0400 and missing files; refuses any group or other bit, naming file and mode', () => {
    const directory = freshDir();
    const file = path.join(directory, 'ca.key');
    assertPrivateFile(file); // missing: nothing to refuse
    fs.writeFileSync(file, 'secret');
    for (const mode of [0o600, 0o400, 0o700]) {
      fs.chmodSync(file, mode);
      expect(() => assertPrivateFile(file)).not.toThrow();
    }
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o755]) {
      fs.chmodSync(file, mode);
      const error = errorOf(() => assertPrivateFile(file));
      expect(error).toBeInstanceOf(InsecureCredentialFileError);
      expect(error.message).toContain(file);
      expect(error.message).toContain(`mode ${mode.toString(8).padStart(4, '0')}`);
      expect(error.message).toContain(`chmod 600 ${file}`);
      expect(error.message).not.toContain('secret');
    }
  });

  it('credentialFiles lists the keys, token file, encryption keys and kubeconfigs of a home, not certificates', () => {
    const home = freshDir();
    fs.mkdirSync(path.join(home, 'pki'));
    for (const name of ['pki/ca.key', 'pki/ca.crt', 'pki/apiserver.key', 'pki/apiserver.crt', 'admin.kubeconfig', 'controller-manager.kubeconfig', 'notes.txt']) {
      fs.writeFileSync(path.join(home, name), '');
    }
    const listed = credentialFiles(home).map((file) => path.relative(home, file)).sort();
    expect(listed).toEqual(['admin.kubeconfig', 'controller-manager.kubeconfig', 'encryption.yaml', 'pki/apiserver.key', 'pki/ca.key', 'tokens.json'].sort());
  });

  it('prepareHome refuses a home in which any credential file was loosened, and accepts it once tightened', async () => {
    const home = freshDir();
    const prepared = await prepareHome(home, ['127.0.0.1']);
    writeKubeconfigs(prepared, 'https://127.0.0.1:6443');
    fs.writeFileSync(path.join(home, 'encryption.yaml'), 'keys: []\n', { mode: 0o600 });
    for (const file of credentialFiles(home)) {
      expect(modeOf(file)).toBe(0o600);
      fs.chmodSync(file, 0o644);
      await expect(prepareHome(home, ['127.0.0.1'])).rejects.toThrow(`credential file ${file} has mode 0644`);
      fs.chmodSync(file, 0o600);
    }
    await expect(prepareHome(home, ['127.0.0.1'])).resolves.toMatchObject({ adminToken: prepared.adminToken });
  });

  it('token and kubeconfig writers keep 0600 through rewrites; the token file is refused when loosened', () => {
    const directory = freshDir();
    const tokensFile = path.join(directory, 'tokens.json');
    const tokens = new TokenAuthenticator(tokensFile);
    const first = tokens.issue('a', []);
    const second = tokens.issue('b', ['g']);
    expect(modeOf(tokensFile)).toBe(0o600);
    expect(tokens.authenticate(first)?.name).toBe('a');
    expect(tokens.authenticate(second)?.groups).toContain('g');
    fs.chmodSync(tokensFile, 0o640);
    expect(() => tokens.reload()).toThrow(InsecureCredentialFileError);
    expect(() => tokens.issue('c', [])).toThrow(InsecureCredentialFileError);
    const kubeconfig = path.join(directory, 'x.kubeconfig');
    writeKubeconfig(kubeconfig, { server: 'https://127.0.0.1:6443', caCertificatePem: 'ca', user: 'x', token: 't' });
    fs.chmodSync(kubeconfig, 0o666);
    writeKubeconfig(kubeconfig, { server: 'https://127.0.0.1:6443', caCertificatePem: 'ca', user: 'x', token: 't2' });
    expect(modeOf(kubeconfig)).toBe(0o600);
    expect(() => assertPrivateCredentials(directory)).toThrow(tokensFile);
  });
});
