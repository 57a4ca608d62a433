import { describe, expect, it } from '@jest/globals';
import { compareKubeVersions, ResourceRegistry } from './registry.ts';
import type { ResourceInfo } from './resource.ts';

function info(group: string, version: string, plural: string, source: string, kind = plural.replace(/s$/, '')): ResourceInfo {
  return { group, version, plural, kind, source } as unknown as ResourceInfo;
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
    expect(() => registry.setSource('other', [info('net.io', 'v1', 'subnets', 'other'), info('net.io', 'v1', 'vpcs', 'other')])).toThrow('vpcs.net.io/v1 is already served by vpcs.net.io');
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
});
