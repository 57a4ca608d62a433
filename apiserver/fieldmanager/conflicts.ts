// Apply conflicts and the 409 Status Kubernetes answers them with
// (k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go):
//   one:   Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.replicas
//   more:  Apply failed with 2 conflicts: conflicts with "a" using v1:\n- .spec.x\n- .spec.y\nconflicts with "b":\n- .spec.z
// A manager is printed as %q of its name, ` with subresource "status"` when it wrote through one, and
// ` using <apiVersion>` when its operation was an Update (appliers are printed by name only).
import type { Status, StatusCause } from '../../apis/meta/types.ts';
import { compareCodePoints, goJSON, goQuote } from './fieldpath.ts';

export interface FieldConflict {
  /** The manager that owns the field. */
  manager: string;
  /** Kubernetes path form, e.g. `.spec.cidrBlocks` or `.spec.disks[name="root"].size`. */
  field: string;
  /** The owner's entry; an owner without one is printed as an Update manager. */
  operation?: 'Apply' | 'Update';
  /** The owner's entry apiVersion (printed for Update managers); the message's apiVersion when absent. */
  apiVersion?: string;
  subresource?: string;
}

export class ApplyConflictError extends Error {
  readonly conflicts: FieldConflict[];
  readonly apiVersion: string;

  constructor(conflicts: FieldConflict[], apiVersion: string) {
    super(conflictStatusMessage(conflicts, apiVersion));
    this.name = 'ApplyConflictError';
    this.conflicts = conflicts;
    this.apiVersion = apiVersion;
  }

  /** The 409 Status body Kubernetes answers with. */
  toStatus(): Status {
    return applyConflictStatus(this.conflicts, this.apiVersion);
  }
}

/** `"manager"`, `"manager" using v1`, `"manager" with subresource "status" using v1`. */
export function printManager(conflict: FieldConflict, apiVersion: string): string {
  let printed = goQuote(conflict.manager);
  if (conflict.subresource) printed += ` with subresource ${goQuote(conflict.subresource)}`;
  if (conflict.operation !== 'Apply') printed += ` using ${conflict.apiVersion ?? apiVersion}`;
  return printed;
}

// Kubernetes groups and sorts managers by their identifier: the JSON of their entry without time and fields
// (and without apiVersion for appliers).
export function managerIdentifier(conflict: FieldConflict, apiVersion: string): string {
  const operation = conflict.operation ?? 'Update';
  let identifier = `{"manager":${goJSON(conflict.manager)},"operation":${goJSON(operation)}`;
  if (operation === 'Update') identifier += `,"apiVersion":${goJSON(conflict.apiVersion ?? apiVersion)}`;
  if (conflict.subresource) identifier += `,"subresource":${goJSON(conflict.subresource)}`;
  return `${identifier}}`;
}

/** The Status message, in Kubernetes' exact wording. */
export function conflictStatusMessage(conflicts: readonly FieldConflict[], apiVersion: string): string {
  if (conflicts.length === 1) {
    return `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0], apiVersion)}: ${conflicts[0].field}`;
  }
  const byManager = new Map<string, { conflict: FieldConflict; fields: string[] }>();
  for (const conflict of conflicts) {
    const identifier = managerIdentifier(conflict, apiVersion);
    const group = byManager.get(identifier);
    if (group) group.fields.push(conflict.field);
    else byManager.set(identifier, { conflict, fields: [conflict.field] });
  }
  const lines: string[] = [];
  for (const identifier of [...byManager.keys()].sort(compareCodePoints)) {
    const { conflict, fields } = byManager.get(identifier)!;
    lines.push(`conflicts with ${printManager(conflict, apiVersion)}:`);
    for (const field of fields) lines.push(`- ${field}`);
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
}

/** One `FieldManagerConflict` cause per conflicting field. */
export function conflictStatusCauses(conflicts: readonly FieldConflict[], apiVersion: string): StatusCause[] {
  return conflicts.map((conflict) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(conflict, apiVersion)}`, field: conflict.field }));
}

/** 409 Conflict, as errors.NewApplyConflict builds it. */
export function applyConflictStatus(conflicts: readonly FieldConflict[], apiVersion: string): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: conflictStatusMessage(conflicts, apiVersion),
    reason: 'Conflict',
    details: { causes: conflictStatusCauses(conflicts, apiVersion) },
    code: 409,
  };
}
