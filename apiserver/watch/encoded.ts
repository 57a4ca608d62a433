// JSON text of the watch cache's objects, computed at most once per object. The cache never modifies an
// object it holds (a change replaces it), so a repeated list serialises only what changed since the last
// one: JSON.stringify was ~45 ms of a ~80 ms list of 10,000 Vpcs. The price is each listed object's JSON
// (about its size again) for as long as the cache holds that object; nothing is kept for other objects.
// The same holds for an object's metadata, which is what a Table row embeds (kubectl get): a Table of
// 10,000 rows spent ~50 ms serialising their metadata again on every list.
const shared = new WeakSet<object>();
const encoded = new WeakMap<object, string>();

/** Marks an object the watch cache holds: nobody modifies it (or its metadata) from now on, so their JSON may be kept. */
export function markShared(object: object): void {
  shared.add(object);
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata === 'object' && metadata !== null) shared.add(metadata);
  if (FREEZE) deepFreeze(object);
}

/** Debugging aid: PHOTON_FREEZE_SHARED=1 freezes the cache's objects, so code that modifies one throws. */
const FREEZE = process.env.PHOTON_FREEZE_SHARED === '1';
function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

/** JSON.stringify(value), remembered for the watch cache's objects. */
export function jsonOf(value: unknown): string {
  if (typeof value !== 'object' || value === null || !shared.has(value)) return JSON.stringify(value);
  let text = encoded.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    encoded.set(value, text);
  }
  return text;
}

/**
 * JSON.stringify(body), with the items of a list (`items`, its last field, as every list here builds it)
 * serialised through jsonOf: a list from the watch cache costs a join of remembered texts. A Table's rows
 * (`rows`, its last field) likewise: each row's embedded object or metadata through jsonOf.
 */
export function encodeJson(body: unknown): string {
  if (typeof body !== 'object' || body === null) return JSON.stringify(body);
  const keys = Object.keys(body);
  const last = keys[keys.length - 1];
  const elements = last === 'items' || last === 'rows' ? (body as Record<string, unknown>)[last] : undefined;
  // (JSON.stringify writes null for these in an array; the element encoders would not.)
  if (!Array.isArray(elements) || elements.some((element) => element === undefined || typeof element === 'function' || typeof element === 'symbol')) return JSON.stringify(body);
  const { [last!]: _elements, ...rest } = body as Record<string, unknown>;
  const head = JSON.stringify(rest);
  const encodeElement = last === 'items' ? jsonOf : encodeRow;
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}${JSON.stringify(last)}:[${elements.map(encodeElement).join(',')}]}`;
}

/**
 * One Table row as JSON.stringify writes it, with what it embeds through jsonOf: the object itself
 * (includeObject=Object) or `{kind, apiVersion, metadata}` (PartialObjectMetadata, the default). Any other
 * shape is stringified as it is.
 */
function encodeRow(row: unknown): string {
  if (typeof row !== 'object' || row === null) return JSON.stringify(row);
  const keys = Object.keys(row);
  const { cells, object } = row as { cells?: unknown; object?: unknown };
  if (keys.length !== 2 || keys[0] !== 'cells' || keys[1] !== 'object' || !Array.isArray(cells) || typeof object !== 'object' || object === null) return JSON.stringify(row);
  return `{"cells":${JSON.stringify(cells)},"object":${encodeRowObject(object)}}`;
}

function encodeRowObject(object: object): string {
  if (shared.has(object)) return jsonOf(object);
  const keys = Object.keys(object);
  const { kind, apiVersion, metadata } = object as { kind?: unknown; apiVersion?: unknown; metadata?: unknown };
  if (keys.length !== 3 || keys[0] !== 'kind' || keys[1] !== 'apiVersion' || keys[2] !== 'metadata' || typeof kind !== 'string' || typeof apiVersion !== 'string') return JSON.stringify(object);
  if (typeof metadata !== 'object' || metadata === null || !shared.has(metadata)) return JSON.stringify(object);
  return `${partialHead(kind, apiVersion)}${jsonOf(metadata)}}`;
}

/** `{"kind":…,"apiVersion":…,"metadata":` — the same for every row of a Table, so made once per table (the last one is kept). */
let lastHead = { kind: '', apiVersion: '', text: '' };
function partialHead(kind: string, apiVersion: string): string {
  if (lastHead.kind !== kind || lastHead.apiVersion !== apiVersion) lastHead = { kind, apiVersion, text: `${JSON.stringify({ kind, apiVersion }).slice(0, -1)},"metadata":` };
  return lastHead.text;
}
