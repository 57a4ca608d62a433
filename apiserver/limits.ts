// Limits on what one request can make the server build or store. Each is a Kubernetes value where
// Kubernetes has one; the README's "Security model" section lists them all.

/** Largest stored object (etcd's default request limit, which Kubernetes objects live under). */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;
/** Most operations in one JSON patch (Kubernetes' limit). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;
/** Most bytes a JSON patch's copy operations may duplicate altogether (what lets a small patch grow an object). */
export const MAX_JSON_PATCH_COPY_BYTES = MAX_OBJECT_BYTES;

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
