// A get without a resourceVersion must be as fresh as storage. It reads storage, and answers with the watch
// cache's decoded copy only when the cache holds the very write storage returned (same modRevision); a cache
// that lags (or holds nothing) never answers. Here the "cache" is a stand-in the test controls.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { openEmbeddedStore } from '../storage/embedded.ts';
import type { Store } from '../storage/types.ts';
import type { CacheEntry, WatchCache } from '../watch/cache.ts';
import { defaultWriteOptions } from './admit.ts';
import { builtinResources } from './builtins/index.ts';
import { codecCounts, decodeKeyValue } from './codec.ts';
import { ObjectStore } from './object-store.ts';
import { Reader } from './reads.ts';
import { objectKey, type ResourceInfo } from './resource.ts';

const configMaps = builtinResources().find((resource) => resource.plural === 'configmaps' && resource.group === '')! as ResourceInfo;
const NS = 'default';
const KEY = objectKey(configMaps, NS, 'cm');

let store: Store;
let objects: ObjectStore;
let cached: Map<string, CacheEntry>;
let reader: Reader;

beforeEach(() => {
  store = openEmbeddedStore({ path: ':memory:' });
  objects = new ObjectStore(store);
  cached = new Map();
  const cache = { ready: true, get: (key: string) => cached.get(key) } as unknown as WatchCache;
  reader = new Reader(store, cache);
});

afterEach(async () => {
  await store.close();
});

const configMap = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: NS }, data }) as KubeObject;

/** The cache takes the stored object as it is now. */
async function cacheTakesCurrent(): Promise<CacheEntry> {
  const kv = (await store.get(KEY))!;
  const entry = { object: decodeKeyValue(kv, configMaps), revision: kv.modRevision };
  cached.set(KEY, entry);
  return entry;
}

describe('a get without a resourceVersion', () => {
  it('answers with the cache\'s copy, decoding nothing, when the cache holds the revision storage has', async () => {
    await objects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    const entry = await cacheTakesCurrent();
    const decodes = codecCounts.decode;
    const got = await reader.get(configMaps, NS, 'cm');
    expect(got).toBe(entry.object);
    expect(codecCounts.decode).toBe(decodes);
  });

  it('decodes storage\'s value when the cache lags behind it', async () => {
    await objects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    const stale = await cacheTakesCurrent();
    const updated = await objects.update(configMaps, NS, 'cm', configMap({ a: '2' }), defaultWriteOptions());
    const got = (await reader.get(configMaps, NS, 'cm')) as KubeObject & { data: Record<string, string> };
    expect(got).not.toBe(stale.object);
    expect(got.data).toEqual({ a: '2' });
    expect(got.metadata.resourceVersion).toBe(updated.metadata.resourceVersion);
  });

  it('is a 404 when storage has no such object, whatever the cache still holds', async () => {
    await objects.create(configMaps, NS, configMap({ a: '1' }), defaultWriteOptions());
    await cacheTakesCurrent();
    await store.delete(KEY);
    await expect(reader.get(configMaps, NS, 'cm')).rejects.toMatchObject({ code: 404 });
  });
});
