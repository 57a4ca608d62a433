// What one object uses of each quota resource name: 1 of `count/<its plural>.<its group>`, and for a
// VirtualMachine its cores (requests.cpu), memory (requests.memory) and disks (requests.storage: boot disk
// plus data disks), a Volume its size (requests.storage too: block storage is storage wherever it lives), and a
// Bucket its quota.maxSize (buckets.storage.photoncloud.io/requests.storage; a Bucket without one is unbounded,
// which a namespace limiting that name refuses: see unboundedUsage).
// A name this server does not know uses nothing, so a ResourceQuota may list names for
// kinds served later without being refused.
import { countQuotaName, QUOTA_BUCKET_STORAGE, QUOTA_CPU, QUOTA_MEMORY, QUOTA_STORAGE } from '../../apis/iam/v1alpha1/quota.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { parseQuantity } from './quantity.ts';

const COMPUTE_GROUP = 'compute.photoncloud.io';
const STORAGE_GROUP = 'storage.photoncloud.io';

interface VmSpec {
  cpu?: { cores?: number };
  memory?: string;
  boot?: { diskSize?: string };
  disks?: Array<{ size?: string }>;
}

function vmSums(object: KubeObject): Record<string, number> {
  const spec = (object.spec ?? {}) as VmSpec;
  const storage = (parseQuantity(spec.boot?.diskSize) ?? 0) + (spec.disks ?? []).reduce((sum, disk) => sum + (parseQuantity(disk.size) ?? 0), 0);
  return { [QUOTA_CPU]: Number(spec.cpu?.cores ?? 0) || 0, [QUOTA_MEMORY]: parseQuantity(spec.memory) ?? 0, [QUOTA_STORAGE]: storage };
}

/** Every quota name this object uses, with how much. */
export function usageOf(resource: { group: string; plural: string; kind: string }, object: KubeObject | undefined): Record<string, number> {
  if (!object) return {};
  const usage: Record<string, number> = { [countQuotaName(resource.plural, resource.group)]: 1 };
  if (resource.group === COMPUTE_GROUP && resource.kind === 'VirtualMachine') Object.assign(usage, vmSums(object));
  if (resource.group === STORAGE_GROUP && resource.kind === 'Volume') usage[QUOTA_STORAGE] = parseQuantity((object.spec as { size?: string } | undefined)?.size) ?? 0;
  if (resource.group === STORAGE_GROUP && resource.kind === 'Bucket') usage[QUOTA_BUCKET_STORAGE] = parseQuantity(bucketMaxSize(object)) ?? 0;
  return usage;
}

const bucketMaxSize = (object: KubeObject) => (object.spec as { quota?: { maxSize?: string } } | undefined)?.quota?.maxSize;

/** Quota names the object uses without a bound (and the field that would bound it): a Bucket without quota.maxSize. */
export function unboundedUsage(resource: { group: string; kind: string }, object: KubeObject): Array<{ name: string; field: string }> {
  if (resource.group === STORAGE_GROUP && resource.kind === 'Bucket' && !bucketMaxSize(object)) return [{ name: QUOTA_BUCKET_STORAGE, field: 'spec.quota.maxSize' }];
  return [];
}

/** The `count/<plural>.<group>` names: which resource each counts. */
export function countedResource(name: string): { plural: string; group: string } | undefined {
  const match = /^count\/([a-z0-9-]+)(?:\.(.+))?$/.exec(name);
  return match ? { plural: match[1], group: match[2] ?? '' } : undefined;
}

/** The kinds whose objects contribute to a quota name (for recounting); undefined: none this server knows. */
export function resourcesFor(name: string): Array<{ plural: string; group: string; kind?: string }> | undefined {
  const counted = countedResource(name);
  if (counted) return [counted];
  if ([QUOTA_CPU, QUOTA_MEMORY].includes(name)) return [{ plural: 'virtualmachines', group: COMPUTE_GROUP, kind: 'VirtualMachine' }];
  if (name === QUOTA_STORAGE) return [{ plural: 'virtualmachines', group: COMPUTE_GROUP, kind: 'VirtualMachine' }, { plural: 'volumes', group: STORAGE_GROUP, kind: 'Volume' }];
  if (name === QUOTA_BUCKET_STORAGE) return [{ plural: 'buckets', group: STORAGE_GROUP, kind: 'Bucket' }];
  return undefined;
}
