// core v1 ResourceQuota: per-namespace limits on object counts and on the sums that matter for a cloud (the
// names are in apis/iam/v1alpha1/quota.ts). Enforced at admission (admission/resource-quota.ts), status
// (hard, used) kept by the API server's quota loop (quota/status-loop.ts). `kubectl get quota` shows
// used/hard per name as kube-apiserver's table does; `kubectl describe quota` reads status.
import type { KubeObject } from '../../../apis/meta/types.ts';
import type { FieldError } from '../../errors.ts';
import { parseQuantity } from '../../quota/quantity.ts';
import type { JSONSchemaProps } from '../../schema/structural-schema.ts';
import type { ResourceInfo } from '../resource.ts';
import { AGE_COLUMN, builtinResource } from './define.ts';

const quantities = (description: string): JSONSchemaProps => ({ type: 'object', description, additionalProperties: { 'x-kubernetes-int-or-string': true } as JSONSchemaProps });
const RESOURCE_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function hardErrors(object: KubeObject): FieldError[] {
  const spec = (object.spec ?? {}) as { hard?: Record<string, unknown>; scopes?: unknown[] };
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(spec.hard ?? {})) {
    if (name.length > 253 || !RESOURCE_NAME.test(name)) errors.push({ field: `spec.hard[${name}]`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(name)}: must be a standard resource name (e.g. count/virtualmachines.compute.photoncloud.io, requests.cpu)` });
    const quantity = parseQuantity(value);
    if (quantity === undefined || quantity < 0) errors.push({ field: `spec.hard[${name}]`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: must be a non-negative quantity (e.g. 10, 64Gi)` });
  }
  if ((spec.scopes?.length ?? 0) > 0) errors.push({ field: 'spec.scopes', reason: 'FieldValueNotSupported', message: 'Unsupported value: quota scopes (pod scopes in Kubernetes) do not apply to PhotonCloud kinds' });
  return errors;
}

/** `count/ports.network.photoncloud.io: 3/10, requests.cpu: 4/16`, as kube-apiserver's quota table prints. */
function usedOverHard(object: KubeObject): string {
  const hard = ((object.spec as { hard?: Record<string, unknown> } | undefined)?.hard ?? {}) as Record<string, unknown>;
  const used = ((object.status as { used?: Record<string, unknown> } | undefined)?.used ?? {}) as Record<string, unknown>;
  return Object.keys(hard)
    .sort()
    .map((name) => `${name}: ${String(used[name] ?? 0)}/${String(hard[name])}`)
    .join(', ');
}

export function resourceQuotaResource(): ResourceInfo {
  return builtinResource({
    group: '',
    version: 'v1',
    kind: 'ResourceQuota',
    plural: 'resourcequotas',
    namespaced: true,
    shortNames: ['quota'],
    hasStatus: true,
    description: 'ResourceQuota sets aggregate quota restrictions enforced per namespace: object counts (count/<plural>.<group>) and VirtualMachine sums (requests.cpu, requests.memory, requests.storage).',
    properties: {
      spec: { type: 'object', description: 'Spec defines the desired quota.', properties: { hard: quantities('hard is the set of desired hard limits for each named resource.'), scopes: { type: 'array', items: { type: 'string' }, description: 'Not supported (Kubernetes pod scopes).' } } },
      status: {
        type: 'object',
        description: 'Status defines the actual enforced quota and its current usage.',
        properties: { hard: quantities('Hard is the set of enforced hard limits for each named resource.'), used: quantities('Used is the current observed total usage of the resource in the namespace.') },
      },
    },
    printerColumns: [AGE_COLUMN, { name: 'Request', type: 'string', jsonPath: '.status.used', description: 'Used/hard per limited resource', value: usedOverHard }],
    strategy: { validate: (object) => hardErrors(object) },
  });
}
