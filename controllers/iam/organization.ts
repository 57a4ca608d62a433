// Organization: Ready with its project count; it refuses nothing (a Project may name it before it exists).
//
// Deleting an Organization deletes its Projects and waits for them, the way deleting a Namespace deletes
// what is in it: the Organization stays, Terminating with Ready=False ProjectsRemaining, until every Project
// (and so every Project's namespace and everything inside) is gone, then its OrganizationRoleBindings go
// and the finalizer is released. Not ownerReferences and the garbage collector: a Project may be created
// before its Organization (there is no UID to point at yet), and an ownerReference would tie a Project to
// one incarnation of the name, whereas spec.organizationRef is by name. Deleting the bindings last keeps
// the tenant's access while its Projects drain, and means a later Organization of the same name does not
// inherit the old one's grants. Each pass lists live (not from the cache), so a Project or binding created
// while the Organization terminates is deleted too: order of arrival never matters.
import type { ApiClient } from '../../apis/client/index.ts';
import { isNotFound } from '../../apis/client/index.ts';
import { OrganizationResource, OrganizationRoleBindingResource, ProjectResource, type Organization, type OrganizationRoleBinding, type Project } from '../../apis/iam/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Informer } from '../runtime/informer.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import { PROJECTS_FINALIZER } from './names.ts';

export interface OrganizationInformers {
  organizations: Informer<Organization>;
  projects: Informer<Project>;
}

export function organizationReconciler(client: ApiClient, informers: OrganizationInformers): LifecycleReconciler<Organization> {
  const byOrganization = (name: string) => ({ fieldSelector: `spec.organizationRef.name=${name}` });

  /** Deletes each object not yet being deleted; resolves with the names still there. */
  const deleteAll = async (resource: typeof ProjectResource | typeof OrganizationRoleBindingResource, objects: KubeObject[], signal: AbortSignal): Promise<string[]> => {
    for (const object of objects) {
      if (object.metadata.deletionTimestamp) continue;
      await client.delete(resource, object.metadata.name!, { signal, preconditions: { uid: object.metadata.uid } }).catch((error) => { if (!isNotFound(error)) throw error; });
    }
    return objects.map((object) => object.metadata.name!).sort();
  };

  return new LifecycleReconciler<Organization>({
    client,
    resource: OrganizationResource,
    informer: informers.organizations,
    finalizer: PROJECTS_FINALIZER,
    fieldManager: 'organization-controller',
    apply: async (organization): Promise<Outcome> => {
      const projectCount = informers.projects.list().filter((project) => project.spec.organizationRef.name === organization.metadata.name).length;
      return { readiness: ready('Active', `${projectCount} Project(s)`), status: { projectCount } };
    },
    cleanup: async (organization, { signal }): Promise<Outcome | 'done'> => {
      const name = organization.metadata.name!;
      const projects = (await client.listAll<Project>(ProjectResource, { ...byOrganization(name), signal })).items;
      const remaining = await deleteAll(ProjectResource, projects, signal);
      if (remaining.length > 0) return { readiness: notReady('ProjectsRemaining', `waiting for Projects to be deleted: ${remaining.join(', ')}`), status: { projectCount: remaining.length }, eventReason: 'Deleting' };
      const bindings = (await client.listAll<OrganizationRoleBinding>(OrganizationRoleBindingResource, { ...byOrganization(name), signal })).items;
      // Nothing of theirs needs waiting for (no Project is left to grant in): asked to go, they are done.
      await deleteAll(OrganizationRoleBindingResource, bindings, signal);
      return 'done';
    },
  });
}
