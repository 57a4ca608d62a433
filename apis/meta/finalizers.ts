// Finalizer names the API server and the controllers both act on (Kubernetes' own names, so kubectl's
// `--cascade=foreground|orphan` and namespace deletion behave as users know them).
import { groupResourceOf } from '../client/resources.ts';

/** Set by the API server on a `propagationPolicy: Foreground` delete; the garbage collector removes it once no dependent with blockOwnerDeletion is left. */
export const FOREGROUND_FINALIZER = 'foregroundDeletion';
/** Set on a `propagationPolicy: Orphan` delete; the garbage collector removes the dependents' owner references, then it. */
export const ORPHAN_FINALIZER = 'orphan';
/** spec.finalizers of a Namespace: the API server empties the namespace, then removes it. */
export const NAMESPACE_FINALIZER = 'kubernetes';

/**
 * On the controller manager's leader Lease (photon-system/photon-controller-manager): the finalizers the
 * leading manager's controllers keep, by resource, so the API server can add each at create time (see
 * apiserver/admission/controller-finalizers.ts) and save every such object the controller's first write.
 * Written by the leader for its term only (a new holder's first write removes it until its controllers run).
 */
export const HANDLED_FINALIZERS_ANNOTATION = 'controllers.photoncloud.io/finalizers';
/** The Lease that annotation is read from: the controller manager's default leader Lease. */
export const CONTROLLER_MANAGER_LEASE = { namespace: 'photon-system', name: 'photon-controller-manager' } as const;

/** A finalizer a controller keeps on every object of one resource. */
export interface HandledFinalizer {
  group: string;
  plural: string;
  finalizer: string;
}

/** What one announcement may hold: far more than the kinds there are, so a bad annotation costs little. */
const MAX_HANDLED = 64;
const RESOURCE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const FINALIZER = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/** `ports.network.photoncloud.io=network.photoncloud.io/ovn,…` (a core resource is its plural alone), sorted. */
export function formatHandledFinalizers(handled: readonly HandledFinalizer[]): string {
  const entries = handled.map((entry) => `${groupResourceOf(entry)}=${entry.finalizer}`);
  return [...new Set(entries)].sort().join(',');
}

/**
 * The announcement as a map from `<plural>.<group>` (or `<plural>`) to its finalizers; undefined when the
 * text is not a well-formed announcement (then nothing is added: a controller still adds its own).
 */
export function parseHandledFinalizers(text: string): Map<string, string[]> | undefined {
  if (text.length > MAX_HANDLED * 128) return undefined;
  const handled = new Map<string, string[]>();
  const entries = text.split(',');
  if (entries.length > MAX_HANDLED) return undefined;
  for (const entry of entries) {
    const [resource, finalizer, extra] = entry.split('=');
    if (extra !== undefined || !resource || !finalizer || !RESOURCE.test(resource) || !FINALIZER.test(finalizer)) return undefined;
    const list = handled.get(resource) ?? [];
    if (!list.includes(finalizer)) list.push(finalizer);
    handled.set(resource, list);
  }
  return handled;
}
