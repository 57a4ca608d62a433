// OpenAPI v3, generated from the same schemas that validate requests. kubectl explain reads
// components.schemas (found by x-kubernetes-group-version-kind); kubectl apply looks for the
// fieldValidation parameter on PATCH to use server-side field validation. The index links each group
// version by a content hash, because kubectl caches those URLs forever. The same paths and schemas make
// the OpenAPI v2 document (openapi-v2.ts), which kubectl still falls back to.
import { createHash } from 'node:crypto';
import { encodeOpenApiV2, openApiV2Document } from './openapi-v2.ts';
import type { JSONSchemaProps } from '../schema/structural-schema.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { META, metaSchemas } from '../schema/object-meta-schema.ts';

interface GroupVersionDocument {
  json: string;
  hash: string;
}

/** `/openapi/v2`: one document for every group version, as JSON and as gnostic protobuf, each with its ETag. */
export interface OpenApiV2Representations {
  json: string;
  jsonETag: string;
  protobuf: Buffer;
  protobufETag: string;
}

/** `network.photoncloud.io` + `v1alpha1` + `Vpc` → `io.photoncloud.network.v1alpha1.Vpc`; core → `io.k8s.api.core.v1.Namespace`. */
export function schemaName(resource: Pick<ResourceInfo, 'group' | 'version' | 'kind'>, suffix = ''): string {
  const prefix = resource.group ? resource.group.split('.').reverse().join('.') : 'io.k8s.api.core';
  return `${prefix}.${resource.version}.${resource.kind}${suffix}`;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: unknown) => ({ 'application/json': { schema }, 'application/yaml': { schema } });

function queryParam(name: string, description: string, type = 'string') {
  return { name, in: 'query', description, schema: { type, uniqueItems: true } };
}

const WRITE_PARAMS = [
  queryParam('dryRun', 'When present, indicates that modifications should not be persisted. Valid value: All.'),
  queryParam('fieldManager', 'A name associated with the actor or entity that is making these changes.'),
  queryParam('fieldValidation', 'How the server treats unknown fields in the request: Ignore, Warn (default) or Strict.'),
];
const LIST_PARAMS = [
  queryParam('allowWatchBookmarks', 'Requests watch events with type "BOOKMARK".', 'boolean'),
  queryParam('continue', 'The continue option should be set when retrieving more results from the server.'),
  queryParam('fieldSelector', 'A selector to restrict the list of returned objects by their fields.'),
  queryParam('labelSelector', 'A selector to restrict the list of returned objects by their labels.'),
  queryParam('limit', 'Maximum number of responses to return for a list call.', 'integer'),
  queryParam('resourceVersion', 'Sets a constraint on what resource versions a request may be served from.'),
  queryParam('resourceVersionMatch', 'Determines how resourceVersion is applied to list calls.'),
  queryParam('timeoutSeconds', 'Timeout for the list/watch call.', 'integer'),
  queryParam('watch', 'Watch for changes to the described resources.', 'boolean'),
];

function operationId(verb: string, resource: ResourceInfo, suffix = ''): string {
  const group = resource.group ? resource.group.split('.').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('') : 'Core';
  const version = resource.version[0].toUpperCase() + resource.version.slice(1);
  return `${verb}${group}${version}${resource.namespaced && verb !== 'listForAllNamespaces' ? 'Namespaced' : ''}${resource.kind}${suffix}`;
}

function pathsFor(resource: ResourceInfo): Record<string, unknown> {
  const gvk = { group: resource.group, version: resource.version, kind: resource.kind };
  const base = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
  const collection = resource.namespaced ? `${base}/namespaces/{namespace}/${resource.plural}` : `${base}/${resource.plural}`;
  const item = `${collection}/{name}`;
  const object = ref(schemaName(resource));
  const list = ref(schemaName(resource, 'List'));
  const pathParams = [
    ...(resource.namespaced ? [{ name: 'namespace', in: 'path', required: true, description: 'object name and auth scope, such as for teams and projects', schema: { type: 'string', uniqueItems: true } }] : []),
  ];
  const nameParam = { name: 'name', in: 'path', required: true, description: `name of the ${resource.kind}`, schema: { type: 'string', uniqueItems: true } };
  const operation = (action: string, id: string, response: unknown, extra: Record<string, unknown> = {}) => ({
    operationId: id,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    responses: { '200': { description: 'OK', content: jsonContent(response) }, '401': { description: 'Unauthorized' } },
    ...extra,
  });
  const patch = (suffix: string) =>
    operation('patch', operationId('patch', resource, suffix), object, {
      parameters: [...WRITE_PARAMS, queryParam('force', 'Force is going to "force" Apply requests.', 'boolean')],
      requestBody: {
        required: true,
        content: {
          'application/json-patch+json': { schema: ref(`${META}.Patch`) },
          'application/merge-patch+json': { schema: ref(`${META}.Patch`) },
          'application/apply-patch+yaml': { schema: ref(`${META}.Patch`) },
        },
      },
    });
  const paths: Record<string, unknown> = {
    [collection]: {
      parameters: pathParams,
      get: operation('list', operationId('list', resource), list, { parameters: LIST_PARAMS }),
      post: operation('post', operationId('create', resource), object, { parameters: WRITE_PARAMS, requestBody: { required: true, content: jsonContent(object) } }),
      delete: operation('deletecollection', operationId('deleteCollection', resource), ref(`${META}.Status`), { parameters: LIST_PARAMS }),
    },
    [item]: {
      parameters: [...pathParams, nameParam],
      get: operation('get', operationId('read', resource), object),
      put: operation('put', operationId('replace', resource), object, { parameters: WRITE_PARAMS, requestBody: { required: true, content: jsonContent(object) } }),
      patch: patch(''),
      delete: operation('delete', operationId('delete', resource), ref(`${META}.Status`), { requestBody: { content: jsonContent(ref(`${META}.DeleteOptions`)) } }),
    },
  };
  if (resource.namespaced) paths[`${base}/${resource.plural}`] = { get: operation('list', operationId('listForAllNamespaces', resource), list, { parameters: LIST_PARAMS }) };
  if (resource.hasStatus) {
    paths[`${item}/status`] = {
      parameters: [...pathParams, nameParam],
      get: operation('get', operationId('read', resource, 'Status'), object),
      put: operation('put', operationId('replace', resource, 'Status'), object, { parameters: WRITE_PARAMS, requestBody: { required: true, content: jsonContent(object) } }),
      patch: patch('Status'),
    };
  }
  return paths;
}

