// Core v1 ConfigMap, Secret and ServiceAccount: the configuration kinds controllers and agents use.
// Secret values are base64 in `data`; `stringData` is write-only and folded into `data`. Both ConfigMaps and
// Secrets may be made immutable. (Secrets are encrypted at rest by the storage layer, not here.)
import type { KubeObject } from '../../../apis/meta/types.ts';
import type { FieldError } from '../../errors.ts';
import type { ResourceInfo } from '../resource.ts';
import { AGE_COLUMN, bool, builtinResource, objectReference, str, stringMap } from './define.ts';

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const MAX_SECRET_BYTES = 1024 * 1024;

function keyErrors(map: unknown, field: string): FieldError[] {
  if (!map || typeof map !== 'object') return [];
  return Object.keys(map)
    .filter((key) => key.length > 253 || !CONFIG_KEY.test(key))
    .map((key) => ({ field: `${field}[${key}]`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(key)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')` }));
}

function immutableErrors(object: KubeObject, old: KubeObject | undefined, fields: string[]): FieldError[] {
  if (!old || old.immutable !== true) return [];
  const errors: FieldError[] = [];
  for (const field of [...fields, 'immutable']) {
    if (JSON.stringify(object[field] ?? null) !== JSON.stringify(old[field] ?? null)) {
      errors.push({ field, reason: 'FieldValueForbidden', message: 'Forbidden: field is immutable when `immutable` is set' });
    }
  }
  return errors;
}

const countOf = (field: string) => (object: KubeObject) => Object.keys((object[field] as object | undefined) ?? {}).length;

export function configMapResource(): ResourceInfo {
  return builtinResource({
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    plural: 'configmaps',
    namespaced: true,
    shortNames: ['cm'],
    description: 'ConfigMap holds configuration data for components or applications to consume.',
    properties: {
      data: stringMap('Data contains the configuration data. Each key must consist of alphanumeric characters, -, _ or .'),
      binaryData: stringMap('BinaryData contains the binary data (base64 encoded). Keys must not overlap with data.', { format: 'byte' }),
      immutable: bool('If set to true, data cannot be updated (only object metadata can be modified).'),
    },
    printerColumns: [{ name: 'Data', type: 'integer', jsonPath: '.data', description: 'Number of entries', value: (object) => countOf('data')(object) + countOf('binaryData')(object) }, AGE_COLUMN],
    strategy: {
      validate: (object, old) => [...keyErrors(object.data, 'data'), ...keyErrors(object.binaryData, 'binaryData'), ...immutableErrors(object, old, ['data', 'binaryData'])],
    },
  });
}

function foldStringData(object: KubeObject): void {
  const stringData = object.stringData as Record<string, string> | undefined;
  if (stringData && typeof stringData === 'object') {
    const data = ((object.data as Record<string, string> | undefined) ??= {});
    for (const [key, value] of Object.entries(stringData)) if (typeof value === 'string') data[key] = Buffer.from(value, 'utf8').toString('base64');
    object.data = data;
  }
  delete object.stringData;
}

export function secretResource(): ResourceInfo {
  return builtinResource({
    group: '',
    version: 'v1',
    kind: 'Secret',
    plural: 'secrets',
    namespaced: true,
    description: 'Secret holds secret data of a certain type. Values are encrypted at rest.',
    properties: {
      data: stringMap('Data contains the secret data, each value base64 encoded.', { format: 'byte' }),
      stringData: stringMap('stringData allows specifying non-binary secret data in string form. It is write-only: merged into data on write.'),
      type: str('Used to facilitate programmatic handling of secret data (e.g. Opaque, kubernetes.io/tls, photoncloud.io/s3-credentials).', { default: 'Opaque' }),
      immutable: bool('If set to true, data cannot be updated (only object metadata can be modified).'),
    },
    printerColumns: [
      { name: 'Type', type: 'string', jsonPath: '.type', description: 'The type of the secret' },
      { name: 'Data', type: 'integer', jsonPath: '.data', description: 'Number of entries in data', value: countOf('data') },
      AGE_COLUMN,
    ],
    selectableFields: ['type'],
    strategy: {
      prepareForCreate: foldStringData,
      prepareForUpdate: (object) => foldStringData(object),
      validate(object, old) {
        const errors = [...keyErrors(object.data, 'data'), ...immutableErrors(object, old, ['data'])];
        const size = Object.values((object.data as Record<string, string> | undefined) ?? {}).reduce((sum, value) => sum + Math.floor((value.length * 3) / 4), 0);
        if (size > MAX_SECRET_BYTES) errors.push({ field: 'data', reason: 'FieldValueTooLong', message: `Too long: must have at most ${MAX_SECRET_BYTES} bytes` });
        if (old && old.type !== object.type) errors.push({ field: 'type', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(object.type)}: field is immutable` });
        return errors;
      },
    },
  });
}

export function serviceAccountResource(): ResourceInfo {
  const resource = builtinResource({
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    namespaced: true,
    shortNames: ['sa'],
    description: 'ServiceAccount binds together a name, understood by users and other systems, and a set of secrets. Controllers and agents act as service accounts.',
    properties: {
      secrets: { type: 'array', description: 'Secrets is a list of the secrets in the same namespace that this service account may use.', items: objectReference, 'x-kubernetes-list-type': 'atomic' },
      imagePullSecrets: {
        type: 'array',
        description: 'References to secrets in the same namespace to use for pulling images.',
        'x-kubernetes-list-type': 'atomic',
        items: { type: 'object', description: 'A reference to a secret by name.', properties: { name: str('Name of the referent.') } },
      },
      automountServiceAccountToken: bool('Whether workloads running as this service account should get a token mounted automatically.'),
    },
    printerColumns: [{ name: 'Secrets', type: 'integer', jsonPath: '.secrets', description: 'Number of secrets', value: (object) => ((object.secrets as unknown[] | undefined) ?? []).length }, AGE_COLUMN],
  });
  // `kubectl create token SA`: POST serviceaccounts/NAME/token with a TokenRequest (http/token-request.ts).
  return { ...resource, createSubresources: [{ name: 'token', kind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' } }] };
}
