// Status conditions with Kubernetes' meta.SetStatusCondition semantics, and the generation bookkeeping that
// goes with them (observedGeneration). Shared by controllers and the API server's own status writers.
import { timestamp } from './time.ts';
import type { Condition, ConditionStatus, KubeObject } from './types.ts';

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  /** CamelCase, stable (see toReason). */
  reason: string;
  message?: string;
  /** Only when carrying over a known transition time; otherwise "now" on a status change. */
  lastTransitionTime?: string;
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

/**
 * For writers that compute the whole conditions list each time (the API server's CRD and namespace status):
 * next's conditions, each keeping previous's lastTransitionTime where its status did not change, else now.
 */
export function withTransitionTimes<C extends { type: string; status: string }>(previous: ReadonlyArray<{ type: string; status: string; lastTransitionTime?: string }> | undefined, next: C[]): Array<C & { lastTransitionTime?: string }> {
  const before = new Map((previous ?? []).map((condition) => [condition.type, condition]));
  return next.map((condition) => {
    const old = before.get(condition.type);
    return { ...condition, lastTransitionTime: old && old.status === condition.status ? old.lastTransitionTime : timestamp() };
  });
}