function objectSchema(resource: ResourceInfo): Record<string, unknown> {
  const schema = structuredClone(resource.openAPISchema) as JSONSchemaProps & Record<string, unknown>;
  const properties: Record<string, unknown> = { ...schema.properties };
  properties.apiVersion = { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.' };
  properties.kind = { type: 'string', description: 'Kind is a string value representing the REST resource this object represents. In CamelCase.' };
  properties.metadata = { allOf: [ref(`${META}.ObjectMeta`)], description: "Standard object's metadata." };
  return { ...schema, type: 'object', properties, 'x-kubernetes-group-version-kind': [{ group: resource.group, kind: resource.kind, version: resource.version }] };
}

function listSchema(resource: ResourceInfo): Record<string, unknown> {
  return {
    type: 'object',
    description: `${resource.listKind} is a list of ${resource.kind}`,
    required: ['items'],
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { allOf: [ref(`${META}.ListMeta`)], description: 'Standard list metadata.' },
      items: { type: 'array', items: ref(schemaName(resource)), description: `List of ${resource.plural}.` },
    },
    'x-kubernetes-group-version-kind': [{ group: resource.group, kind: resource.listKind, version: resource.version }],
  };
}

export class OpenApiDocuments {
  private cachedGeneration = -1;
  private documents = new Map<string, GroupVersionDocument>();
  private allPaths: Record<string, Record<string, unknown>> = {};
  private allSchemas: Record<string, unknown> = {};
  private v2Cache: { generation: number; representations: OpenApiV2Representations } | undefined;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly serverVersion: string,
  ) {}

  private refresh(): void {
    if (this.cachedGeneration === this.registry.generation) return;
    const byGroupVersion = new Map<string, ResourceInfo[]>();
    for (const resource of this.registry.all()) {
      const key = resource.group ? `apis/${resource.group}/${resource.version}` : `api/${resource.version}`;
      if (!byGroupVersion.has(key)) byGroupVersion.set(key, []);
      byGroupVersion.get(key)!.push(resource);
    }
    const documents = new Map<string, GroupVersionDocument>();
    const allPaths: Record<string, Record<string, unknown>> = {};
    const allSchemas: Record<string, unknown> = {};
    for (const [key, resources] of byGroupVersion) {
      const schemas: Record<string, unknown> = { ...metaSchemas };
      let paths: Record<string, unknown> = {};
      for (const resource of resources) {
        schemas[schemaName(resource)] = objectSchema(resource);
        schemas[schemaName(resource, 'List')] = listSchema(resource);
        paths = { ...paths, ...pathsFor(resource) };
      }
      Object.assign(allPaths, paths);
      Object.assign(allSchemas, schemas);
      const document = { openapi: '3.0.0', info: { title: 'PhotonCloud', version: this.serverVersion }, paths, components: { schemas } };
      const json = JSON.stringify(document);
      documents.set(key, { json, hash: createHash('sha512').update(json).digest('hex').slice(0, 64).toUpperCase() });
    }
    this.documents = documents;
    this.allPaths = allPaths;
    this.allSchemas = allSchemas;
    this.cachedGeneration = this.registry.generation;
  }

  /** The OpenAPI v2 document, built on first use after each change of the served resources. */
  v2(): OpenApiV2Representations {
    this.refresh();
    if (this.v2Cache?.generation !== this.cachedGeneration) {
      const document = openApiV2Document(this.allPaths, this.allSchemas, this.serverVersion);
      const json = JSON.stringify(document);
      const protobuf = encodeOpenApiV2(document);
      const etag = (bytes: string | Buffer) => `"${createHash('sha512').update(bytes).digest('hex').slice(0, 64).toUpperCase()}"`;
      this.v2Cache = { generation: this.cachedGeneration, representations: { json, jsonETag: etag(json), protobuf, protobufETag: etag(protobuf) } };
    }
    return this.v2Cache.representations;
  }

  index(): unknown {
    this.refresh();
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [key, document] of [...this.documents].sort(([a], [b]) => a.localeCompare(b))) {
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${document.hash}` };
    }
    return { paths };
  }

  /** The document for `apis/<group>/<version>` or `api/v1`, with its hash (the ETag). */
  document(key: string): GroupVersionDocument | undefined {
    this.refresh();
    return this.documents.get(key);
  }
}
