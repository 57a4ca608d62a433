// Strategic merge patch (application/strategic-merge-patch+json) for the built-in kinds kubectl has compiled-in
// Go types for (ConfigMap, Secret, Namespace, ServiceAccount, Event, Lease). Client-side `kubectl apply`
// (and kpt, and `kubectl apply --prune --applyset` adding its label to an existing object) always sends a
// strategic merge patch for those kinds, whatever OpenAPI says, so without this a changed ConfigMap cannot
// be re-applied (415). Custom resources have no patch strategies and keep refusing it with 415, as in
// Kubernetes.
//
// The semantics are apimachinery's strategicpatch.StrategicMergePatch for these kinds' fields:
// - objects merge key by key; null deletes; `$patch: replace` replaces the object, `$patch: delete` empties
//   it; `$retainKeys: [...]` drops the original's other keys first;
// - lists replace, except those whose Go field has `patchStrategy:"merge"` (PATCH_STRATEGIES below): lists of
//   scalars take the union (`$deleteFromPrimitiveList/<field>` removes values), lists of objects merge the
//   element with the same merge key (an element `{$patch: delete, <key>: …}` removes it, `$patch: replace`
//   replaces the whole list); `$setElementOrder/<field>` orders the result.
// Element order: original elements keep their places and new ones follow, unless $setElementOrder says
// otherwise (apimachinery interleaves patch and server-only elements; kubectl always sends the order
// directive when order matters).
import { isPlainObject } from '../schema/structural-schema.ts';
import { setOwn } from './merge-patch.ts';
import { cloneJson } from '../../lib/json-clone.ts';

export class StrategicMergePatchError extends Error {}

/** What apimachinery reads from the Go struct tags: a field's patch strategy and merge key, and its sub-fields. */
export interface PatchMeta {
  strategy?: 'merge';
  mergeKey?: string;
  /** Fields of an object, or of each element of a list of objects. */
  fields?: Record<string, PatchMeta>;
}

const OBJECT_META: PatchMeta = {
  fields: {
    finalizers: { strategy: 'merge' },
    ownerReferences: { strategy: 'merge', mergeKey: 'uid' },
  },
};

/** `<apiVersion>/<Kind>` → patch strategies of its fields, from k8s.io/api's struct tags. */
export const PATCH_STRATEGIES: Record<string, PatchMeta> = {
  'v1/ConfigMap': { fields: { metadata: OBJECT_META } },
  'v1/Secret': { fields: { metadata: OBJECT_META } },
  'v1/Namespace': { fields: { metadata: OBJECT_META, status: { fields: { conditions: { strategy: 'merge', mergeKey: 'type' } } } } },
  'v1/ServiceAccount': { fields: { metadata: OBJECT_META, secrets: { strategy: 'merge', mergeKey: 'name' } } },
  'v1/Event': { fields: { metadata: OBJECT_META } },
  'events.k8s.io/v1/Event': { fields: { metadata: OBJECT_META } },
  'coordination.k8s.io/v1/Lease': { fields: { metadata: OBJECT_META } },
};

const PATCH_DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';
const SET_ELEMENT_ORDER = '$setElementOrder/';

/** The patch strategies for a kind, or undefined when strategic merge patch does not apply to it (custom resources). */
export function patchStrategiesFor(apiVersion: string, kind: string): PatchMeta | undefined {
  return PATCH_STRATEGIES[`${apiVersion}/${kind}`];
}

export function applyStrategicMergePatch(original: unknown, patch: unknown, meta: PatchMeta): unknown {
  if (!isPlainObject(patch)) throw new StrategicMergePatchError('a strategic merge patch must be a JSON object');
  return mergeMap(isPlainObject(original) ? cloneJson(original) : {}, cloneJson(patch), meta);
}

type Obj = Record<string, unknown>;

/** A value taken from the patch as is: its nulls mean nothing (there is nothing under it to delete) and its directives are dropped. */
function cleaned(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cleaned);
  if (!isPlainObject(value)) return value;
  const out: Obj = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === null || key === PATCH_DIRECTIVE || key === RETAIN_KEYS || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue;
    setOwn(out, key, cleaned(item));
  }
  return out;
}

