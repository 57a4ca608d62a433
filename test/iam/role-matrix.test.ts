// The built-in roles, checked exhaustively: for each ClusterRole (cluster-admin, admin, edit, view,
// organization-admin) bound in a Project's namespace, every kind the server serves (from discovery, with its
// subresources) × every verb gets the decision the role's own rules give. The expectation is computed here
// from the roles as the server serves them (after aggregation), with a deliberately plain matcher of this
// test's own, so the matrix follows the role definitions and cannot drift from them; the decision comes from
// SubjectAccessReview, the same authorizer every request goes through.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiClient } from '../env/http.ts';
import { organization, project, roleBinding, startTenantEnvironment, type TenantEnvironment } from '../env/tenants.ts';

const ROLES = ['cluster-admin', 'admin', 'edit', 'view', 'organization-admin'];
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const NAMESPACE = 'matrix';

interface Rule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}
interface Served {
  group: string;
  version: string;
  resource: string;
  namespaced: boolean;
}

/** What a rule list grants, by the plain reading of RBAC: every listed part matches, `*` matches anything. */
function expected(rules: Rule[], group: string, resource: string, verb: string): boolean {
  const has = (list: string[] | undefined, value: string) => (list ?? []).some((item) => item === '*' || item === value);
  const sub = resource.split('/')[1];
  const resourceListed = (rule: Rule) => (rule.resources ?? []).some((item) => item === '*' || item === resource || (sub !== undefined && item === `*/${sub}`));
  return rules.some((rule) => has(rule.verbs, verb) && has(rule.apiGroups, group) && (rule.resourceNames ?? []).length === 0 && resourceListed(rule));
}

let tenants: TenantEnvironment;
let api: ApiClient;

beforeAll(async () => {
  tenants = await startTenantEnvironment();
  api = new ApiClient(tenants.env);
  await tenants.apply(organization('matrix-org'), project(NAMESPACE, 'matrix-org'));
  await tenants.waitForNamespace(NAMESPACE);
  await tenants.apply(...ROLES.map((role) => roleBinding(`matrix-${role}`, NAMESPACE, { kind: 'ClusterRole', name: role }, [`matrix-${role}`])));
}, 120_000);

afterAll(async () => {
  api?.close();
  await tenants?.stop();
});

async function servedResources(): Promise<Served[]> {
  const served: Served[] = [];
  const groups = (await api.request('/apis')).json().groups as Array<{ name: string; preferredVersion: { version: string } }>;
  const versions = [{ group: '', path: '/api/v1', version: 'v1' }, ...groups.map((group) => ({ group: group.name, path: `/apis/${group.name}/${group.preferredVersion.version}`, version: group.preferredVersion.version }))];
  for (const { group, path, version } of versions) {
    const list = (await api.request(path)).json().resources as Array<{ name: string; namespaced: boolean; verbs: string[] }>;
    for (const resource of list) served.push({ group, version, resource: resource.name, namespaced: resource.namespaced });
  }
  return served;
}

async function decide(user: string, resource: Served, verb: string): Promise<boolean> {
  const [plural, subresource] = resource.resource.split('/');
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user, groups: ['system:authenticated'], resourceAttributes: { namespace: resource.namespaced ? NAMESPACE : '', verb, group: resource.group, version: resource.version, resource: plural, subresource: subresource ?? '' } },
  };
  const answer = await api.request('/apis/authorization.k8s.io/v1/subjectaccessreviews', { method: 'POST', body: JSON.stringify(review) });
  if (answer.status !== 201) throw new Error(`SubjectAccessReview: ${answer.status} ${answer.text}`);
  return answer.json().status.allowed === true;
}

describe('built-in roles × served kinds × verbs', () => {
  it('every decision matches the role definitions', async () => {
    const served = await servedResources();
    // Every namespaced PhotonCloud kind is in the matrix (the roles must not miss one).
    expect(served.filter((resource) => resource.group.endsWith('.photoncloud.io') && resource.namespaced && !resource.resource.includes('/')).length).toBeGreaterThanOrEqual(8);
    // What every authenticated user holds cluster-wide (system:basic-user's self reviews, …), from the
    // served ClusterRoleBindings to system:authenticated: granted whatever the role under test.
    const bindings = (await api.request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings')).json().items as Array<{ roleRef: { name: string }; subjects?: Array<{ kind: string; name: string }> }>;
    const everyone: Rule[] = [];
    for (const binding of bindings.filter((candidate) => candidate.subjects?.some((subject) => subject.kind === 'Group' && subject.name === 'system:authenticated'))) {
      everyone.push(...((await api.request(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${binding.roleRef.name}`)).json().rules as Rule[]));
    }
    const mismatches: string[] = [];
    let decisions = 0;
    for (const role of ROLES) {
      const rules = (await api.request(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${role}`)).json().rules as Rule[];
      expect(rules.length).toBeGreaterThan(0);
      for (const resource of served) {
        for (const verb of VERBS) {
          // A RoleBinding grants in its namespace only: nothing on cluster-scoped kinds.
          const want = (resource.namespaced && expected(rules, resource.group, resource.resource, verb)) || expected(everyone, resource.group, resource.resource, verb);
          const got = await decide(`matrix-${role}`, resource, verb);
          decisions++;
          if (got !== want) mismatches.push(`${role} ${verb} ${resource.resource}.${resource.group || 'core'}: expected ${want}, got ${got}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(decisions).toBeGreaterThan(1000);
  }, 120_000);

  it('the aggregated roles nest as Kubernetes\' do: view ⊂ edit ⊂ admin ⊂ organization-admin', async () => {
    const rulesOf = async (role: string) => (await api.request(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${role}`)).json().rules as Rule[];
    const [view, edit, admin, organizationAdmin] = await Promise.all(['view', 'edit', 'admin', 'organization-admin'].map(rulesOf));
    const keys = (rules: Rule[]) => new Set(rules.map((rule) => JSON.stringify(rule)));
    for (const [smaller, larger] of [
      [view, edit],
      [edit, admin],
      [admin, organizationAdmin],
    ]) {
      const held = keys(larger);
      expect([...keys(smaller)].filter((rule) => !held.has(rule))).toEqual([]);
    }
    // view reads but never writes, and never reads Secrets.
    expect(view.every((rule) => rule.verbs.every((verb) => ['get', 'list', 'watch'].includes(verb)))).toBe(true);
    expect(view.some((rule) => rule.resources?.includes('secrets'))).toBe(false);
  });
});
