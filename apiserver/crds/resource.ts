// apiextensions.k8s.io/v1 CustomResourceDefinition, served like any other kind. Its admission checks what
// Kubernetes checks before a CRD is accepted: names, scope, one storage version, compilable structural
// schemas, no conversion webhooks; group, plural and scope never change.
import { jsonEqual } from '../../apis/meta/equality.ts';
import { errorMessage } from '../../lib/logging.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { DNS1123_LABEL, validateName } from '../admission/metadata.ts';
import type { JSONSchemaProps } from '../schema/structural-schema.ts';
import type { FieldError } from '../errors.ts';
import { bool, builtinResource, str } from '../registry/builtins/define.ts';
import { builtinResources } from '../registry/builtins/index.ts';
import { isProtectedGroup, resourcesFromCrd, type CustomResourceDefinition } from '../registry/crd.ts';
import type { ResourceInfo } from '../registry/resource.ts';

/** Keeps a deleted CRD until its custom objects are gone (apiserver/crds/controller.ts removes it). */
export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

const preserve = (description: string): JSONSchemaProps => ({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true });
const stringList = (description: string): JSONSchemaProps => ({ type: 'array', description, items: { type: 'string' }, 'x-kubernetes-list-type': 'atomic' });

const namesSchema: JSONSchemaProps = {
  type: 'object',
  description: 'Resource and kind names for the custom resource.',
  required: ['plural', 'kind'],
  properties: {
    plural: str('The plural name of the resource to serve (lowercase), used in URLs: /apis/<group>/<version>/.../<plural>.'),
    singular: str('The singular name of the resource (lowercase). Defaults to the lowercased kind.'),
    kind: str('The serialized kind of the resource (CamelCase, singular).'),
    listKind: str('The serialized kind of the list for this resource. Defaults to "<kind>List".'),
    shortNames: stringList('Short names for the resource, exposed in discovery, usable with kubectl get <shortname>.'),
    categories: stringList('Grouped resources this custom resource belongs to (e.g. "photon"), used by kubectl get <category>.'),
  },
};
/** The same names, none required (status.acceptedNames). */
const { required: _required, ...optionalNamesSchema } = namesSchema;

const crdSchemaProperties: Record<string, JSONSchemaProps> = {
  spec: {
    type: 'object',
    description: 'Describes how a user wants their resource to appear.',
    required: ['group', 'names', 'scope', 'versions'],
    properties: {
      group: str('The API group of the defined custom resource; must contain a dot (e.g. widgets.example.com).'),
      names: namesSchema,
      scope: str('Whether the defined custom resource is cluster- or namespace-scoped.', { enum: ['Cluster', 'Namespaced'] }),
      versions: {
        type: 'array',
        description: 'All API versions of the defined custom resource. Exactly one is the storage version.',
        minItems: 1,
        'x-kubernetes-list-type': 'atomic',
        items: {
          type: 'object',
          description: 'A version of the custom resource.',
          required: ['name', 'served', 'storage'],
          properties: {
            name: str('The version name, e.g. v1, v2beta1.'),
            served: bool('Whether this version is served by the REST APIs.'),
            storage: bool('Whether this version is used to persist custom resources. Exactly one version is.'),
            deprecated: bool('Whether this version is deprecated.'),
            deprecationWarning: str('Overrides the default warning returned to API clients.'),
            schema: preserve('Schema used for validation, pruning, and defaulting of this version (openAPIV3Schema).'),
            subresources: preserve('Subresources this version serves (status).'),
            additionalPrinterColumns: { type: 'array', description: 'Additional columns returned in Table output.', items: preserve('A printer column.'), 'x-kubernetes-list-type': 'atomic' },
            selectableFields: { type: 'array', description: 'Fields that may be used as field selectors.', items: preserve('A selectable field ({jsonPath}).'), 'x-kubernetes-list-type': 'atomic' },
          },
        },
      },
      conversion: preserve('How versions are converted; only strategy None is supported.'),
      preserveUnknownFields: bool('Deprecated: must be false (structural schemas prune unknown fields).'),
    },
  },
  status: {
    type: 'object',
    description: 'The observed state of the CustomResourceDefinition.',
    properties: {
      conditions: {
        type: 'array',
        description: 'Conditions: Established, NamesAccepted, Terminating.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        items: {
          type: 'object',
          description: 'A condition of the CustomResourceDefinition.',
          required: ['type', 'status'],
          properties: {
            type: str('Type of the condition.'),
            status: str('Status of the condition: True, False or Unknown.'),
            reason: str('Reason for the last transition (CamelCase).'),
            message: str('Human-readable details.'),
            lastTransitionTime: str('Last time the condition transitioned.', { format: 'date-time' }),
          },
        },
      },
      acceptedNames: { ...optionalNamesSchema, description: 'The names actually being used to serve discovery.' },
      storedVersions: stringList('Versions objects have ever been stored with.'),
    },
  },
};

