// ControllerFinalizers: an object of a kind whose controller keeps a finalizer on every object (a Port's OVN
// rows, a Volume's image) gets that finalizer when it is created, instead of from the controller's first
// write. That write was a third of a Port's (create, finalizer, status) and a reconcile pass besides.
// Kubernetes' StorageObjectInUseProtection plugin adds `kubernetes.io/pvc-protection` the same way.
//
// Which finalizers: those the controller manager that leads now announced on its Lease
// (apis/meta/finalizers.ts: the annotation and its format). Only while that Lease is held and not expired:
// with no manager (an API server on its own, as many tests run it), an object gets no finalizer and is
// deleted at once, as before. Nothing depends on this plugin for correctness: a controller still adds its
// finalizer to any object that lacks it (made before the announcement, or while no manager led), and an
// object created just as a manager stopped keeps a finalizer the next one removes, as if it had added it.
//
// Read from the watch cache on every create, never from storage: a miss means "no manager", which costs
// nothing. The parsed announcement is kept until the annotation changes.
import { groupResourceOf, leaseExpired, LeaseResource, type Lease } from '../../apis/client/resources.ts';
import { CONTROLLER_MANAGER_LEASE, HANDLED_FINALIZERS_ANNOTATION, parseHandledFinalizers } from '../../apis/meta/finalizers.ts';
import type { AdmissionPlugin } from './chain.ts';

/** Whether the Lease is held now: a holder, and not expired by the Lease API's own rule. */
export function leaseHeld(lease: Lease | undefined, nowMs: number): boolean {
  return !!lease?.spec?.holderIdentity && !leaseExpired(lease.spec, nowMs);
}

export function controllerFinalizers(now: () => number = Date.now): AdmissionPlugin {
  let parsedFrom: string | undefined;
  let parsed: Map<string, string[]> | undefined;
  const announced = (text: string) => {
    if (text !== parsedFrom) {
      parsedFrom = text;
      parsed = parseHandledFinalizers(text);
    }
    return parsed;
  };
  return {
    name: 'ControllerFinalizers',
    operations: ['CREATE'],
    async admit({ resource, object }, lookup) {
      const lease = lookup.cached(LeaseResource, CONTROLLER_MANAGER_LEASE.namespace, CONTROLLER_MANAGER_LEASE.name) as Lease | undefined;
      const text = lease?.metadata.annotations?.[HANDLED_FINALIZERS_ANNOTATION];
      if (!text || !leaseHeld(lease, now())) return [];
      const finalizers = announced(text)?.get(groupResourceOf(resource));
      if (!finalizers) return [];
      const missing = finalizers.filter((finalizer) => !object.metadata.finalizers?.includes(finalizer));
      if (missing.length > 0) object.metadata.finalizers = [...(object.metadata.finalizers ?? []), ...missing];
      return [];
    },
  };
}
