// JSON of the watch cache's objects, computed at most once per object. The cache never modifies an object it
// holds (a change replaces it), so a repeated list serialises only what changed since the last one:
// JSON.stringify was ~45 ms of a ~80 ms list of 10,000 Vpcs. An object's JSON is kept as UTF-8 bytes, and a
// list is one Buffer copied together from them: joined as text, a 500-object page also cost a large string on
// the heap, its flattening and its encoding to UTF-8 again on every response. The price is each listed
// object's JSON (about its size again, as the text it replaced) for as long as the cache holds that object;
// nothing is kept for other objects.
// The same holds for an object's metadata, which is what a Table row embeds (kubectl get): a Table of 10,000
// rows spent ~50 ms serialising their metadata again on every list. A Table stays text: its rows are many
// small pieces, and copying those together as bytes cost more than the join (a 5,000-row Table: ~15% more CPU).
const shared = new WeakSet<object>();
/** Objects' JSON (lists, watch lines). */
const encoded = new WeakMap<object, Buffer>();
/** Metadata's JSON (Table rows). */
const encodedText = new WeakMap<object, string>();

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

/** JSON.stringify(value), remembered for the watch cache's objects' metadata. */
function textOf(value: object): string {
  if (!shared.has(value)) return JSON.stringify(value);
  let text = encodedText.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    encodedText.set(value, text);
  }
  return text;
}

/** JSON.stringify(value) as UTF-8, remembered for the watch cache's objects. */
export function bytesOf(value: unknown): Buffer {
  if (typeof value !== 'object' || value === null || !shared.has(value)) return Buffer.from(JSON.stringify(value));
  let bytes = encoded.get(value);
  if (bytes === undefined) {
    // Its own memory, not a slice of Node's shared 8 KiB pool: kept as long as the object is cached, a pooled
    // slice would keep its whole slab alive with it.
    bytes = ownBytes(JSON.stringify(value));
    encoded.set(value, bytes);
  }
  return bytes;
}

/** Text as UTF-8 in memory of its own, not a slice of Node's shared 8 KiB pool (see bytesOf). */
export function ownBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}

const linePrefixes = new Map<string, Buffer>();
const LINE_END = Buffer.from('}\n');

/**
 * A watch event's line, `{"type":…,"object":…}` and a newline, around an object's JSON bytes. A line kept long
 * (a live event's, held with the event in the cache's history) gets memory of its own (`own`).
 */
export function watchLine(type: string, object: Buffer, own: boolean): Buffer {
  let prefix = linePrefixes.get(type);
  if (prefix === undefined) linePrefixes.set(type, (prefix = Buffer.from(`{"type":${JSON.stringify(type)},"object":`)));
  const length = prefix.length + object.length + LINE_END.length;
  const line = own ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length);
  prefix.copy(line, 0);
  object.copy(line, prefix.length);
  LINE_END.copy(line, prefix.length + object.length);
  return line;
}

const COMMA = Buffer.from(',');
const LIST_END = Buffer.from(']}');

/**
 * JSON.stringify(body), with the items of a list (`items`, its last field, as every list here builds it) copied
 * from their remembered bytes into one Buffer (bytesOf). A Table's rows (`rows`, its last field) likewise
 * remembered: each row's embedded object or metadata, joined as text.
 */
export function encodeJson(body: unknown): string | Buffer {
  if (typeof body !== 'object' || body === null) return JSON.stringify(body);
  const keys = Object.keys(body);
  const last = keys[keys.length - 1];
  const elements = last === 'items' || last === 'rows' ? (body as Record<string, unknown>)[last] : undefined;
  // (JSON.stringify writes null for these in an array; the element encoders would not.)
  if (!Array.isArray(elements) || elements.some((element) => element === undefined || typeof element === 'function' || typeof element === 'symbol')) return JSON.stringify(body);
  const { [last!]: _elements, ...rest } = body as Record<string, unknown>;
  const head = JSON.stringify(rest);
  const opening = `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}${JSON.stringify(last)}:[`;
  if (last === 'rows') return `${opening}${elements.map(encodeRow).join(',')}]}`;
  const pieces: Buffer[] = [Buffer.from(opening)];
  for (let index = 0; index < elements.length; index++) {
    if (index > 0) pieces.push(COMMA);
    pieces.push(bytesOf(elements[index]));
  }
  pieces.push(LIST_END);
  return Buffer.concat(pieces);
}

/**
 * One Table row as JSON.stringify writes it, with what it embeds remembered: the object itself
 * (includeObject=Object) or the metadata of `{kind, apiVersion, metadata}` (PartialObjectMetadata, the
 * default). Any other shape is stringified as it is.
 */
function encodeRow(row: unknown): string {
  if (typeof row !== 'object' || row === null) return JSON.stringify(row);
  const keys = Object.keys(row);
  const { cells, object } = row as { cells?: unknown; object?: unknown };
  if (keys.length !== 2 || keys[0] !== 'cells' || keys[1] !== 'object' || !Array.isArray(cells) || typeof object !== 'object' || object === null) return JSON.stringify(row);
  return `{"cells":${JSON.stringify(cells)},"object":${encodeRowObject(object)}}`;
}

function encodeRowObject(object: object): string {
  // A whole cached object (includeObject=Object): its remembered bytes as text, not a second copy kept as a string.
  if (shared.has(object)) return bytesOf(object).toString();
  const keys = Object.keys(object);
  const { kind, apiVersion, metadata } = object as { kind?: unknown; apiVersion?: unknown; metadata?: unknown };
  if (keys.length !== 3 || keys[0] !== 'kind' || keys[1] !== 'apiVersion' || keys[2] !== 'metadata' || typeof kind !== 'string' || typeof apiVersion !== 'string') return JSON.stringify(object);
  if (typeof metadata !== 'object' || metadata === null || !shared.has(metadata)) return JSON.stringify(object);
  return `${partialHead(kind, apiVersion)}${textOf(metadata)}}`;
}

/** `{"kind":…,"apiVersion":…,"metadata":` — the same for every row of a Table, so made once per table (the last one is kept). */
let lastHead = { kind: '', apiVersion: '', text: '' };
function partialHead(kind: string, apiVersion: string): string {
  if (lastHead.kind !== kind || lastHead.apiVersion !== apiVersion) lastHead = { kind, apiVersion, text: `${JSON.stringify({ kind, apiVersion }).slice(0, -1)},"metadata":` };
  return lastHead.text;
}
