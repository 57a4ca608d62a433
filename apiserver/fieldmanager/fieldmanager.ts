// Field ownership for writes: which manager owns which field of an object (metadata.managedFields), how a
// server-side apply merges into the live object, and when it conflicts. A pure module: the caller reads the
// live object, calls recordUpdate / apply, validates and stores the result.
//
// The algorithm is the one of sigs.k8s.io/structured-merge-diff as the Kubernetes API server drives it:
// - Update (create, PUT, merge/JSON patch): compare live and next; the writer takes every field it added or
//   changed (maps and list items it created included), everybody else loses those fields, and fields that
//   disappeared are dropped from every set. Never conflicts.
// - Apply: merge the configuration into the live object; fields the applier owned last time, left out now and
//   owned by nobody else are removed; then every field the result adds or changes that another manager owns is
//   a conflict (unless forced, which moves it). The applier's set is exactly what its configuration holds.
import { jsonEqual } from '../../apis/meta/equality.ts';
import type { KubeObject, ManagedFieldsEntry, ObjectMeta } from '../../apis/meta/types.ts';
import { isPlainObject, type JSONSchemaProps } from '../schema/structural-schema.ts';
import { setOwn } from '../patch/merge-patch.ts';
import { ApplyConflictError, managerIdentifier, type FieldConflict } from './conflicts.ts';
import { FieldSet, compareCodePoints, fieldElement, renderPath } from './fieldpath.ts';
import { decodeManagedFields, encodeManagedFields, isResetManagedFields, sameIdentity, type ManagerFields } from './managed-fields.ts';
import { compare, deepClone, dropNonNullableNulls, ensureNamedFieldsAreMembers, merge, removeItems, toFieldSet } from './typed.ts';

export interface FieldManagerContext {
  /** The kind's structural schema (root = whole object). metadata is always typed as ObjectMeta. */
  schema: JSONSchemaProps;
  /** Written into each managedFields entry this call touches. */
  apiVersion: string;
  /** RFC 3339 time for entries this call touches. */
  now: string;
  /** Entries record it; a status write only merges and manages fields under status. */
  subresource?: 'status';
  /**
   * A main-resource write of a kind that has a status subresource: status is neither merged, nor owned, nor
   * taken from anyone (the caller keeps the stored status).
   */
  ignoreStatus?: boolean;
}

/** The Update manager an object's existing fields are attributed to when it is first applied without managedFields. */
export const BEFORE_FIRST_APPLY = 'before-first-apply';

/** metadata fields the server owns: never part of anyone's field set, never merged from an apply configuration. */
const SERVER_METADATA = new Set([
  'name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp',
  'deletionGracePeriodSeconds', 'selfLink', 'managedFields',
]);

const STRING: JSONSchemaProps = { type: 'string' };
const STRING_MAP: JSONSchemaProps = { type: 'object', additionalProperties: STRING };

/** ObjectMeta's shape for field management (k8s.io/apimachinery ObjectMeta's list and struct types). */
export const OBJECT_META_SCHEMA: JSONSchemaProps = {
  type: 'object',
  properties: {
    name: STRING,
    generateName: STRING,
    namespace: STRING,
    selfLink: STRING,
    uid: STRING,
    resourceVersion: STRING,
    generation: { type: 'integer' },
    creationTimestamp: STRING,
    deletionTimestamp: STRING,
    deletionGracePeriodSeconds: { type: 'integer' },
    labels: STRING_MAP,
    annotations: STRING_MAP,
    ownerReferences: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['uid'],
      items: {
        type: 'object',
        'x-kubernetes-map-type': 'atomic',
        properties: { apiVersion: STRING, kind: STRING, name: STRING, uid: STRING, controller: { type: 'boolean' }, blockOwnerDeletion: { type: 'boolean' } },
      },
    },
    finalizers: { type: 'array', 'x-kubernetes-list-type': 'set', items: STRING },
    managedFields: { type: 'array', 'x-kubernetes-list-type': 'atomic', items: { type: 'object' } },
  },
};

