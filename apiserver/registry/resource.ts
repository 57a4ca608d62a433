// What the server knows about one served resource (a CRD version or a built-in kind): names for discovery,
// scope, schema and printer columns. Everything else (handlers, discovery, OpenAPI, tables) reads this.
import type { ObjectSchema } from '../schema/schema-validator.ts';
import type { JSONSchemaProps } from '../schema/structural-schema.ts';
import type { NameFormat } from '../admission/metadata.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { VirtualCreate } from './virtual.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
  /** Built-in kinds only: computes the cell instead of jsonPath (e.g. a ConfigMap's number of keys). */
  value?: (object: KubeObject) => unknown;
}

/** Kind-specific behaviour the generic object store calls at fixed points (like Kubernetes' strategies). */
export interface ResourceStrategy {
  /** Mutates a new object before validation (e.g. a Namespace gets phase Active). */
  prepareForCreate?(object: KubeObject): void;
  /** Mutates an updated object before validation, given the stored one. */
  prepareForUpdate?(object: KubeObject, old: KubeObject): void;
  /** Extra validation of a new or updated object (422 field errors). */
  validate?(object: KubeObject, old?: KubeObject): import('../errors.ts').FieldError[];
  /** Marks an object whose deletion waits on finalizers (e.g. a Namespace turns Terminating). */
  prepareForDelete?(object: KubeObject): void;
  /** Finalization that is not in metadata.finalizers (a Namespace's spec.finalizers). */
  hasPendingFinalizers?(object: KubeObject): boolean;
  /** Refuses deletion with a message (403), e.g. the `default` namespace. */
  refuseDelete?(object: KubeObject): string | undefined;
}

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  hasStatus: boolean;
  printerColumns: PrinterColumn[];
  /** Field paths usable in fieldSelector besides metadata.name/namespace (e.g. spec.nodeName). */
  selectableFields: string[];
  nameFormat: NameFormat;
  /** The structural schema (OpenAPI v3) of the whole object. */
  openAPISchema: JSONSchemaProps;
  schema: ObjectSchema;
  strategy: ResourceStrategy;
  /** Storage prefix ending in '/': `/registry/<group|core>/<plural>/`. */
  storagePrefix: string;
  /** Where the definition came from: a CRD name, or 'builtin'. */
  source: string;
  /** Whether metadata.generation is kept (custom resources: yes; most built-in kinds: no, as in Kubernetes). */
  tracksGeneration: boolean;
  /** The apiVersion objects are stored with (a CRD's storage version); reads convert to the served version. */
  storageApiVersion: string;
  /**
   * Conversion between the stored form and this resource's form, when they differ by more than apiVersion
   * (events.k8s.io/v1 Events are stored as core v1 Events). Both return new objects.
   */
  conversion?: { toStorage(object: KubeObject): KubeObject; fromStorage(object: KubeObject): KubeObject };
  /** Built-in kinds whose table does not start with Name (Events: LAST SEEN, TYPE, …). */
  tableColumns?: PrinterColumn[];
  /** Computed, never stored (reviews): create runs this instead of the object store; verbs is ['create']. */
  virtual?: VirtualCreate;
  /** Subresources that are only created, and answer with another kind (a ServiceAccount's `token`: TokenRequest). */
  createSubresources?: CreateSubresource[];
  /**
   * Subresources that are only read and served by a handler outside the object store, in the shape of pods/log
   * (a VirtualMachine's `console`, proxied to its node agent). Named by a CRD's READ_SUBRESOURCES_ANNOTATION.
   */
  readSubresources?: string[];
}

export interface CreateSubresource {
  name: string;
  /** The kind the subresource takes and answers with. */
  kind: { group: string; version: string; kind: string };
}

/** The object as this resource serves it, from its stored form. */
export function fromStorage(resource: ResourceInfo, stored: KubeObject): KubeObject {
  const converted = resource.conversion ? resource.conversion.fromStorage(stored) : stored;
  const apiVersion = apiVersionOf(resource);
  return converted.apiVersion === apiVersion ? converted : { ...converted, apiVersion };
}

/** The object in its stored form. */
export function toStorage(resource: ResourceInfo, object: KubeObject): KubeObject {
  const converted = resource.conversion ? resource.conversion.toStorage(object) : object;
  return converted.apiVersion === resource.storageApiVersion ? converted : { ...converted, apiVersion: resource.storageApiVersion };
}

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function apiVersionOf(resource: Pick<ResourceInfo, 'group' | 'version'>): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

export function storagePrefixFor(group: string, plural: string): string {
  return `/registry/${group || 'core'}/${plural}/`;
}

/** The storage key of one object. */
export function objectKey(resource: ResourceInfo, namespace: string | undefined, name: string): string {
  return resource.namespaced ? `${resource.storagePrefix}${namespace}/${name}` : `${resource.storagePrefix}${name}`;
}

/** The key prefix for listing: everything, or one namespace of a namespaced resource. */
export function listPrefix(resource: ResourceInfo, namespace?: string): string {
  return resource.namespaced && namespace ? `${resource.storagePrefix}${namespace}/` : resource.storagePrefix;
}

/** `vpcs.network.photoncloud.io`; `namespaces` for the core group. */
export function groupResource(resource: Pick<ResourceInfo, 'plural' | 'group'>): string {
  return resource.group ? `${resource.plural}.${resource.group}` : resource.plural;
}
