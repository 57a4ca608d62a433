import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import { ApiError } from '../errors.ts';
import { reviewResources } from '../registry/builtins/reviews.ts';
import { createVirtual, type VirtualContext } from '../registry/virtual.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { reviewRules } from './reviews.ts';
import type { PolicyRule, RequestAttributes } from './types.ts';

const ALICE: UserInfo = { name: 'alice', uid: 'u-alice', groups: ['dev', 'system:authenticated'] };

/** An authorizer that records what it was asked and allows only `alice` to get configmaps in `a`, and the /healthz path. */
function recordingContext(user = ALICE, namespace?: string) {
  const asked: RequestAttributes[] = [];
  const rules: PolicyRule[] = [
    { verbs: ['get', 'list'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'] },
    { verbs: ['get'], nonResourceURLs: ['/healthz', '/version'] },
  ];
  const context: VirtualContext = {
    user,
    namespace,
    authorizer: {
      authorize(attributes) {
        asked.push(attributes);
        const allowed = attributes.resourceRequest ? attributes.user.name === 'alice' && attributes.resource === 'configmaps' && attributes.namespace === 'a' : attributes.path === '/healthz';
        return { allowed, reason: allowed ? 'RBAC: allowed by RoleBinding "r/a"' : '' };
      },
    },
    rules: { rulesFor: (who, ns) => (who.name === 'alice' && ns === 'a' ? { rules, incomplete: false } : { rules: [], incomplete: true }) },
  };
  return { context, asked };
}

const resource = (plural: string, version = 'v1'): ResourceInfo => reviewResources().find((candidate) => candidate.plural === plural && candidate.version === version)!;

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('not refused');
}

describe('review resources', () => {
  it('are create-only and computed', () => {
    const all = reviewResources();
    expect(all.map((entry) => `${entry.group}/${entry.version}/${entry.plural}`).sort()).toEqual([
      'authentication.k8s.io/v1/selfsubjectreviews',
      'authentication.k8s.io/v1beta1/selfsubjectreviews',
      'authorization.k8s.io/v1/localsubjectaccessreviews',
      'authorization.k8s.io/v1/selfsubjectaccessreviews',
      'authorization.k8s.io/v1/selfsubjectrulesreviews',
      'authorization.k8s.io/v1/subjectaccessreviews',
    ]);
    for (const entry of all) {
      expect(entry.verbs).toEqual(['create']);
      expect(entry.virtual).toBeInstanceOf(Function);
    }
    expect(resource('localsubjectaccessreviews').namespaced).toBe(true);
    expect(resource('subjectaccessreviews').namespaced).toBe(false);
  });
});

describe('SelfSubjectAccessReview', () => {
  const ssar = resource('selfsubjectaccessreviews');

  it('asks the authorizer about the requesting user and echoes the attributes', () => {
    const { context, asked } = recordingContext();
    const result = createVirtual(ssar, { spec: { resourceAttributes: { namespace: 'a', verb: 'get', resource: 'configmaps', name: 'settings' } } }, context);
    expect(result).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { resourceAttributes: { namespace: 'a', verb: 'get', resource: 'configmaps', name: 'settings' } },
      status: { allowed: true, reason: 'RBAC: allowed by RoleBinding "r/a"' },
    });
    expect(asked).toEqual([{ user: ALICE, resourceRequest: true, verb: 'get', apiGroup: '', apiVersion: '', resource: 'configmaps', subresource: '', namespace: 'a', name: 'settings' }]);
  });

  it('answers denials without a reason, and non-resource requests by path', () => {
    const { context, asked } = recordingContext();
    expect(createVirtual(ssar, { spec: { resourceAttributes: { namespace: 'b', verb: 'get', resource: 'configmaps' } } }, context).status).toEqual({ allowed: false });
    expect(createVirtual(ssar, { spec: { nonResourceAttributes: { path: '/healthz', verb: 'get' } } }, context).status).toEqual({ allowed: true, reason: 'RBAC: allowed by RoleBinding "r/a"' });
    expect(asked[1]).toEqual({ user: ALICE, resourceRequest: false, path: '/healthz', verb: 'get' });
  });

  it('requires exactly one kind of attributes (422 as kube-apiserver words it)', () => {
    const { context, asked } = recordingContext();
    for (const body of [{}, { spec: {} }, { spec: { resourceAttributes: null } }]) {
      const error = refusal(() => createVirtual(ssar, body, context));
      expect(error.code).toBe(422);
      expect(error.message).toBe('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified');
    }
    const both = refusal(() => createVirtual(ssar, { spec: { resourceAttributes: { verb: 'get' }, nonResourceAttributes: { path: '/', verb: 'get' } } }, context));
    expect(both.code).toBe(422);
    expect(both.details?.causes).toEqual([expect.objectContaining({ field: 'spec.nonResourceAttributes' })]);
    expect(asked).toEqual([]);
  });

  it('refuses malformed bodies with 400s naming the field or the kind', () => {
    const { context } = recordingContext();
    expect(refusal(() => createVirtual(ssar, { spec: { resourceAttributes: { verb: 7 } } }, context)).message).toContain('spec.resourceAttributes.verb: must be a string');
    expect(refusal(() => createVirtual(ssar, { spec: { resourceAttributes: 'all' } }, context)).code).toBe(400);
    expect(refusal(() => createVirtual(ssar, { kind: 'SubjectAccessReview', spec: {} }, context)).message).toContain('does not match the expected kind "SelfSubjectAccessReview"');
    expect(refusal(() => createVirtual(ssar, { apiVersion: 'authorization.k8s.io/v1beta1', spec: {} }, context)).code).toBe(400);
    expect(refusal(() => createVirtual(ssar, ['not', 'an', 'object'], context)).code).toBe(400);
  });
});

