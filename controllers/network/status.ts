// How the network controllers report: the Ready condition with a stable CamelCase reason, observedGeneration,
// and kind-specific status fields — written only when something changed.
import type { ApiClient, ResourceRef } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { setCondition, writeStatusIfChanged } from '../runtime/status.ts';

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
  const current = (object.status ?? {}) as { conditions?: import('../../apis/meta/types.ts').Condition[] };
  const generation = object.metadata.generation;
  const conditions = setCondition(current.conditions, { type: 'Ready', status: readiness.ready ? 'True' : 'False', reason: readiness.reason, message: readiness.message }, generation);
  const status = { ...current, ...fields, observedGeneration: generation, conditions };
  const result = await writeStatusIfChanged(client, resource, object, status, { fieldManager });
  return result.object;
}

export const notReady = (reason: string, message: string): Readiness => ({ ready: false, reason, message });
export const ready = (reason: string, message: string): Readiness => ({ ready: true, reason, message });
