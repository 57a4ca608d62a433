// Core v1 Namespace: cluster-scoped; `spec.finalizers: [kubernetes]` keeps a deleted namespace Terminating
// until the namespace lifecycle loop (apiserver/namespaces/lifecycle.ts) has emptied it.
import type { KubeObject } from '../../apis/meta/types.ts';
import { ObjectSchema } from '../admission/schema-validator.ts';
import type { JSONSchemaProps } from '../admission/structural-schema.ts';
import { ALL_VERBS, storagePrefixFor, type ResourceInfo } from './resource.ts';

export const NAMESPACE_FINALIZER = 'kubernetes';
/** Namespaces the server creates at start and refuses to delete. */
export const SYSTEM_NAMESPACES = ['default', 'photon-system'];

const conditionSchema: JSONSchemaProps = {
  type: 'object',
  description: 'NamespaceCondition contains details about state of namespace.',
  required: ['type', 'status'],
  properties: {
    type: { type: 'string', description: 'Type of namespace controller condition.' },
    status: { type: 'string', description: 'Status of the condition, one of True, False, Unknown.' },
    reason: { type: 'string', description: 'Unique, one-word, CamelCase reason for the condition.' },
    message: { type: 'string', description: 'Human-readable message indicating details about the condition.' },
    lastTransitionTime: { type: 'string', format: 'date-time', description: 'Last time the condition transitioned.' },
  },
};

export const namespaceSchema: JSONSchemaProps = {
  type: 'object',
  description: 'Namespace provides a scope for Names. Each PhotonCloud Project is a Namespace of the same name.',
  properties: {
    apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
    kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
    metadata: { type: 'object', description: 'Standard object metadata.' },
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
        phase: { type: 'string', enum: ['Active', 'Terminating'], description: 'Phase is the current lifecycle phase of the namespace.' },
        conditions: { type: 'array', description: 'Represents the latest available observations of a namespace\'s current state.', items: conditionSchema, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
      },
    },
  },
};

function spec(object: KubeObject): { finalizers?: string[] } {
  return (object.spec ??= {}) as { finalizers?: string[] };
}

export function namespaceResource(): ResourceInfo {
  return {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    listKind: 'NamespaceList',
    plural: 'namespaces',
    singular: 'namespace',
    namespaced: false,
    shortNames: ['ns'],
    categories: [],
    verbs: ALL_VERBS,
    hasStatus: true,
    printerColumns: [
      { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'The status of the namespace' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' },
    ],
    selectableFields: ['status.phase'],
    nameFormat: 'dns1123-label',
    openAPISchema: namespaceSchema,
    schema: new ObjectSchema(namespaceSchema),
    storagePrefix: storagePrefixFor('', 'namespaces'),
    source: 'builtin',
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
  };
}
