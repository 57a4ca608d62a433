// Lists: label/field selectors, limit/continue pagination with every page read at the first page's revision
// (so pages are consistent), and resourceVersion/resourceVersionMatch semantics.
import type { KubeList, KubeObject } from '../../apis/meta/types.ts';
import { badRequest, expired } from '../errors.ts';
import { parseFieldSelector } from '../selectors/field-selector.ts';
import { parseLabelSelector } from '../selectors/label-selector.ts';
import { isStorageError, type Store } from '../storage/types.ts';
import { decodeKeyValue } from './codec.ts';
import { apiVersionOf, listPrefix, objectKey, type ResourceInfo } from './resource.ts';

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

/**
 * What a list or watch covers: the key prefix of the request's namespace (or of the one a
 * `metadata.namespace=` field selector pins), and `exactKey` when a `metadata.name=` selector names a single
 * object there (kubectl wait, get <name> -w), so one key is read instead of scanning the kind.
 */
export interface ListScope {
  prefix: string;
  exactKey?: string;
  matches(object: KubeObject): boolean;
}

/** Parses the selectors (400 on bad ones) and works out the namespace, key prefix and single key they cover. */
export function listScope(resource: ResourceInfo, namespace: string | undefined, labelSelector: string | undefined, fieldSelector: string | undefined): ListScope {
  const labels = parseLabelSelector(labelSelector);
  const fields = parseFieldSelector(fieldSelector, resource.selectableFields);
  const effectiveNamespace = namespace ?? (resource.namespaced ? fields.exactNamespace : undefined);
  const single = fields.exactName && (effectiveNamespace || !resource.namespaced);
  return {
    prefix: listPrefix(resource, effectiveNamespace),
    ...(single ? { exactKey: objectKey(resource, effectiveNamespace, fields.exactName!) } : {}),
    matches: (object) => labels(object.metadata.labels) && fields.matches(object),
  };
}

interface ContinueToken {
  v: 'meta.k8s.io/v1';
  rv: number;
  /** The key to continue after, relative to the list prefix. */
  start: string;
}

const STORAGE_PAGE = 500;

export function encodeContinue(revision: number, startAfterRelative: string): string {
  const token: ContinueToken = { v: 'meta.k8s.io/v1', rv: revision, start: startAfterRelative };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(value: string): ContinueToken {
  try {
    const token = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as ContinueToken;
    if (token.v !== 'meta.k8s.io/v1' || !Number.isSafeInteger(token.rv) || token.rv <= 0 || typeof token.start !== 'string' || token.start.includes('..')) throw new Error('bad');
    return token;
  } catch {
    throw badRequest('continue key is not valid: the continue token is malformed');
  }
}

export function parseResourceVersion(value: string | undefined, what = 'resourceVersion'): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw badRequest(`invalid ${what}: ${JSON.stringify(value)} is not a valid resource version`);
  return Number(value);
}

/** Checks resourceVersion/resourceVersionMatch/continue combinations the way Kubernetes does (400 otherwise). */
export function validateListQuery(query: ListQuery): void {
  if (query.continue && query.resourceVersion && query.resourceVersion !== '0') throw badRequest('specifying resource version is not allowed when using continue');
  const requested = parseResourceVersion(query.resourceVersion);
  const match = query.resourceVersionMatch;
  if (match !== undefined && match !== '' && !['Exact', 'NotOlderThan'].includes(match)) throw badRequest(`resourceVersionMatch: unsupported value ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
  if (match && requested === undefined) throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
  if (match === 'Exact' && !requested) throw badRequest('resourceVersionMatch "Exact" is forbidden for resourceVersion "0"');
}

/** A list read from storage (at a revision when continuing or asked for an exact one). */
export async function listFromStorage(store: Store, resource: ResourceInfo, namespace: string | undefined, query: ListQuery): Promise<KubeList> {
  const { prefix, exactKey, matches } = listScope(resource, namespace, query.labelSelector, query.fieldSelector);
  const limit = query.limit && query.limit > 0 ? query.limit : 0;

  let revision: number | undefined;
  let startAfter: string | undefined;
  if (query.continue) {
    const token = decodeContinue(query.continue);
    revision = token.rv;
    startAfter = prefix + token.start;
  } else if (query.resourceVersionMatch === 'Exact') {
    revision = parseResourceVersion(query.resourceVersion);
  }

  // One named object: the revision is taken before the read, so a watch from it can only repeat a change,
  // never miss one.
  if (exactKey && revision === undefined) {
    const listRevision = await store.currentRevision();
    const kv = await store.get(exactKey);
    const object = kv ? decodeKeyValue(kv, resource) : undefined;
    const items = object && matches(object) ? [object] : [];
    return { apiVersion: apiVersionOf(resource), kind: resource.listKind, metadata: { resourceVersion: String(listRevision) }, items };
  }
  const items: KubeObject[] = [];
  let continueToken: string | undefined;
  try {
    for (;;) {
      const page = await store.list(prefix, { limit: STORAGE_PAGE, startAfter, revision });
      revision = page.revision;
      for (let index = 0; index < page.items.length; index++) {
        const kv = page.items[index];
        const object = decodeKeyValue(kv, resource);
        if (!matches(object)) continue;
        items.push(object);
        if (limit && items.length === limit) {
          const moreHere = index < page.items.length - 1 || page.more;
          if (moreHere) continueToken = encodeContinue(revision, kv.key.slice(prefix.length));
          break;
        }
      }
      if ((limit && items.length === limit) || !page.more || page.items.length === 0) break;
      startAfter = page.items[page.items.length - 1].key;
    }
  } catch (error) {
    if (isStorageError(error, 'Compacted')) {
      throw expired(
        query.continue
          ? 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'
          : `too old resource version: ${revision} (${error.revision ?? 0})`,
      );
    }
    throw error;
  }
  const metadata: KubeList['metadata'] = { resourceVersion: String(revision) };
  if (continueToken) metadata.continue = continueToken;
  return { apiVersion: apiVersionOf(resource), kind: resource.listKind, metadata, items };
}
