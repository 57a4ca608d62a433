import { describe, expect, it } from '@jest/globals';
import { compareKubeVersions, ResourceConflict, ResourceRegistry } from './registry.ts';
import { storagePrefixFor, type ResourceInfo } from './resource.ts';

function info(group: string, version: string, plural: string, source: string, kind = plural.replace(/s$/, ''), extra: Partial<ResourceInfo> = {}): ResourceInfo {
  const singular = plural.replace(/s$/, '');
  return { group, version, plural, singular, kind, listKind: `${kind}List`, shortNames: [], source, storagePrefix: storagePrefixFor(group, plural), ...extra } as unknown as ResourceInfo;
}

/** The ResourceConflict setSource throws, or undefined when it accepts the resources. */
function conflictOf(registry: ResourceRegistry, source: string, resources: ResourceInfo[]): ResourceConflict | undefined {
  try {
    registry.setSource(source, resources);
    return undefined;
  } catch (error) {
    if (error instanceof ResourceConflict) return error;
    throw error;
  }
}

describe('compareKubeVersions', () => {
  it('orders GA > beta > alpha, higher numbers first, then other strings alphabetically', () => {
    const versions = ['foo', 'v1alpha1', 'v1beta1', 'v1', 'v2', 'v1beta2', 'bar', 'v11alpha2', 'v10', 'v3beta1', 'v12alpha1', 'v10beta3'];
    expect([...versions].sort(compareKubeVersions)).toEqual(['v10', 'v2', 'v1', 'v10beta3', 'v3beta1', 'v1beta2', 'v1beta1', 'v12alpha1', 'v11alpha2', 'v1alpha1', 'bar', 'foo']);
  });

  it('the documented chain v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > foo', () => {
    const chain = ['v2', 'v1', 'v1beta2', 'v1beta1', 'v1alpha1', 'foo'];
    for (let index = 0; index + 1 < chain.length; index++) {
      expect(compareKubeVersions(chain[index], chain[index + 1])).toBeLessThan(0);
      expect(compareKubeVersions(chain[index + 1], chain[index])).toBeGreaterThan(0);
    }
    expect(compareKubeVersions('v1', 'v1')).toBe(0);
  });

  it('strings that only look like versions are not versions', () => {
    expect(compareKubeVersions('v1', 'v1gamma1')).toBeLessThan(0);
    expect(compareKubeVersions('v1alpha', 'v1alpha1')).toBeGreaterThan(0);
  });
});

