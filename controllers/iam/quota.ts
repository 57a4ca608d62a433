// A Project's default quota: spec.quota as a core v1 ResourceQuota `project-quota` in its namespace. The
// mapping (projectQuotaHard) lives with the quota names in apis/iam/v1alpha1/quota.ts, which the API server's
// quota admission charges by too, so the two cannot drift apart.
import { isNotFound, type ApiStatusError } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';

/** core v1 ResourceQuota (not in apis/client/resources.ts yet: the ResourceQuota work serves it). */
export const ResourceQuotaResource = { group: '', version: 'v1', plural: 'resourcequotas', namespaced: true, kind: 'ResourceQuota', apiVersion: 'v1' } as const;

export interface ResourceQuota extends KubeObject {
  spec?: { hard?: Record<string, string> };
}

export { projectQuotaHard } from '../../apis/iam/v1alpha1/quota.ts';

/**
 * A 404 for the resource itself, not for one object: the server does not serve it (yet). Kubernetes (and
 * PhotonCloud's server) name the object in a missing object's Status details, never for an unknown route.
 */
export function isNotServed(error: unknown): boolean {
  return isNotFound(error) && !(error as ApiStatusError).status.details?.name;
}
