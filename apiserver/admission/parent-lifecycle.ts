// Admission plugin 2 (chain.ts): no new child of a parent that is being deleted, the way Kubernetes refuses
// creates in a terminating namespace. A parent with a deletionTimestamp is waiting for its children to go (a
// Vpc for its Subnets, a Subnet for its Ports); a child created now would hold it up, or be orphaned when it
// goes. 403 Forbidden, naming the child's resource in details and the reference field in a cause. Only
// creates: updating a child that already exists is how it gets cleaned up. A parent that does not exist is
// not refused here (order must not matter: the child's controller waits for it).
import { ApiError } from '../errors.ts';
import type { AdmissionPlugin, GroupKind, ResourceRef } from './chain.ts';

/** A child kind's reference to its parent: the field (dotted path, same namespace) and what it names. */
export interface ParentReference {
  child: GroupKind;
  /** e.g. `spec.vpcRef`. */
  field: string;
  parent: ResourceRef & { kind: string };
}

function valueAt(object: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined), object);
}

export function parentLifecycle(references: readonly ParentReference[]): AdmissionPlugin {
  return {
    name: 'ParentLifecycle',
    operations: ['CREATE'],
    kinds: references.map((reference) => reference.child),
    async admit({ resource, object }, lookup) {
      for (const { child, field, parent } of references) {
        if (child.group !== resource.group || child.kind !== resource.kind) continue;
        const parentName = valueAt(object, field);
        if (typeof parentName !== 'string' || parentName === '') continue;
        const found = await lookup.get(parent, object.metadata.namespace, parentName);
        if (!found?.metadata.deletionTimestamp) continue;
        const name = object.metadata.name ?? '';
        const why = `${parent.kind} "${parentName}" is being deleted`;
        throw new ApiError(403, 'Forbidden', `unable to create ${resource.kind} "${name}": ${why}`, {
          name,
          group: resource.group || undefined,
          kind: resource.plural,
          causes: [{ reason: 'ParentTerminating', message: why, field }],
        });
      }
      return [];
    },
  };
}
