// Where reads are served from. The watch cache answers lists (and gets that name a resourceVersion) without
// touching storage — consistently: a list without resourceVersion first learns the store's current
// revision and waits until the cache has caught up to it, so it never returns older data than etcd would.
// Continued pages and exact-revision reads go to storage, at the revision the first page was served at
// (the cache's state at revision R is exactly the store's state at R, so the pages agree).
import type { KubeList, KubeObject } from '../../apis/meta/types.ts';
import { ApiError, notFound } from '../errors.ts';
import type { Store } from '../storage/types.ts';
import type { WatchCache } from '../watch/cache.ts';
import { decodeKeyValue } from './codec.ts';
import { encodeContinue, listFromStorage, listScope, parseResourceVersion, validateListQuery, type ListQuery } from './list.ts';
import { apiVersionOf, fromStorage, objectKey, type ResourceInfo } from './resource.ts';

/** How long a read waits for the cache to reach a revision before giving up (Kubernetes: 3 s). */
const FRESHNESS_WAIT_MS = 3000;

function tooLargeResourceVersion(requested: number, current: number): ApiError {
  return new ApiError(504, 'Timeout', `Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

export class Reader {
  constructor(
    private readonly store: Store,
    private readonly cache: WatchCache,
  ) {}

  async list(resource: ResourceInfo, namespace: string | undefined, query: ListQuery): Promise<KubeList> {
    validateListQuery(query);
    if (query.continue || query.resourceVersionMatch === 'Exact' || !this.cache.ready) return listFromStorage(this.store, resource, namespace, query);
    const requested = parseResourceVersion(query.resourceVersion);
    // No resourceVersion: a consistent read, as fresh as the store right now. "0": whatever the cache has.
    const target = requested === undefined ? await this.store.currentRevision() : requested;
    if (target > 0 && !(await this.cache.waitForRevision(target, FRESHNESS_WAIT_MS))) {
      if (requested === undefined) return listFromStorage(this.store, resource, namespace, query);
      throw tooLargeResourceVersion(requested, this.cache.revision);
    }
    return this.listFromCache(resource, namespace, query);
  }

  /** Synchronous from here on: the snapshot and its revision belong together. */
  private listFromCache(resource: ResourceInfo, namespace: string | undefined, query: ListQuery): KubeList {
    const { prefix, exactKey, matches } = listScope(resource, namespace, query.labelSelector, query.fieldSelector);
    const limit = query.limit && query.limit > 0 ? query.limit : 0;
    const revision = this.cache.revision;
    // Read lazily: a page (limit) reads up to one object past it, not the whole collection.
    const entries = exactKey ? [this.cache.get(exactKey)].filter((entry) => entry !== undefined) : this.cache.entries(prefix);
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    for (const entry of entries) {
      const object = fromStorage(resource, entry.object);
      if (!matches(object)) continue;
      if (limit && items.length === limit) {
        const last = items[items.length - 1];
        continueToken = encodeContinue(revision, objectKey(resource, last.metadata.namespace, last.metadata.name!).slice(prefix.length));
        break;
      }
      items.push(object);
    }
    const metadata: KubeList['metadata'] = { resourceVersion: String(revision) };
    if (continueToken) metadata.continue = continueToken;
    return { apiVersion: apiVersionOf(resource), kind: resource.listKind, metadata, items };
  }

  /** A get: from storage unless a resourceVersion says an older-or-equal cached state is acceptable. */
  async get(resource: ResourceInfo, namespace: string | undefined, name: string, resourceVersion?: string): Promise<KubeObject> {
    const requested = parseResourceVersion(resourceVersion);
    const key = objectKey(resource, namespace, name);
    if (requested === undefined || !this.cache.ready) {
      const kv = await this.store.get(key);
      if (!kv) throw notFound(resource.plural, resource.group, name);
      // Storage says which write is current; when the cache holds that very write (same key and modRevision,
      // so the same bytes), its decoded copy is the answer — and its JSON, kept with it — instead of parsing
      // the value again (a GET's decode and encode were ~6% of its CPU). The cache's objects are shared and
      // never modified, as for the reads above that name a resourceVersion.
      const cached = this.cache.get(key);
      if (cached && cached.revision === kv.modRevision) return fromStorage(resource, cached.object);
      return decodeKeyValue(kv, resource);
    }
    if (requested > 0 && !(await this.cache.waitForRevision(requested, FRESHNESS_WAIT_MS))) throw tooLargeResourceVersion(requested, this.cache.revision);
    const entry = this.cache.get(key);
    if (!entry) throw notFound(resource.plural, resource.group, name);
    return fromStorage(resource, entry.object);
  }
}
