// Updates start from the watch cache's copy of the object instead of reading storage (as Kubernetes'
// GuaranteedUpdate does). The cache may lag: every decision the copy alone would make must be taken again from
// storage, so a stale copy can cost a retry but never lose a write, answer a false 409 or 422, or report
// "nothing to change" while storage holds something else. Here the "cache" is a lookup the test controls,
// holding an old version of the object on purpose.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { openEmbeddedStore } from '../storage/embedded.ts';
import type { Store } from '../storage/types.ts';
import { defaultWriteOptions } from './admit.ts';
import { builtinResources } from './builtins/index.ts';
import { decodeKeyValue } from './codec.ts';
import { ObjectStore } from './object-store.ts';
import { objectKey, type ResourceInfo } from './resource.ts';

const configMaps = builtinResources().find((resource) => resource.plural === 'configmaps' && resource.group === '')! as ResourceInfo;
const NS = 'default';

let store: Store;
/** What the "watch cache" answers for a key: set by each test. */
let cachedCopies: Map<string, { object: KubeObject; revision: number }>;
let reads: number;
let cachedObjects: ObjectStore;
let plainObjects: ObjectStore;

beforeEach(() => {
  store = openEmbeddedStore({ path: ':memory:' });
  reads = 0;
  // Every call goes to the one store (its revision counter included); reads are counted.
  const counted = new Proxy(store, {
    get: (target, property) => {
      if (property === 'get') return (key: string) => (reads++, target.get(key));
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  cachedCopies = new Map();
  cachedObjects = new ObjectStore(counted, undefined, (key) => cachedCopies.get(key));
  plainObjects = new ObjectStore(store);
});

afterEach(async () => {
  await store.close();
});

const configMap = (data: Record<string, string>, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: NS, ...extra }, data } as KubeObject);

/** Remembers the stored object as the cache's (current now, stale after the next write). */
async function snapshot(): Promise<void> {
  const key = objectKey(configMaps, NS, 'cm');
  const kv = (await store.get(key))!;
  cachedCopies.set(key, { object: decodeKeyValue(kv, configMaps), revision: kv.modRevision });
}

/** A write the cache has not seen yet. */
async function writeBehindTheCache(data: Record<string, string>): Promise<KubeObject> {
  return plainObjects.update(configMaps, NS, 'cm', configMap(data), defaultWriteOptions());
}

const stored = async () => (await plainObjects.get(configMaps, NS, 'cm')) as KubeObject & { data: Record<string, string> };

describe('updates from the watch cache copy', () => {
  it('writes without reading storage when the copy is current', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    const written = await cachedObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => ({ ...current, data: { a: '2' } } as KubeObject));
    expect(reads).toBe(0);
    expect((written as { data?: object }).data).toEqual({ a: '2' });
    expect((await stored()).data).toEqual({ a: '2' });
  });

  it('applies a change on top of what storage holds when the copy is stale (nothing lost)', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    await writeBehindTheCache({ a: '1', b: 'behind' });
    await cachedObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => ({ ...current, data: { ...(current as unknown as { data: object }).data, c: 'mine' } } as KubeObject));
    expect(reads).toBe(1); // the compare-and-swap on the stale revision failed, then storage was read
    expect((await stored()).data).toEqual({ a: '1', b: 'behind', c: 'mine' });
  });

  it('writes a change that is "nothing to do" only on the stale copy', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    await writeBehindTheCache({ a: 'changed' });
    // The client wants a=1: the stale copy already says so, storage does not.
    await cachedObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => ({ ...current, data: { a: '1' } } as KubeObject));
    expect((await stored()).data).toEqual({ a: '1' });
  });

  it("honours a resourceVersion precondition against storage, not against the stale copy", async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    const latest = await writeBehindTheCache({ a: '2' });
    // Current in storage: accepted, though the copy has an older resourceVersion.
    const accepted = await cachedObjects.update(configMaps, NS, 'cm', configMap({ a: '3' }, { resourceVersion: latest.metadata.resourceVersion }), defaultWriteOptions());
    expect((accepted as { data?: object }).data).toEqual({ a: '3' });
    // The copy's (stale) resourceVersion: a real conflict, 409.
    const staleVersion = [...cachedCopies.values()][0].object.metadata.resourceVersion;
    await expect(cachedObjects.update(configMaps, NS, 'cm', configMap({ a: '4' }, { resourceVersion: staleVersion }), defaultWriteOptions())).rejects.toMatchObject({ code: 409 });
    expect((await stored()).data).toEqual({ a: '3' });
  });

  it('answers a dry run from storage, not from the copy, and writes nothing', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    await writeBehindTheCache({ a: '1', b: 'behind' });
    const answer = await cachedObjects.guaranteedUpdate(configMaps, NS, 'cm', { ...defaultWriteOptions(), dryRun: true }, (current) => ({ ...current, data: { ...(current as unknown as { data: object }).data, c: 'dry' } } as KubeObject));
    expect((answer as { data?: object }).data).toEqual({ a: '1', b: 'behind', c: 'dry' });
    expect(reads).toBe(1);
    expect((await stored()).data).toEqual({ a: '1', b: 'behind' });
  });

  it('reads storage when the copy is missing, and answers 404 for an object that is gone', async () => {
    await expect(cachedObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => current)).rejects.toMatchObject({ code: 404 });
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    await plainObjects.delete(configMaps, NS, 'cm', {}, defaultWriteOptions());
    // The copy still has it; storage does not.
    await expect(cachedObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => ({ ...current, data: { a: '2' } } as KubeObject))).rejects.toMatchObject({ code: 404 });
  });

  it('never modifies the cache copy it started from', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    const copy = [...cachedCopies.values()][0].object;
    const before = JSON.stringify(copy);
    await cachedObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => ({ ...current, metadata: { ...current.metadata, labels: { x: 'y' } }, data: { a: '2' } } as KubeObject));
    expect(JSON.stringify(copy)).toBe(before);
  });
});

