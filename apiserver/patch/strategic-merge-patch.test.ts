// Strategic merge patch on the built-in kinds, with the patches client-side `kubectl apply` really sends
// (captured with -v=8: `$deleteFromPrimitiveList`, `$setElementOrder`, null deletions) and the directives of
// apimachinery's strategicpatch test cases.
import { describe, expect, it } from '@jest/globals';
import { applyStrategicMergePatch, PATCH_STRATEGIES, patchStrategiesFor, StrategicMergePatchError } from './strategic-merge-patch.ts';

const CONFIG_MAP = PATCH_STRATEGIES['v1/ConfigMap']!;
const NAMESPACE = PATCH_STRATEGIES['v1/Namespace']!;
const SERVICE_ACCOUNT = PATCH_STRATEGIES['v1/ServiceAccount']!;

describe('applyStrategicMergePatch', () => {
  it('applies what kubectl apply sends for a changed ConfigMap', () => {
    const current = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', finalizers: ['a/b'], annotations: { keep: 'me' } }, data: { a: '1', b: 'x' } };
    const patch = {
      data: { a: '2', b: null },
      metadata: { '$deleteFromPrimitiveList/finalizers': ['a/b'], '$setElementOrder/finalizers': ['a/c'], finalizers: ['a/c'], labels: { x: 'z' } },
    };
    const before = structuredClone(current);
    expect(applyStrategicMergePatch(current, patch, CONFIG_MAP)).toEqual({
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', finalizers: ['a/c'], annotations: { keep: 'me' }, labels: { x: 'z' } }, data: { a: '2' },
    });
    expect(current).toEqual(before); // never mutates the stored object
  });

  it('takes the union of a merged primitive list and replaces other lists', () => {
    const current = { metadata: { finalizers: ['a/one', 'a/two'] }, spec: { finalizers: ['kubernetes'] } };
    expect(applyStrategicMergePatch(current, { metadata: { finalizers: ['a/two', 'a/three'] }, spec: { finalizers: ['other'] } }, NAMESPACE)).toEqual({
      metadata: { finalizers: ['a/one', 'a/two', 'a/three'] },
      spec: { finalizers: ['other'] },
    });
  });

  it('merges lists of objects by their merge key, deletes with $patch: delete, replaces with $patch: replace', () => {
    const current = { status: { conditions: [{ type: 'A', status: 'True', reason: 'x' }, { type: 'B', status: 'False' }] } };
    expect(applyStrategicMergePatch(current, { status: { conditions: [{ type: 'B', status: 'True', reason: null }, { type: 'C', status: 'True' }] } }, NAMESPACE)).toEqual({
      status: { conditions: [{ type: 'A', status: 'True', reason: 'x' }, { type: 'B', status: 'True' }, { type: 'C', status: 'True' }] },
    });
    expect(applyStrategicMergePatch(current, { status: { conditions: [{ type: 'A', $patch: 'delete' }] } }, NAMESPACE)).toEqual({ status: { conditions: [{ type: 'B', status: 'False' }] } });
    expect(applyStrategicMergePatch(current, { status: { conditions: [{ type: 'Z', status: 'True' }, { $patch: 'replace' }] } }, NAMESPACE)).toEqual({ status: { conditions: [{ type: 'Z', status: 'True' }] } });
    const owners = { metadata: { ownerReferences: [{ uid: '1', name: 'a', kind: 'Vpc', apiVersion: 'v' }] }, secrets: [{ name: 's1' }] };
    expect(applyStrategicMergePatch(owners, { metadata: { ownerReferences: [{ uid: '2', name: 'b', kind: 'Vpc', apiVersion: 'v' }] }, secrets: [{ name: 's2' }] }, SERVICE_ACCOUNT)).toEqual({
      metadata: { ownerReferences: [{ uid: '1', name: 'a', kind: 'Vpc', apiVersion: 'v' }, { uid: '2', name: 'b', kind: 'Vpc', apiVersion: 'v' }] },
      secrets: [{ name: 's1' }, { name: 's2' }],
    });
  });

  it('replaces an element deleted and given again in one patch, and stays linear on large lists', () => {
    const current = { status: { conditions: [{ type: 'A', status: 'True', reason: 'old' }, { type: 'B', status: 'True' }] } };
    expect(applyStrategicMergePatch(current, { status: { conditions: [{ type: 'A', $patch: 'delete' }, { type: 'A', status: 'False' }] } }, NAMESPACE)).toEqual({
      status: { conditions: [{ type: 'B', status: 'True' }, { type: 'A', status: 'False' }] },
    });
    const many = 50_000;
    const big = { metadata: { finalizers: Array.from({ length: many }, (_, i) => `a/${i}`), ownerReferences: Array.from({ length: many }, (_, i) => ({ uid: `u${i}` })) } };
    const patch = {
      metadata: {
        finalizers: Array.from({ length: many }, (_, i) => `b/${i}`),
        '$deleteFromPrimitiveList/finalizers': Array.from({ length: many }, (_, i) => `a/${i}`),
        '$setElementOrder/finalizers': Array.from({ length: many }, (_, i) => `b/${many - 1 - i}`),
        ownerReferences: Array.from({ length: many }, (_, i) => (i % 2 ? { uid: `u${i}`, $patch: 'delete' } : { uid: `v${i}` })),
      },
    };
    const started = Date.now();
    const result = applyStrategicMergePatch(big, patch, CONFIG_MAP) as { metadata: { finalizers: string[]; ownerReferences: unknown[] } };
    expect(Date.now() - started).toBeLessThan(5000); // ~1 s here; quadratic matching would be billions of comparisons
    expect(result.metadata.finalizers[0]).toBe(`b/${many - 1}`);
    expect(result.metadata.finalizers).toHaveLength(many);
    expect(result.metadata.ownerReferences).toHaveLength(many);
  });

  it('orders a merged list by $setElementOrder', () => {
    const current = { metadata: { finalizers: ['a/one', 'a/two', 'a/server-only'] } };
    expect(applyStrategicMergePatch(current, { metadata: { '$setElementOrder/finalizers': ['a/two', 'a/one'] } }, CONFIG_MAP)).toEqual({ metadata: { finalizers: ['a/two', 'a/one', 'a/server-only'] } });
  });

  it('replaces or empties a map with $patch, and keeps only $retainKeys', () => {
    const current = { data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } };
    expect(applyStrategicMergePatch(current, { data: { $patch: 'replace', z: '9' } }, CONFIG_MAP)).toEqual({ data: { z: '9' }, binaryData: { c: 'AA==' } });
    expect(applyStrategicMergePatch(current, { data: { $patch: 'delete' } }, CONFIG_MAP)).toEqual({ data: {}, binaryData: { c: 'AA==' } });
    expect(applyStrategicMergePatch(current, { data: { $retainKeys: ['b'], c: '3' } }, CONFIG_MAP)).toEqual({ data: { b: '2', c: '3' }, binaryData: { c: 'AA==' } });
  });

  it('drops nulls inside values it adds (nothing to delete there)', () => {
    expect(applyStrategicMergePatch({}, { data: { a: '1', b: null } }, CONFIG_MAP)).toEqual({ data: { a: '1' } });
  });

  it('refuses malformed patches with an error the handler turns into a 400', () => {
    expect(() => applyStrategicMergePatch({}, ['not', 'an', 'object'], CONFIG_MAP)).toThrow(StrategicMergePatchError);
    expect(() => applyStrategicMergePatch({ data: {} }, { data: { $patch: 'sideways' } }, CONFIG_MAP)).toThrow('unknown patch type "sideways"');
    expect(() => applyStrategicMergePatch({}, { $unknown: 1 }, CONFIG_MAP)).toThrow('unknown directive');
    expect(() => applyStrategicMergePatch({ status: { conditions: [{ type: 'A' }] } }, { status: { conditions: [{ status: 'True' }] } }, NAMESPACE)).toThrow('no merge key "type"');
    expect(() => applyStrategicMergePatch({ metadata: { finalizers: [] } }, { metadata: { '$deleteFromPrimitiveList/finalizers': 'a/b' } }, CONFIG_MAP)).toThrow('must be a list');
  });
});

describe('patchStrategiesFor', () => {
  it('knows the built-in kinds kubectl has Go types for, and no custom kind', () => {
    for (const [apiVersion, kind] of [['v1', 'ConfigMap'], ['v1', 'Secret'], ['v1', 'Namespace'], ['v1', 'ServiceAccount'], ['v1', 'Event'], ['events.k8s.io/v1', 'Event'], ['coordination.k8s.io/v1', 'Lease']]) {
      expect(patchStrategiesFor(apiVersion!, kind!)).toBeDefined();
    }
    expect(patchStrategiesFor('network.photoncloud.io/v1alpha1', 'Vpc')).toBeUndefined();
    expect(patchStrategiesFor('apiextensions.k8s.io/v1', 'CustomResourceDefinition')).toBeUndefined();
  });
});
