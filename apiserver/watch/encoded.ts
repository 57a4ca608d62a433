// JSON text of the watch cache's objects, computed at most once per object. The cache never modifies an
// object it holds (a change replaces it), so a repeated list serialises only what changed since the last
// one: JSON.stringify was ~45 ms of a ~80 ms list of 10,000 Vpcs. The price is each listed object's JSON
// (about its size again) for as long as the cache holds that object; nothing is kept for other objects.
const shared = new WeakSet<object>();
const encoded = new WeakMap<object, string>();

/** Marks an object the watch cache holds: nobody modifies it from now on, so its JSON may be kept. */
export function markShared(object: object): void {
  shared.add(object);
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
 * serialised through jsonOf: a list from the watch cache costs a join of remembered texts.
 */
export function encodeJson(body: unknown): string {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { items?: unknown }).items)) return JSON.stringify(body);
  const { items, ...rest } = body as { items: unknown[] } & Record<string, unknown>;
  const keys = Object.keys(body);
  if (keys[keys.length - 1] !== 'items' || items.some((item) => item === undefined || typeof item === 'function')) return JSON.stringify(body);
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"items":[${items.map(jsonOf).join(',')}]}`;
}
