// The plugins the API server runs, in the order chain.ts documents (and why): namespace lifecycle, parent
// lifecycle, then the per-kind checks. The one place the order is written down in code.
import type { AdmissionPlugin } from './chain.ts';
import { namespaceLifecycle } from './namespace-lifecycle.ts';
import { NETWORK_PARENTS, networkAdmission } from './network.ts';
import { parentLifecycle } from './parent-lifecycle.ts';
import { userPassword } from './user-password.ts';

export function standardAdmissionPlugins(): AdmissionPlugin[] {
  return [namespaceLifecycle, parentLifecycle(NETWORK_PARENTS), ...networkAdmission, userPassword];
}
