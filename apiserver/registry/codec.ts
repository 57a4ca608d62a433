// Objects are stored as JSON in their storage form (storage apiVersion, converted when a resource serves
// another shape) without metadata.resourceVersion: the store's modRevision is the single source of truth for
// it, filled in on the way out.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { KeyValue } from '../storage/types.ts';
import { fromStorage, toStorage, type ResourceInfo } from './resource.ts';

/**
 * How many objects this process has encoded for storage and decoded from it (every server in the process):
 * the API server's metrics export them (apiserver_storage_codec_total), and a test holds a create to its count.
 */
export const codecCounts = { encode: 0, decode: 0 };

export function encodeObject(object: KubeObject, resource: ResourceInfo): Buffer {
  codecCounts.encode++;
  const stored = toStorage(resource, object);
  const { resourceVersion: _ignored, ...metadata } = stored.metadata;
  return Buffer.from(JSON.stringify({ ...stored, metadata }));
}

/** Decodes a stored value as `resource` serves it. */
export function decodeObject(value: Buffer, modRevision: number, resource: ResourceInfo): KubeObject {
  codecCounts.decode++;
  const stored = JSON.parse(value.toString('utf8')) as KubeObject;
  stored.metadata.resourceVersion = String(modRevision);
  return fromStorage(resource, stored);
}

export function decodeKeyValue(kv: KeyValue, resource: ResourceInfo): KubeObject {
  return decodeObject(kv.value, kv.modRevision, resource);
}