describe('deletes from the watch cache copy', () => {
  it('deletes without reading storage when the copy is current, and answers with the object deleted', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    const result = await cachedObjects.delete(configMaps, NS, 'cm', {}, defaultWriteOptions());
    expect(reads).toBe(0);
    expect(result.deleted).toBe(true);
    expect((result.object as { data?: object }).data).toEqual({ a: '1' });
    expect(await store.get(objectKey(configMaps, NS, 'cm'))).toBeFalsy();
  });

  it('deletes what storage holds when the copy is stale, and answers with that', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    await writeBehindTheCache({ a: 'behind' });
    const result = await cachedObjects.delete(configMaps, NS, 'cm', {}, defaultWriteOptions());
    expect(reads).toBe(1); // the compare-and-swap on the stale revision failed, then storage was read
    expect((result.object as { data?: object }).data).toEqual({ a: 'behind' });
    expect(await store.get(objectKey(configMaps, NS, 'cm'))).toBeFalsy();
  });

  it('judges preconditions against storage, not against the stale copy', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    const latest = await writeBehindTheCache({ a: '2' });
    const staleVersion = [...cachedCopies.values()][0]!.object.metadata.resourceVersion;
    // The copy's (stale) resourceVersion: a real conflict, decided by storage; nothing deleted.
    await expect(cachedObjects.delete(configMaps, NS, 'cm', { preconditions: { resourceVersion: staleVersion } }, defaultWriteOptions())).rejects.toMatchObject({ code: 409 });
    expect(await store.get(objectKey(configMaps, NS, 'cm'))).toBeTruthy();
    // Storage's resourceVersion: accepted, though the copy disagrees.
    const result = await cachedObjects.delete(configMaps, NS, 'cm', { preconditions: { resourceVersion: latest.metadata.resourceVersion } }, defaultWriteOptions());
    expect(result.deleted).toBe(true);
  });

  it('answers 404 for an object the copy still has but storage does not', async () => {
    await plainObjects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await snapshot();
    await plainObjects.delete(configMaps, NS, 'cm', {}, defaultWriteOptions());
    await expect(cachedObjects.delete(configMaps, NS, 'cm', {}, defaultWriteOptions())).rejects.toMatchObject({ code: 404 });
  });

  it('marks an object with finalizers deleting on top of storage, and a dry run reads storage and deletes nothing', async () => {
    await plainObjects.create(configMaps, NS, { ...configMap({ a: '1' }), metadata: { name: 'cm', namespace: NS, finalizers: ['example.com/hold'] } } as KubeObject, defaultWriteOptions());
    await snapshot();
    // A write the cache has not seen, keeping the finalizer.
    await plainObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => ({ ...current, data: { a: 'behind' } }) as KubeObject);
    const dry = await cachedObjects.delete(configMaps, NS, 'cm', {}, { ...defaultWriteOptions(), dryRun: true });
    expect(reads).toBe(1);
    expect(dry.deleted).toBe(false);
    expect((await stored()).metadata.deletionTimestamp).toBeUndefined();
    const marked = await cachedObjects.delete(configMaps, NS, 'cm', {}, defaultWriteOptions());
    expect(marked.deleted).toBe(false);
    const held = await stored();
    expect(held.metadata.deletionTimestamp).toBeDefined();
    expect(held.data).toEqual({ a: 'behind' });
    // Already deleting in a copy the cache holds: still answered from storage (no write to vouch for the copy).
    await snapshot();
    await plainObjects.guaranteedUpdate(configMaps, NS, 'cm', defaultWriteOptions(), (current) => ({ ...current, data: { a: 'later' } }) as KubeObject);
    const again = await cachedObjects.delete(configMaps, NS, 'cm', {}, defaultWriteOptions());
    expect((again.object as { data?: object }).data).toEqual({ a: 'later' });
  });
});
