import { describe, expect, it } from '@jest/globals';
import { CrdError, NAME_FORMAT_ANNOTATION, resourcesFromCrd, type CustomResourceDefinition, type CustomResourceDefinitionVersion } from './crd.ts';

function crd(versions: CustomResourceDefinitionVersion[], overrides: { name?: string; annotations?: Record<string, string>; scope?: 'Namespaced' | 'Cluster' } = {}): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: overrides.name ?? 'vpcs.network.photoncloud.io', ...(overrides.annotations ? { annotations: overrides.annotations } : {}) },
    spec: {
      group: 'network.photoncloud.io',
      scope: overrides.scope ?? 'Namespaced',
      names: { plural: 'vpcs', kind: 'Vpc' },
      versions,
    },
  };
}

const schema = { openAPIV3Schema: { type: 'object' as const, properties: { spec: { type: 'object' as const, properties: { cidr: { type: 'string' as const } } } } } };

describe('resourcesFromCrd', () => {
  it('maps a served version onto a ResourceInfo with Kubernetes defaults for optional names', () => {
    const { resources, warnings } = resourcesFromCrd(crd([{ name: 'v1alpha1', served: true, storage: true, schema, subresources: { status: {} } }]));
    expect(warnings).toEqual([]);
    expect(resources).toHaveLength(1);
    expect(resources[0]).toMatchObject({
      group: 'network.photoncloud.io',
      version: 'v1alpha1',
      kind: 'Vpc',
      listKind: 'VpcList',
      plural: 'vpcs',
      singular: 'vpc',
      namespaced: true,
      shortNames: [],
      categories: [],
      hasStatus: true,
      printerColumns: [],
      selectableFields: [],
      nameFormat: 'dns1123-subdomain',
      storagePrefix: '/registry/network.photoncloud.io/vpcs/',
      source: 'vpcs.network.photoncloud.io',
    });
    expect(resources[0].verbs).toEqual(['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
    expect(resources[0].openAPISchema).toBe(schema.openAPIV3Schema);
  });

  it('cluster scope, no status subresource', () => {
    const [resource] = resourcesFromCrd(crd([{ name: 'v1', served: true, storage: true }], { scope: 'Cluster' })).resources;
    expect(resource.namespaced).toBe(false);
    expect(resource.hasStatus).toBe(false);
  });

  it('a version without a schema keeps every field', () => {
    const [resource] = resourcesFromCrd(crd([{ name: 'v1', served: true, storage: true }])).resources;
    expect(resource.openAPISchema).toEqual({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    const object = { metadata: { name: 'a' }, spec: { anything: 1 } };
    expect(resource.schema.prune(object).unknownFields).toEqual([]);
  });

  it('returns served versions only', () => {
    const { resources } = resourcesFromCrd(crd([
      { name: 'v1alpha1', served: false, storage: false },
      { name: 'v1beta1', served: true, storage: false },
      { name: 'v1', served: true, storage: true },
    ]));
    expect(resources.map((resource) => resource.version)).toEqual(['v1beta1', 'v1']);
  });

  it('requires metadata.name to be <plural>.<group>', () => {
    expect(() => resourcesFromCrd(crd([{ name: 'v1', served: true, storage: true }], { name: 'vpc.network.photoncloud.io' }))).toThrow(
      new CrdError('CustomResourceDefinition vpc.network.photoncloud.io: metadata.name must be spec.names.plural+"."+spec.group'),
    );
  });

  it('requires exactly one storage version', () => {
    const none = crd([{ name: 'v1', served: true, storage: false }]);
    const two = crd([{ name: 'v1', served: true, storage: true }, { name: 'v2', served: true, storage: true }]);
    for (const definition of [none, two]) {
      expect(() => resourcesFromCrd(definition)).toThrow(CrdError);
      expect(() => resourcesFromCrd(definition)).toThrow('CustomResourceDefinition vpcs.network.photoncloud.io: exactly one version must be the storage version');
    }
  });

  it('reads the name format from its annotation and refuses unknown formats', () => {
    const label = resourcesFromCrd(crd([{ name: 'v1', served: true, storage: true }], { annotations: { [NAME_FORMAT_ANNOTATION]: 'dns1123-label' } }));
    expect(label.resources[0].nameFormat).toBe('dns1123-label');
    expect(() => resourcesFromCrd(crd([{ name: 'v1', served: true, storage: true }], { annotations: { [NAME_FORMAT_ANNOTATION]: 'anything' } }))).toThrow(
      'annotation photoncloud.io/name-format must be dns1123-label or dns1123-subdomain',
    );
  });

  it('strips the leading dot of selectable fields and keeps printer columns', () => {
    const columns = [{ name: 'CIDR', type: 'string' as const, jsonPath: '.spec.cidr' }];
    const [resource] = resourcesFromCrd(crd([{ name: 'v1', served: true, storage: true, schema, additionalPrinterColumns: columns, selectableFields: [{ jsonPath: '.spec.cidr' }, { jsonPath: 'spec.region' }] }])).resources;
    expect(resource.selectableFields).toEqual(['spec.cidr', 'spec.region']);
    expect(resource.printerColumns).toEqual(columns);
  });

  it('keeps explicit names', () => {
    const definition = crd([{ name: 'v1', served: true, storage: true }]);
    definition.spec.names = { plural: 'vpcs', singular: 'virtualprivatecloud', kind: 'Vpc', listKind: 'VpcCollection', shortNames: ['vpc'], categories: ['network'] };
    expect(resourcesFromCrd(definition).resources[0]).toMatchObject({ singular: 'virtualprivatecloud', listKind: 'VpcCollection', shortNames: ['vpc'], categories: ['network'] });
  });

  it('passes schema warnings on, prefixed with the CRD and version', () => {
    const withRule = { openAPIV3Schema: { type: 'object' as const, properties: { spec: { type: 'object' as const, 'x-kubernetes-validations': [{ rule: 'has(self.cidr)' }] } } } };
    expect(resourcesFromCrd(crd([{ name: 'v1', served: true, storage: true, schema: withRule }])).warnings).toEqual([
      'vpcs.network.photoncloud.io/v1: validation rule "has(self.cidr)" at spec is not supported and is not enforced',
    ]);
  });
});