describe('ResourceRegistry', () => {
  it('serves what a source sets, by id and by kind', () => {
    const registry = new ResourceRegistry();
    registry.setSource('vpcs.net.io', [info('net.io', 'v1', 'vpcs', 'vpcs.net.io', 'Vpc'), info('net.io', 'v1beta1', 'vpcs', 'vpcs.net.io', 'Vpc')]);
    expect(registry.get('net.io', 'v1', 'vpcs')?.version).toBe('v1');
    expect(registry.byKind('net.io/v1beta1', 'Vpc')?.version).toBe('v1beta1');
    expect(registry.byKind('net.io/v2', 'Vpc')).toBeUndefined();
    expect(registry.groups()).toEqual([{ group: 'net.io', versions: ['v1', 'v1beta1'] }]);
  });

  it('setSource replaces all of a source\'s versions, removing those it no longer serves', () => {
    const registry = new ResourceRegistry();
    registry.setSource('vpcs.net.io', [info('net.io', 'v1alpha1', 'vpcs', 'vpcs.net.io'), info('net.io', 'v1beta1', 'vpcs', 'vpcs.net.io')]);
    registry.setSource('vpcs.net.io', [info('net.io', 'v1', 'vpcs', 'vpcs.net.io'), info('net.io', 'v1beta1', 'vpcs', 'vpcs.net.io')]);
    expect(registry.all().map((resource) => resource.version).sort(compareKubeVersions)).toEqual(['v1', 'v1beta1']);
    expect(registry.get('net.io', 'v1alpha1', 'vpcs')).toBeUndefined();
  });

  it('the core group is not a named group; byKind uses bare versions for it', () => {
    const registry = new ResourceRegistry();
    registry.setSource('builtin', [info('', 'v1', 'namespaces', 'builtin', 'Namespace')]);
    expect(registry.groups()).toEqual([]);
    expect(registry.byKind('v1', 'Namespace')?.plural).toBe('namespaces');
  });

  it('groups are sorted and list versions preferred first', () => {
    const registry = new ResourceRegistry();
    registry.setSource('b', [info('zeta.io', 'v1alpha1', 'things', 'b'), info('zeta.io', 'v1', 'others', 'b')]);
    registry.setSource('a', [info('alpha.io', 'v1beta1', 'things', 'a'), info('alpha.io', 'v2', 'others', 'a')]);
    expect(registry.groups()).toEqual([{ group: 'alpha.io', versions: ['v2', 'v1beta1'] }, { group: 'zeta.io', versions: ['v1', 'v1alpha1'] }]);
    expect(registry.inGroupVersion('zeta.io', 'v1').map((resource) => resource.plural)).toEqual(['others']);
  });

  it('refuses a resource another source already serves, and changes nothing then', () => {
    const registry = new ResourceRegistry();
    registry.setSource('vpcs.net.io', [info('net.io', 'v1', 'vpcs', 'vpcs.net.io')]);
    registry.setSource('other', [info('net.io', 'v1alpha1', 'subnets', 'other')]);
    const generation = registry.generation;
    expect(() => registry.setSource('other', [info('net.io', 'v1', 'subnets', 'other'), info('net.io', 'v1', 'vpcs', 'other')])).toThrow('vpcs.net.io is already served by vpcs.net.io');
    expect(registry.get('net.io', 'v1', 'vpcs')?.source).toBe('vpcs.net.io');
    // The failed update leaves the source as it was: still serving what it served before, and nothing new.
    expect(registry.get('net.io', 'v1alpha1', 'subnets')?.source).toBe('other');
    expect(registry.get('net.io', 'v1', 'subnets')).toBeUndefined();
    expect(registry.all()).toHaveLength(2);
    expect(registry.generation).toBe(generation);
  });

  it('refuses a source that lists the same resource twice', () => {
    const registry = new ResourceRegistry();
    expect(() => registry.setSource('dup', [info('net.io', 'v1', 'vpcs', 'dup'), info('net.io', 'v1', 'vpcs', 'dup')])).toThrow('already served by dup');
    expect(registry.all()).toEqual([]);
  });

  it('removeSource removes only that source; listeners hear about every change', () => {
    const registry = new ResourceRegistry();
    let calls = 0;
    const unsubscribe = registry.onChange(() => calls++);
    registry.setSource('a', [info('net.io', 'v1', 'vpcs', 'a')]);
    registry.setSource('b', [info('net.io', 'v1', 'subnets', 'b')]);
    registry.removeSource('a');
    expect(registry.all().map((resource) => resource.plural)).toEqual(['subnets']);
    expect(calls).toBe(3);
    expect(registry.generation).toBe(3);
    unsubscribe();
    registry.removeSource('b');
    expect(calls).toBe(3);
    expect(registry.generation).toBe(4);
  });

  it('refuses any version of a group/resource another source serves, whatever the version', () => {
    const registry = new ResourceRegistry();
    registry.setSource('builtin', [info('coordination.k8s.io', 'v1', 'leases', 'builtin', 'Lease')]);
    registry.setSource('vpcs.net.io', [info('net.io', 'v1', 'vpcs', 'vpcs.net.io', 'Vpc')]);
    const generation = registry.generation;
    expect(conflictOf(registry, 'leases.coordination.k8s.io', [info('coordination.k8s.io', 'v2', 'leases', 'leases.coordination.k8s.io', 'Lease')])).toMatchObject({ reason: 'PluralConflict' });
    expect(conflictOf(registry, 'other', [info('net.io', 'v1beta1', 'vpcs', 'other', 'Other')])).toMatchObject({ reason: 'PluralConflict', message: 'vpcs.net.io is already served by vpcs.net.io' });
    expect(registry.generation).toBe(generation);
    expect(registry.resourcesOf('leases.coordination.k8s.io')).toEqual([]);
    expect(registry.get('coordination.k8s.io', 'v1', 'leases')?.source).toBe('builtin');
  });

  it('refuses a new resource in a group the server serves built-in kinds in', () => {
    const registry = new ResourceRegistry();
    registry.setSource('builtin', [info('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'builtin', 'CustomResourceDefinition')]);
    expect(conflictOf(registry, 'widgets.apiextensions.k8s.io', [info('apiextensions.k8s.io', 'v1', 'widgets', 'widgets.apiextensions.k8s.io', 'Widget')])?.message).toBe(
      'widgets.apiextensions.k8s.io: the group "apiextensions.k8s.io" is served by the API server itself',
    );
  });

  it('refuses storage another source uses, even under other names (events.k8s.io Events are stored as core Events)', () => {
    const registry = new ResourceRegistry();
    registry.setSource('builtin', [info('events.k8s.io', 'v1', 'events', 'builtin', 'Event', { storagePrefix: '/registry/core/events/' })]);
    const alias = info('alias.io', 'v1', 'things', 'things.alias.io', 'Thing', { storagePrefix: '/registry/core/events/' });
    expect(conflictOf(registry, 'things.alias.io', [alias])?.message).toBe('things.alias.io would be stored under /registry/core/events/, which events.events.k8s.io (builtin) uses');
  });

  it('within a group, refuses a kind, list kind, singular or short name another source uses; other groups may reuse a kind', () => {
    const registry = new ResourceRegistry();
    registry.setSource('vpcs.net.io', [info('net.io', 'v1', 'vpcs', 'vpcs.net.io', 'Vpc', { shortNames: ['vp'] })]);
    registry.setSource('builtin', [info('', 'v1', 'namespaces', 'builtin', 'Namespace', { shortNames: ['ns'] })]);
    expect(conflictOf(registry, 'fakes.net.io', [info('net.io', 'v1', 'fakes', 'fakes.net.io', 'Vpc')])).toMatchObject({ reason: 'KindConflict', message: 'kind "Vpc" is already in use by vpcs.net.io' });
    expect(conflictOf(registry, 'fakes.net.io', [info('net.io', 'v1', 'fakes', 'fakes.net.io', 'Fake', { listKind: 'VpcList' })])).toMatchObject({ reason: 'ListKindConflict' });
    expect(conflictOf(registry, 'fakes.net.io', [info('net.io', 'v1', 'fakes', 'fakes.net.io', 'Fake', { singular: 'vpc' })])).toMatchObject({ reason: 'SingularConflict' });
    expect(conflictOf(registry, 'fakes.net.io', [info('net.io', 'v1', 'fakes', 'fakes.net.io', 'Fake', { shortNames: ['vp'] })])).toMatchObject({ reason: 'ShortNamesConflict' });
    expect(registry.resourcesOf('fakes.net.io')).toEqual([]);
    // The same kind (and short name) in another group is fine, as in Kubernetes.
    expect(conflictOf(registry, 'namespaces.example.com', [info('example.com', 'v1', 'namespaces', 'namespaces.example.com', 'Namespace', { shortNames: ['ns'] })])).toBeUndefined();
    expect(conflictOf(registry, 'vpcs.other.io', [info('other.io', 'v1', 'vpcs', 'vpcs.other.io', 'Vpc')])).toBeUndefined();
    expect(registry.resourcesOf('vpcs.other.io').map((resource) => resource.group)).toEqual(['other.io']);
  });
});
