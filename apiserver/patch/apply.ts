// Server-side apply, merge part: the applied configuration is merged into the live object following the
// schema's structure (maps merge field by field; list-type=map lists merge item by item on their keys;
// other lists and atomic maps are replaced). Field ownership (managedFields, conflicts, removal of fields an
// applier stopped sending) is tracked separately.
import { childSchema, isPlainObject, type JSONSchemaProps } from '../admission/structural-schema.ts';
import { setOwn } from './merge-patch.ts';

export function mergeApplied(live: unknown, applied: unknown, schema: JSONSchemaProps | undefined): unknown {
  if (Array.isArray(applied)) {
    const keys = schema?.['x-kubernetes-list-type'] === 'map' ? schema['x-kubernetes-list-map-keys'] ?? [] : undefined;
    if (!keys || !Array.isArray(live)) return structuredClone(applied);
    const identity = (item: unknown) => (isPlainObject(item) ? JSON.stringify(keys.map((key) => item[key])) : JSON.stringify(item));
    const merged = live.map((item) => structuredClone(item));
    const positions = new Map(merged.map((item, index) => [identity(item), index]));
    for (const item of applied) {
      const position = positions.get(identity(item));
      if (position === undefined) merged.push(structuredClone(item));
      else merged[position] = mergeApplied(merged[position], item, schema?.items);
    }
    return merged;
  }
  if (!isPlainObject(applied)) return structuredClone(applied);
  if (schema?.['x-kubernetes-map-type'] === 'atomic' || !isPlainObject(live)) return structuredClone(applied);
  const result: Record<string, unknown> = { ...live };
  for (const [key, value] of Object.entries(applied)) {
    setOwn(result, key, mergeApplied(result[key], value, childSchema(schema, key)));
  }
  return result;
}
