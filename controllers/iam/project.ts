// Project → the namespace named exactly as the Project (labelled, owned by it) and, when spec.quota is set,
// the ResourceQuota `project-quota` in it. Order of arrival never matters: a Project waits for its
// Organization (Ready=False OrganizationNotFound) and the Organization watch brings it back when it appears.
// Deleting a Project deletes its namespace and waits until the API server's namespace lifecycle has
// emptied and removed it (everything inside goes with it) before the finalizer is released.
import { isAlreadyExists, isNotFound, NamespaceResource, type ApiClient, type Namespace } from '../../apis/client/index.ts';
import { ProjectResource, type Organization, type Project } from '../../apis/iam/v1alpha1/index.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import type { ConditionInput } from '../../apis/meta/conditions.ts';
import type { Informer } from '../runtime/informer.ts';
import type { ReconcileContext } from '../runtime/reconciler.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import { desiredNamespace, namespacePatch, ownershipOf, projectLabels } from './namespace.ts';
import { NAMESPACE_FINALIZER, organizationOf, PROJECT_LABEL, PROJECT_QUOTA_NAME } from './names.ts';
import { isNotServed, projectQuotaHard, ResourceQuotaResource, type ResourceQuota } from './quota.ts';

/** How soon a Project whose quota could not be written because ResourceQuota is not served looks again (nothing watches for it). */
export const QUOTA_RETRY_MS = 30_000;

export interface ProjectInformers {
  projects: Informer<Project>;
  organizations: Informer<Organization>;
  namespaces: Informer<Namespace & { metadata: { name: string } }>;
}

type QuotaCondition = Omit<ConditionInput, 'lastTransitionTime'>;

