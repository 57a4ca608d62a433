// Objects are stored as JSON without metadata.resourceVersion: the store's modRevision is the single source
// of truth for it, filled in on the way out.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { KeyValue } from '../storage/types.ts';
import { apiVersionOf, type ResourceInfo } from './resource.ts';

export function encodeObject(object: KubeObject): Buffer {
  const { resourceVersion: _ignored, ...metadata } = object.metadata;
  return Buffer.from(JSON.stringify({ ...object, metadata }));
}

/** Decodes a stored value as `resource` serves it (its apiVersion: versions of one CRD convert with None). */
export function decodeObject(value: Buffer, modRevision: number, resource: Pick<ResourceInfo, 'group' | 'version'>): KubeObject {
  const object = JSON.parse(value.toString('utf8')) as KubeObject;
  object.apiVersion = apiVersionOf(resource);
  object.metadata.resourceVersion = String(modRevision);
  return object;
}

export function decodeKeyValue(kv: KeyValue, resource: Pick<ResourceInfo, 'group' | 'version'>): KubeObject {
  return decodeObject(kv.value, kv.modRevision, resource);
}
