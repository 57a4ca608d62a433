// Schema-directed walks over JSON values, after structured-merge-diff's `typed` package: which field set a
// value holds, how two values differ (added / removed / modified paths), how an applied configuration merges
// into a live object, and how a set of paths is removed from a value.
//
// Shapes come from the kind's structural schema:
// - an object with `properties` is a struct: its declared fields are named fields;
// - an object with `additionalProperties` (or an undeclared object) is a map of granular keys;
// - `x-kubernetes-map-type: atomic` makes either a single leaf, owned and replaced whole;
// - arrays are atomic unless `x-kubernetes-list-type` is `set` (items are `v:` values) or `map` (items are
//   `k:` keyed by `x-kubernetes-list-map-keys`), as for CustomResourceDefinitions;
// - everything else, null, and any value whose shape does not match its schema, is a leaf.
import { jsonEqual } from '../../apis/meta/equality.ts';
import { childSchema, isPlainObject, type JSONSchemaProps } from '../schema/structural-schema.ts';
import { setOwn } from '../patch/merge-patch.ts';
import { FieldSet, fieldElement, indexElement, keyElement, valueElement, type PathElement } from './fieldpath.ts';

type Schema = JSONSchemaProps | undefined;

type Node =
  | { kind: 'leaf' }
  | { kind: 'map'; fields: Readonly<Record<string, JSONSchemaProps>> }
  | { kind: 'list'; listType: 'set' | 'map'; keys: readonly string[]; items: Schema };

const LEAF: Node = { kind: 'leaf' };

function isObjectSchema(schema: JSONSchemaProps): boolean {
  return schema.type === 'object' || schema.properties !== undefined || schema.additionalProperties !== undefined;
}

function isArraySchema(schema: JSONSchemaProps): boolean {
  return schema.type === 'array' || schema.items !== undefined;
}

/** How a present value is walked under its schema. */
function classify(schema: Schema, value: unknown): Node {
  if (value === null || value === undefined) return LEAF;
  const typed = schema !== undefined && !schema['x-kubernetes-int-or-string'] && (isObjectSchema(schema) || isArraySchema(schema));
  if (!typed) {
    // Undeclared (deduced) values: objects are granular maps, lists are atomic, as Kubernetes does for them.
    if (schema?.['x-kubernetes-int-or-string']) return LEAF;
    return isPlainObject(value) ? { kind: 'map', fields: {} } : LEAF;
  }
  if (isObjectSchema(schema)) {
    if (!isPlainObject(value) || schema['x-kubernetes-map-type'] === 'atomic') return LEAF;
    return { kind: 'map', fields: schema.properties ?? {} };
  }
  const listType = schema['x-kubernetes-list-type'];
  if (!Array.isArray(value) || (listType !== 'set' && listType !== 'map')) return LEAF;
  return { kind: 'list', listType, keys: listType === 'map' ? schema['x-kubernetes-list-map-keys'] ?? [] : [], items: schema.items };
}

function isDeclared(node: Node, key: string): boolean {
  return node.kind === 'map' && Object.prototype.hasOwnProperty.call(node.fields, key);
}

/** The path element of a list item: `k:` for list-type=map (missing keys take their schema default), `v:` for sets. */
export function listItemElement(node: Extract<Node, { kind: 'list' }>, item: unknown, index: number): PathElement {
  if (node.listType === 'set') return valueElement(item);
  if (!isPlainObject(item)) return indexElement(index);
  const fields: Array<[string, unknown]> = [];
  for (const key of node.keys) {
    const value = Object.prototype.hasOwnProperty.call(item, key) ? item[key] : node.items?.properties?.[key]?.default;
    if (value !== undefined) fields.push([key, value]);
  }
  return keyElement(fields);
}

/** A list's items by element, first occurrence winning (duplicates are for validation to reject). */
function indexItems(node: Extract<Node, { kind: 'list' }>, list: unknown[]): Array<[PathElement, unknown]> {
  const seen = new Set<PathElement>();
  const out: Array<[PathElement, unknown]> = [];
  list.forEach((item, index) => {
    const element = listItemElement(node, item, index);
    if (seen.has(element)) return;
    seen.add(element);
    out.push([element, item]);
  });
  return out;
}

