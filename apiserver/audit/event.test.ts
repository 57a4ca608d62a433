// Events as kube-apiserver writes them (fields, verbs, objectRef, user, micro-second timestamps), the objects
// each level carries, and credentials that never appear whatever the level: Secrets, service account token
// requests, token reviews and logins lose their objects; User passwords and hashes (also inside kubectl's
// last-applied annotation) and nested Secrets are redacted, without touching the caller's objects.
import { describe, expect, it } from '@jest/globals';
import type { RequestAttributes } from '../authz/types.ts';
import { buildEvent, microTime, OMITTED_ANNOTATION, policyAttributes } from './event.ts';
import { REDACTED, scrub } from './redact.ts';
import type { AuditRequest } from './types.ts';

const alice = { name: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] };

function resourceAttributes(verb: string, apiGroup: string, resource: string, extra: Partial<{ namespace: string; name: string; subresource: string; apiVersion: string }> = {}): RequestAttributes {
  return { user: alice, resourceRequest: true, verb, apiGroup, apiVersion: extra.apiVersion ?? 'v1', resource, subresource: extra.subresource ?? '', namespace: extra.namespace ?? '', name: extra.name ?? '' };
}

function request(overrides: Partial<AuditRequest> = {}): AuditRequest {
  return {
    auditId: '6a3e7f0c-1c1e-4c57-9d3f-0a1b2c3d4e5f',
    method: 'POST',
    requestUri: '/api/v1/namespaces/a/configmaps?fieldManager=kubectl',
    user: alice,
    sourceIps: ['127.0.0.1'],
    userAgent: 'kubectl/v1.32.0',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    requestReceivedTimestamp: new Date('2026-01-02T03:04:05.678Z'),
    attributes: resourceAttributes('create', '', 'configmaps', { namespace: 'a' }),
    ...overrides,
  };
}

describe('audit events', () => {
  it('carry the fields kube-apiserver writes, with objectRef from the authorized attributes', () => {
    const event = buildEvent(request(), 201, 'Metadata', 1767323045678901);
    expect(event).toEqual({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: '6a3e7f0c-1c1e-4c57-9d3f-0a1b2c3d4e5f',
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/a/configmaps?fieldManager=kubectl',
      verb: 'create',
      user: { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] },
      sourceIPs: ['127.0.0.1'],
      userAgent: 'kubectl/v1.32.0',
      objectRef: { resource: 'configmaps', namespace: 'a', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 201 },
      requestReceivedTimestamp: '2026-01-02T03:04:05.678000Z',
      stageTimestamp: '2026-01-02T03:04:05.678901Z',
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    });
    expect(Object.keys(event).at(-1)).toBe('annotations');
    expect(microTime(5)).toBe('1970-01-01T00:00:00.000005Z');
  });

  it('microTime: RFC 3339 with microseconds, the same within a second, across seconds and back again', () => {
    const reference = (micros: number) => `${new Date(Math.floor(micros / 1000)).toISOString().slice(0, -1)}${String(Math.floor(micros) % 1000).padStart(3, '0')}Z`;
    const base = Date.UTC(2026, 11, 31, 23, 59, 59) * 1000;
    const values = [base, base + 1, base + 999_999, base + 1_000_000, base + 1_000_001.7, base + 123_456, base - 1, base + 86_400_000_000, base, 0, 999_999, 1_000_000];
    for (const value of values) expect(microTime(value)).toBe(reference(value));
    expect(microTime(base + 999_999)).toBe('2026-12-31T23:59:59.999999Z');
    expect(microTime(base + 1_000_000)).toBe('2027-01-01T00:00:00.000000Z');
  });

  it('non-resource and unauthenticated requests: lower-case method as verb, no objectRef, the right user', () => {
    const nonResource = buildEvent(request({ method: 'GET', requestUri: '/apis', attributes: { user: alice, resourceRequest: false, verb: 'get', path: '/apis' } }), 200, 'Metadata');
    expect(nonResource.verb).toBe('get');
    expect(nonResource.objectRef).toBeUndefined();
    const failed = request({ method: 'DELETE', requestUri: '/api/v1/secrets?x=1', user: undefined, attributes: undefined });
    expect(buildEvent(failed, 401, 'Metadata')).toMatchObject({ verb: 'delete', user: {}, responseStatus: { code: 401 } });
    expect(policyAttributes(failed)).toEqual({ user: { name: 'system:anonymous', groups: ['system:unauthenticated'] }, verb: 'delete', resourceRequest: false, path: '/api/v1/secrets' });
    const probe = request({ method: 'HEAD', requestUri: '/healthz', user: undefined, attributes: undefined });
    expect(buildEvent(probe, 200, 'Metadata')).toMatchObject({ verb: 'get', user: { username: 'system:anonymous', groups: ['system:unauthenticated'] } });
  });

  it('Metadata carries no objects, Request the request object, RequestResponse both', () => {
    const withObjects = request({ requestObject: { kind: 'ConfigMap', data: { a: '1' } }, responseObject: { kind: 'ConfigMap', data: { a: '1' }, metadata: { uid: 'x' } } });
    const metadata = buildEvent(withObjects, 201, 'Metadata');
    expect(metadata.requestObject).toBeUndefined();
    expect(metadata.responseObject).toBeUndefined();
    const requestLevel = buildEvent(withObjects, 201, 'Request');
    expect(requestLevel.requestObject).toEqual({ kind: 'ConfigMap', data: { a: '1' } });
    expect(requestLevel.responseObject).toBeUndefined();
    const full = buildEvent(withObjects, 201, 'RequestResponse');
    expect(full.requestObject).toEqual(withObjects.requestObject);
    expect(full.responseObject).toEqual(withObjects.responseObject);
    expect(Object.keys(full).at(-1)).toBe('annotations');
    // A create's name comes from its body, at any level (as Kubernetes fills objectRef in).
    expect(buildEvent(request({ requestObject: { metadata: { name: 'cm' } } }), 201, 'Metadata').objectRef).toEqual({ resource: 'configmaps', namespace: 'a', name: 'cm', apiVersion: 'v1' });
  });
});

