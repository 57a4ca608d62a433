// The names ResourceQuota limits PhotonCloud resources by, in one place for the API server (which charges and
// counts them, apiserver/quota/) and the project controller (which writes a Project's default quota), so the
// two can never disagree. Object counts use Kubernetes' `count/<plural>.<group>` form (any served kind may be
// counted that way); the sums are named as Kubernetes names requests. Hand-written, beside generated types.
import type { ProjectQuota } from './project.ts';

export const QUOTA_CPU = 'requests.cpu';
export const QUOTA_MEMORY = 'requests.memory';
export const QUOTA_STORAGE = 'requests.storage';
/** Object storage: the sum of Buckets' spec.quota.maxSize (named as Kubernetes scopes storage by class). */
export const QUOTA_BUCKET_STORAGE = 'buckets.storage.photoncloud.io/requests.storage';

/** `count/virtualmachines.compute.photoncloud.io`; `count/configmaps` for the core group. */
export const countQuotaName = (plural: string, group: string) => (group ? `count/${plural}.${group}` : `count/${plural}`);

/** The ResourceQuota key each Project.spec.quota field limits. */
export const PROJECT_QUOTA_KEYS: Record<keyof ProjectQuota, string> = {
  virtualMachines: countQuotaName('virtualmachines', 'compute.photoncloud.io'),
  cpuCores: QUOTA_CPU,
  memory: QUOTA_MEMORY,
  storage: QUOTA_STORAGE,
  ports: countQuotaName('ports', 'network.photoncloud.io'),
  loadBalancers: countQuotaName('loadbalancers', 'lb.photoncloud.io'),
  buckets: countQuotaName('buckets', 'storage.photoncloud.io'),
  bucketStorage: QUOTA_BUCKET_STORAGE,
};

/**
 * spec.hard for a Project's quota; undefined when there is nothing to limit (no quota, or one with no
 * limits), and then the Project has no ResourceQuota. Quantities are strings, as in ResourceQuota.
 */
export function projectQuotaHard(quota: ProjectQuota | undefined): Record<string, string> | undefined {
  if (!quota) return undefined;
  const hard: Record<string, string> = {};
  for (const [key, value] of Object.entries(quota) as Array<[keyof ProjectQuota, string | number | undefined]>) {
    if (value !== undefined && PROJECT_QUOTA_KEYS[key]) hard[PROJECT_QUOTA_KEYS[key]] = String(value);
  }
  return Object.keys(hard).length > 0 ? hard : undefined;
}
