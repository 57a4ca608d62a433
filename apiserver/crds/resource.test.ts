import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { ApiError } from '../errors.ts';
import { admitObject, defaultWriteOptions } from '../registry/admit.ts';
import { isProtectedGroup } from '../registry/crd.ts';
import { customResourceDefinitionResource } from './resource.ts';

const resource = customResourceDefinitionResource();

function crd(group: string, plural = 'widgets', extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: { group, scope: 'Namespaced', names: { plural, kind: 'Widget' }, versions: [{ name: 'v1', served: true, storage: true }], ...extra },
  } as KubeObject;
}

/** The 422's causes for an object, or [] when admission accepts it. */
function causes(object: unknown, old?: KubeObject): Array<{ field?: string; reason?: string; message?: string }> {
  try {
    admitObject(resource, structuredClone(object) as KubeObject, old, defaultWriteOptions());
    return [];
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    expect(error.code).toBe(422);
    return error.details?.causes ?? [];
  }
}

describe('isProtectedGroup', () => {
  it('is k8s.io, kubernetes.io and their subdomains, in any case and with trailing dots', () => {
    for (const group of ['k8s.io', 'kubernetes.io', 'x.k8s.io', 'apps.k8s.io', 'a.b.kubernetes.io', 'K8S.IO', 'X.K8s.Io', 'x.k8s.io.', 'kubernetes.io..']) expect(isProtectedGroup(group)).toBe(true);
    for (const group of ['x-k8s.io', 'cluster.x-k8s.io', 'k8s.io.example.com', 'notk8s.io', 'kubernetes.iox', 'example.com', 'network.photoncloud.io', '']) expect(isProtectedGroup(group)).toBe(false);
  });
});

describe('CustomResourceDefinition admission', () => {
  it('refuses protected groups on spec.group, whatever the approval annotation says', () => {
    for (const group of ['k8s.io', 'kubernetes.io', 'x.k8s.io', 'coordination.k8s.io', 'apiextensions.k8s.io', 'events.k8s.io', 'foo.kubernetes.io']) {
      const object = crd(group);
      (object.metadata as { annotations?: Record<string, string> }).annotations = { 'api-approved.kubernetes.io': 'https://github.com/kubernetes/enhancements/pull/1111' };
      const found = causes(object);
      expect(found).toContainEqual(expect.objectContaining({ field: 'spec.group', reason: 'FieldValueForbidden' }));
      expect(found.find((cause) => cause.field === 'spec.group')?.message).toContain('is a protected group');
    }
  });

  it('refuses the built-in group/resources themselves (every variation gets a field error, none throws)', () => {
    for (const [group, plural] of [['apiextensions.k8s.io', 'customresourcedefinitions'], ['coordination.k8s.io', 'leases'], ['events.k8s.io', 'events'], ['', 'namespaces'], ['core', 'configmaps'], ['K8S.IO', 'x'], ['x.k8s.io.', 'x']]) {
      expect(causes(crd(group, plural)).length).toBeGreaterThan(0);
    }
  });

  it('accepts ordinary groups, including a kind that is built in elsewhere', () => {
    expect(causes(crd('example.com'))).toEqual([]);
    expect(causes(crd('cluster.x-k8s.io'))).toEqual([]);
    const namespaceKind = crd('example.com', 'namespaces');
    (namespaceKind.spec as { names: { kind: string } }).names.kind = 'Namespace';
    expect(causes(namespaceKind)).toEqual([]);
  });

  it('reports malformed specs as field errors instead of throwing', () => {
    const malformed: unknown[] = [
      { ...crd('example.com'), spec: undefined },
      { ...crd('example.com'), spec: 'nope' },
      { ...crd('example.com'), spec: { group: 5, names: 'x', scope: 'Namespaced', versions: {} } },
      { ...crd('example.com'), spec: { group: 'example.com', scope: 'Namespaced', names: { plural: 'widgets', kind: 'Widget', shortNames: 'w' }, versions: [{ name: 'v1', served: true, storage: true }] } },
      { ...crd('example.com'), spec: { group: 'example.com', scope: 'Namespaced', names: { plural: 'widgets', kind: 'Widget' }, versions: ['v1'] } },
      { ...crd('example.com'), spec: { group: 'example.com', scope: 'Namespaced', names: { plural: 'widgets', kind: 'Widget' }, versions: [{ name: 'v1', served: true, storage: true, selectableFields: [5] }] } },
    ];
    for (const object of malformed) expect(causes(object).length).toBeGreaterThan(0);
  });

  it('on update, an unchanged spec is not checked again (a CRD stored before a rule can still be labelled or released)', () => {
    const old = crd('coordination.k8s.io', 'leases');
    const labelled = structuredClone(old);
    labelled.metadata.labels = { a: 'b' };
    expect(causes(labelled, old)).toEqual([]);
    const changed = structuredClone(old);
    (changed.spec as { names: { shortNames?: string[] } }).names.shortNames = ['l'];
    expect(causes(changed, old)).toContainEqual(expect.objectContaining({ field: 'spec.group' }));
  });

  it('an update may not move a CRD into a reserved group', () => {
    const old = crd('example.com');
    const moved = crd('x.k8s.io');
    moved.metadata.name = old.metadata.name;
    const found = causes(moved, old);
    expect(found).toContainEqual(expect.objectContaining({ field: 'spec.group', reason: 'FieldValueForbidden' }));
    expect(found).toContainEqual(expect.objectContaining({ field: 'spec.group', message: expect.stringContaining('field is immutable') }));
  });
});
