// ResourceQuota (Kubernetes' plugin of that name), last in the chain so only writes every other plugin
// admitted are charged: a create or update that raises what its namespace uses of a limited name (an object
// count, VirtualMachine cores, memory or disk) is charged to every ResourceQuota of the namespace that limits
// it, or refused with 403 `exceeded quota` (or `must specify` when the object would use it without bound). The ledger (quota/ledger.ts) records the charge in the quota's
// status before the object is stored. Dry runs are checked and not charged. Lowering usage (deletes, smaller
// VMs) is the quota loop's recount, never a charge.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { QuotaLedger } from '../quota/ledger.ts';
import { unboundedUsage, usageOf } from '../quota/usage.ts';
import { ApiError } from '../errors.ts';
import type { AdmissionPlugin } from './chain.ts';

const hardNames = (quotas: KubeObject[]) => new Set(quotas.flatMap((quota) => Object.keys((quota.spec as { hard?: object } | undefined)?.hard ?? {})));

export function resourceQuota(ledger: QuotaLedger): AdmissionPlugin {
  return {
    name: 'ResourceQuota',
    operations: ['CREATE', 'UPDATE'],
    async admit(attributes, lookup) {
      const { resource, object, old } = attributes;
      if (!resource.namespaced || attributes.subresource !== undefined) return [];
      if (resource.group === '' && resource.plural === 'resourcequotas') return [];
      const namespace = object.metadata.namespace!;
      const quotas = await lookup.list({ group: '', plural: 'resourcequotas' }, namespace);
      if (quotas.length === 0) return [];
      // A limited name the object would use without bound (Kubernetes: "must specify limits"): refused.
      const limited = hardNames(quotas);
      const unbounded = unboundedUsage(resource, object).find((entry) => limited.has(entry.name));
      if (unbounded) throw new ApiError(403, 'Forbidden', `failed quota: must specify ${unbounded.field}: a ResourceQuota in ${namespace} limits ${unbounded.name}`);
      const after = usageOf(resource, object);
      const before = usageOf(resource, old);
      const increase: Record<string, number> = {};
      for (const name of hardNames(quotas)) {
        const delta = (after[name] ?? 0) - (before[name] ?? 0);
        if (delta > 0) increase[name] = delta;
      }
      await ledger.charge(namespace, increase, attributes.dryRun);
      return [];
    },
  };
}
