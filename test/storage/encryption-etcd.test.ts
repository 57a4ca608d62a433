// Secrets encrypted at rest on a real etcd 3.4: what etcd itself holds (read with the raw etcd3 client, current
// value and history) is only the k8s:enc:aesgcm:v1: envelope, never the plaintext.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Etcd3 } from 'etcd3';
import { SecretEnvelope } from '../../apiserver/encryption/envelope.ts';
import { encryptingStore, rewriteWithCurrentKey } from '../../apiserver/encryption/store.ts';
import { record, settle } from './conformance.ts';
import { openEtcdStore } from '../../apiserver/storage/etcd.ts';
import type { Store } from '../../apiserver/storage/types.ts';
import { startEtcd, type EtcdInstance } from '../env/etcd.ts';

const NAMESPACE = '/encryption-test';
const SECRETS = '/registry/core/secrets/';
const isSecret = (key: string) => key.startsWith(SECRETS);

let etcd: EtcdInstance;
let raw: Etcd3;
let store: Store;
beforeAll(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: [etcd.endpoint] });
  store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix: NAMESPACE });
});
afterAll(async () => {
  await store?.close();
  raw?.close();
  await etcd?.stop();
});

describe('Secrets encrypted at rest in etcd', () => {
  const password = 'correct-horse-battery-staple';
  const secret = Buffer.from(JSON.stringify({ kind: 'Secret', metadata: { name: 'db' }, stringData: { password } }));
  const secondPassword = 'tr0ub4dor&3';
  const key1 = { name: 'key1', secret: crypto.randomBytes(32) };
  const key2 = { name: 'key2', secret: crypto.randomBytes(32) };

  /** Every value etcd holds for a key: current and historical, read straight from etcd. */
  async function etcdValues(key: string, revisions: number[]): Promise<Buffer[]> {
    const values: Buffer[] = [];
    for (const revision of revisions) {
      const response = await raw.kv.range({ key: Buffer.from(`${NAMESPACE}${key}`), revision });
      values.push(...response.kvs.map((kv) => kv.value));
    }
    return values;
  }

  function expectSealed(value: Buffer, keyName: string): void {
    expect(value.subarray(0, `k8s:enc:aesgcm:v1:${keyName}:`.length).toString()).toBe(`k8s:enc:aesgcm:v1:${keyName}:`);
    for (const plain of [password, secondPassword, 'stringData', 'Secret']) {
      expect(value.includes(Buffer.from(plain))).toBe(false);
      expect(value.includes(Buffer.from(Buffer.from(plain).toString('base64').slice(0, 8)))).toBe(false);
    }
  }

  it('keeps only ciphertext in etcd for Secret keys, current and history, while the API reads plaintext', async () => {
    const secrets = encryptingStore(store, new SecretEnvelope([key1]), isSecret);
    const watch = record(secrets, SECRETS, await secrets.currentRevision());
    const created = await secrets.create(`${SECRETS}default/db`, secret);
    const second = Buffer.from(JSON.stringify({ kind: 'Secret', stringData: { password: secondPassword } }));
    const updated = await secrets.update(`${SECRETS}default/db`, second, created.modRevision);
    const configMap = Buffer.from(JSON.stringify({ kind: 'ConfigMap', data: { note: 'not secret' } }));
    await secrets.create('/registry/core/configmaps/default/cm', configMap);

    const stored = await etcdValues(`${SECRETS}default/db`, [created.modRevision, updated.modRevision]);
    expect(stored).toHaveLength(2);
    for (const value of stored) expectSealed(value, 'key1');
    expect(await raw.get(`${NAMESPACE}/registry/core/configmaps/default/cm`).buffer()).toEqual(configMap);
    // Every Secret value anywhere in the namespace.
    const all = await raw.getAll().prefix(`${NAMESPACE}${SECRETS}`).buffers();
    expect(Object.keys(all)).toEqual([`${NAMESPACE}${SECRETS}default/db`]);
    for (const value of Object.values(all)) expectSealed(value, 'key1');

    expect((await secrets.get(`${SECRETS}default/db`))?.value).toEqual(second);
    expect((await secrets.list(SECRETS)).items.map((kv) => kv.value)).toEqual([second]);
    const events = await settle(secrets, watch, SECRETS);
    expect(events.map((event) => [event.value?.toString(), event.prevValue?.toString()])).toEqual([
      [secret.toString(), undefined],
      [second.toString(), secret.toString()],
    ]);
    watch.close();
  });

  it('rotates to a new key: after the rewrite etcd holds only key2 ciphertext', async () => {
    const rotated = new SecretEnvelope([key2, key1]);
    const secrets = encryptingStore(store, rotated, isSecret);
    await secrets.create(`${SECRETS}default/new`, secret);
    const keyNames = async () =>
      Object.values(await raw.getAll().prefix(`${NAMESPACE}${SECRETS}`).buffers()).map((value) => /^k8s:enc:aesgcm:v1:([^:]+):/.exec(value.toString('latin1'))?.[1]);
    // default/db and the previous test's watch sentinel on key1, default/new on key2.
    expect((await keyNames()).sort()).toEqual(['key1', 'key1', 'key2']);
    expect(await rewriteWithCurrentKey(store, SECRETS, rotated)).toEqual({ rewritten: 2 });
    expect(await keyNames()).toEqual(['key2', 'key2', 'key2']);
    for (const value of Object.values(await raw.getAll().prefix(`${NAMESPACE}${SECRETS}`).buffers())) expectSealed(value, 'key2');
    const onlyKey2 = encryptingStore(store, new SecretEnvelope([key2]), isSecret);
    expect((await onlyKey2.get(`${SECRETS}default/new`))?.value).toEqual(secret);
    expect((await onlyKey2.list(SECRETS)).items).toHaveLength(3);
  });
});
