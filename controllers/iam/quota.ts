// A Project's default quota: spec.quota as a core v1 ResourceQuota `project-quota` in its namespace.
//
// INTERIM: projectQuotaHard is this controller's own mapping until the ResourceQuota work lands its pure
// function (Project.spec.quota → ResourceQuota spec.hard, under apiserver/ or apis/); then this function
// should simply call that one, so the names the quota admission charges and the names written here can never
// drift apart. Everything else in the controller goes through this one function.
import { isNotFound, type ApiStatusError } from '../../apis/client/index.ts';
import type { ProjectQuota } from '../../apis/iam/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';

/** core v1 ResourceQuota (not in apis/client/resources.ts yet: the ResourceQuota work serves it). */
export const ResourceQuotaResource = { group: '', version: 'v1', plural: 'resourcequotas', namespaced: true, kind: 'ResourceQuota', apiVersion: 'v1' } as const;

export interface ResourceQuota extends KubeObject {
  spec?: { hard?: Record<string, string> };
}

/** The keys of ResourceQuota spec.hard per Project.spec.quota key (Kubernetes' count/<resource>.<group> form for object counts). */
const HARD_KEYS: Record<keyof ProjectQuota, string> = {
  virtualMachines: 'count/virtualmachines.compute.photoncloud.io',
  cpuCores: 'requests.cpu',
  memory: 'requests.memory',
  storage: 'requests.storage',
  ports: 'count/ports.network.photoncloud.io',
  loadBalancers: 'count/loadbalancers.lb.photoncloud.io',
  buckets: 'count/buckets.storage.photoncloud.io',
};

/**
 * spec.hard for a Project's quota; undefined when there is nothing to limit (no quota, or one with no
 * limits), and then the Project has no ResourceQuota. Quantities are strings, as in ResourceQuota.
 */
export function projectQuotaHard(quota: ProjectQuota | undefined): Record<string, string> | undefined {
  if (!quota) return undefined;
  const hard: Record<string, string> = {};
  for (const [key, value] of Object.entries(quota) as Array<[keyof ProjectQuota, string | number | undefined]>) {
    if (value !== undefined && HARD_KEYS[key]) hard[HARD_KEYS[key]] = String(value);
  }
  return Object.keys(hard).length > 0 ? hard : undefined;
}

/**
 * A 404 for the resource itself, not for one object: the server does not serve it (yet). Kubernetes (and
 * PhotonCloud's server) name the object in a missing object's Status details, never for an unknown route.
 */
export function isNotServed(error: unknown): boolean {
  return isNotFound(error) && !(error as ApiStatusError).status.details?.name;
}
