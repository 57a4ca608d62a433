import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../../test/env/process.ts';
import { describeStoreConformance, record, settle } from '../../test/storage/conformance.ts';
import { openEmbeddedStore } from '../storage/embedded.ts';
import { isStorageError, type KeyValue, type Store } from '../storage/types.ts';
import { AESGCM_PREFIX, DecryptionError, encryptionKeyNameOf, SecretEnvelope } from './envelope.ts';
import { addKey, createKeyFile, loadEncryptionKeys, removeKey } from './keys.ts';
import { encryptingStore, rewriteWithCurrentKey } from './store.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-encryption-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let files = 0;
const tempPath = (name: string) => path.join(root, `${++files}-${name}`);

const SECRETS = '/registry/core/secrets/';
const isSecret = (key: string) => key.startsWith(SECRETS);
const secretKey = (name: string) => `${SECRETS}default/${name}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const key = (name: string) => ({ name, secret: crypto.randomBytes(32) });

const stores: Store[] = [];
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
});
function openRaw(): Store {
  const store = openEmbeddedStore({ path: tempPath('store.db') });
  stores.push(store);
  return store;
}

// The decorator must keep the whole Store contract (here with every value encrypted).
describeStoreConformance('encryptingStore over embedded', async () => {
  const file = tempPath('conformance.db');
  const envelope = new SecretEnvelope([key('key1')]);
  let raw = openEmbeddedStore({ path: file });
  return {
    store: encryptingStore(raw, envelope, () => true),
    restart: async () => {
      await raw.close();
      raw = openEmbeddedStore({ path: file });
      return encryptingStore(raw, envelope, () => true);
    },
    cleanup: () => raw.close(),
  };
});

describe('encryptingStore', () => {
  it('stores Secrets encrypted (bound to their key) and everything else as it is', async () => {
    const raw = openRaw();
    const envelope = new SecretEnvelope([key('key1')]);
    const store = encryptingStore(raw, envelope, isSecret);
    const rawWatch = record(raw, '/registry', await raw.currentRevision());
    const watch = record(store, '/registry', await raw.currentRevision());

    const secret = json({ kind: 'Secret', data: { password: 'aHVudGVyMg==' } });
    const created = await store.create(secretKey('db'), secret);
    expect(created.value).toEqual(secret);
    const stored = (await raw.get(secretKey('db')))!;
    expect(stored.value.subarray(0, AESGCM_PREFIX.length).toString()).toBe(AESGCM_PREFIX);
    expect(encryptionKeyNameOf(stored.value)).toBe('key1');
    expect(stored.value.includes(Buffer.from('aHVudGVyMg=='))).toBe(false);
    expect(stored.modRevision).toBe(created.modRevision);

    const config = json({ kind: 'ConfigMap', data: { a: 'b' } });
    await store.create('/registry/core/configmaps/default/cm', config);
    expect((await raw.get('/registry/core/configmaps/default/cm'))?.value).toEqual(config);

    expect(await store.get(secretKey('db'))).toEqual(created);
    const secret2 = json({ kind: 'Secret', data: { password: 'bmV3' } });
    const updated = await store.update(secretKey('db'), secret2, created.modRevision);
    expect(updated.value).toEqual(secret2);
    expect((await store.list(SECRETS)).items).toEqual([updated]);
    expect((await store.list('/registry')).items.map((kv) => kv.value)).toEqual([config, secret2]);
    const deleted = await store.delete(secretKey('db'));
    expect(deleted.deleted).toEqual(updated);

    const events = await settle(store, watch, '/registry/other');
    expect(events.map((event) => [event.type, event.key, event.value?.toString(), event.prevValue?.toString()])).toEqual([
      ['put', secretKey('db'), secret.toString(), undefined],
      ['put', '/registry/core/configmaps/default/cm', config.toString(), undefined],
      ['put', secretKey('db'), secret2.toString(), secret.toString()],
      ['delete', secretKey('db'), undefined, secret2.toString()],
    ]);
    watch.close();
    const rawEvents = (await settle(raw, rawWatch, '/registry/other')).filter((event) => event.key === secretKey('db'));
    for (const event of rawEvents) {
      for (const value of [event.value, event.prevValue]) if (value) expect(value.subarray(0, 8).toString()).toBe('k8s:enc:');
    }
    rawWatch.close();

    // A ciphertext copied to another Secret's key does not decrypt there.
    await raw.create(secretKey('copy'), stored.value);
    await expect(store.get(secretKey('copy'))).rejects.toThrow(DecryptionError);
    await expect(store.list(SECRETS)).rejects.toThrow(`cannot decrypt ${secretKey('copy')} with key "key1": authentication failed`);
  });

  it('reads Secrets written before encryption was enabled, and the rewrite encrypts them', async () => {
    const raw = openRaw();
    const plain = json({ kind: 'Secret', data: { token: 'b2xk' } });
    await raw.create(secretKey('old'), plain);
    const envelope = new SecretEnvelope([key('key1')]);
    const store = encryptingStore(raw, envelope, isSecret);
    expect((await store.get(secretKey('old')))?.value).toEqual(plain);

    expect(await rewriteWithCurrentKey(raw, SECRETS, envelope)).toEqual({ rewritten: 1 });
    expect(encryptionKeyNameOf((await raw.get(secretKey('old')))!.value)).toBe('key1');
    expect((await store.get(secretKey('old')))?.value).toEqual(plain);
    expect(await rewriteWithCurrentKey(raw, SECRETS, envelope)).toEqual({ rewritten: 0 });
  });

  it('rotates keys end to end: write with key1, add key2, rewrite, remove key1, read back', async () => {
    const raw = openRaw();
    const keyFile = path.join(tempPath('home'), 'encryption.yaml');
    createKeyFile(keyFile);
    const before = encryptingStore(raw, new SecretEnvelope(loadEncryptionKeys(keyFile)), isSecret);
    const values = new Map<string, Buffer>();
    for (let i = 0; i < 7; i++) {
      values.set(secretKey(`s${i}`), json({ kind: 'Secret', data: { n: String(i) } }));
      await before.create(secretKey(`s${i}`), values.get(secretKey(`s${i}`))!);
    }
    const configMap = await before.create('/registry/core/configmaps/default/cm', json({ kind: 'ConfigMap' }));

    // Step 1: a new key, first in the file. Every server reloads; new writes use key2, old values still read.
    expect(addKey(keyFile)).toBe('key2');
    const envelope2 = new SecretEnvelope(loadEncryptionKeys(keyFile));
    const during = encryptingStore(raw, envelope2, isSecret);
    values.set(secretKey('s7'), json({ kind: 'Secret', data: { n: '7' } }));
    await during.create(secretKey('s7'), values.get(secretKey('s7'))!);
    const keysInUse = async () => (await raw.list(SECRETS)).items.map((kv) => encryptionKeyNameOf(kv.value));
    expect(await keysInUse()).toEqual([...Array(7).fill('key1'), 'key2']);
    expect((await during.list(SECRETS)).items.map((kv) => kv.value)).toEqual([...values.values()]);

    // Step 2: rewrite, through the decorated store (unwrapped) and without touching anything else.
    expect(await rewriteWithCurrentKey(during, SECRETS, envelope2)).toEqual({ rewritten: 7 });
    expect(await keysInUse()).toEqual(Array(8).fill('key2'));
    expect(await raw.get('/registry/core/configmaps/default/cm')).toEqual(configMap);
    // A server that never loaded key2 could not read them now (which is why step 1 comes first).
    await expect(before.get(secretKey('s0'))).rejects.toThrow('encrypted with key "key2", which is not among the configured keys (key1)');

    // Step 3: key1 goes; everything still reads.
    removeKey(keyFile, 'key1');
    expect(loadEncryptionKeys(keyFile).map((k) => k.name)).toEqual(['key2']);
    const after = encryptingStore(raw, new SecretEnvelope(loadEncryptionKeys(keyFile)), isSecret);
    const items = (await after.list(SECRETS)).items;
    expect(new Map(items.map((kv) => [kv.key, kv.value]))).toEqual(values);
    for (const name of values.keys()) expect((await after.get(name))?.value).toEqual(values.get(name));
  });

  it('rewrites under concurrent writes: retries on Conflict, skips what was deleted or already rewritten', async () => {
    const raw = openRaw();
    const key1 = key('key1');
    const key2 = key('key2');
    const oldServer = encryptingStore(raw, new SecretEnvelope([key1]), isSecret);
    for (const name of ['deleted', 'racing-new', 'racing-old', 'quiet']) await oldServer.create(secretKey(name), json({ name }));
    const envelope = new SecretEnvelope([key2, key1]);
    const newServer = encryptingStore(raw, envelope, isSecret);

    // Just before the rewrite's compare-and-swap on a key, someone else writes it.
    const interfere: Record<string, () => Promise<unknown>> = {
      [secretKey('deleted')]: () => newServer.delete(secretKey('deleted')),
      // A server already on key2 updates it: nothing left to do.
      [secretKey('racing-new')]: async () => newServer.update(secretKey('racing-new'), json({ v: 2 }), (await raw.get(secretKey('racing-new')))!.modRevision),
      // A server still on key1 updates it: rewritten on the retry.
      [secretKey('racing-old')]: async () => oldServer.update(secretKey('racing-old'), json({ v: 3 }), (await raw.get(secretKey('racing-old')))!.modRevision),
    };
    const updates: string[] = [];
    const update = async (name: string, value: Buffer, expected: number): Promise<KeyValue> => {
      updates.push(name);
      const interference = interfere[name];
      delete interfere[name];
      await interference?.();
      return raw.update(name, value, expected);
    };
    const meddling = new Proxy(raw, {
      get: (target, property) => {
        if (property === 'update') return update;
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    expect(await rewriteWithCurrentKey(meddling, SECRETS, envelope)).toEqual({ rewritten: 2 });
    expect(updates).toEqual([secretKey('deleted'), secretKey('quiet'), secretKey('racing-new'), secretKey('racing-old'), secretKey('racing-old')]);
    expect(await raw.get(secretKey('deleted'))).toBeNull();
    expect((await raw.list(SECRETS)).items.map((kv) => [kv.key, encryptionKeyNameOf(kv.value)])).toEqual([
      [secretKey('quiet'), 'key2'],
      [secretKey('racing-new'), 'key2'],
      [secretKey('racing-old'), 'key2'],
    ]);
    expect((await newServer.get(secretKey('racing-old')))?.value).toEqual(json({ v: 3 }));
    expect((await newServer.get(secretKey('racing-new')))?.value).toEqual(json({ v: 2 }));
  });

  it('stops the rewrite at a value no key can read, naming it', async () => {
    const raw = openRaw();
    await encryptingStore(raw, new SecretEnvelope([key('lost')]), isSecret).create(secretKey('a'), json({}));
    const envelope = new SecretEnvelope([key('key1')]);
    await expect(rewriteWithCurrentKey(raw, SECRETS, envelope)).rejects.toThrow(
      `cannot decrypt ${secretKey('a')}: it was encrypted with key "lost", which is not among the configured keys (key1)`,
    );
  });

  it('ends a watch that meets an undecryptable value, after delivering what came before it', async () => {
    const raw = openRaw();
    const store = encryptingStore(raw, new SecretEnvelope([key('key1')]), isSecret);
    const watch = record(store, SECRETS, await raw.currentRevision());
    const first = await store.create(secretKey('a'), json({ ok: true }));
    await waitFor('the first event', () => watch.events.length === 1);
    await raw.create(secretKey('b'), Buffer.from('k8s:enc:aesgcm:v1:gone:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'));
    await store.create(secretKey('c'), json({ ok: true }));
    await waitFor('the watch to end', () => watch.errors.length > 0);
    expect(watch.events.map((event) => event.modRevision)).toEqual([first.modRevision]);
    expect(watch.errors).toHaveLength(1);
    expect(isStorageError(watch.errors[0], 'Unavailable')).toBe(true);
    expect(watch.errors[0].message).toContain(`watch ${SECRETS}: cannot decrypt ${secretKey('b')}: it was encrypted with key "gone"`);
    // Ended for good: nothing more arrives, and requests are ignored.
    watch.requestProgress();
    await store.create(secretKey('d'), json({}));
    const witness = record(store, '/registry/core/configmaps', 0);
    await settle(store, witness, '/registry/core/configmaps');
    witness.close();
    expect(watch.events).toHaveLength(1);
    expect(watch.errors).toHaveLength(1);
    expect(watch.progress).toEqual([]);
  });

  it('passes progress requests and reports through', async () => {
    const raw = openRaw();
    const store = encryptingStore(raw, new SecretEnvelope([key('key1')]), isSecret);
    const watch = record(store, SECRETS, await raw.currentRevision());
    const secret = await store.create(secretKey('a'), json({}));
    await store.create('/registry/core/configmaps/default/x', json({}));
    const progress = await watch.progressTo(await store.currentRevision());
    expect(progress.delivered).toEqual([secret.modRevision]);
    watch.close();
  });
});
