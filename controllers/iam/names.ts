// The names the IAM controllers write and match on. Labels are how other components (the RBAC authorizer,
// kubectl -l) find a Project's namespace; the finalizers are what a deletion waits for.
import type { OwnerReference } from '../../apis/meta/types.ts';
import { ProjectResource, type Project } from '../../apis/iam/v1alpha1/index.ts';

/** On a Project's namespace (and its quota): the Project. Also how a pre-created namespace asks to be adopted. */
export const PROJECT_LABEL = 'iam.photoncloud.io/project';
/** On a Project's namespace: the Organization, so `kubectl get ns -l iam.photoncloud.io/organization=acme` works. */
export const ORGANIZATION_LABEL = 'iam.photoncloud.io/organization';

/** A Project waits for its namespace (and so everything in it) to be gone. */
export const NAMESPACE_FINALIZER = 'iam.photoncloud.io/namespace';
/** An Organization waits for its Projects to be gone. */
export const PROJECTS_FINALIZER = 'iam.photoncloud.io/projects';

/** The ResourceQuota made from a Project's spec.quota, in the Project's namespace. */
export const PROJECT_QUOTA_NAME = 'project-quota';

/**
 * Namespace names a Project never gets, whether or not the namespace exists yet: the API server's own
 * (apiserver/registry/builtins/namespaces.ts SYSTEM_NAMESPACES) and the ones Kubernetes tools assume are
 * the system's. A namespace that belongs to no Project is a system namespace, for cluster admins only.
 */
export const RESERVED_NAMESPACES: ReadonlySet<string> = new Set(['default', 'photon-system', 'kube-system', 'kube-public', 'kube-node-lease']);

export function organizationOf(project: Project): string {
  return project.spec.organizationRef.name;
}

/** The ownerReference a Project's namespace carries (controller: the project-controller manages it). */
export function projectOwnerReference(project: Project): OwnerReference {
  return { apiVersion: ProjectResource.apiVersion, kind: ProjectResource.kind, name: project.metadata.name!, uid: project.metadata.uid!, controller: true };
}
