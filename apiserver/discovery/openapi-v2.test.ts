// OpenAPI v2 from the real CRDs in crds/ and the built-in kinds: what kubectl's v2 readers need (PATCH paths
// with the kind and the fieldValidation parameter, consumes without strategic merge patch, definitions that
// kube-openapi's model parser accepts: standalone $refs that resolve, arrays with one item schema, no
// allOf/anyOf/oneOf/nullable), and the protobuf encoding of the same document, read back with a wire decoder.
// The end-to-end proof that kubectl parses it is in test/e2e/kubectl-fallbacks.test.ts.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { customResourceDefinitionResource } from '../crds/resource.ts';
import { builtinResources } from '../registry/builtins/index.ts';
import { resourcesFromCrd, type CustomResourceDefinition } from '../registry/crd.ts';
import { ResourceRegistry } from '../registry/registry.ts';
import { OpenApiDocuments } from './openapi.ts';
import { toV2Schema } from './openapi-v2.ts';

type Obj = Record<string, any>;

const CRD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../crds');

function registryWithEverything(): ResourceRegistry {
  const registry = new ResourceRegistry();
  registry.setSource('builtin', [...builtinResources(), customResourceDefinitionResource()]);
  for (const file of readdirSync(CRD_DIR).filter((name) => name.endsWith('.yaml'))) {
    const crd = YAML.parse(readFileSync(path.join(CRD_DIR, file), 'utf8')) as CustomResourceDefinition;
    registry.setSource(crd.metadata.name!, resourcesFromCrd(crd).resources);
  }
  return registry;
}

const VPC_ITEM = '/apis/network.photoncloud.io/v1alpha1/namespaces/{namespace}/vpcs/{name}';
const OBJECT_META_REF = '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** Every schema node under a definition, with its path. */
function* schemaNodes(schema: Obj, where: string): Generator<[string, Obj]> {
  yield [where, schema];
  for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, Obj>)) yield* schemaNodes(property, `${where}.${name}`);
  if (schema.items) yield* schemaNodes(schema.items, `${where}[]`);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') yield* schemaNodes(schema.additionalProperties, `${where}{}`);
}

