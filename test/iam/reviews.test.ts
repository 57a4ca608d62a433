// Authorization and authentication reviews and TokenRequest, end to end: a real API server (embedded store)
// with RBAC, and the real kubectl of every installed minor (kubectl ≥1.32 sends the reviews and the
// TokenRequest as protobuf, older ones as JSON; 1.27's `auth whoami` asks authentication.k8s.io/v1beta1):
// `auth can-i` (also --list), `auth whoami`, `create token`, and the token then used as the ServiceAccount.
// Raw requests check what kubectl cannot send: the admin-only SubjectAccessReview, the 422s and 400s.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../agents/ovn-local/commands.ts';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient } from '../env/http.ts';
import { waitFor } from '../env/process.ts';

const NS = 'reviews';
const SA = 'robot';
const AUTHZ = '/apis/authorization.k8s.io/v1';

/** `kubectl` (the dispatcher, or a plain kubectl) plus every `kubectl.1.NN` beside it, oldest first. */
function kubectlBinaries(): string[] {
  const found = process.env.PATH!.split(':').map((dir) => path.join(dir, 'kubectl')).find((file) => existsSync(file));
  if (!found) throw new Error('kubectl is not installed');
  const dir = path.dirname(realpathSync(found));
  const versioned = readdirSync(dir).filter((name) => /^kubectl\.1\.\d+$/.test(name)).sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  return ['kubectl', ...versioned.map((name) => path.join(dir, name))];
}

