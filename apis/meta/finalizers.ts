// Finalizer names the API server and the controllers both act on (Kubernetes' own names, so kubectl's
// `--cascade=foreground|orphan` and namespace deletion behave as users know them).

/** Set by the API server on a `propagationPolicy: Foreground` delete; the garbage collector removes it once no dependent with blockOwnerDeletion is left. */
export const FOREGROUND_FINALIZER = 'foregroundDeletion';
/** Set on a `propagationPolicy: Orphan` delete; the garbage collector removes the dependents' owner references, then it. */
export const ORPHAN_FINALIZER = 'orphan';
/** spec.finalizers of a Namespace: the API server empties the namespace, then removes it. */
export const NAMESPACE_FINALIZER = 'kubernetes';