describe('OpenAPI v2 document', () => {
  const registry = registryWithEverything();
  const documents = new OpenApiDocuments(registry, 'v1.32.0');
  const v2 = documents.v2();
  const document = JSON.parse(v2.json) as Obj;

  it('has a PATCH operation per kind with its group/version/kind and the fieldValidation parameter', () => {
    expect(document.swagger).toBe('2.0');
    const patch = document.paths[VPC_ITEM].patch;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'network.photoncloud.io', version: 'v1alpha1', kind: 'Vpc' });
    expect(patch['x-kubernetes-action']).toBe('patch');
    expect(patch.parameters).toContainEqual({ name: 'fieldValidation', in: 'query', description: expect.any(String), type: 'string', uniqueItems: true });
    expect(patch.parameters).toContainEqual({ name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch' } });
    expect(patch.consumes).toEqual(['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
    expect(document.paths[VPC_ITEM].parameters).toEqual([
      { name: 'namespace', in: 'path', required: true, description: expect.any(String), type: 'string', uniqueItems: true },
      { name: 'name', in: 'path', required: true, description: expect.any(String), type: 'string', uniqueItems: true },
    ]);
    // kubectl's v2 fallback checks Namespace's PATCH to learn whether the server validates fields at all.
    const namespacePatch = document.paths['/api/v1/namespaces/{name}'].patch;
    expect(namespacePatch['x-kubernetes-group-version-kind']).toEqual({ group: '', version: 'v1', kind: 'Namespace' });
    expect(namespacePatch.parameters.map((parameter: Obj) => parameter.name)).toContain('fieldValidation');
    // Every PhotonCloud kind is there; no PATCH anywhere offers strategic merge patch.
    for (const resource of registry.all()) {
      expect(Object.values(document.paths).some((item: any) => item.patch?.['x-kubernetes-group-version-kind']?.kind === resource.kind && item.patch['x-kubernetes-group-version-kind'].group === resource.group)).toBe(true);
    }
    expect(v2.json).not.toContain('strategic-merge-patch');
  });

  it('has definitions kube-openapi can parse: the kind, metadata by a standalone $ref, nothing v2 cannot say', () => {
    const vpc = document.definitions['io.photoncloud.network.v1alpha1.Vpc'];
    expect(vpc['x-kubernetes-group-version-kind']).toEqual([{ group: 'network.photoncloud.io', kind: 'Vpc', version: 'v1alpha1' }]);
    expect(vpc.properties.metadata).toEqual({ $ref: OBJECT_META_REF, description: "Standard object's metadata." });
    expect(vpc.properties.spec.properties.cidrBlocks).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(document.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.ownerReferences.items).toEqual({ $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference' });
    for (const [name, definition] of Object.entries(document.definitions as Record<string, Obj>)) {
      for (const [where, node] of schemaNodes(definition, name)) {
        for (const keyword of ['allOf', 'anyOf', 'oneOf', 'not', 'nullable']) expect([where, node[keyword]]).toEqual([where, undefined]);
        if (node.$ref !== undefined) {
          expect([where, Object.keys(node).filter((key) => key !== '$ref' && key !== 'description')]).toEqual([where, []]);
          expect([where, document.definitions[node.$ref.replace('#/definitions/', '')] !== undefined]).toEqual([where, true]);
        }
        if (node.type === 'array') expect([where, typeof node.items]).toEqual([where, 'object']);
        if (node.type !== undefined) expect([where, ['string', 'integer', 'number', 'boolean', 'object', 'array']]).toEqual([where, expect.arrayContaining([node.type])]);
      }
    }
    expect(v2.json).not.toContain('#/components/');
  });

  it('is rebuilt when the served resources change, with a new ETag', () => {
    const changing = registryWithEverything();
    const docs = new OpenApiDocuments(changing, 'v1.32.0');
    const before = docs.v2();
    expect(docs.v2()).toBe(before); // cached while nothing changes
    changing.setSource('vpcs.network.photoncloud.io', []);
    const after = docs.v2();
    expect(after.jsonETag).not.toBe(before.jsonETag);
    expect(after.protobufETag).not.toBe(before.protobufETag);
    expect(JSON.parse(after.json).paths[VPC_ITEM]).toBeUndefined();
  });
});

describe('toV2Schema', () => {
  it('converts what v2 cannot say the way kube-apiserver does for CRDs', () => {
    expect(toV2Schema({ allOf: [{ $ref: '#/components/schemas/X' }], description: 'd', default: {} })).toEqual({ $ref: '#/definitions/X', description: 'd' });
    expect(toV2Schema({ type: 'string', nullable: true, description: 'n' })).toEqual({ description: 'n' });
    expect(toV2Schema({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { a: { type: 'string' } }, required: ['a'] })).toEqual({ 'x-kubernetes-preserve-unknown-fields': true });
    expect(toV2Schema({ 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: '^\\d+$' })).toEqual({ 'x-kubernetes-int-or-string': true, pattern: '^\\d+$' });
    expect(toV2Schema({ type: 'object', oneOf: [{ required: ['a'] }, { required: ['b'] }], properties: { a: { type: 'string' }, b: { type: 'string' } } })).toEqual({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } });
    expect(toV2Schema({ type: 'array' })).toEqual({});
    expect(toV2Schema({ type: 'object', additionalProperties: { type: 'string', minLength: 1 } })).toEqual({ type: 'object', additionalProperties: { type: 'string', minLength: 1 } });
    expect(toV2Schema({ type: 'integer', minimum: 1, maximum: 65535, 'x-kubernetes-validations': [{ rule: 'self > 0' }] })).toEqual({ type: 'integer', minimum: 1, maximum: 65535, 'x-kubernetes-validations': [{ rule: 'self > 0' }] });
  });
});

// ---- a protobuf wire-format reader, enough to check the gnostic encoding ----

type Field = { wire: number; value: bigint | Buffer };

function readVarint(bytes: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = bytes[at++]!;
    result |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) return [result, at];
  }
}

function fields(bytes: Buffer): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let at = 0;
  while (at < bytes.length) {
    const [tag, next] = readVarint(bytes, at);
    at = next;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: bigint | Buffer;
    if (wire === 0) [value, at] = readVarint(bytes, at);
    else if (wire === 1) {
      value = bytes.subarray(at, at + 8);
      at += 8;
    } else if (wire === 2) {
      const [length, start] = readVarint(bytes, at);
      value = bytes.subarray(start, start + Number(length));
      at = start + Number(length);
    } else throw new Error(`unexpected wire type ${wire}`);
    if (!out.has(field)) out.set(field, []);
    out.get(field)!.push({ wire, value });
  }
  return out;
}

const message = (bytes: Buffer, field: number) => (fields(bytes).get(field) ?? []).map((entry) => entry.value as Buffer);
const text = (bytes: Buffer, field: number) => message(bytes, field).map((value) => value.toString('utf8'));
/** Repeated Named* entries {1: name, 2: value} as a map. */
const named = (entries: Buffer[]) => new Map(entries.map((entry) => [text(entry, 1)[0]!, message(entry, 2)[0]!]));

