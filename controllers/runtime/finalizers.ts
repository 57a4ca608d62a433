// Finalizers, added and removed with JSON patches that carry a `test` op (as kube-rs's finalizer.rs does):
// the patch only applies if the finalizers are still what this (possibly stale) view saw, so it can never
// drop a finalizer another controller added meanwhile. A failed test is reported by the server as 422; it
// surfaces here as a 409 Conflict ApiStatusError, which controllers treat like any stale-view conflict
// (requeue quietly, recompute from the fresh object).
import { ApiStatusError, isInvalid, isNotFound, type ApiClient, type ResourceRef } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export function hasFinalizer(object: KubeObject, finalizer: string): boolean {
  return object.metadata.finalizers?.includes(finalizer) ?? false;
}

/**
 * The JSON patch adding `finalizer` to the object as seen, or undefined when it is already there. With no
 * finalizers yet the precondition is the resourceVersion (a test on an absent path fails on this server);
 * otherwise a test on the whole list.
 */
export function addFinalizerPatch(object: KubeObject, finalizer: string): JsonPatchOperation[] | undefined {
  const finalizers = object.metadata.finalizers;
  if (finalizers?.includes(finalizer)) return undefined;
  if (finalizers === undefined) {
    return [
      { op: 'test', path: '/metadata/resourceVersion', value: object.metadata.resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
    ];
  }
  return [
    { op: 'test', path: '/metadata/finalizers', value: finalizers },
    { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
  ];
}

/** The JSON patch removing `finalizer` (test on its index, then remove), or undefined when it is absent. */
export function removeFinalizerPatch(object: KubeObject, finalizer: string): JsonPatchOperation[] | undefined {
  const index = object.metadata.finalizers?.indexOf(finalizer) ?? -1;
  if (index < 0) return undefined;
  return [
    { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
    { op: 'remove', path: `/metadata/finalizers/${index}` },
  ];
}

export interface FinalizerOptions {
  fieldManager?: string;
  signal?: AbortSignal;
}

/**
 * Applies a JSON patch whose `test` ops are preconditions on the object as this view saw it. A failed test
 * (the server's 422) becomes a 409 Conflict saying `what` changed, so callers treat it as any stale view.
 */
export async function patchWithPreconditions<T extends KubeObject>(client: ApiClient, resource: ResourceRef, object: T, patch: JsonPatchOperation[], options: FinalizerOptions, what = 'finalizers'): Promise<T> {
  try {
    return await client.patch<T>(resource, object.metadata.name!, patch, { namespace: object.metadata.namespace, type: 'json', fieldManager: options.fieldManager, signal: options.signal });
  } catch (error) {
    if (isInvalid(error) && /test operation failed|does not exist|out of range/.test((error as ApiStatusError).message)) {
      throw new ApiStatusError(
        {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          code: 409,
          reason: 'Conflict',
          message: `the ${what} of ${resource.plural} "${object.metadata.name}" changed since it was read; requeue and retry`,
          details: { name: object.metadata.name, group: resource.group || undefined, kind: resource.plural },
        },
        { method: 'PATCH', path: (error as ApiStatusError).request?.split(' ')[1] ?? '' },
      );
    }
    throw error;
  }
}

/**
 * Adds the finalizer unless present. Resolves with the updated object when it added one (the reconcile
 * should return: the update event requeues it), undefined when nothing changed. Rejects with a 409 when the
 * object's finalizers changed since this view.
 */
export async function ensureFinalizer<T extends KubeObject>(client: ApiClient, resource: ResourceRef, object: T, finalizer: string, options: FinalizerOptions = {}): Promise<T | undefined> {
  const patch = addFinalizerPatch(object, finalizer);
  if (!patch) return undefined;
  return patchWithPreconditions(client, resource, object, patch, options);
}

/**
 * Removes the finalizer if present (the server deletes the object once none are left and it is being
 * deleted). Resolves with the object as the server returned it, or undefined when there was nothing to do
 * (finalizer absent, or the object already gone).
 */
export async function removeFinalizer<T extends KubeObject>(client: ApiClient, resource: ResourceRef, object: T, finalizer: string, options: FinalizerOptions = {}): Promise<T | undefined> {
  const patch = removeFinalizerPatch(object, finalizer);
  if (!patch) return undefined;
  try {
    return await patchWithPreconditions(client, resource, object, patch, options);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
