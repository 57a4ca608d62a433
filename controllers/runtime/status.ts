// Status helpers: conditions with Kubernetes' meta.SetStatusCondition semantics, observedGeneration, and a
// status write that only happens when the status really changed (no write → no watch event → no reconcile
// loop). Writes go to /status as a merge patch carrying metadata.resourceVersion (or a PUT with it), so a
// status computed from a stale view is refused with 409 Conflict: the controller requeues quietly.
import { ApiStatusError, isNotFound, type ApiClient, type ResourceRef } from '../../apis/client/index.ts';
import type { Condition, ConditionStatus, KubeObject } from '../../apis/meta/types.ts';

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  /** CamelCase, stable (see toReason). */
  reason: string;
  message?: string;
  /** Only when carrying over a known transition time; otherwise "now" on a status change. */
  lastTransitionTime?: string;
}

/** RFC 3339 with second precision (metav1.Time), e.g. 2026-01-02T03:04:05Z. */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with microseconds (metav1.MicroTime), e.g. 2026-01-02T03:04:05.123000Z. */
export function microTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * A valid condition/event reason from any text: CamelCase words, letters and digits only, starting with a
 * letter (metav1.Condition's reason pattern), e.g. "subnet in use" → "SubnetInUse". Already-CamelCase
 * reasons are kept.
 */
export function toReason(text: string, fallback = 'Error'): string {
  const words = text.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const reason = words.map((word) => word[0].toUpperCase() + word.slice(1)).join('');
  const trimmed = reason.replace(/^[0-9]+/, '').slice(0, 1024);
  return trimmed || fallback;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * Returns a new conditions list with `input` set (the argument is not modified), as
 * k8s.io/apimachinery meta.SetStatusCondition does: a new type is appended with lastTransitionTime now; an
 * existing one keeps its lastTransitionTime unless its status changes, and takes the new reason, message
 * and observedGeneration (`generation`, normally metadata.generation).
 */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, generation?: number, now: Date = new Date()): Condition[] {
  const list = (conditions ?? []).map((condition) => ({ ...condition }));
  const existing = list.find((condition) => condition.type === input.type);
  const message = input.message ?? '';
  if (!existing) {
    const condition: Condition = { type: input.type, status: input.status, reason: input.reason, message, lastTransitionTime: input.lastTransitionTime ?? timestamp(now) };
    if (generation !== undefined) condition.observedGeneration = generation;
    list.push(condition);
    return list;
  }
  if (existing.status !== input.status) {
    existing.status = input.status;
    existing.lastTransitionTime = input.lastTransitionTime ?? timestamp(now);
  }
  existing.reason = input.reason;
  existing.message = message;
  if (generation !== undefined) existing.observedGeneration = generation;
  else delete existing.observedGeneration;
  return list;
}

/** Returns the conditions without `type` (kstatus: Reconciling/Stalled are present only while True). */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((condition) => condition.type !== type).map((condition) => ({ ...condition }));
}

/** metadata.generation (0 when the kind does not track it). */
export function generationOf(object: KubeObject): number {
  return object.metadata.generation ?? 0;
}

/** True when status.observedGeneration has caught up with metadata.generation. */
export function isStatusCurrent(object: KubeObject): boolean {
  const status = object.status as { observedGeneration?: number } | undefined;
  return (status?.observedGeneration ?? -1) >= generationOf(object);
}

/** Deep equality of JSON values, ignoring key order and undefined members. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => jsonEqual(item, b[index]));
  }
  if (typeof a === 'object' && typeof b === 'object') {
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
    for (const key of keys) if (!jsonEqual(left[key], right[key])) return false;
    return true;
  }
  return false;
}

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
