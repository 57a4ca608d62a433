// Shared pieces for the built-in kinds (core v1, coordination.k8s.io, events.k8s.io): their hand-written
// structural schemas go through the same validation, pruning, OpenAPI and tables as CRDs.
import { ObjectSchema } from '../../schema/schema-validator.ts';
import type { JSONSchemaProps } from '../../schema/structural-schema.ts';
import type { NameFormat } from '../../admission/metadata.ts';
import { ALL_VERBS, storagePrefixFor, type PrinterColumn, type ResourceInfo, type ResourceStrategy } from '../resource.ts';

export interface BuiltinDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Properties besides apiVersion/kind/metadata. */
  properties: Record<string, JSONSchemaProps>;
  required?: string[];
  description: string;
  shortNames?: string[];
  hasStatus?: boolean;
  printerColumns?: PrinterColumn[];
  tableColumns?: PrinterColumn[];
  selectableFields?: string[];
  strategy?: ResourceStrategy;
  nameFormat?: NameFormat;
  /** Stored under another resource's prefix and form (events.k8s.io Events are core Events). */
  storedAs?: { group: string; plural: string; apiVersion: string; conversion: NonNullable<ResourceInfo['conversion']> };
}

export const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
};

export const str = (description: string, extra: Partial<JSONSchemaProps> = {}): JSONSchemaProps => ({ type: 'string', description, ...extra });
export const int = (description: string, extra: Partial<JSONSchemaProps> = {}): JSONSchemaProps => ({ type: 'integer', format: 'int32', description, ...extra });
export const bool = (description: string): JSONSchemaProps => ({ type: 'boolean', description });
export const time = (description: string): JSONSchemaProps => ({ type: 'string', format: 'date-time', description });
/** metav1.MicroTime: a date-time string (RFC 3339 with microseconds). */
export const microTime = (description: string): JSONSchemaProps => str(description, { format: 'date-time' });
export const stringMap = (description: string, values: Partial<JSONSchemaProps> = {}): JSONSchemaProps => ({ type: 'object', description, additionalProperties: { type: 'string', ...values } });

export const objectReference: JSONSchemaProps = {
  type: 'object',
  description: 'ObjectReference contains enough information to let you inspect or modify the referred object.',
  'x-kubernetes-map-type': 'atomic',
  properties: {
    apiVersion: str('API version of the referent.'),
    kind: str('Kind of the referent.'),
    namespace: str('Namespace of the referent.'),
    name: str('Name of the referent.'),
    uid: str('UID of the referent.'),
    resourceVersion: str('Specific resourceVersion to which this reference is made, if any.'),
    fieldPath: str('If referring to a piece of an object instead of an entire object, a JSON path to it, e.g. spec.containers{name}.'),
  },
};

export function builtinResource(definition: BuiltinDefinition): ResourceInfo {
  const openAPISchema: JSONSchemaProps = {
    type: 'object',
    description: definition.description,
    required: definition.required,
    properties: {
      apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
      kind: str('Kind is a string value representing the REST resource this object represents.'),
      metadata: { type: 'object', description: "Standard object's metadata." },
      ...definition.properties,
    },
  };
  if (!openAPISchema.required) delete openAPISchema.required;
  const apiVersion = definition.group ? `${definition.group}/${definition.version}` : definition.version;
  return {
    group: definition.group,
    version: definition.version,
    kind: definition.kind,
    listKind: `${definition.kind}List`,
    plural: definition.plural,
    singular: definition.kind.toLowerCase(),
    namespaced: definition.namespaced,
    shortNames: definition.shortNames ?? [],
    categories: [],
    verbs: ALL_VERBS,
    hasStatus: definition.hasStatus ?? false,
    printerColumns: definition.printerColumns ?? [AGE_COLUMN],
    tableColumns: definition.tableColumns,
    selectableFields: definition.selectableFields ?? [],
    nameFormat: definition.nameFormat ?? 'dns1123-subdomain',
    openAPISchema,
    schema: new ObjectSchema(openAPISchema),
    strategy: definition.strategy ?? {},
    storagePrefix: definition.storedAs ? storagePrefixFor(definition.storedAs.group, definition.storedAs.plural) : storagePrefixFor(definition.group, definition.plural),
    source: 'builtin',
    tracksGeneration: false,
    storageApiVersion: definition.storedAs?.apiVersion ?? apiVersion,
    conversion: definition.storedAs?.conversion,
  };
}