describe('SubjectAccessReview and LocalSubjectAccessReview', () => {
  const sar = resource('subjectaccessreviews');
  const local = resource('localsubjectaccessreviews');

  it('decides for spec.user with spec.groups and spec.uid, not for the caller', () => {
    const { context, asked } = recordingContext({ name: 'admin', uid: '', groups: ['system:masters'] });
    const result = createVirtual(sar, { spec: { user: 'alice', groups: ['dev'], uid: 'u-alice', resourceAttributes: { namespace: 'a', verb: 'get', resource: 'configmaps' } } }, context);
    expect(result.status).toEqual({ allowed: true, reason: 'RBAC: allowed by RoleBinding "r/a"' });
    expect(result.spec).toEqual({ user: 'alice', groups: ['dev'], uid: 'u-alice', resourceAttributes: { namespace: 'a', verb: 'get', resource: 'configmaps' } });
    expect(asked[0].user).toEqual({ name: 'alice', uid: 'u-alice', groups: ['dev'] });
  });

  it('needs a user or a group', () => {
    const { context } = recordingContext();
    const error = refusal(() => createVirtual(sar, { spec: { resourceAttributes: { verb: 'get' } } }, context));
    expect(error.code).toBe(422);
    expect(error.message).toContain('spec.user: Invalid value: "": at least one of user or group must be specified');
    expect(createVirtual(sar, { spec: { groups: ['dev'], nonResourceAttributes: { path: '/healthz', verb: 'get' } } }, context).status).toEqual(expect.objectContaining({ allowed: true }));
  });

  it('a local review stays in the namespace on the URL, resource attributes only', () => {
    const { context } = recordingContext(ALICE, 'a');
    const allowed = createVirtual(local, { spec: { user: 'alice', resourceAttributes: { namespace: 'a', verb: 'get', resource: 'configmaps' } } }, context);
    expect(allowed.metadata).toEqual({ namespace: 'a' });
    expect(allowed.status).toEqual(expect.objectContaining({ allowed: true }));
    const elsewhere = refusal(() => createVirtual(local, { spec: { user: 'alice', resourceAttributes: { namespace: 'b', verb: 'get', resource: 'configmaps' } } }, context));
    expect(elsewhere.code).toBe(422);
    expect(elsewhere.message).toContain('spec.resourceAttributes.namespace: Invalid value: "b": must match metadata.namespace');
    const nonResource = refusal(() => createVirtual(local, { spec: { user: 'alice', nonResourceAttributes: { path: '/healthz', verb: 'get' } } }, context));
    expect(nonResource.message).toContain('spec.nonResourceAttributes: Invalid value: disallowed on this kind of request');
    expect(refusal(() => createVirtual(local, { metadata: { namespace: 'b' }, spec: { user: 'alice', resourceAttributes: { namespace: 'a' } } }, context)).code).toBe(400);
  });
});

describe('SelfSubjectRulesReview', () => {
  const ssrr = resource('selfsubjectrulesreviews');

  it("reports the caller's rules in spec.namespace, resource and non-resource rules apart", () => {
    const { context } = recordingContext();
    const result = createVirtual(ssrr, { spec: { namespace: 'a' } }, context);
    expect(result.status).toEqual({
      resourceRules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'] }],
      nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/version'] }],
      incomplete: false,
    });
    expect(createVirtual(ssrr, { spec: { namespace: 'b' } }, context).status).toEqual({ resourceRules: [], nonResourceRules: [], incomplete: true });
  });

  it('needs a namespace (400, as kube-apiserver)', () => {
    const error = refusal(() => createVirtual(ssrr, { spec: {} }, recordingContext().context));
    expect(error.code).toBe(400);
    expect(error.message).toBe('no namespace on request');
  });

  it('a rule without apiGroups reports none', () => {
    expect(reviewRules([{ verbs: ['*'], resources: ['*'] }])).toEqual({ resourceRules: [{ verbs: ['*'], apiGroups: [], resources: ['*'] }], nonResourceRules: [] });
  });
});

describe('SelfSubjectReview', () => {
  it('tells the caller who it is, in v1 and v1beta1', () => {
    for (const version of ['v1', 'v1beta1']) {
      const result: KubeObject = createVirtual(resource('selfsubjectreviews', version), { metadata: { name: 'ignored-in-kube-too' } }, recordingContext().context);
      expect(result).toEqual({
        apiVersion: `authentication.k8s.io/${version}`,
        kind: 'SelfSubjectReview',
        metadata: { name: 'ignored-in-kube-too' },
        status: { userInfo: { username: 'alice', uid: 'u-alice', groups: ['dev', 'system:authenticated'] } },
      });
    }
  });
});
