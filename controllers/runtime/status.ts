// Status writes (conditions themselves are apis/meta/conditions.ts): a status write that only happens when the status really changed (no write → no watch event → no reconcile
// loop). Writes go to /status as a merge patch carrying metadata.resourceVersion (or a PUT with it), so a
// status computed from a stale view is refused with 409 Conflict: the controller requeues quietly.
import { ApiStatusError, isNotFound, type ApiClient, type ResourceRef } from '../../apis/client/index.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import type { KubeObject } from '../../apis/meta/types.ts';

/** The RFC 7386 merge patch that turns `from` into `to` (null deletes; lists are replaced whole). */
export function mergePatchBetween(from: unknown, to: unknown): unknown {
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(from) || !isObject(to)) return to === undefined ? null : to;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) if (from[key] !== undefined && to[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined || jsonEqual(from[key], value)) continue;
    patch[key] = isObject(from[key]) && isObject(value) ? mergePatchBetween(from[key], value) : value;
  }
  return patch;
}

export interface StatusWriteOptions {
  /** `merge` (default): merge patch with a resourceVersion precondition; `put`: PUT /status with it. */
  method?: 'merge' | 'put';
  fieldManager?: string;
  signal?: AbortSignal;
}

export interface StatusWriteResult<T> {
  /** Whether a write happened. */
  changed: boolean;
  /** The object as stored after the write (or the given object when nothing was written). */
  object: T;
  /** The object no longer exists (nothing written, nothing to do). */
  notFound?: boolean;
}

/**
 * Writes `newStatus` to the object's /status subresource only when it differs from `object.status`. The
 * write is compare-and-swap on object.metadata.resourceVersion: when the object changed since this view, it
 * rejects with a 409 ApiStatusError (isConflict) and the controller requeues the key quietly; recompute
 * from the fresh object then. A vanished object resolves with notFound.
 */
export async function writeStatusIfChanged<T extends KubeObject>(client: ApiClient, resource: ResourceRef, object: T, newStatus: unknown, options: StatusWriteOptions = {}): Promise<StatusWriteResult<T>> {
  if (jsonEqual(object.status, newStatus)) return { changed: false, object };
  const name = object.metadata.name!;
  const namespace = object.metadata.namespace;
  try {
    if (options.method === 'put') {
      const written = await client.updateStatus<T>(resource, { ...object, status: newStatus }, { namespace, fieldManager: options.fieldManager, signal: options.signal });
      return { changed: true, object: written };
    }
    const patch = { metadata: { resourceVersion: object.metadata.resourceVersion }, status: mergePatchBetween(object.status, newStatus) };
    const written = await client.patch<T>(resource, name, patch, { namespace, subresource: 'status', fieldManager: options.fieldManager, signal: options.signal });
    return { changed: true, object: written };
  } catch (error) {
    if (isNotFound(error) && (error as ApiStatusError).status.details?.name === name) return { changed: false, object, notFound: true };
    throw error;
  }
}
