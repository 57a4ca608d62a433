// The one lookup every admission plugin reads other objects through: the watch cache (no storage round trip
// per write), with a get that misses confirmed in storage, because the cache may not have caught up with an
// object created a moment ago (a namespace, then at once an object in it). Objects come in their stored form;
// the kinds admission reads have no conversion.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import { listPrefix, objectKey } from '../registry/resource.ts';
import type { Store } from '../storage/types.ts';
import type { WatchCache } from '../watch/cache.ts';
import type { AdmissionLookup } from './chain.ts';

export function watchCacheLookup(registry: ResourceRegistry, cache: WatchCache, store: Store): AdmissionLookup {
  return {
    async get({ group, plural }, namespace, name) {
      const resource = registry.byGroupResource(group, plural);
      if (!resource) return undefined;
      const key = objectKey(resource, namespace, name);
      const cached = cache.get(key)?.object;
      if (cached) return cached;
      const kv = await store.get(key);
      return kv ? (JSON.parse(kv.value.toString('utf8')) as KubeObject) : undefined;
    },
    cached({ group, plural }, namespace, name) {
      const resource = registry.byGroupResource(group, plural);
      return resource ? cache.get(objectKey(resource, namespace, name))?.object : undefined;
    },
    async list({ group, plural }, namespace) {
      const resource = registry.byGroupResource(group, plural);
      return resource ? cache.list(listPrefix(resource, namespace)).map((entry) => entry.object) : [];
    },
  };
}
