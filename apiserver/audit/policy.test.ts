// Audit policy: parsing (what a broken file says) and matching as kube-apiserver's checker does (first match
// wins; users, groups, verbs, resources with subresource patterns and names, namespaces, non-resource URLs),
// plus what the default policy decides for the requests it was written for.
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY_YAML } from './default-policy.ts';
import { evaluatePolicy, parsePolicy, PolicyError, type PolicyAttributes } from './policy.ts';

const alice = { name: 'alice', groups: ['devs', 'system:authenticated'] };
const resource = (verb: string, apiGroup: string, resource: string, extra: Partial<PolicyAttributes> = {}): PolicyAttributes => ({
  user: alice,
  verb,
  resourceRequest: true,
  apiGroup,
  resource,
  subresource: '',
  namespace: '',
  name: '',
  ...extra,
});
const nonResource = (path: string, verb = 'get', user = alice): PolicyAttributes => ({ user, verb, resourceRequest: false, path });

const policy = (rules: string) => parsePolicy(`apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n${rules}`);

describe('audit policy parsing', () => {
  it('refuses what Kubernetes refuses, and typos, naming the field', () => {
    const cases: Array<[string, RegExp]> = [
      ['apiVersion: v1\nkind: Policy\nrules: []', /apiVersion must be audit\.k8s\.io\/v1/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy', /rules must be a list/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Everything', /rules\[0\]\.level must be one of None, Metadata, Request, RequestResponse/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: None\n    resource: [{group: ""}]', /rules\[0\]: unknown field "resource"/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: None\n    resources: [{group: "", names: [a]}]', /rules\[0\]\.resources\[0\]: unknown field "names"/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: None\n    verbs: get', /rules\[0\]\.verbs must be a list of strings/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: None\n    nonResourceURLs: [/x]\n    namespaces: [a]', /cannot be combined/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: None\n    nonResourceURLs: [/a*b]', /may only end in "\*"/],
      ['apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Later]\nrules: []', /unknown stage "Later"/],
      ['{', /not valid YAML/],
    ];
    for (const [text, message] of cases) {
      expect(() => parsePolicy(text)).toThrow(PolicyError);
      expect(() => parsePolicy(text)).toThrow(message);
    }
  });

  it('no rule matching means None; the policy-wide and the rule omitStages add up', () => {
    const parsed = parsePolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Request\n    verbs: [create]\n    omitStages: [ResponseStarted]');
    expect(evaluatePolicy(parsed, resource('create', '', 'pods'))).toEqual({ level: 'Request', omitStages: ['RequestReceived', 'ResponseStarted'] });
    expect(evaluatePolicy(parsed, resource('get', '', 'pods')).level).toBe('None');
  });
});

describe('audit policy matching', () => {
  it('the first matching rule wins', () => {
    const parsed = policy('  - level: None\n    users: [alice]\n  - level: RequestResponse');
    expect(evaluatePolicy(parsed, resource('get', '', 'pods')).level).toBe('None');
    expect(evaluatePolicy(parsed, resource('get', '', 'pods', { user: { name: 'bob', groups: [] } })).level).toBe('RequestResponse');
  });

  it('users, userGroups and verbs must all match when given', () => {
    const parsed = policy('  - level: Request\n    userGroups: [devs]\n    verbs: [create, delete]\n  - level: Metadata');
    expect(evaluatePolicy(parsed, resource('create', '', 'pods')).level).toBe('Request');
    expect(evaluatePolicy(parsed, resource('list', '', 'pods')).level).toBe('Metadata');
    expect(evaluatePolicy(parsed, resource('create', '', 'pods', { user: { name: 'alice', groups: ['ops'] } })).level).toBe('Metadata');
    // Verbs apply to non-resource requests too (their lower-case HTTP method).
    expect(evaluatePolicy(parsed, nonResource('/apis', 'delete')).level).toBe('Request');
  });

  it('resources: group, plural, subresource patterns and names, as Kubernetes', () => {
    const parsed = policy(
      [
        '  - level: None',
        '    resources: [{group: "", resources: ["pods/log"]}]',
        '  - level: Request',
        '    resources: [{group: "", resources: ["*/status"]}]',
        '  - level: RequestResponse',
        '    resources: [{group: "apps", resources: ["deployments/*"]}]',
        '  - level: Metadata',
        '    resources: [{group: "", resources: [configmaps], resourceNames: [special]}]',
        '  - level: Request',
        '    resources: [{group: "rbac.authorization.k8s.io"}]',
      ].join('\n'),
    );
    const level = (attributes: PolicyAttributes) => evaluatePolicy(parsed, attributes).level;
    expect(level(resource('get', '', 'pods', { subresource: 'log' }))).toBe('None');
    expect(level(resource('update', '', 'services', { subresource: 'status' }))).toBe('Request');
    // `*/status` needs a subresource; `pods/log` is not pods itself.
    expect(level(resource('update', '', 'services'))).toBe('None');
    expect(level(resource('update', 'apps', 'deployments'))).toBe('RequestResponse');
    expect(level(resource('update', 'apps', 'deployments', { subresource: 'scale' }))).toBe('RequestResponse');
    expect(level(resource('update', 'apps', 'replicasets'))).toBe('None');
    expect(level(resource('get', '', 'configmaps', { name: 'special' }))).toBe('Metadata');
    expect(level(resource('get', '', 'configmaps', { name: 'other' }))).toBe('None');
    // The group must match exactly: "" is core only.
    expect(level(resource('get', 'example.com', 'configmaps', { name: 'special' }))).toBe('None');
    // An entry without resources covers its whole group.
    expect(level(resource('delete', 'rbac.authorization.k8s.io', 'clusterroles', { name: 'x' }))).toBe('Request');
    // Resource rules never match non-resource requests.
    expect(level(nonResource('/api/v1/pods/log'))).toBe('None');
  });

  it('namespaces match resource requests only ("" is cluster scope); nonResourceURLs non-resource ones only, with a trailing *', () => {
    const parsed = policy(
      [
        '  - level: RequestResponse',
        '    namespaces: [kube-system, ""]',
        '  - level: Request',
        '    nonResourceURLs: [/healthz*, /version]',
        '  - level: Metadata',
      ].join('\n'),
    );
    const level = (attributes: PolicyAttributes) => evaluatePolicy(parsed, attributes).level;
    expect(level(resource('get', '', 'pods', { namespace: 'kube-system' }))).toBe('RequestResponse');
    expect(level(resource('get', '', 'nodes'))).toBe('RequestResponse');
    expect(level(resource('get', '', 'pods', { namespace: 'default' }))).toBe('Metadata');
    expect(level(nonResource('/healthz/ping'))).toBe('Request');
    expect(level(nonResource('/version'))).toBe('Request');
    expect(level(nonResource('/version/x'))).toBe('Metadata');
    expect(level(nonResource('/metrics'))).toBe('Metadata');
  });
});

describe('the default policy', () => {
  const parsed = parsePolicy(DEFAULT_POLICY_YAML);
  const level = (attributes: PolicyAttributes) => evaluatePolicy(parsed, attributes).level;
  const anonymous = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

  it('parses, and skips probes, scrapes, Events and the controller manager renewing its Lease', () => {
    for (const path of ['/healthz', '/livez', '/readyz', '/readyz/ping', '/metrics', '/version']) expect(level(nonResource(path, 'get', anonymous))).toBe('None');
    expect(level(resource('create', '', 'events', { namespace: 'a' }))).toBe('None');
    expect(level(resource('create', 'events.k8s.io', 'events', { namespace: 'a' }))).toBe('None');
    const manager = { name: 'system:photon:controller-manager', groups: ['system:masters'] };
    expect(level(resource('update', 'coordination.k8s.io', 'leases', { user: manager, namespace: 'photon-system', name: 'x' }))).toBe('None');
    // Anyone else's Lease writes, and the manager's other requests, are still audited.
    expect(level(resource('update', 'coordination.k8s.io', 'leases', { namespace: 'photon-system', name: 'x' }))).toBe('Metadata');
    expect(level(resource('delete', 'coordination.k8s.io', 'leases', { user: manager, namespace: 'photon-system', name: 'x' }))).toBe('Metadata');
  });

  it('logs credentials at Metadata, changes to RBAC and IAM in full, everything else at Metadata', () => {
    expect(level(resource('create', '', 'secrets', { namespace: 'a' }))).toBe('Metadata');
    expect(level(resource('create', '', 'serviceaccounts', { namespace: 'a', name: 'sa', subresource: 'token' }))).toBe('Metadata');
    expect(level(resource('create', 'iam.photoncloud.io', 'users'))).toBe('Metadata');
    expect(level(resource('create', 'authentication.k8s.io', 'tokenreviews'))).toBe('Metadata');
    for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) {
      expect(level(resource(verb, 'rbac.authorization.k8s.io', 'rolebindings', { namespace: 'a' }))).toBe('RequestResponse');
      expect(level(resource(verb, 'iam.photoncloud.io', 'groups'))).toBe('RequestResponse');
    }
    expect(level(resource('list', 'rbac.authorization.k8s.io', 'clusterroles'))).toBe('Metadata');
    expect(level(resource('create', 'network.photoncloud.io', 'vpcs', { namespace: 'a' }))).toBe('Metadata');
    expect(level(nonResource('/apis'))).toBe('Metadata');
  });
});