const LOWER_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;
const CRD_GROUP = 'apiextensions.k8s.io';

let builtinGroupSet: Set<string> | undefined;

/** Groups of the kinds the server implements itself ("" included); CRDs may not add to them. */
function builtinGroups(): Set<string> {
  builtinGroupSet ??= new Set([...builtinResources().map((resource) => resource.group), CRD_GROUP]);
  return builtinGroupSet;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringList = (value: unknown) => value === undefined || (Array.isArray(value) && value.every((item) => typeof item === 'string'));

/**
 * Whether the fields the rules below read have the types they need. The schema reports wrong types itself
 * (admission runs it next to these rules); this keeps the rules from throwing on them, which was a 500 on
 * create and a crash of the CRD controller for a malformed stored CRD.
 */
export function hasCrdShape(crd: unknown): crd is CustomResourceDefinition {
  if (!isObject(crd) || !isObject(crd.metadata) || !isObject(crd.spec)) return false;
  const { group, names, versions, scope } = crd.spec;
  if (typeof group !== 'string' || typeof scope !== 'string' || !isObject(names) || !Array.isArray(versions)) return false;
  if (typeof names.plural !== 'string' || typeof names.kind !== 'string') return false;
  if (names.singular !== undefined && typeof names.singular !== 'string') return false;
  if (names.listKind !== undefined && typeof names.listKind !== 'string') return false;
  if (!isStringList(names.shortNames) || !isStringList(names.categories)) return false;
  return versions.every((version) => isObject(version) && typeof version.name === 'string');
}

/** The group may not be Kubernetes' nor one the server serves built-in kinds in. */
function groupErrors(group: string): FieldError[] {
  if (isProtectedGroup(group)) {
    // Kubernetes asks for an api-approved.kubernetes.io annotation here; PhotonCloud refuses outright: its own
    // built-in kinds live in these groups, and no approval process exists for tenants' kinds.
    return [{ field: 'spec.group', reason: 'FieldValueForbidden', message: `Forbidden: ${JSON.stringify(group)} is a protected group: k8s.io, kubernetes.io and their subdomains are reserved for the API server's own kinds (the "api-approved.kubernetes.io" annotation is not honoured)` }];
  }
  if (builtinGroups().has(group)) {
    return [{ field: 'spec.group', reason: 'FieldValueForbidden', message: `Forbidden: the group ${JSON.stringify(group)} is served by the API server itself` }];
  }
  return [];
}

/** Whether an update leaves everything the rules read as it was (see specErrors). */
function unchangedSpec(crd: CustomResourceDefinition, old: CustomResourceDefinition | undefined): boolean {
  return old !== undefined && jsonEqual(crd.spec, old.spec) && jsonEqual(crd.metadata.annotations ?? {}, old.metadata?.annotations ?? {});
}

/**
 * What Kubernetes checks before a CRD is accepted, plus PhotonCloud's reserved groups. An update that leaves
 * the spec as it was is not checked again (Kubernetes' ratcheting): a CRD stored before a rule existed can
 * still get labels or lose finalizers. The CRD controller checks every stored CRD afresh before serving it.
 */
function specErrors(crd: CustomResourceDefinition, old?: CustomResourceDefinition): FieldError[] {
  if (!hasCrdShape(crd)) return []; // the schema's errors say what is wrong
  if (unchangedSpec(crd, old)) return [];
  const errors: FieldError[] = [];
  const { spec } = crd;
  const invalid = (field: string, value: unknown, detail: string) => errors.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
  if (!spec.group.includes('.')) invalid('spec.group', spec.group, 'should be a domain with at least one dot');
  for (const problem of validateName(spec.group, 'dns1123-subdomain')) invalid('spec.group', spec.group, problem);
  errors.push(...groupErrors(spec.group));
  if (!LOWER_LABEL.test(spec.names.plural)) invalid('spec.names.plural', spec.names.plural, 'a lowercase RFC 1123 label is required');
  if (spec.names.singular !== undefined && !LOWER_LABEL.test(spec.names.singular)) invalid('spec.names.singular', spec.names.singular, 'a lowercase RFC 1123 label is required');
  if (!KIND.test(spec.names.kind)) invalid('spec.names.kind', spec.names.kind, 'must be CamelCase, starting with an upper-case letter');
  if (spec.names.listKind !== undefined && !KIND.test(spec.names.listKind)) invalid('spec.names.listKind', spec.names.listKind, 'must be CamelCase, starting with an upper-case letter');
  for (const [index, shortName] of (spec.names.shortNames ?? []).entries()) if (!LOWER_LABEL.test(shortName)) invalid(`spec.names.shortNames[${index}]`, shortName, 'a lowercase RFC 1123 label is required');
  if (crd.metadata.name !== `${spec.names.plural}.${spec.group}`) invalid('metadata.name', crd.metadata.name, 'must be spec.names.plural+"."+spec.group');
  const names = new Set<string>();
  spec.versions.forEach((version, index) => {
    if (!DNS1123_LABEL.test(version.name)) invalid(`spec.versions[${index}].name`, version.name, 'must be a lowercase RFC 1123 label (e.g. v1, v2beta1)');
    if (names.has(version.name)) errors.push({ field: `spec.versions[${index}].name`, reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(version.name)}` });
    names.add(version.name);
  });
  const storage = spec.versions.filter((version) => version.storage).length;
  if (storage !== 1) invalid('spec.versions', storage, 'must have exactly one version marked as storage version');
  if (!spec.versions.some((version) => version.served)) invalid('spec.versions', spec.versions.length, 'must have at least one version marked as served');
  const strategy = (spec as { conversion?: { strategy?: string } }).conversion?.strategy;
  if (strategy !== undefined && strategy !== 'None') {
    errors.push({ field: 'spec.conversion.strategy', reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(strategy)}: supported values: "None"` });
  }
  if ((spec as { preserveUnknownFields?: boolean }).preserveUnknownFields === true) invalid('spec.preserveUnknownFields', true, 'must be false in v1');
  if (old && hasCrdShape(old)) {
    if (old.spec.group !== spec.group) invalid('spec.group', spec.group, 'field is immutable');
    if (old.spec.names.plural !== spec.names.plural) invalid('spec.names.plural', spec.names.plural, 'field is immutable');
    if (old.spec.scope !== spec.scope) invalid('spec.scope', spec.scope, 'field is immutable');
  }
  if (errors.length === 0) {
    // The schemas must compile (strict ajv) exactly as they will when the CRD is installed.
    try {
      resourcesFromCrd(crd);
    } catch (error) {
      invalid('spec.versions', 'schema', errorMessage(error));
    }
  }
  return errors;
}

export function customResourceDefinitionResource(): ResourceInfo {
  return builtinResource({
    group: CRD_GROUP,
    version: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    hasStatus: true,
    description: 'CustomResourceDefinition represents a resource that should be exposed on the API server. PhotonCloud\'s own kinds are installed this way.',
    required: ['spec'],
    properties: crdSchemaProperties,
    // As Kubernetes prints CRDs: the creation time itself, not an age.
    printerColumns: [{ name: 'Created At', type: 'string', jsonPath: '.metadata.creationTimestamp', description: 'When the CRD was created' }],
    strategy: {
      prepareForCreate(object) {
        delete object.status;
        const finalizers = new Set(object.metadata.finalizers ?? []);
        finalizers.add(CRD_CLEANUP_FINALIZER);
        object.metadata.finalizers = [...finalizers];
      },
      validate: (object: KubeObject, old?: KubeObject) =>
        specErrors(object as unknown as CustomResourceDefinition, old as unknown as CustomResourceDefinition | undefined),
    },
  });
}
