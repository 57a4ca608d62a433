// A deep copy of JSON data: what JSON.parse returns and objects built from it (API objects, request bodies,
// schema defaults). About nine times faster than structuredClone, which goes through V8's serializer; the
// API server copies an object on every update (the stored one must not change under a patch), so this was
// ~5% of its CPU under load. Not for other values: a Date, Map, Buffer or class instance comes back as a
// plain object, and a cycle recurses without end (JSON has neither; request bodies are depth-bounded).
// Properties whose value is undefined are kept, as structuredClone keeps them.
export function cloneJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy = new Array(value.length);
    for (let index = 0; index < value.length; index++) copy[index] = cloneJson(value[index]);
    return copy as T;
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const child = cloneJson((value as Record<string, unknown>)[key]);
    // JSON.parse makes "__proto__" an own property; assigning it would set the copy's prototype instead.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: child, enumerable: true, writable: true, configurable: true });
    else copy[key] = child;
  }
  return copy as T;
}