describe('OpenAPI v2 protobuf (gnostic openapi_v2.Document)', () => {
  const registry = registryWithEverything();
  const v2 = new OpenApiDocuments(registry, 'v1.32.0').v2();
  const document = JSON.parse(v2.json) as Obj;
  const root = v2.protobuf;

  it('carries the same paths and definitions as the JSON, in order', () => {
    expect(text(root, 1)).toEqual(['2.0']);
    expect(text(message(root, 2)[0]!, 1)).toEqual(['PhotonCloud']);
    const paths = named(message(message(root, 8)[0]!, 2));
    expect([...paths.keys()]).toEqual(Object.keys(document.paths));
    const definitions = named(message(message(root, 9)[0]!, 1));
    expect([...definitions.keys()]).toEqual(Object.keys(document.definitions));
  });

  it('encodes the PATCH operation kubectl reads: GVK extension, query parameters, consumes', () => {
    const item = named(message(message(root, 8)[0]!, 2)).get(VPC_ITEM)!;
    const patch = message(item, 8)[0]!;
    const extensions = named(message(patch, 13));
    // NamedAny.value is Any {2: yaml}; JSON is YAML.
    expect(JSON.parse(text(extensions.get('x-kubernetes-group-version-kind')!, 2)[0]!)).toEqual({ group: 'network.photoncloud.io', version: 'v1alpha1', kind: 'Vpc' });
    expect(text(patch, 7)).toEqual(['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
    // ParametersItem{1: Parameter{2: NonBodyParameter{3: QueryParameterSubSchema{4: name}}}}
    const queryNames = message(patch, 8).flatMap((item) => message(item, 1)).flatMap((parameter) => message(parameter, 2)).flatMap((nonBody) => message(nonBody, 3)).flatMap((query) => text(query, 4));
    expect(queryNames).toEqual(expect.arrayContaining(['dryRun', 'fieldManager', 'fieldValidation', 'force']));
    const bodyParameter = message(patch, 8).flatMap((item) => message(item, 1)).flatMap((parameter) => message(parameter, 1))[0]!;
    expect(text(bodyParameter, 2)).toEqual(['body']);
    expect(text(message(bodyParameter, 5)[0]!, 1)).toEqual(['#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch']);
  });

  it('encodes schemas: type, properties, items, $ref, required, numbers and the kind extension', () => {
    const definitions = named(message(message(root, 9)[0]!, 1));
    const vpc = definitions.get('io.photoncloud.network.v1alpha1.Vpc')!;
    expect(text(message(vpc, 22)[0]!, 1)).toEqual(['object']);
    const gvk = named(message(vpc, 31)).get('x-kubernetes-group-version-kind')!;
    expect(JSON.parse(text(gvk, 2)[0]!)).toEqual([{ group: 'network.photoncloud.io', kind: 'Vpc', version: 'v1alpha1' }]);
    const properties = named(message(message(vpc, 25)[0]!, 1));
    expect(text(properties.get('metadata')!, 1)).toEqual([OBJECT_META_REF]);
    const spec = properties.get('spec')!;
    expect(text(spec, 19)).toEqual(document.definitions['io.photoncloud.network.v1alpha1.Vpc'].properties.spec.required);
    const cidrBlocks = named(message(message(spec, 25)[0]!, 1)).get('cidrBlocks')!;
    expect(text(message(cidrBlocks, 22)[0]!, 1)).toEqual(['array']);
    const item = message(message(cidrBlocks, 23)[0]!, 1)[0]!;
    expect(text(message(item, 22)[0]!, 1)).toEqual(['string']);
    const maxItems = document.definitions['io.photoncloud.network.v1alpha1.Vpc'].properties.spec.properties.cidrBlocks.maxItems;
    expect(maxItems).toEqual(expect.any(Number));
    expect(fields(cidrBlocks).get(14)![0]!.value).toBe(BigInt(maxItems));
    // Bounds are doubles on the wire (fixed64, little-endian): Subnet's dhcp.leaseSeconds minimum.
    const subnet = definitions.get('io.photoncloud.network.v1alpha1.Subnet')!;
    const dhcp = named(message(message(named(message(message(subnet, 25)[0]!, 1)).get('spec')!, 25)[0]!, 1)).get('dhcp')!;
    const leaseSeconds = named(message(message(dhcp, 25)[0]!, 1)).get('leaseSeconds')!;
    const jsonLease = document.definitions['io.photoncloud.network.v1alpha1.Subnet'].properties.spec.properties.dhcp.properties.leaseSeconds;
    expect((fields(leaseSeconds).get(9)![0]!.value as Buffer).readDoubleLE(0)).toBe(jsonLease.minimum);
  });
});