export function projectReconciler(client: ApiClient, informers: ProjectInformers): LifecycleReconciler<Project> {
  const fieldManager = 'project-controller';

  /** The namespace as stored: a fresh GET, because creating from a stale cache must not fail forever. */
  const getNamespace = async (name: string, signal: AbortSignal): Promise<Namespace | undefined> => {
    try {
      return await client.get<Namespace & { metadata: { name: string } }>(NamespaceResource, name, { signal });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  /** Makes project-quota match spec.quota (created, updated, or removed when spec.quota is). */
  const syncQuota = async (project: Project, signal: AbortSignal): Promise<QuotaCondition & { retry?: boolean }> => {
    const namespace = project.metadata.name!;
    const hard = projectQuotaHard(project.spec.quota);
    const options = { namespace, fieldManager, signal };
    let current: ResourceQuota | undefined;
    try {
      current = await client.get<ResourceQuota>(ResourceQuotaResource, PROJECT_QUOTA_NAME, { namespace, signal });
    } catch (error) {
      if (isNotServed(error)) {
        return hard
          ? { type: 'QuotaApplied', status: 'False', reason: 'ResourceQuotaNotServed', message: 'the API server does not serve ResourceQuota yet; spec.quota is not enforced', retry: true }
          : { type: 'QuotaApplied', status: 'True', reason: 'NoQuota', message: 'spec.quota sets no limits' };
      }
      if (!isNotFound(error)) throw error;
    }
    // Only a quota this controller made is changed or removed; one an admin put there by hand is left alone.
    const ours = current && current.metadata.labels?.[PROJECT_LABEL] === namespace;
    if (!hard) {
      if (current && ours) await client.delete(ResourceQuotaResource, PROJECT_QUOTA_NAME, { namespace, signal, preconditions: { uid: current.metadata.uid } }).catch((error) => { if (!isNotFound(error)) throw error; });
      return { type: 'QuotaApplied', status: 'True', reason: 'NoQuota', message: 'spec.quota sets no limits' };
    }
    const applied: QuotaCondition = { type: 'QuotaApplied', status: 'True', reason: 'Applied', message: `ResourceQuota ${PROJECT_QUOTA_NAME} holds spec.quota` };
    if (!current) {
      await client.create<ResourceQuota>(ResourceQuotaResource, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: PROJECT_QUOTA_NAME, namespace, labels: projectLabels(project) }, spec: { hard } }, options);
      return applied;
    }
    if (!ours) return { type: 'QuotaApplied', status: 'False', reason: 'QuotaConflict', message: `a ResourceQuota ${PROJECT_QUOTA_NAME} not made for this Project is in the namespace; it is left alone` };
    // A PUT with the read resourceVersion: an edit in between is a 409 and the reconcile starts over.
    if (!jsonEqual(current.spec?.hard, hard)) await client.update<ResourceQuota>(ResourceQuotaResource, { ...current, spec: { ...current.spec, hard } }, options);
    return applied;
  };

  const apply = async (project: Project, { signal, recorder }: ReconcileContext): Promise<Outcome> => {
    const name = project.metadata.name!;
    const orgName = organizationOf(project);
    const organization = informers.organizations.get(orgName);
    // A namespace made earlier stays (and stays in status): a missing Organization deletes nothing.
    if (!organization) return { readiness: notReady('OrganizationNotFound', `Organization ${orgName} does not exist`) };
    // Its Organization's deletion deletes this Project (organization.ts); meanwhile nothing new is made.
    if (organization.metadata.deletionTimestamp) return { readiness: notReady('OrganizationDeleting', `Organization ${orgName} is being deleted, and its Projects with it`) };

    let namespace = await getNamespace(name, signal);
    if (!namespace) {
      try {
        namespace = await client.create<Namespace & { metadata: { name: string } }>(NamespaceResource, desiredNamespace(project) as Namespace & { metadata: { name: string } }, { fieldManager, signal });
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
        namespace = await getNamespace(name, signal);
        if (!namespace) throw error; // gone again in between: retried
      }
    }
    const ownership = ownershipOf(namespace, project);
    if (ownership.kind === 'conflict') return { readiness: notReady('NamespaceConflict', ownership.message), status: { namespace: undefined } };
    // Deleted by hand while the Project lives: it comes back once the namespace lifecycle has removed it
    // (the namespace watch reconciles this Project then).
    if (namespace.metadata.deletionTimestamp) return { readiness: notReady('NamespaceTerminating', `namespace ${name} is being deleted; it is created again once it is gone`), status: { namespace: undefined } };
    const patch = namespacePatch(namespace, project);
    if (patch) {
      await client.patch(NamespaceResource, name, patch, { fieldManager, signal });
      if (ownership.kind === 'adoptable') void recorder.event(project, 'Normal', 'NamespaceAdopted', `adopted namespace ${name}, which was labelled ${PROJECT_LABEL}=${name}`);
    }

    const quota = await syncQuota(project, signal);
    const { retry, ...condition } = quota;
    return {
      readiness: ready('NamespaceReady', `namespace ${name} is in place`),
      status: { namespace: name },
      conditions: [condition],
      requeueAfterMs: retry ? QUOTA_RETRY_MS : undefined,
    };
  };

  const cleanup = async (project: Project, signal: AbortSignal): Promise<Outcome | 'done'> => {
    const name = project.metadata.name!;
    const namespace = await getNamespace(name, signal);
    // Never delete a namespace that is not this Project's (a system namespace it conflicted with).
    if (!namespace || ownershipOf(namespace, project).kind !== 'owned') return 'done';
    if (!namespace.metadata.deletionTimestamp) {
      await client.delete(NamespaceResource, name, { signal, preconditions: { uid: namespace.metadata.uid } }).catch((error) => { if (!isNotFound(error)) throw error; });
    }
    return { readiness: notReady('NamespaceTerminating', `waiting for namespace ${name} and everything in it to be deleted`), eventReason: 'Deleting' };
  };

  return new LifecycleReconciler<Project>({
    client,
    resource: ProjectResource,
    informer: informers.projects,
    finalizer: NAMESPACE_FINALIZER,
    fieldManager,
    apply: (project, context) => apply(project, context),
    cleanup: (project, context) => cleanup(project, context.signal),
  });
}
