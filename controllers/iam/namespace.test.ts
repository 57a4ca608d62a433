import { describe, expect, it } from '@jest/globals';
import type { Namespace } from '../../apis/client/index.ts';
import type { Project } from '../../apis/iam/v1alpha1/index.ts';
import { desiredNamespace, namespacePatch, ownershipOf } from './namespace.ts';

const project = (name = 'web', uid = 'uid-1'): Project => ({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Project', metadata: { name, uid }, spec: { organizationRef: { name: 'acme' } } });
const ours = { apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Project', name: 'web', uid: 'uid-1', controller: true };
const namespace = (metadata: Partial<Namespace['metadata']> = {}): Namespace => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web', resourceVersion: '7', ...metadata } });

describe('desiredNamespace', () => {
  it('is named as the Project, labelled with it and its Organization, and owned by it', () => {
    expect(desiredNamespace(project())).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'web', labels: { 'iam.photoncloud.io/project': 'web', 'iam.photoncloud.io/organization': 'acme' }, ownerReferences: [ours] },
    });
  });
});

describe('ownershipOf', () => {
  it('owned: its ownerReference names this Project by UID', () => {
    expect(ownershipOf(namespace({ ownerReferences: [ours] }), project())).toEqual({ kind: 'owned' });
  });

  it('adoptable: labelled for this Project and owned by no Project', () => {
    expect(ownershipOf(namespace({ labels: { 'iam.photoncloud.io/project': 'web' } }), project())).toEqual({ kind: 'adoptable' });
  });

  it('conflict: a namespace belonging to no Project (a system namespace), even with some other owner', () => {
    expect(ownershipOf(namespace(), project()).kind).toBe('conflict');
    expect(ownershipOf(namespace({ labels: { 'iam.photoncloud.io/project': 'other' } }), project()).kind).toBe('conflict');
    expect(ownershipOf(namespace({ ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u' }] }), project()).kind).toBe('conflict');
  });

  it('conflict: the namespace of an earlier Project of the same name (another UID), even though labelled', () => {
    const earlier = namespace({ labels: { 'iam.photoncloud.io/project': 'web' }, ownerReferences: [{ ...ours, uid: 'uid-0' }] });
    const result = ownershipOf(earlier, project());
    expect(result).toEqual({ kind: 'conflict', message: expect.stringContaining('uid-0') });
  });

  it('conflict: reserved system names, whatever the namespace says', () => {
    for (const name of ['default', 'photon-system', 'kube-system']) {
      const labelled = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'iam.photoncloud.io/project': name } } } as Namespace;
      expect(ownershipOf(labelled, project(name)).kind).toBe('conflict');
    }
  });
});

describe('namespacePatch', () => {
  it('is undefined when labels and ownerReference are in place', () => {
    expect(namespacePatch(namespace({ labels: { 'iam.photoncloud.io/project': 'web', 'iam.photoncloud.io/organization': 'acme', team: 'x' }, ownerReferences: [ours] }), project())).toBeUndefined();
  });

  it('adopts: adds the missing label and our ownerReference, keeps other owners, pins the resourceVersion', () => {
    const other = { apiVersion: 'example.io/v1', kind: 'Thing', name: 't', uid: 'u' };
    expect(namespacePatch(namespace({ labels: { 'iam.photoncloud.io/project': 'web' }, ownerReferences: [other] }), project())).toEqual({
      metadata: { resourceVersion: '7', labels: { 'iam.photoncloud.io/organization': 'acme' }, ownerReferences: [other, ours] },
    });
  });

  it('restores a label changed by hand without touching ownerReferences', () => {
    expect(namespacePatch(namespace({ labels: { 'iam.photoncloud.io/project': 'web', 'iam.photoncloud.io/organization': 'evil' }, ownerReferences: [ours] }), project())).toEqual({
      metadata: { resourceVersion: '7', labels: { 'iam.photoncloud.io/organization': 'acme' } },
    });
  });
});
