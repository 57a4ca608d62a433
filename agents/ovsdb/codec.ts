// The OVSDB value codec (RFC 7047 §5.1) between wire JSON and plain JavaScript.
//
// Wire forms:  atom (string | number | boolean | ["uuid", "…"] | ["named-uuid", "…"]),
//              ["set", [atom, …]] (a set of exactly one element may be sent as the bare atom),
//              ["map", [[key, value], …]].
//
// Decoded (what the replica and select results hold), driven by the column type from the schema:
//   - a uuid atom → its string;
//   - a column that may hold several values (max > 1 or "unlimited") → an array, always (also for 0 or 1
//     element, whether the server sent ["set", …] or a bare atom);
//   - an optional column (min 0, max 1) → the value, or undefined when the set is empty;
//   - a map column → Record<string, atom> (integer keys become their decimal strings);
//   - every row has `_uuid` (string).
// Encoding is the reverse, also schema-driven: a string in a uuid column becomes ["uuid", s]; use
// namedUuid('x') to reference a row inserted earlier in the same transaction (its "uuid-name"), and raw(json)
// to send any wire value verbatim. Without a schema (decodeValue/encodeValue) the codec guesses from the shape.

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

export interface BaseType {
  type: AtomicType;
  enum?: unknown;
  refTable?: string;
  refType?: 'strong' | 'weak';
  minInteger?: number;
  maxInteger?: number;
  minLength?: number;
  maxLength?: number;
}

/** A column type from the schema, normalised (RFC 7047 §3.2 <type>). */
export interface ColumnType {
  key: BaseType;
  value?: BaseType;
  min: number;
  max: number | 'unlimited';
}

export interface ColumnSchema {
  type: ColumnType;
  ephemeral?: boolean;
  mutable?: boolean;
}

export interface TableSchema {
  columns: Record<string, ColumnSchema>;
  isRoot?: boolean;
  maxRows?: number;
  indexes?: string[][];
}

export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<string, TableSchema>;
}

/** A decoded row. Every row carries its `_uuid`. */
export interface Row {
  readonly _uuid: string;
  readonly [column: string]: unknown;
}

/** A decoded datum: atoms, arrays of atoms (sets), records (maps). */
export type Atom = string | number | boolean;

/** A reference to an existing row by UUID (encodes as ["uuid", …]). */
export class Uuid {
  constructor(readonly value: string) {}
  toJSON(): unknown {
    return ['uuid', this.value];
  }
}

