// Limits on what one request can make the server build or store. Each is a Kubernetes value where
// Kubernetes has one; the README's "Security model" section lists them all.

/** Largest stored object (etcd's default request limit, which Kubernetes objects live under). */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;
/**
 * Most fields (object keys plus list items, at every level) in a request body or a stored object. Every
 * stage a write passes through (decode, prune, validate, field ownership, encode) walks every field on the
 * one event loop at several microseconds each; this keeps one write's share of that loop in the hundreds
 * of milliseconds, however the bytes are spent. (A 5,000-record DNS zone has about 25,000.)
 */
export const MAX_OBJECT_FIELDS = 50_000;
/** Most operations in one JSON patch (Kubernetes' limit). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;
/** Most bytes a JSON patch's copy operations may duplicate altogether (what lets a small patch grow an object). */
export const MAX_JSON_PATCH_COPY_BYTES = MAX_OBJECT_BYTES;

/** How many fields (keys and list items) `value` has, counting stops past `limit`. */
export function fieldCountUpTo(value: unknown, limit: number): number {
  let fields = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && fields <= limit) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      fields += node.length;
      for (const item of node) if (typeof item === 'object' && item !== null) stack.push(item);
    } else if (typeof node === 'object' && node !== null) {
      for (const key in node) {
        fields++;
        const item = (node as Record<string, unknown>)[key];
        if (typeof item === 'object' && item !== null) stack.push(item);
      }
    }
  }
  return fields;
}

/**
 * The size `value` would have as JSON, counted without recursion and without building the text; counting
 * stops once it passes `limit` (the result is then just above it), so a huge value costs no more than the
 * limit to measure.
 */
export function jsonBytesUpTo(value: unknown, limit: number): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && bytes <= limit) {
    const node = stack.pop();
    if (typeof node === 'string') bytes += node.length + 2;
    else if (typeof node === 'number' || typeof node === 'boolean' || node === null) bytes += String(node).length;
    else if (Array.isArray(node)) {
      bytes += 1 + node.length;
      for (const item of node) stack.push(item);
    } else if (typeof node === 'object') {
      const entries = Object.entries(node);
      bytes += 1 + entries.length;
      for (const [key, item] of entries) {
        bytes += key.length + 3;
        stack.push(item);
      }
    }
  }
  return bytes;
}