function jwtPayload(token: string): Record<string, unknown> {
  const parts = token.split('.');
  expect(parts).toHaveLength(3);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

describe('reviews and TokenRequest through the real kubectl', () => {
  let env: TestApiServer;
  let http: ApiClient;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
  const kubectlWith = (binary: string, args: string[]) => run(binary, args, { env: { ...process.env, KUBECONFIG: env.kubeconfig, HOME: path.dirname(env.kubeconfig) }, timeoutMs: 60_000 });
  const post = (url: string, body: unknown, token?: string) => http.request(url, { method: 'POST', body: JSON.stringify(body), token });

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    http = new ApiClient(env);
    ok(await kubectl(['create', 'namespace', NS]));
    ok(await kubectl(['create', 'serviceaccount', SA, '-n', NS]));
  });
  afterAll(async () => {
    http?.agent.destroy();
    await env?.stop();
  });

  it('lists the reviews in discovery with the one verb create, and the ServiceAccount token subresource', async () => {
    const resources = ok(await kubectl(['api-resources', '--api-group=authorization.k8s.io', '-o', 'wide']));
    for (const plural of ['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'subjectaccessreviews', 'localsubjectaccessreviews']) {
      expect(resources).toMatch(new RegExp(`^${plural}\\s.*\\screate\\s*$`, 'm'));
    }
    expect(ok(await kubectl(['api-resources', '--api-group=authentication.k8s.io', '-o', 'wide']))).toMatch(/^selfsubjectreviews\s.*\screate\s*$/m);
    const core = (await http.request('/api/v1')).json<{ resources: Array<{ name: string; kind: string; group?: string; verbs: string[] }> }>();
    expect(core.resources.find((entry) => entry.name === 'serviceaccounts/token')).toEqual(expect.objectContaining({ kind: 'TokenRequest', group: 'authentication.k8s.io', verbs: ['create'] }));
    // And in aggregated discovery, which kubectl ≥1.30 reads.
    const aggregated = (await http.request('/api', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } })).json();
    const serviceAccounts = aggregated.items[0].versions[0].resources.find((entry: { resource: string }) => entry.resource === 'serviceaccounts');
    expect(serviceAccounts.subresources).toEqual([{ subresource: 'token', responseKind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, verbs: ['create'] }]);
    // v1beta1 SelfSubjectReview too (kubectl 1.27's whoami); the preferred version stays v1.
    const group = (await http.request('/apis/authentication.k8s.io')).json<{ preferredVersion: { version: string }; versions: Array<{ version: string }> }>();
    expect(group.preferredVersion.version).toBe('v1');
    expect(group.versions.map((entry) => entry.version)).toEqual(['v1', 'v1beta1']);
  });

  it.each(kubectlBinaries())('%s: auth can-i, can-i --list and whoami for the admin', async (binary) => {
    expect((await kubectlWith(binary, ['auth', 'can-i', 'create', 'vpcs', '-n', NS])).stdout.trim()).toBe('yes');
    expect((await kubectlWith(binary, ['auth', 'can-i', 'get', '/healthz'])).stdout.trim()).toBe('yes');
    const list = ok(await kubectlWith(binary, ['auth', 'can-i', '--list', '-n', NS]));
    // system:masters: everything, shown as kubectl prints a `*` rule.
    expect(list).toMatch(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]/m);
    const whoami = JSON.parse(ok(await kubectlWith(binary, ['auth', 'whoami', '-o', 'json'])));
    expect(whoami.kind).toBe('SelfSubjectReview');
    expect(whoami.status.userInfo).toEqual(expect.objectContaining({ username: 'admin', groups: expect.arrayContaining(['system:masters', 'system:authenticated']) }));
  });

  it.each(kubectlBinaries())('%s: create token prints a JWT that authenticates as the ServiceAccount', async (binary) => {
    const token = ok(await kubectlWith(binary, ['create', 'token', SA, '-n', NS, '--duration', '20m'])).trim();
    const claims = jwtPayload(token);
    expect(claims.sub).toBe(`system:serviceaccount:${NS}:${SA}`);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(1200);
    const review = await post('/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, token);
    expect(review.status).toBe(201);
    expect(review.json().status.userInfo.username).toBe(`system:serviceaccount:${NS}:${SA}`);
    // The same token through kubectl: who it is, and that it may not do what only admins may.
    expect(ok(await kubectlWith(binary, ['auth', 'whoami', '--token', token]))).toContain(`system:serviceaccount:${NS}:${SA}`);
    const denied = await kubectlWith(binary, ['auth', 'can-i', 'create', 'vpcs', '-n', NS, '--token', token]);
    expect(denied.code).toBe(1);
    expect(denied.stdout.trim()).toBe('no');
    // What it may do: what every authenticated user may (system:basic-user), nothing more.
    const list = ok(await kubectlWith(binary, ['auth', 'can-i', '--list', '-n', NS, '--token', token]));
    expect(list).toMatch(/^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]/m);
    expect(list).not.toMatch(/^\*\.\*/m);
  });

  it('refuses a token for a ServiceAccount that does not exist (404), and out-of-range requests (422 naming the field)', async () => {
    const missing = await kubectl(['create', 'token', 'nobody', '-n', NS]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('serviceaccounts "nobody" not found');
    const url = `/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`;
    const request = (spec: Record<string, unknown>) => post(url, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
    const short = await request({ expirationSeconds: 599 });
    expect(short.status).toBe(422);
    expect(short.json().message).toContain('spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes');
    const long = await request({ expirationSeconds: 48 * 3600 + 1 });
    expect(long.status).toBe(422);
    expect(long.json().message).toContain('spec.expirationSeconds');
    const audience = await request({ audiences: ['photoncloud', 'vault'] });
    expect(audience.status).toBe(422);
    expect(audience.json().message).toContain('spec.audiences[1]: Unsupported value: "vault"');
    const defaulted = await request({});
    expect(defaulted.status).toBe(201);
    const body = defaulted.json();
    expect(body).toEqual(expect.objectContaining({ kind: 'TokenRequest', spec: { audiences: ['photoncloud'], expirationSeconds: 3600 } }));
    expect(jwtPayload(body.status.token).aud).toEqual(['photoncloud']);
    expect(Date.parse(body.status.expirationTimestamp) - Date.now()).toBeGreaterThan(3500_000);
    // Only create exists on the subresource.
    expect((await http.request(url)).status).toBe(405);
  });

  it("a ServiceAccount's token stops working when the account is deleted, also once one of the same name is back", async () => {
    ok(await kubectl(['create', 'serviceaccount', 'short-lived', '-n', NS]));
    const token = ok(await kubectl(['create', 'token', 'short-lived', '-n', NS])).trim();
    const whoami = () => post('/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, token);
    expect((await whoami()).status).toBe(201);
    ok(await kubectl(['delete', 'serviceaccount', 'short-lived', '-n', NS]));
    await waitFor('the deleted account\'s token refused', async () => (await whoami()).status === 401, { timeoutMs: 10_000 });
    ok(await kubectl(['create', 'serviceaccount', 'short-lived', '-n', NS]));
    // Another uid: the new account's own token works, the old one stays refused.
    const fresh = ok(await kubectl(['create', 'token', 'short-lived', '-n', NS])).trim();
    await waitFor('the new account\'s token accepted', async () => (await post('/apis/authentication.k8s.io/v1/selfsubjectreviews', { kind: 'SelfSubjectReview' }, fresh)).status === 201, { timeoutMs: 10_000 });
    expect((await whoami()).status).toBe(401);
  });

  it('answers a SubjectAccessReview about another user for the admin only', async () => {
    const sar = (spec: Record<string, unknown>, token?: string) => post(`${AUTHZ}/subjectaccessreviews`, { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec }, token);
    const attributes = { resourceAttributes: { namespace: NS, verb: 'create', group: 'network.photoncloud.io', resource: 'vpcs' } };
    const alice = await sar({ user: 'alice', ...attributes });
    expect(alice.status).toBe(201);
    expect(alice.json().status.allowed).toBe(false);
    expect(alice.json().spec).toEqual({ user: 'alice', ...attributes });
    expect((await sar({ user: 'alice', groups: ['system:masters'], ...attributes })).json().status.allowed).toBe(true);
    // kubectl creates one from a file just the same.
    const created = JSON.parse(ok(await kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'bob', groups: ['system:masters'], nonResourceAttributes: { path: '/metrics', verb: 'get' } } }))));
    expect(created.status.allowed).toBe(true);
    // A namespaced one must stay in its namespace.
    const local = await post(`/apis/authorization.k8s.io/v1/namespaces/${NS}/localsubjectaccessreviews`, { apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', spec: { user: 'alice', resourceAttributes: { namespace: 'other', verb: 'get', resource: 'configmaps' } } });
    expect(local.status).toBe(422);
    expect(local.json().message).toContain('spec.resourceAttributes.namespace');
    // A ServiceAccount may not ask about others.
    const token = ok(await kubectl(['create', 'token', SA, '-n', NS])).trim();
    const refused = await sar({ user: 'alice', ...attributes }, token);
    expect(refused.status).toBe(403);
    expect(refused.json().message).toContain('cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope');
  });

  it('refuses malformed reviews: neither attribute kind (422), bad protobuf (400), other verbs (405)', async () => {
    const empty = await post(`${AUTHZ}/selfsubjectaccessreviews`, { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {} });
    expect(empty.status).toBe(422);
    expect(empty.json()).toEqual(expect.objectContaining({ reason: 'Invalid', message: expect.stringContaining('spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified') }));
    const truncated = Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x0a, 0x32, 0x0a])]);
    const bad = await http.request(`${AUTHZ}/selfsubjectaccessreviews`, { method: 'POST', body: truncated, headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' } });
    expect(bad.status).toBe(400);
    expect(bad.json().message).toContain('malformed protobuf body');
    const rules = await post(`${AUTHZ}/selfsubjectrulesreviews`, { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: {} });
    expect(rules.status).toBe(400);
    expect((await http.request(`${AUTHZ}/selfsubjectaccessreviews`)).status).toBe(405);
    const wrongKind = await post(`${AUTHZ}/selfsubjectaccessreviews`, { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { nonResourceAttributes: { path: '/', verb: 'get' } } });
    expect(wrongKind.status).toBe(400);
  });
});