const roots = new WeakMap<JSONSchemaProps, JSONSchemaProps>();

function rootSchema(schema: JSONSchemaProps): JSONSchemaProps {
  let root = roots.get(schema);
  if (!root) {
    root = { ...schema, type: 'object', properties: { ...schema.properties, apiVersion: STRING, kind: STRING, metadata: OBJECT_META_SCHEMA } };
    roots.set(schema, root);
  }
  return root;
}

/** Paths nobody owns: type meta, server metadata, and `.metadata` itself (its fields are owned one by one). */
const NEVER_OWNED_RECURSIVE = FieldSet.of([fieldElement('apiVersion')], [fieldElement('kind')], ...[...SERVER_METADATA].map((name) => [fieldElement('metadata'), fieldElement(name)]));

function stripSet(set: FieldSet): FieldSet {
  const out = set.recursiveDifference(NEVER_OWNED_RECURSIVE);
  out.members.delete(fieldElement('metadata'));
  return out;
}

/** The part of an object this write deals with: what field management compares, merges and owns. */
function view(object: KubeObject | undefined, ctx: FieldManagerContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!object) return out;
  if (ctx.subresource === 'status') {
    if (object.status !== undefined) out.status = object.status;
    return out;
  }
  for (const [key, value] of Object.entries(object)) {
    if (key === 'apiVersion' || key === 'kind' || (key === 'status' && ctx.ignoreStatus)) continue;
    if (key === 'metadata' && isPlainObject(value)) {
      const meta: Record<string, unknown> = {};
      for (const [field, fieldValue] of Object.entries(value)) if (!SERVER_METADATA.has(field)) setOwn(meta, field, fieldValue);
      setOwn(out, key, meta);
      continue;
    }
    setOwn(out, key, value);
  }
  return out;
}

function decodeLive(live: KubeObject | undefined): ManagerFields[] {
  const entries = decodeManagedFields(live?.metadata?.managedFields) ?? [];
  for (const entry of entries) entry.set = stripSet(entry.set);
  return entries;
}

/**
 * An Update operation (POST/PUT/merge patch/JSON patch) by `manager`: it takes ownership of every field it
 * changed or set (a create owns every field it set), removing those fields from other managers' sets; no
 * conflicts. Returns the managedFields to store.
 *
 * As in Kubernetes, `next.metadata.managedFields` wins over the live ones when it is non-empty and readable
 * (clients may edit ownership that way), `[]` or `[{}]` clears them, and an existing object without
 * managedFields stays untracked until it is first applied.
 */
export function recordUpdate(live: KubeObject | undefined, next: KubeObject, manager: string, ctx: FieldManagerContext): ManagedFieldsEntry[] {
  const creating = live === undefined || !live.metadata?.uid;
  const provided = ctx.subresource === undefined ? next.metadata?.managedFields : undefined;
  let entries: ManagerFields[];
  if (isResetManagedFields(provided)) {
    entries = [];
  } else {
    const fromRequest = decodeManagedFields(provided);
    if (fromRequest && fromRequest.length > 0) {
      entries = fromRequest;
      for (const entry of entries) entry.set = stripSet(entry.set);
    } else entries = decodeLive(live);
  }
  if (entries.length === 0 && !creating) return [];

  const schema = rootSchema(ctx.schema);
  const comparison = compare(view(live, ctx), view(next, ctx), schema);
  const changed = stripSet(comparison.modified.union(comparison.added));
  for (const entry of entries) entry.set = entry.set.difference(changed).difference(comparison.removed);
  if (!changed.isEmpty()) {
    const identity = { manager, operation: 'Update' as const, subresource: ctx.subresource };
    let own = entries.find((entry) => sameIdentity(entry, identity));
    if (!own) {
      own = { ...identity, apiVersion: ctx.apiVersion, set: new FieldSet() };
      if (!ctx.subresource) delete own.subresource;
      entries.push(own);
    }
    own.set = own.set.union(changed);
    own.apiVersion = ctx.apiVersion;
    own.time = ctx.now;
  }
  return encodeManagedFields(entries);
}

