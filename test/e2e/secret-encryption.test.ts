// Secrets are encrypted at rest: etcd, read directly, holds only ciphertext; a key rotation (photon encryption
// add-key / remove-key) re-encrypts every Secret while the API server keeps serving them; Secrets written
// before encryption existed are encrypted at the next start.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';

const NS = 'vault';
const KEY = `/registry/core/secrets/${NS}/db`;

describe('Secret encryption at rest', () => {
  let env: TestApiServer;
  let etcd: Etcd3;
  const kubectl = (args: string[]) => env.kubectl(args);
  const raw = async (key = KEY) => (await etcd.get(key).buffer()) ?? Buffer.alloc(0);
  const photonEncryption = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'cli/photon.ts'), 'encryption', ...args, '--home', env.home], { cwd: REPOSITORY_ROOT });
  const password = async (name = 'db') => Buffer.from(ok(await kubectl(['get', 'secret', name, '-n', NS, '-o', 'jsonpath={.data.password}'])), 'base64').toString();

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd' });
    etcd = new Etcd3({ hosts: env.etcd!.endpoint });
    ok(await kubectl(['create', 'namespace', NS]));
  });
  afterAll(async () => {
    etcd?.close();
    await env?.stop();
  });

  it('stores only ciphertext in etcd', async () => {
    ok(await kubectl(['create', 'secret', 'generic', 'db', '-n', NS, '--from-literal=password=correct-horse-battery-staple']));
    const stored = await raw();
    expect(stored.subarray(0, 23).toString('latin1')).toBe('k8s:enc:aesgcm:v1:key1:');
    expect(stored.includes(Buffer.from('correct-horse'))).toBe(false);
    expect(stored.includes(Buffer.from(Buffer.from('correct-horse-battery-staple').toString('base64')))).toBe(false);
    expect(await password()).toBe('correct-horse-battery-staple');
    // Other kinds are not encrypted.
    ok(await kubectl(['create', 'configmap', 'plain', '-n', NS, '--from-literal=a=b']));
    expect((await raw(`/registry/core/configmaps/${NS}/plain`)).toString()).toContain('"a":"b"');
  });

  it('rotates keys while serving: add a key, everything is re-encrypted, the old key goes', async () => {
    const { stdout } = await photonEncryption('add-key');
    expect(stdout).toContain('added key2');
    await waitFor('the Secret re-encrypted with key2', async () => (await raw()).subarray(0, 23).toString('latin1') === 'k8s:enc:aesgcm:v1:key2:', { timeoutMs: 20_000, intervalMs: 200 });
    expect(await password()).toBe('correct-horse-battery-staple');
    ok(await kubectl(['create', 'secret', 'generic', 'api', '-n', NS, '--from-literal=password=new']));
    expect((await raw(`/registry/core/secrets/${NS}/api`)).subarray(0, 23).toString('latin1')).toBe('k8s:enc:aesgcm:v1:key2:');
    await expect(photonEncryption('remove-key', 'key2')).rejects.toThrow(/encrypts|write key|current/i);
    await photonEncryption('remove-key', 'key1');
    expect((await photonEncryption('list')).stdout.trim()).toBe('key2\t(encrypts)');
    await env.restart();
    expect(await password()).toBe('correct-horse-battery-staple');
    expect(await password('api')).toBe('new');
  });

  it('encrypts Secrets written before encryption existed at the next start', async () => {
    const legacy = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'legacy', namespace: NS, uid: '11111111-2222-3333-4444-555555555555', creationTimestamp: '2026-01-01T00:00:00Z' }, data: { password: Buffer.from('old-plaintext').toString('base64') }, type: 'Opaque' };
    await etcd.put(`/registry/core/secrets/${NS}/legacy`).value(JSON.stringify(legacy));
    await env.restart();
    await waitFor('the legacy Secret encrypted', async () => (await raw(`/registry/core/secrets/${NS}/legacy`)).subarray(0, 8).toString('latin1') === 'k8s:enc:', { timeoutMs: 20_000, intervalMs: 200 });
    expect(await password('legacy')).toBe('old-plaintext');
  });
});
