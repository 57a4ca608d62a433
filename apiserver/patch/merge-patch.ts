// RFC 7386 JSON merge patch (application/merge-patch+json): objects merge recursively, null deletes,
// everything else (lists included) replaces.
import { isPlainObject } from '../schema/structural-schema.ts';
import { cloneJson } from '../../lib/json-clone.ts';

/** Sets a property without ever touching a prototype, whatever the key is called. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // Plain assignment is several times faster; only `__proto__` would reach the prototype through it.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return cloneJson(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, applyMergePatch(result[key], value));
  }
  return result;
}
