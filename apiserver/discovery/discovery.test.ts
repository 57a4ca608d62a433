import { describe, expect, it } from '@jest/globals';
import { ResourceRegistry } from '../registry/registry.ts';
import { resourcesFromCrd, type CustomResourceDefinition } from '../registry/crd.ts';
import { aggregatedContentType, aggregatedDiscovery, aggregatedDiscoveryVersion, apiGroupList, apiResourceList } from './discovery.ts';

const V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

describe('aggregatedDiscoveryVersion', () => {
  it('answers kubectl ≥1.30 (v2, then v2beta1, then plain JSON) with v2', () => {
    expect(aggregatedDiscoveryVersion(`${V2},${V2BETA1},application/json`)).toBe('v2');
  });

  it('prefers v2 over v2beta1 whatever their order', () => {
    expect(aggregatedDiscoveryVersion(`${V2BETA1},${V2},application/json`)).toBe('v2');
  });

  it('serves v2beta1 to clients that only know it', () => {
    expect(aggregatedDiscoveryVersion(`${V2BETA1},application/json`)).toBe('v2beta1');
    expect(aggregatedDiscoveryVersion(`${V2BETA1},application/json,${V2}`)).toBe('v2beta1');
  });

  it('answers unaggregated when plain JSON ranks first or aggregation is not asked for', () => {
    expect(aggregatedDiscoveryVersion(`application/json,${V2}`)).toBeUndefined();
    expect(aggregatedDiscoveryVersion('application/json')).toBeUndefined();
    expect(aggregatedDiscoveryVersion(undefined)).toBeUndefined();
    expect(aggregatedDiscoveryVersion('application/json;g=apidiscovery.k8s.io;v=v1;as=APIGroupDiscoveryList')).toBeUndefined();
    expect(aggregatedDiscoveryVersion('application/json;g=apidiscovery.k8s.io;v=v2;as=Other')).toBeUndefined();
  });

  it('ignores ranges of other media types before the aggregated one', () => {
    expect(aggregatedDiscoveryVersion(`application/vnd.kubernetes.protobuf,${V2}`)).toBe('v2');
  });
});

describe('aggregatedContentType', () => {
  it('is exactly what kubectl checks for', () => {
    expect(aggregatedContentType('v2')).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(aggregatedContentType('v2beta1')).toBe('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList');
  });
});

function crd(versions: string[], status = true): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'vpcs.network.photoncloud.io' },
    spec: {
      group: 'network.photoncloud.io',
      scope: 'Namespaced',
      names: { plural: 'vpcs', singular: 'vpc', kind: 'Vpc', shortNames: ['vpc'], categories: ['photon'] },
      versions: versions.map((name, index) => ({ name, served: true, storage: index === 0, ...(status ? { subresources: { status: {} } } : {}) })),
    },
  };
}

describe('discovery documents', () => {
  const registry = new ResourceRegistry();
  registry.setSource('vpcs.network.photoncloud.io', resourcesFromCrd(crd(['v1alpha1', 'v1'])).resources);

  it('APIGroupList lists versions preferred first', () => {
    expect(apiGroupList(registry)).toEqual({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [{
        kind: 'APIGroup',
        apiVersion: 'v1',
        name: 'network.photoncloud.io',
        versions: [{ groupVersion: 'network.photoncloud.io/v1', version: 'v1' }, { groupVersion: 'network.photoncloud.io/v1alpha1', version: 'v1alpha1' }],
        preferredVersion: { groupVersion: 'network.photoncloud.io/v1', version: 'v1' },
      }],
    });
  });

  it('APIResourceList has the entries kubectl and client-node read, with the status subresource', () => {
    const list = apiResourceList(registry, 'network.photoncloud.io', 'v1');
    expect(list).toEqual({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: 'network.photoncloud.io/v1',
      resources: [
        { name: 'vpcs', singularName: 'vpc', namespaced: true, kind: 'Vpc', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['vpc'], categories: ['photon'] },
        { name: 'vpcs/status', singularName: '', namespaced: true, kind: 'Vpc', verbs: ['get', 'patch', 'update'] },
      ],
    });
    expect(apiResourceList(registry, 'network.photoncloud.io', 'v9')).toBeUndefined();
  });

  it('aggregated discovery lists each group version with its resources', () => {
    const document = aggregatedDiscovery(registry, 'v2', false);
    expect(document.kind).toBe('APIGroupDiscoveryList');
    expect(document.apiVersion).toBe('apidiscovery.k8s.io/v2');
    expect(document.items).toHaveLength(1);
    expect(document.items[0].metadata).toEqual({ name: 'network.photoncloud.io' });
    expect(document.items[0].versions.map((version) => version.version)).toEqual(['v1', 'v1alpha1']);
    expect(document.items[0].versions[0].freshness).toBe('Current');
    expect(document.items[0].versions[0].resources).toEqual([{
      resource: 'vpcs',
      responseKind: { group: 'network.photoncloud.io', version: 'v1', kind: 'Vpc' },
      scope: 'Namespaced',
      singularResource: 'vpc',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: ['vpc'],
      categories: ['photon'],
      subresources: [{ subresource: 'status', responseKind: { group: 'network.photoncloud.io', version: 'v1', kind: 'Vpc' }, verbs: ['get', 'patch', 'update'] }],
    }]);
  });
});
