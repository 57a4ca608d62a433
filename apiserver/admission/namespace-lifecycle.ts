// Admission plugin 1 (chain.ts): nothing new in a namespace that does not exist (404, as Kubernetes) or is
// being deleted (403 with a NamespaceTerminating cause) — the namespace lifecycle loop
// (housekeeping/namespace-lifecycle.ts) is emptying it, and a new object would keep it alive or be lost.
import { ApiError, notFound } from '../errors.ts';
import type { AdmissionPlugin } from './chain.ts';

export const NAMESPACES = { group: '', plural: 'namespaces' };

export const namespaceLifecycle: AdmissionPlugin = {
  name: 'NamespaceLifecycle',
  operations: ['CREATE'],
  async admit({ resource, object }, lookup) {
    if (!resource.namespaced) return [];
    const name = object.metadata.namespace!;
    const namespace = await lookup.get(NAMESPACES, undefined, name);
    if (!namespace) throw notFound('namespaces', '', name);
    if (namespace.metadata.deletionTimestamp) {
      throw new ApiError(403, 'Forbidden', `unable to create new content in namespace ${name} because it is being terminated`, {
        name,
        kind: 'namespaces',
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${name} is being terminated`, field: 'metadata.namespace' }],
      });
    }
    return [];
  },
};