function isEmptyContainer(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.keys(value).length === 0;
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// Field sets

/** Every leaf and every list item / map key the value holds (structured-merge-diff's ToFieldSet). */
export function toFieldSet(value: unknown, schema: Schema): FieldSet {
  const set = new FieldSet();
  collect(value, schema, [], set);
  return set;
}

function collect(value: unknown, schema: Schema, path: PathElement[], set: FieldSet): void {
  const node = classify(schema, value);
  if (node.kind === 'leaf') {
    set.insert(path);
  } else if (node.kind === 'map') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childPath = [...path, fieldElement(key)];
      collect(child, childSchema(schema, key), childPath, set);
      if (!isDeclared(node, key)) set.insert(childPath);
    }
  } else {
    for (const [element, item] of indexItems(node, value as unknown[])) {
      const childPath = [...path, element];
      collect(item, node.items, childPath, set);
      set.insert(childPath);
    }
  }
}

/** Adds every named (declared struct) field that has owned paths below it as a member itself. */
export function ensureNamedFieldsAreMembers(set: FieldSet, schema: Schema): FieldSet {
  const out = new FieldSet();
  for (const member of set.members) out.members.add(member);
  for (const [element, child] of set.children) {
    let below: Schema;
    if (element.startsWith('f:')) {
      const name = element.slice(2);
      if (schema?.properties && Object.prototype.hasOwnProperty.call(schema.properties, name)) out.members.add(element);
      below = childSchema(schema, name);
    } else {
      below = schema?.items;
    }
    out.children.set(element, ensureNamedFieldsAreMembers(child, below));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Comparison

export interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}

/**
 * What changes from `lhs` to `rhs` (structured-merge-diff's Compare): leaves are added, removed or modified;
 * maps, granular lists and their items are added or removed as a whole too.
 */
export function compare(lhs: unknown, rhs: unknown, schema: Schema): Comparison {
  const out: Comparison = { added: new FieldSet(), removed: new FieldSet(), modified: new FieldSet() };
  compareNode(lhs, rhs, schema, [], out);
  return out;
}

function compareNode(lhs: unknown, rhs: unknown, schema: Schema, path: PathElement[], out: Comparison): void {
  if (lhs === undefined && rhs === undefined) return;
  const left = lhs === undefined ? undefined : classify(schema, lhs);
  const right = rhs === undefined ? undefined : classify(schema, rhs);
  const shape = left && right ? (left.kind === right.kind ? left : undefined) : (left ?? right)!;
  if (!shape || shape.kind === 'leaf' || (isEmptyContainer(lhs) && isEmptyContainer(rhs))) {
    if (lhs === undefined) out.added.insert(path);
    else if (rhs === undefined) out.removed.insert(path);
    else if (!jsonEqual(lhs, rhs)) {
      out.modified.insert(path);
      // A container replaced by a value of another shape: what was below it is gone, what is below the new one is new.
      if (left && left.kind !== 'leaf') compareChildren(left, lhs, undefined, schema, path, out);
      if (right && right.kind !== 'leaf') compareChildren(right, undefined, rhs, schema, path, out);
    }
    return;
  }
  compareChildren(shape, lhs, rhs, schema, path, out);
  if (path.length > 0) {
    if (lhs === undefined) out.added.insert(path);
    else if (rhs === undefined) out.removed.insert(path);
  }
}

function compareChildren(node: Node, lhs: unknown, rhs: unknown, schema: Schema, path: PathElement[], out: Comparison): void {
  if (node.kind === 'map') {
    const left = isPlainObject(lhs) ? lhs : {};
    const right = isPlainObject(rhs) ? rhs : {};
    const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
    for (const key of keys) {
      const l = Object.prototype.hasOwnProperty.call(left, key) ? left[key] : undefined;
      const r = Object.prototype.hasOwnProperty.call(right, key) ? right[key] : undefined;
      compareNode(l, r, childSchema(schema, key), [...path, fieldElement(key)], out);
    }
  } else if (node.kind === 'list') {
    const left = new Map(Array.isArray(lhs) ? indexItems(node, lhs) : []);
    const right = new Map(Array.isArray(rhs) ? indexItems(node, rhs) : []);
    for (const element of new Set([...left.keys(), ...right.keys()])) {
      compareNode(left.get(element), right.get(element), node.items, [...path, element], out);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Merge

/**
 * Merges an applied configuration into a live value (structured-merge-diff's Merge): the configuration's
 * leaves win, maps merge key by key, list-type=map/set lists item by item, atomic values are replaced.
 * Items keep the live order unless the configuration reorders them. Neither input is modified.
 */
export function merge(lhs: unknown, rhs: unknown, schema: Schema): unknown {
  if (rhs === undefined) return deepClone(lhs);
  if (lhs === undefined) return deepClone(rhs);
  const left = classify(schema, lhs);
  const right = classify(schema, rhs);
  if (left.kind !== right.kind || right.kind === 'leaf' || (isEmptyContainer(lhs) && isEmptyContainer(rhs))) return deepClone(rhs);
  if (right.kind === 'map') {
    const live = lhs as Record<string, unknown>;
    const applied = rhs as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(live)) {
      setOwn(out, key, Object.prototype.hasOwnProperty.call(applied, key) ? merge(value, applied[key], childSchema(schema, key)) : deepClone(value));
    }
    for (const [key, value] of Object.entries(applied)) {
      if (!Object.prototype.hasOwnProperty.call(live, key)) setOwn(out, key, deepClone(value));
    }
    return out;
  }
  const liveItems = indexItems(right, lhs as unknown[]);
  const appliedItems = indexItems(right, rhs as unknown[]);
  const liveByElement = new Map(liveItems);
  const appliedPosition = new Map(appliedItems.map(([element], index) => [element, index]));
  const out: unknown[] = [];
  let next = 0;
  const emitAppliedThrough = (last: number) => {
    for (; next <= last; next++) {
      const [element, item] = appliedItems[next];
      out.push(liveByElement.has(element) ? merge(liveByElement.get(element), item, right.items) : deepClone(item));
    }
  };
  // Live-only items stay where they were; the configuration's items come in its order, each at the latest
  // when the live list reaches it.
  for (const [element, item] of liveItems) {
    const position = appliedPosition.get(element);
    if (position === undefined) out.push(deepClone(item));
    else emitAppliedThrough(position);
  }
  emitAppliedThrough(appliedItems.length - 1);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Removal

/**
 * A copy of `value` without the paths that are members of `set` (each with everything below it). A map or
 * list emptied this way stays, empty.
 */
export function removeItems(value: unknown, set: FieldSet, schema: Schema): unknown {
  const node = classify(schema, value);
  if (node.kind === 'map') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const element = fieldElement(key);
      if (set.members.has(element)) continue;
      const below = set.child(element);
      setOwn(out, key, below ? removeItems(child, below, childSchema(schema, key)) : child);
    }
    return out;
  }
  if (node.kind === 'list') {
    const out: unknown[] = [];
    (value as unknown[]).forEach((item, index) => {
      const element = listItemElement(node, item, index);
      if (set.members.has(element)) return;
      const below = set.child(element);
      out.push(below ? removeItems(item, below, node.items) : item);
    });
    return out;
  }
  return value;
}

/**
 * Drops fields whose value is null where the schema does not allow null, as Kubernetes prunes them from
 * custom resources: an applier sends `field: null` to say the field should not be there.
 */
export function dropNonNullableNulls(value: unknown, schema: Schema): unknown {
  if (Array.isArray(value)) return value.map((item) => dropNonNullableNulls(item, schema?.items));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const below = childSchema(schema, key);
    if (child === null && below !== undefined && !below.nullable) continue;
    setOwn(out, key, dropNonNullableNulls(child, below));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// JSON helpers


/** A deep copy of a JSON value; every key stays an own property, `__proto__` included. */
export function deepClone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(deepClone) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) setOwn(out, key, deepClone(child));
    return out as T;
  }
  return value;
}
