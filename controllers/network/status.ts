// How the network controllers report: the Ready condition with a stable CamelCase reason, observedGeneration,
// and kind-specific status fields — written only when something changed.
import type { ApiClient, ResourceRef } from '../../apis/client/index.ts';
import type { Condition, KubeObject } from '../../apis/meta/types.ts';
import type { ReconcileContext, Result } from '../runtime/reconciler.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';
import { findCondition, setCondition } from '../../apis/meta/conditions.ts';
import type { NetworkDeps } from './deps.ts';

/** How soon a reconcile that found OVN unreachable tries again. */
const OVN_RETRY_MS = 5000;

export interface Readiness {
  ready: boolean;
  reason: string;
  message: string;
}

export async function reportStatus<T extends KubeObject>(
  client: ApiClient,
  resource: ResourceRef,
  object: T,
  readiness: Readiness,
  fields: Record<string, unknown> = {},
  fieldManager?: string,
): Promise<T> {
  const current = (object.status ?? {}) as { conditions?: Condition[] };
  const generation = object.metadata.generation;
  const conditions = setCondition(current.conditions, { type: 'Ready', status: readiness.ready ? 'True' : 'False', reason: readiness.reason, message: readiness.message }, generation);
  const status = { ...current, ...fields, observedGeneration: generation, conditions };
  const result = await writeStatusIfChanged(client, resource, object, status, { fieldManager });
  return result.object;
}

export const notReady = (reason: string, message: string): Readiness => ({ ready: false, reason, message });
export const ready = (reason: string, message: string): Readiness => ({ ready: true, reason, message });

/** One network kind's status writes: Ready plus its fields, an event when the reason changes. */
export class StatusReporter {
  constructor(
    private readonly deps: Pick<NetworkDeps, 'client' | 'northbound'>,
    private readonly resource: ResourceRef,
    private readonly fieldManager: string,
  ) {}

  /** Writes Ready and fields; records an event (with eventReason, default the condition's) when the reason changed. */
  async report(object: KubeObject, readiness: Readiness, fields: Record<string, unknown>, context: ReconcileContext, eventReason = readiness.reason): Promise<void> {
    const before = findCondition((object.status as { conditions?: Condition[] } | undefined)?.conditions, 'Ready');
    await reportStatus(this.deps.client, this.resource, object, readiness, fields, this.fieldManager);
    if (before?.reason !== readiness.reason) void context.recorder.event(object, readiness.ready ? 'Normal' : 'Warning', eventReason, readiness.message);
  }

  /** Ready=False OVNUnavailable with why OVN cannot be reached; tried again shortly. */
  async unavailable(object: KubeObject, fields: Record<string, unknown> = {}): Promise<Result> {
    await reportStatus(this.deps.client, this.resource, object, notReady('OVNUnavailable', this.deps.northbound.unavailableReason), fields, this.fieldManager);
    return { requeueAfterMs: OVN_RETRY_MS };
  }
}
