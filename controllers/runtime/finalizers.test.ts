import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { addFinalizerPatch, hasFinalizer, removeFinalizerPatch } from './finalizers.ts';

const object = (finalizers?: string[]): KubeObject => ({ metadata: { name: 'x', resourceVersion: '42', ...(finalizers ? { finalizers } : {}) } });

describe('finalizer patches', () => {
  it('adds with a test on the list the view saw (or on resourceVersion when there is none)', () => {
    expect(addFinalizerPatch(object(), 'network.photoncloud.io/ovn')).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'add', path: '/metadata/finalizers', value: ['network.photoncloud.io/ovn'] },
    ]);
    expect(addFinalizerPatch(object(['other/x']), 'network.photoncloud.io/ovn')).toEqual([
      { op: 'test', path: '/metadata/finalizers', value: ['other/x'] },
      { op: 'add', path: '/metadata/finalizers/-', value: 'network.photoncloud.io/ovn' },
    ]);
    expect(addFinalizerPatch(object(['network.photoncloud.io/ovn']), 'network.photoncloud.io/ovn')).toBeUndefined();
  });

  it('removes with a test on the entry at its index', () => {
    expect(removeFinalizerPatch(object(['a/1', 'network.photoncloud.io/ovn', 'b/2']), 'network.photoncloud.io/ovn')).toEqual([
      { op: 'test', path: '/metadata/finalizers/1', value: 'network.photoncloud.io/ovn' },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
    expect(removeFinalizerPatch(object(['a/1']), 'network.photoncloud.io/ovn')).toBeUndefined();
    expect(removeFinalizerPatch(object(), 'network.photoncloud.io/ovn')).toBeUndefined();
  });

  it('hasFinalizer', () => {
    expect(hasFinalizer(object(['a/1']), 'a/1')).toBe(true);
    expect(hasFinalizer(object(), 'a/1')).toBe(false);
  });
});