describe('credentials never appear', () => {
  const SECRET = 'hunter2-value';
  const secretObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'a' }, data: { password: Buffer.from(SECRET).toString('base64') }, stringData: { token: SECRET } };

  it('Secrets, token requests, token reviews and logins lose their objects at any level, saying why', () => {
    const cases: Array<[RequestAttributes, string]> = [
      [resourceAttributes('create', '', 'secrets', { namespace: 'a' }), 'Secret'],
      [resourceAttributes('get', '', 'secrets', { namespace: 'a', name: 's' }), 'Secret'],
      [resourceAttributes('create', '', 'serviceaccounts', { namespace: 'a', name: 'default', subresource: 'token' }), 'token request'],
      [resourceAttributes('create', 'authentication.k8s.io', 'tokenreviews'), 'token request'],
      [{ user: alice, resourceRequest: false, verb: 'post', path: '/login' }, 'login or token endpoint'],
    ];
    for (const [attributes, why] of cases) {
      const event = buildEvent(request({ attributes, requestObject: secretObject, responseObject: { status: { token: SECRET } } }), 201, 'RequestResponse');
      expect(event.requestObject).toBeUndefined();
      expect(event.responseObject).toBeUndefined();
      expect(event.annotations[OMITTED_ANNOTATION]).toBe(`${why}: objects are never logged`);
      expect(JSON.stringify(event)).not.toContain(SECRET);
      expect(JSON.stringify(event)).not.toContain(Buffer.from(SECRET).toString('base64'));
    }
  });

  it("a User's password and hash are redacted, also inside kubectl's last-applied copy", () => {
    const applied = JSON.stringify({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'User', metadata: { name: 'bob' }, spec: { password: SECRET } });
    const user = { apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'User', metadata: { name: 'bob', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } }, spec: { email: 'bob@example.com', password: SECRET, passwordHash: 'scrypt$1$2$3$salt$hash' } };
    const event = buildEvent(request({ attributes: resourceAttributes('create', 'iam.photoncloud.io', 'users'), requestObject: user, responseObject: { kind: 'UserList', items: [user] } }), 201, 'RequestResponse');
    const text = JSON.stringify(event);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('scrypt$');
    expect(event.requestObject).toMatchObject({ spec: { email: 'bob@example.com', password: REDACTED, passwordHash: REDACTED }, metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': REDACTED } } });
    // The objects handed in (from the watch cache) are not touched.
    expect(user.spec.password).toBe(SECRET);
    expect(user.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe(applied);
  });

  it('a Secret or TokenRequest nested anywhere keeps only its identity; untouched objects are returned as they are', () => {
    const list = { kind: 'List', items: [secretObject, { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name: 'sa' }, status: { token: SECRET } }, { kind: 'ConfigMap', data: { a: 'b' } }] };
    const scrubbed = scrub(list) as { items: unknown[] };
    expect(scrubbed.items).toEqual([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'a' } },
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: { name: 'sa', namespace: undefined } },
      { kind: 'ConfigMap', data: { a: 'b' } },
    ]);
    expect(scrubbed.items[2]).toBe(list.items[2]);
    const plain = { kind: 'ConfigMap', data: { a: 'b' } };
    expect(scrub(plain)).toBe(plain);
  });
});
