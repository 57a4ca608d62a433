// Core v1 Namespace: cluster-scoped; `spec.finalizers: [kubernetes]` keeps a deleted namespace Terminating
// until the namespace lifecycle loop (apiserver/housekeeping/namespace-lifecycle.ts) has emptied it.
import type { KubeObject } from '../../../apis/meta/types.ts';
import type { ResourceInfo } from '../resource.ts';
import { AGE_COLUMN, builtinResource, str, time } from './define.ts';

import { NODE_LEASE_NAMESPACE } from '../../../apis/compute/nodes.ts';
import { NAMESPACE_FINALIZER } from '../../../apis/meta/finalizers.ts';
export { NAMESPACE_FINALIZER, NODE_LEASE_NAMESPACE };
/** Namespaces the server creates at start and refuses to delete. */
/** photon-node-lease holds each node agent's heartbeat Lease (named as its Node), as kube-node-lease does. */
export const SYSTEM_NAMESPACES = ['default', 'photon-system', NODE_LEASE_NAMESPACE];

function spec(object: KubeObject): { finalizers?: string[] } {
  return (object.spec ??= {}) as { finalizers?: string[] };
}

export function namespaceResource(): ResourceInfo {
  return builtinResource({
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    hasStatus: true,
    nameFormat: 'dns1123-label',
    description: 'Namespace provides a scope for Names. Each PhotonCloud Project is a Namespace of the same name.',
    properties: {
      spec: {
        type: 'object',
        description: 'Spec defines the behavior of the Namespace.',
        properties: {
          finalizers: {
            type: 'array',
            description: 'Finalizers is an opaque list of values that must be empty to permanently remove object from storage.',
            items: { type: 'string' },
            'x-kubernetes-list-type': 'atomic',
          },
        },
      },
      status: {
        type: 'object',
        description: 'Status describes the current status of a Namespace.',
        properties: {
          phase: str('Phase is the current lifecycle phase of the namespace.', { enum: ['Active', 'Terminating'] }),
          conditions: {
            type: 'array',
            description: "Represents the latest available observations of a namespace's current state.",
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['type'],
            items: {
              type: 'object',
              description: 'NamespaceCondition contains details about state of namespace.',
              required: ['type', 'status'],
              properties: {
                type: str('Type of namespace controller condition.'),
                status: str('Status of the condition, one of True, False, Unknown.'),
                reason: str('Unique, one-word, CamelCase reason for the condition.'),
                message: str('Human-readable message indicating details about the condition.'),
                lastTransitionTime: time('Last time the condition transitioned.'),
              },
            },
          },
        },
      },
    },
    printerColumns: [{ name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'The status of the namespace' }, AGE_COLUMN],
    selectableFields: ['status.phase'],
    strategy: {
      prepareForCreate(object) {
        object.status = { phase: 'Active' };
        const finalizers = new Set(spec(object).finalizers ?? []);
        finalizers.add(NAMESPACE_FINALIZER);
        spec(object).finalizers = [...finalizers];
      },
      prepareForUpdate(object, old) {
        // spec.finalizers belong to the server's lifecycle loop, not to clients.
        object.spec = { ...(object.spec as object), finalizers: (old.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [] };
      },
      prepareForDelete(object) {
        object.status = { ...(object.status as object), phase: 'Terminating' };
      },
      hasPendingFinalizers: (object) => (spec(object).finalizers?.length ?? 0) > 0,
      refuseDelete: (object) => (SYSTEM_NAMESPACES.includes(object.metadata.name ?? '') ? 'this namespace may not be deleted' : undefined),
    },
  });
}
