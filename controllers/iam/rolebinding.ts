// OrganizationRoleBinding status: Ready while its Organization exists. The grant itself is the API
// server's RBAC authorizer's business (it reads the bindings from its cache); this only tells whoever
// lists bindings (kubectl get orb) which ones point at no Organization and so grant nothing. No finalizer:
// a binding owns nothing outside the API. The Organization's deletion deletes its bindings (organization.ts).
import type { ApiClient } from '../../apis/client/index.ts';
import { OrganizationRoleBindingResource, type Organization, type OrganizationRoleBinding } from '../../apis/iam/v1alpha1/index.ts';
import { setCondition } from '../../apis/meta/conditions.ts';
import type { Informer } from '../runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';

export interface RoleBindingInformers {
  bindings: Informer<OrganizationRoleBinding>;
  organizations: Informer<Organization>;
}

/** The Ready condition of a binding, given its Organization as the cache has it. */
export function bindingReadiness(organization: Organization | undefined, name: string): { status: 'True' | 'False'; reason: string; message: string } {
  if (!organization) return { status: 'False', reason: 'OrganizationNotFound', message: `Organization ${name} does not exist; the binding grants nothing until it does` };
  if (organization.metadata.deletionTimestamp) return { status: 'False', reason: 'OrganizationDeleting', message: `Organization ${name} is being deleted, and its bindings with it` };
  return { status: 'True', reason: 'Bound', message: `granted in every Project of Organization ${name}` };
}

export function roleBindingReconciler(client: ApiClient, informers: RoleBindingInformers): Reconciler {
  return {
    async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
      const binding = informers.bindings.get(request.name);
      if (!binding || binding.metadata.deletionTimestamp) return {};
      const organizationName = binding.spec.organizationRef.name;
      const readiness = bindingReadiness(informers.organizations.get(organizationName), organizationName);
      const generation = binding.metadata.generation;
      const conditions = setCondition(binding.status?.conditions, { type: 'Ready', ...readiness }, generation);
      await writeStatusIfChanged(client, OrganizationRoleBindingResource, binding, { ...binding.status, observedGeneration: generation, conditions }, { fieldManager: 'organizationrolebinding-controller', signal: context.signal });
      return {};
    },
  };
}