/**
 * Server-side apply of `config` by `manager` onto `live` (undefined = create). Returns the merged object whose
 * metadata.managedFields is already updated. Throws ApplyConflictError (unless force) when a field in config
 * is owned by another manager and config's value differs from the live value. With force, conflicting fields
 * move to `manager`. Fields that `manager` applied last time and omits now are removed from the object unless
 * another manager owns them (then only the ownership is dropped). Lists: list-type=map items merge by their
 * keys and item ownership is per key; list-type=set items by value; atomic lists (and atomic maps) are owned
 * and replaced whole.
 *
 * Server metadata (name, namespace, uid, …) comes from the live object (from `config` on create), except a
 * resourceVersion in `config`, which is kept as the caller's precondition. Neither input is modified.
 */
export function apply(live: KubeObject | undefined, config: KubeObject, manager: string, options: { force: boolean }, ctx: FieldManagerContext): KubeObject {
  const steps = applySteps(live, config, manager, options, ctx);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * apply() as steps: each `yield` ends one whole pass over the object (views, the applied set, merge, removal of
 * released fields, comparison, result). A caller with a large object waits a loop turn at each, so other
 * requests run in between (a 50,000-field apply is ~0.5 s of passes); apply() runs them straight through.
 */
export function* applySteps(live: KubeObject | undefined, config: KubeObject, manager: string, options: { force: boolean }, ctx: FieldManagerContext): Generator<void, KubeObject, void> {
  const schema = rootSchema(ctx.schema);
  const liveView = view(live, ctx);
  const configView = view(config, ctx);
  const entries = decodeLive(live);
  yield;

  if (live !== undefined && entries.length === 0) {
    // An object that predates field tracking: what it holds belongs to a placeholder Update manager, so the
    // first applier conflicts with values it did not set instead of silently taking them over.
    const existing = compare({}, liveView, schema);
    const set = stripSet(existing.added.union(existing.modified));
    if (!set.isEmpty()) {
      const placeholder: ManagerFields = { manager: BEFORE_FIRST_APPLY, operation: 'Update', apiVersion: ctx.apiVersion, time: ctx.now, set };
      if (ctx.subresource) placeholder.subresource = ctx.subresource;
      entries.push(placeholder);
    }
  }

  const identity = { manager, operation: 'Apply' as const, subresource: ctx.subresource };
  const previous = entries.find((entry) => sameIdentity(entry, identity));
  const others = entries.filter((entry) => entry !== previous);
  const applied = stripSet(toFieldSet(configView, schema));
  yield;

  let merged = merge(liveView, configView, schema);
  yield;
  if (previous && !previous.set.isEmpty()) {
    // Fields the applier let go of: removed when nobody (the applier's new configuration included) owns them.
    const owned = others.reduce((union, entry) => union.union(entry.set), applied);
    const released = ensureNamedFieldsAreMembers(previous.set, schema).difference(ensureNamedFieldsAreMembers(owned, schema));
    if (!released.isEmpty()) merged = removeItems(merged, released, schema);
    yield;
  }

  const comparison = compare(liveView, merged, schema);
  yield;
  const changed = comparison.modified.union(comparison.added);
  const conflicting = others
    .map((entry) => ({ entry, set: entry.set.intersection(changed) }))
    .filter(({ set }) => !set.isEmpty());
  if (conflicting.length > 0 && !options.force) throw new ApplyConflictError(listConflicts(conflicting, ctx.apiVersion), ctx.apiVersion);
  for (const { entry, set } of conflicting) entry.set = entry.set.difference(set);
  for (const entry of others) entry.set = entry.set.difference(comparison.removed);

  const result = dropNonNullableNulls(merged, schema) as Record<string, unknown>;
  const ownSet = applied.difference(comparison.removed);
  const objectChanged = live === undefined || !jsonEqual(liveView, result);
  yield;
  if (!previous) {
    const own: ManagerFields = { manager, operation: 'Apply', apiVersion: ctx.apiVersion, time: ctx.now, set: ownSet };
    if (ctx.subresource) own.subresource = ctx.subresource;
    entries.push(own);
  } else if (objectChanged || !previous.set.equals(ownSet)) {
    previous.set = ownSet;
    previous.apiVersion = ctx.apiVersion;
    previous.time = ctx.now;
  }
  return assemble(live, config, result, encodeManagedFields(entries), ctx);
}

function listConflicts(conflicting: Array<{ entry: ManagerFields; set: FieldSet }>, apiVersion: string): FieldConflict[] {
  const conflicts: FieldConflict[] = [];
  for (const { entry, set } of conflicting) {
    for (const path of set.paths()) {
      const conflict: FieldConflict = { manager: entry.manager, field: renderPath(path), operation: entry.operation, apiVersion: entry.apiVersion };
      if (entry.subresource) conflict.subresource = entry.subresource;
      conflicts.push(conflict);
    }
  }
  // Grouped by manager in the order the message lists them; paths in structured-merge-diff's order.
  // Array.prototype.sort is stable: within a manager, paths keep their order.
  const order = (conflict: FieldConflict) => managerIdentifier(conflict, apiVersion);
  return conflicts.sort((a, b) => compareCodePoints(order(a), order(b)));
}

/** The whole object again: the merged view plus what the view left out (type meta, server metadata, status). */
function assemble(live: KubeObject | undefined, config: KubeObject, result: Record<string, unknown>, managedFields: ManagedFieldsEntry[], ctx: FieldManagerContext): KubeObject {
  const base = live ?? config;
  if (ctx.subresource === 'status') {
    const object = deepClone(base);
    if (result.status === undefined) delete object.status;
    else object.status = result.status;
    object.metadata = withManagedFields(object.metadata ?? {}, managedFields);
    return object;
  }

  const object: Record<string, unknown> = {};
  const apiVersion = live?.apiVersion ?? config.apiVersion;
  const kind = live?.kind ?? config.kind;
  if (apiVersion !== undefined) object.apiVersion = apiVersion;
  if (kind !== undefined) object.kind = kind;

  const baseMeta: Record<string, unknown> = isPlainObject(base.metadata) ? base.metadata : {};
  const viewMeta: Record<string, unknown> = isPlainObject(result.metadata) ? result.metadata : {};
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(baseMeta)) {
    if (key === 'managedFields') continue;
    if (SERVER_METADATA.has(key)) setOwn(metadata, key, deepClone(value));
    else if (Object.prototype.hasOwnProperty.call(viewMeta, key)) setOwn(metadata, key, viewMeta[key]);
  }
  for (const [key, value] of Object.entries(viewMeta)) {
    if (!Object.prototype.hasOwnProperty.call(metadata, key)) setOwn(metadata, key, value);
  }
  const precondition = config.metadata?.resourceVersion;
  if (precondition !== undefined) metadata.resourceVersion = precondition;
  setOwn(object, 'metadata', withManagedFields(metadata as ObjectMeta, managedFields));

  for (const [key, value] of Object.entries(result)) if (key !== 'metadata') setOwn(object, key, value);
  if (ctx.ignoreStatus && live?.status !== undefined) object.status = deepClone(live.status);
  return object as KubeObject;
}

/** metadata with these managedFields (none: the field is removed). */
export function withManagedFields(metadata: ObjectMeta, managedFields: ManagedFieldsEntry[]): ObjectMeta {
  const out = { ...metadata };
  if (managedFields.length > 0) out.managedFields = managedFields;
  else delete out.managedFields;
  return out;
}
