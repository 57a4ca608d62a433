// The IAM controllers: Project (its namespace and default quota), Organization (project count; deleting it
// deletes its Projects) and OrganizationRoleBinding (whether its Organization exists). Each is a separate
// controller (switchable by --controllers) over the manager's shared informers. Every reference between
// the kinds is a watch, so an object waiting for another is reconciled again when that one changes.
import type { ApiClient, Namespace } from '../../apis/client/index.ts';
import { NamespaceResource } from '../../apis/client/index.ts';
import { OrganizationResource, OrganizationRoleBindingResource, ProjectResource, type Organization, type OrganizationRoleBinding, type Project } from '../../apis/iam/v1alpha1/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { Controller, watchOf } from '../runtime/controller.ts';
import type { InformerCache } from '../runtime/informer.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { organizationReconciler } from './organization.ts';
import { projectReconciler } from './project.ts';
import { roleBindingReconciler } from './rolebinding.ts';

export interface IamDeps {
  client: ApiClient;
  informers: InformerCache;
}

function iamInformers(informers: InformerCache) {
  return {
    organizations: informers.informerFor<Organization>(OrganizationResource),
    projects: informers.informerFor<Project>(ProjectResource),
    bindings: informers.informerFor<OrganizationRoleBinding>(OrganizationRoleBindingResource),
    namespaces: informers.informerFor<Namespace & { metadata: { name: string } }>(NamespaceResource),
  };
}

export function projectController(deps: IamDeps, log: Logger, metrics?: RuntimeMetrics): Controller {
  const informers = iamInformers(deps.informers);
  const projectsOf = (organization: string) => informers.projects.list().filter((project) => project.spec.organizationRef.name === organization).map((project) => ({ name: project.metadata.name! }));
  return new Controller({
    name: 'project-controller',
    client: deps.client,
    informers: deps.informers,
    resource: ProjectResource,
    reconciler: projectReconciler(deps.client, informers),
    logger: log,
    metrics,
    watches: [
      // Its Organization appearing, changing or going.
      watchOf(informers.organizations, (organization) => projectsOf(organization.metadata.name!)),
      // The namespace of the Project's name, whoever's it is: created, deleted by hand, finally gone
      // (a conflict that ends, a deletion that completes).
      watchOf(informers.namespaces, (namespace) => (informers.projects.get(namespace.metadata.name) ? [{ name: namespace.metadata.name }] : [])),
    ],
  });
}

export function organizationController(deps: IamDeps, log: Logger, metrics?: RuntimeMetrics): Controller {
  const informers = iamInformers(deps.informers);
  return new Controller({
    name: 'organization-controller',
    client: deps.client,
    informers: deps.informers,
    resource: OrganizationResource,
    reconciler: organizationReconciler(deps.client, informers),
    logger: log,
    metrics,
    // A Project coming or going changes its Organization's count, or ends its wait to be deleted.
    watches: [watchOf(informers.projects, (project) => [{ name: project.spec.organizationRef.name }])],
  });
}

export function organizationRoleBindingController(deps: IamDeps, log: Logger, metrics?: RuntimeMetrics): Controller {
  const informers = iamInformers(deps.informers);
  return new Controller({
    name: 'organizationrolebinding-controller',
    client: deps.client,
    informers: deps.informers,
    resource: OrganizationRoleBindingResource,
    reconciler: roleBindingReconciler(deps.client, informers),
    logger: log,
    metrics,
    watches: [watchOf(informers.organizations, (organization) => informers.bindings.list().filter((binding) => binding.spec.organizationRef.name === organization.metadata.name).map((binding) => ({ name: binding.metadata.name! })))],
  });
}
