// The plugins the API server runs, in the order chain.ts documents (and why): namespace lifecycle, parent
// lifecycle, then the per-kind checks. The one place the order is written down in code.
import type { RbacAuthorizer } from '../authz/rbac/authorizer.ts';
import type { QuotaLedger } from '../quota/ledger.ts';
import type { AdmissionPlugin } from './chain.ts';
import { namespaceLifecycle } from './namespace-lifecycle.ts';
import { nodeRestriction } from './node-restriction.ts';
import { zoneValidation } from './dns.ts';
import { loadBalancerValidation } from './lb.ts';
import { NETWORK_PARENTS, networkAdmission } from './network.ts';
import { parentLifecycle } from './parent-lifecycle.ts';
import { userPassword } from './user-password.ts';
import { controllerFinalizers } from './controller-finalizers.ts';
import { projectOrganization, rbacEscalation } from './rbac-escalation.ts';
import { resourceQuota } from './resource-quota.ts';
import { storageClassValidation, volumeValidation } from './storage.ts';

export interface AdmissionDeps {
  authorizer: RbacAuthorizer;
  quota: QuotaLedger;
}

export function standardAdmissionPlugins(deps: AdmissionDeps): AdmissionPlugin[] {
  // Who may grant what comes right after the namespace check: nothing else is worth validating about a grant
  // its author may not make.
  return [namespaceLifecycle, nodeRestriction, rbacEscalation(deps.authorizer), projectOrganization(deps.authorizer), parentLifecycle(NETWORK_PARENTS), ...networkAdmission, zoneValidation, loadBalancerValidation, storageClassValidation, volumeValidation, userPassword, controllerFinalizers(), resourceQuota(deps.quota)];
}
