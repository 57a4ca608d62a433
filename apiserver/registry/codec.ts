// Objects are stored as JSON in their storage form (storage apiVersion, converted when a resource serves
// another shape) without metadata.resourceVersion: the store's modRevision is the single source of truth for
// it, filled in on the way out.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { KeyValue } from '../storage/types.ts';
import { fromStorage, toStorage, type ResourceInfo } from './resource.ts';

export function encodeObject(object: KubeObject, resource: ResourceInfo): Buffer {
  const stored = toStorage(resource, object);
  const { resourceVersion: _ignored, ...metadata } = stored.metadata;
  return Buffer.from(JSON.stringify({ ...stored, metadata }));
}

/** Decodes a stored value as `resource` serves it. */
export function decodeObject(value: Buffer, modRevision: number, resource: ResourceInfo): KubeObject {
  const stored = JSON.parse(value.toString('utf8')) as KubeObject;
  stored.metadata.resourceVersion = String(modRevision);
  return fromStorage(resource, stored);
}

export function decodeKeyValue(kv: KeyValue, resource: ResourceInfo): KubeObject {
  return decodeObject(kv.value, kv.modRevision, resource);
}