function mergeMap(original: Obj, patch: Obj, meta: PatchMeta | undefined): Obj {
  const directive = patch[PATCH_DIRECTIVE];
  if (directive !== undefined) {
    if (directive === 'replace') return cleaned(patch) as Obj;
    if (directive === 'delete') return {};
    throw new StrategicMergePatchError(`unknown patch type ${JSON.stringify(directive)} in a map`);
  }
  if (patch[RETAIN_KEYS] !== undefined) {
    const retain = patch[RETAIN_KEYS];
    if (!Array.isArray(retain) || !retain.every((key) => typeof key === 'string')) throw new StrategicMergePatchError('$retainKeys must be a list of field names');
    for (const key of Object.keys(original)) if (!retain.includes(key)) delete original[key];
  }
  // Value removals from primitive lists, then the merge, then the element orders.
  for (const [key, values] of Object.entries(patch)) {
    if (!key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) continue;
    const field = key.slice(DELETE_FROM_PRIMITIVE_LIST.length);
    if (!Array.isArray(values)) throw new StrategicMergePatchError(`${key} must be a list`);
    const removed = new Set(values);
    if (Array.isArray(original[field])) original[field] = (original[field] as unknown[]).filter((item) => !removed.has(item));
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key === RETAIN_KEYS || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue;
    if (key.startsWith('$')) throw new StrategicMergePatchError(`unknown directive ${JSON.stringify(key)}`);
    const fieldMeta = meta?.fields?.[key];
    if (value === null) {
      delete original[key];
      continue;
    }
    const current = original[key];
    if (isPlainObject(value) && isPlainObject(current)) setOwn(original, key, mergeMap(current, value, fieldMeta));
    else if (Array.isArray(value) && Array.isArray(current) && fieldMeta?.strategy === 'merge') setOwn(original, key, mergeList(current, value, fieldMeta));
    else if (Array.isArray(value) && fieldMeta?.strategy === 'merge' && current === undefined) setOwn(original, key, mergeList([], value, fieldMeta));
    else setOwn(original, key, cleaned(value));
  }
  for (const [key, order] of Object.entries(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const field = key.slice(SET_ELEMENT_ORDER.length);
    if (!Array.isArray(order)) throw new StrategicMergePatchError(`${key} must be a list`);
    if (Array.isArray(original[field])) original[field] = sortByOrder(original[field] as unknown[], order, meta?.fields?.[field]?.mergeKey);
  }
  return original;
}

function mergeList(original: unknown[], patch: unknown[], meta: PatchMeta): unknown[] {
  const objects = patch.some(isPlainObject) || original.some(isPlainObject);
  if (!objects) {
    const merged = [...original];
    const present = new Set(original);
    for (const value of patch) {
      if (present.has(value)) continue;
      present.add(value);
      merged.push(value);
    }
    return merged;
  }
  const key = meta.mergeKey;
  if (!key) throw new StrategicMergePatchError('cannot merge a list of objects without a merge key');
  if (patch.some((element) => isPlainObject(element) && element[PATCH_DIRECTIVE] === 'replace')) {
    return patch.filter((element) => !(isPlainObject(element) && element[PATCH_DIRECTIVE] === 'replace')).map(cleaned);
  }
  // Linear in the list sizes (a hostile patch may carry tens of thousands of elements): elements by key.
  const merged = [...original];
  const indexByKey = new Map<unknown, number>();
  merged.forEach((item, index) => {
    if (isPlainObject(item) && !indexByKey.has(item[key])) indexByKey.set(item[key], index);
  });
  const deletedKeys = new Set<unknown>();
  const elementMeta: PatchMeta = { fields: meta.fields };
  for (const element of patch) {
    if (!isPlainObject(element)) throw new StrategicMergePatchError('a list of objects can only be patched with objects');
    const directive = element[PATCH_DIRECTIVE];
    if (directive !== undefined && directive !== 'delete') throw new StrategicMergePatchError(`unknown patch type ${JSON.stringify(directive)} in a list`);
    if (!(key in element)) throw new StrategicMergePatchError(`an element of a merged list has no merge key ${JSON.stringify(key)}`);
    const index = indexByKey.get(element[key]);
    if (directive === 'delete') {
      deletedKeys.add(element[key]);
      indexByKey.delete(element[key]);
    } else if (index !== undefined) {
      merged[index] = mergeMap(merged[index] as Obj, element, elementMeta);
    } else {
      // Deleted and then given again: the original goes (it stays in deletedKeys), the new element stays.
      indexByKey.set(element[key], merged.length);
      merged.push(cleaned(element));
    }
  }
  return deletedKeys.size === 0 ? merged : merged.filter((item, index) => !(isPlainObject(item) && deletedKeys.has(item[key]) && indexByKey.get(item[key]) !== index));
}

/** Elements named in `order` first, in that order; the others after, in their current order. */
function sortByOrder(list: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const identity = (item: unknown) => (mergeKey && isPlainObject(item) ? item[mergeKey] : item);
  const positions = new Map<unknown, number>();
  order.forEach((entry, index) => {
    if (!positions.has(identity(entry))) positions.set(identity(entry), index);
  });
  const position = (item: unknown) => positions.get(identity(item)) ?? Number.MAX_SAFE_INTEGER;
  return list.map((item, index) => ({ item, index, at: position(item) })).sort((a, b) => a.at - b.at || a.index - b.index).map(({ item }) => item);
}
