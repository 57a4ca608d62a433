import { describe, expect, it } from '@jest/globals';
import type { PolicyRule, RequestAttributes } from '../types.ts';
import { ruleAllows, uncoveredRules } from './rules.ts';

const user = { name: 'alice', uid: '', groups: ['system:authenticated'] };
const request = (verb: string, resource: string, extra: Partial<{ apiGroup: string; subresource: string; name: string; namespace: string }> = {}): RequestAttributes => ({
  user,
  resourceRequest: true,
  verb,
  apiGroup: extra.apiGroup ?? 'network.photoncloud.io',
  apiVersion: 'v1alpha1',
  resource,
  subresource: extra.subresource ?? '',
  namespace: extra.namespace ?? 'a',
  name: extra.name ?? '',
});
const path = (verb: string, url: string): RequestAttributes => ({ user, resourceRequest: false, verb, path: url });

describe('ruleAllows (Kubernetes RBAC matching)', () => {
  const vpcs: PolicyRule = { verbs: ['get', 'list'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs'] };

  it('matches verb, group and resource exactly, or by *', () => {
    expect(ruleAllows(vpcs, request('get', 'vpcs'))).toBe(true);
    expect(ruleAllows(vpcs, request('delete', 'vpcs'))).toBe(false);
    expect(ruleAllows(vpcs, request('get', 'subnets'))).toBe(false);
    expect(ruleAllows(vpcs, request('get', 'vpcs', { apiGroup: '' }))).toBe(false);
    expect(ruleAllows({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, request('deletecollection', 'anything', { apiGroup: 'x.io', subresource: 'status' }))).toBe(true);
  });

  it('treats a subresource as its own resource: vpcs does not grant vpcs/status; */status does', () => {
    expect(ruleAllows(vpcs, request('get', 'vpcs', { subresource: 'status' }))).toBe(false);
    expect(ruleAllows({ ...vpcs, resources: ['vpcs/status'] }, request('get', 'vpcs', { subresource: 'status' }))).toBe(true);
    expect(ruleAllows({ ...vpcs, resources: ['*/status'] }, request('get', 'vpcs', { subresource: 'status' }))).toBe(true);
    // `vpcs/*` is not a pattern in Kubernetes.
    expect(ruleAllows({ ...vpcs, resources: ['vpcs/*'] }, request('get', 'vpcs', { subresource: 'status' }))).toBe(false);
  });

  it('resourceNames restrict to those names and never match a request without a name (create, plain list)', () => {
    const named: PolicyRule = { verbs: ['get', 'list', 'create'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs'], resourceNames: ['web'] };
    expect(ruleAllows(named, request('get', 'vpcs', { name: 'web' }))).toBe(true);
    expect(ruleAllows(named, request('get', 'vpcs', { name: 'db' }))).toBe(false);
    expect(ruleAllows(named, request('list', 'vpcs'))).toBe(false);
    expect(ruleAllows(named, request('create', 'vpcs'))).toBe(false);
  });

  it('non-resource URLs: exact, or a prefix ending in *; never a resource request', () => {
    const urls: PolicyRule = { verbs: ['get'], nonResourceURLs: ['/healthz', '/apis/*'] };
    expect(ruleAllows(urls, path('get', '/healthz'))).toBe(true);
    expect(ruleAllows(urls, path('get', '/healthz/etcd'))).toBe(false);
    expect(ruleAllows(urls, path('get', '/apis/network.photoncloud.io/v1alpha1'))).toBe(true);
    expect(ruleAllows(urls, path('post', '/healthz'))).toBe(false);
    expect(ruleAllows(urls, request('get', 'vpcs'))).toBe(false);
    expect(ruleAllows(vpcs, path('get', '/healthz'))).toBe(false);
  });
});

describe('uncoveredRules (escalation checks)', () => {
  const edit: PolicyRule[] = [{ verbs: ['get', 'list', 'create', 'delete'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs', 'subnets'] }];

  it('is empty when every verb × group × resource × name is held', () => {
    expect(uncoveredRules(edit, [{ verbs: ['get', 'create'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs'] }])).toEqual([]);
    expect(uncoveredRules(edit, [{ verbs: ['get'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs'], resourceNames: ['x'] }])).toEqual([]);
    expect(uncoveredRules([{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], edit)).toEqual([]);
  });

  it('lists exactly the atoms not held', () => {
    const missing = uncoveredRules(edit, [{ verbs: ['get', 'update'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs', 'ports'] }]);
    expect(missing).toHaveLength(3);
    expect(missing).toEqual(
      expect.arrayContaining([
        { verbs: ['update'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs'] },
        { verbs: ['get'], apiGroups: ['network.photoncloud.io'], resources: ['ports'] },
        { verbs: ['update'], apiGroups: ['network.photoncloud.io'], resources: ['ports'] },
      ]),
    );
  });

  it('a wildcard is only covered by a wildcard; names held do not cover all names', () => {
    expect(uncoveredRules(edit, [{ verbs: ['*'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs'] }])).toHaveLength(1);
    expect(uncoveredRules([{ ...edit[0], resourceNames: ['x'] }], [{ verbs: ['get'], apiGroups: ['network.photoncloud.io'], resources: ['vpcs'] }])).toHaveLength(1);
    expect(uncoveredRules([{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }], [{ verbs: ['get'], nonResourceURLs: ['/apis/x', '/metrics'] }])).toEqual([{ verbs: ['get'], nonResourceURLs: ['/metrics'] }]);
  });
});
