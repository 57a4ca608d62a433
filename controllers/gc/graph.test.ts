import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { OwnershipGraph, sameGraphView } from './graph.ts';

const configMaps = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' } as const;
const object = (uid: string, namespace: string | undefined, owners: string[] = []): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { uid, name: uid, namespace, ownerReferences: owners.map((owner) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: owner, uid: owner, blockOwnerDeletion: true })) },
});

describe('ownership never crosses a namespace', () => {
  it('a namespaced owner\'s dependents are those of its own namespace; a reference from another namespace is not one', () => {
    const graph = new OwnershipGraph();
    graph.upsert(configMaps, object('owner', 'tenant-b'));
    graph.upsert(configMaps, object('own-child', 'tenant-b', ['owner']));
    graph.upsert(configMaps, object('planted', 'tenant-a', ['owner']));
    expect(graph.dependentsOf('owner').map((node) => node.uid)).toEqual(['own-child']);
  });

  it('a cluster-scoped owner may have dependents in any namespace; an unknown owner\'s are all returned for checking', () => {
    const graph = new OwnershipGraph();
    graph.upsert({ ...configMaps, namespaced: false }, object('cluster-owner', undefined));
    graph.upsert(configMaps, object('a', 'tenant-a', ['cluster-owner']));
    graph.upsert(configMaps, object('b', 'tenant-b', ['cluster-owner', 'gone']));
    expect(graph.dependentsOf('cluster-owner').map((node) => node.uid).sort()).toEqual(['a', 'b']);
    expect(graph.dependentsOf('gone').map((node) => node.uid)).toEqual(['b']);
  });
});

describe('sameGraphView: which updates can change a decision of the collector', () => {
  const base = object('child', 'tenant-a', ['owner']);
  const withMetadata = (metadata: Partial<KubeObject['metadata']>): KubeObject => ({ ...base, metadata: { ...base.metadata, ...metadata } });

  it('labels, annotations, spec and status are not among them', () => {
    expect(sameGraphView(base, { ...withMetadata({ labels: { a: 'b' }, annotations: { c: 'd' }, resourceVersion: '9' }), spec: { x: 1 }, status: { y: 2 } } as KubeObject)).toBe(true);
    expect(sameGraphView(base, withMetadata({ ownerReferences: base.metadata.ownerReferences!.map((reference) => ({ ...reference })) }))).toBe(true);
  });

  it('owner references (added, removed, another UID, blockOwnerDeletion), deletion, finalizers and the UID are', () => {
    const [reference] = base.metadata.ownerReferences!;
    for (const changed of [
      withMetadata({ ownerReferences: [reference!, { ...reference!, uid: 'second', name: 'second' }] }),
      withMetadata({ ownerReferences: undefined }),
      withMetadata({ ownerReferences: [{ ...reference!, uid: 'other' }] }),
      withMetadata({ ownerReferences: [{ ...reference!, blockOwnerDeletion: false }] }),
      withMetadata({ deletionTimestamp: '2026-12-07T00:00:00Z' }),
      withMetadata({ finalizers: ['orphan'] }),
      withMetadata({ uid: 'recreated' }),
    ]) {
      expect(sameGraphView(base, changed)).toBe(false);
    }
  });
});