/** A reference to a row inserted by this transaction under "uuid-name" (encodes as ["named-uuid", …]). */
export class NamedUuid {
  constructor(readonly name: string) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid uuid-name ${JSON.stringify(name)}: must be an <id>`);
  }
  toJSON(): unknown {
    return ['named-uuid', this.name];
  }
}

/** A wire value sent exactly as given (no encoding). */
export class RawValue {
  constructor(readonly json: unknown) {}
  toJSON(): unknown {
    return this.json;
  }
}

export const uuid = (value: string): Uuid => new Uuid(value);
export const namedUuid = (name: string): NamedUuid => new NamedUuid(name);
export const raw = (json: unknown): RawValue => new RawValue(json);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID_RE.test(value);

/** Normalises a schema <type> (string | object with key as string or object) to ColumnType. */
export function normaliseType(type: unknown): ColumnType {
  const base = (value: unknown): BaseType => (typeof value === 'string' ? { type: value as AtomicType } : (value as BaseType));
  if (typeof type === 'string') return { key: { type: type as AtomicType }, min: 1, max: 1 };
  const object = type as { key: unknown; value?: unknown; min?: number; max?: number | 'unlimited' };
  return {
    key: base(object.key),
    ...(object.value !== undefined ? { value: base(object.value) } : {}),
    min: object.min ?? 1,
    max: object.max ?? 1,
  };
}

/** Parses a get_schema reply into a DatabaseSchema with normalised column types. */
export function parseSchema(json: unknown): DatabaseSchema {
  const schema = json as { name: string; version: string; cksum?: string; tables: Record<string, { columns: Record<string, { type: unknown; ephemeral?: boolean; mutable?: boolean }>; isRoot?: boolean; maxRows?: number; indexes?: string[][] }> };
  const tables: Record<string, TableSchema> = {};
  for (const [name, table] of Object.entries(schema.tables)) {
    const columns: Record<string, ColumnSchema> = {};
    for (const [column, spec] of Object.entries(table.columns)) {
      columns[column] = { ...spec, type: normaliseType(spec.type) };
    }
    tables[name] = { ...table, columns };
  }
  return { name: schema.name, version: schema.version, ...(schema.cksum ? { cksum: schema.cksum } : {}), tables };
}

const isMap = (type: ColumnType) => type.value !== undefined;
const isMulti = (type: ColumnType) => type.max === 'unlimited' || type.max > 1;
const isOptional = (type: ColumnType) => !isMulti(type) && type.min === 0;

/** The implicit columns every table has. */
export const UUID_COLUMN: ColumnSchema = { type: { key: { type: 'uuid' }, min: 1, max: 1 } };

export function columnSchema(table: TableSchema | undefined, column: string): ColumnSchema | undefined {
  if (column === '_uuid' || column === '_version') return UUID_COLUMN;
  return table?.columns[column];
}

// ---- decoding ------------------------------------------------------------------------------------------

function decodeAtom(json: unknown): Atom {
  if (Array.isArray(json)) {
    if ((json[0] === 'uuid' || json[0] === 'named-uuid') && typeof json[1] === 'string') return json[1];
    throw new Error(`not an OVSDB atom: ${JSON.stringify(json)}`);
  }
  if (typeof json === 'string' || typeof json === 'number' || typeof json === 'boolean') return json;
  throw new Error(`not an OVSDB atom: ${JSON.stringify(json)}`);
}

function setElements(json: unknown): unknown[] {
  if (Array.isArray(json) && json[0] === 'set') {
    if (!Array.isArray(json[1])) throw new Error(`malformed OVSDB set: ${JSON.stringify(json)}`);
    return json[1];
  }
  return [json]; // a one-element set may be sent as the bare atom
}

function decodeMap(json: unknown): Record<string, Atom> {
  if (!Array.isArray(json) || json[0] !== 'map' || !Array.isArray(json[1])) {
    throw new Error(`malformed OVSDB map: ${JSON.stringify(json)}`);
  }
  const result: Record<string, Atom> = {};
  for (const pair of json[1] as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new Error(`malformed OVSDB map pair: ${JSON.stringify(pair)}`);
    result[String(decodeAtom(pair[0]))] = decodeAtom(pair[1]);
  }
  return result;
}

/** Decodes a wire value without a schema: uuid → string, set → array, map → record, atom → atom. */
export function decodeValue(json: unknown): unknown {
  if (Array.isArray(json)) {
    if (json[0] === 'set') return setElements(json).map(decodeAtom);
    if (json[0] === 'map') return decodeMap(json);
  }
  return decodeAtom(json);
}

/** Decodes a wire value for a column of the given type (see the file header for the shapes). */
export function decodeDatum(json: unknown, type: ColumnType): unknown {
  if (isMap(type)) return decodeMap(json);
  if (isMulti(type)) return setElements(json).map(decodeAtom);
  if (isOptional(type)) {
    const elements = setElements(json);
    return elements.length === 0 ? undefined : decodeAtom(elements[0]);
  }
  return decodeAtom(json);
}

/**
 * Applies a `modify` of an update2 notification (monitor_cond) to a decoded value. A column that holds many
 * values carries what changed: for a set, the elements added or removed (the symmetric difference); for a
 * map, keys added (with their value), removed (with their old value) or changed (with their new value).
 * Any other column (a scalar, or an optional value) carries its new value. This keeps a 1,000-port
 * Logical_Switch's update to one element instead of the whole set twice.
 */
export function applyDatumDiff(old: unknown, diff: unknown, type: ColumnType): unknown {
  if (!isMulti(type)) return decodeDatum(diff, type);
  if (isMap(type)) {
    const result: Record<string, Atom> = { ...((old as Record<string, Atom> | undefined) ?? {}) };
    for (const [key, value] of Object.entries(decodeMap(diff))) {
      if (!(key in result)) result[key] = value;
      else if (result[key] === value) delete result[key];
      else result[key] = value;
    }
    return result;
  }
  const current = (old as Atom[] | undefined) ?? [];
  const changed = setElements(diff).map(decodeAtom);
  // A diff names few elements (a switch gained one port) while the set may hold tens of thousands (that
  // switch's ports): a Set of the whole column for every update made each one cost a hash of every element,
  // O(ports²) over a switch's life (4% of the controller manager's CPU at 5,000 ports, growing). Elements of
  // a small diff are looked up by scanning instead, and the rest of the array is copied, not rehashed.
  const present = changed.length <= SCAN_DIFF_ELEMENTS ? (element: Atom) => current.includes(element) : setMembership(current);
  const removed = new Set<Atom>();
  const added: Atom[] = [];
  for (const element of changed) {
    if (present(element)) removed.add(element);
    else added.push(element);
  }
  const kept = removed.size === 0 ? current : current.filter((element) => !removed.has(element));
  // Always a new array: the replica's previous row (which callers may hold) keeps its own.
  return kept.concat(added);
}

/** Diffs of up to this many elements look each one up by a scan of the set. */
const SCAN_DIFF_ELEMENTS = 8;

function setMembership(elements: readonly Atom[]): (element: Atom) => boolean {
  const members = new Set(elements);
  return (element) => members.has(element);
}

const DEFAULT_ATOMS: Record<AtomicType, Atom> = { integer: 0, real: 0, boolean: false, string: '', uuid: '00000000-0000-0000-0000-000000000000' };

/**
 * A column's default in decoded form (undefined: left out, as an empty optional column is). update2 rows
 * (monitor_cond) leave out columns that hold their default; plain monitor rows have every column.
 */
export function defaultDatum(type: ColumnType): unknown {
  if (isMap(type)) return {};
  if (isMulti(type)) return [];
  if (isOptional(type)) return undefined;
  return DEFAULT_ATOMS[type.key.type];
}

/**
 * Decodes a wire row. Columns unknown to the schema are decoded without it; optional columns whose set is
 * empty are left out (so `'peer' in row` is false for an empty peer).
 */
export function decodeRow(table: TableSchema | undefined, uuidValue: string, json: Record<string, unknown>): Row {
  const row: Record<string, unknown> = { _uuid: uuidValue };
  for (const [column, value] of Object.entries(json)) {
    if (column === '_uuid') continue;
    const schema = columnSchema(table, column);
    const decoded = schema ? decodeDatum(value, schema.type) : decodeValue(value);
    if (decoded !== undefined) row[column] = decoded;
  }
  return row as Row;
}

// ---- encoding ------------------------------------------------------------------------------------------

function encodeAtom(value: unknown, base: BaseType | undefined): unknown {
  if (value instanceof Uuid || value instanceof NamedUuid || value instanceof RawValue) return value.toJSON();
  if (base?.type === 'uuid') {
    if (typeof value !== 'string') throw new Error(`expected a uuid, got ${JSON.stringify(value)}`);
    return ['uuid', value];
  }
  if (base?.type === 'integer' && typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value); // map keys
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw new Error(`not an OVSDB atom: ${JSON.stringify(value)}`);
}

function mapPairs(value: unknown): Array<[unknown, unknown]> {
  if (value instanceof Map) return [...value.entries()];
  if (Array.isArray(value)) return value as Array<[unknown, unknown]>; // [[k, v], …]
  if (value && typeof value === 'object') return Object.entries(value);
  throw new Error(`expected a map (object), got ${JSON.stringify(value)}`);
}

/**
 * Encodes a value for a column of the given type. Sets accept an array, a single atom, or undefined/null
 * (the empty set); maps accept a plain object, a Map, or an array of [key, value] pairs.
 */
export function encodeDatum(value: unknown, type: ColumnType): unknown {
  if (value instanceof RawValue) return value.json;
  if (isMap(type)) {
    if (value === undefined || value === null) return ['map', []];
    return ['map', mapPairs(value).map(([k, v]) => [encodeAtom(k, type.key), encodeAtom(v, type.value)])];
  }
  if (isMulti(type) || isOptional(type)) {
    if (value === undefined || value === null) return ['set', []];
    const elements = Array.isArray(value) ? value : value instanceof Set ? [...value] : [value];
    return ['set', elements.map((element) => encodeAtom(element, type.key))];
  }
  return encodeAtom(value, type.key);
}

/** Encodes a value without a schema: arrays → sets, plain objects / Maps → maps, markers as such. */
export function encodeValue(value: unknown): unknown {
  if (value instanceof Uuid || value instanceof NamedUuid || value instanceof RawValue) return value.toJSON();
  if (Array.isArray(value) || value instanceof Set) return ['set', [...value].map((element) => encodeAtom(element, undefined))];
  if (value instanceof Map || (value && typeof value === 'object')) {
    return ['map', mapPairs(value).map(([k, v]) => [encodeAtom(k, undefined), encodeAtom(v, undefined)])];
  }
  return encodeAtom(value, undefined);
}

/** Encodes a (partial) row for insert/update/wait. Unknown columns are an error, caught before the server. */
export function encodeRow(table: TableSchema | undefined, tableName: string, row: Record<string, unknown>): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column === '_uuid' || column === '_version') continue;
    if (!table) {
      json[column] = encodeValue(value);
      continue;
    }
    const schema = table.columns[column];
    if (!schema) throw new Error(`table ${tableName} has no column ${column}`);
    json[column] = encodeDatum(value, schema.type);
  }
  return json;
}
