// The tenant paths of the system PhotonCloud implements, under their names there, through the real kubectl
// with one kubeconfig per user (issued by `photon kubeconfig user`): onboarding, cross-tenant denial, project
// scope, organization inheritance, fine-grained custom roles, and several bindings combining. In each,
// `kubectl auth can-i` must tell the truth about what the next command will do.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectlOk as ok } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';
import { isForbidden, organization, organizationRoleBinding, project, roleBinding, startTenantEnvironment, user, type Session, type TenantEnvironment } from '../env/tenants.ts';

const NET = 'network.photoncloud.io/v1alpha1';
const vpc = (name: string, namespace: string, cidr = '10.0.0.0/16') => ({ apiVersion: NET, kind: 'Vpc', metadata: { name, namespace }, spec: { cidrBlocks: [cidr] } });
const json = (object: object) => JSON.stringify(object);

let tenants: TenantEnvironment;

beforeAll(async () => {
  tenants = await startTenantEnvironment();
}, 120_000);

afterAll(async () => {
  await tenants?.stop();
});

/** Onboards org → project → user with a ClusterRole bound in the project; returns the user's session. */
async function onboard(org: string, projectName: string, userName: string, role = 'admin'): Promise<Session> {
  await tenants.apply(organization(org), project(projectName, org), user(userName));
  await tenants.waitForNamespace(projectName);
  await tenants.apply(roleBinding(`${userName}-${role}`, projectName, { kind: 'ClusterRole', name: role }, [userName]));
  return tenants.session(userName);
}

describe('tenant paths', () => {
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await onboard('acme', 'acme-web', 'alice');
    bob = await onboard('globex', 'globex-prod', 'bob');
  }, 120_000);

  it('tenant_setup_flow: organization, project, user, binding, first resource', async () => {
    const whoami = JSON.parse(ok(await alice.kubectl(['auth', 'whoami', '-o', 'json'])));
    expect(whoami.status.userInfo.username).toBe('alice');
    expect(whoami.status.userInfo.groups).toContain('system:authenticated');
    expect(whoami.status.userInfo.groups).not.toContain('system:masters');

    await waitFor('alice may create Vpcs in acme-web', () => alice.canI('create', 'vpcs.network.photoncloud.io', '-n', 'acme-web'), { timeoutMs: 10_000 });
    ok(await alice.kubectl(['apply', '-f', '-'], json(vpc('first', 'acme-web'))));
    expect(ok(await alice.kubectl(['get', 'vpcs', '-n', 'acme-web', '-o', 'name']))).toContain('vpc.network.photoncloud.io/first');
    // Nothing outside the project: not the system namespaces, not cluster-scoped kinds, not /metrics.
    expect(await alice.canI('create', 'vpcs.network.photoncloud.io', '-n', 'default')).toBe(false);
    expect(isForbidden(await alice.kubectl(['get', 'vpcs', '-n', 'default']))).toBe(true);
    expect(await alice.canI('create', 'projects.iam.photoncloud.io')).toBe(false);
    expect(isForbidden(await alice.kubectl(['get', 'namespaces']))).toBe(true);
    expect(isForbidden(await alice.kubectl(['get', '--raw', '/metrics']))).toBe(true);
    // Discovery works for every authenticated user, as in Kubernetes.
    expect(ok(await alice.kubectl(['api-resources', '--api-group', 'network.photoncloud.io', '-o', 'name']))).toContain('vpcs.network.photoncloud.io');
  });

  it('cross_tenant_denial: every verb on another tenant\'s objects is denied, and all-namespace lists are refused', async () => {
    ok(await tenants.admin(['apply', '-f', '-'], json(vpc('secret-net', 'globex-prod'))));
    ok(await tenants.admin(['create', 'configmap', 'plans', '-n', 'globex-prod', '--from-literal=launch=friday']));
    const attempts: Array<[string, string[], string?]> = [
      ['get', ['get', 'vpc', 'secret-net', '-n', 'globex-prod']],
      ['list', ['get', 'vpcs', '-n', 'globex-prod']],
      ['watch', ['get', 'vpcs', '-n', 'globex-prod', '--watch', '--request-timeout=5s']],
      ['create', ['apply', '-f', '-'], json(vpc('intruder', 'globex-prod'))],
      ['update', ['replace', '-f', '-'], json({ ...vpc('secret-net', 'globex-prod'), metadata: { name: 'secret-net', namespace: 'globex-prod', labels: { owned: 'alice' } } })],
      ['patch', ['patch', 'vpc', 'secret-net', '-n', 'globex-prod', '--type', 'merge', '-p', '{"metadata":{"labels":{"owned":"alice"}}}']],
      ['status', ['patch', 'vpc', 'secret-net', '-n', 'globex-prod', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"observedGeneration":99}}']],
      ['delete', ['delete', 'vpc', 'secret-net', '-n', 'globex-prod', '--wait=false']],
      ['events', ['get', 'events', '-n', 'globex-prod']],
      ['configmap', ['get', 'configmap', 'plans', '-n', 'globex-prod', '-o', 'yaml']],
      ['all-namespaces list', ['get', 'vpcs', '--all-namespaces']],
      ['all-namespaces watch', ['get', 'vpcs', '--all-namespaces', '--watch', '--request-timeout=5s']],
      // Nor any system object: the controller manager's Lease lives in a system namespace.
      ['system lease', ['apply', '-f', '-'], json({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'photon-controller-manager', namespace: 'photon-system' }, spec: { holderIdentity: 'alice' } })],
      ['system namespace', ['get', 'configmaps', '-n', 'photon-system']],
    ];
    for (const [what, args, stdin] of attempts) {
      const result = await alice.kubectl(args, stdin);
      expect({ what, forbidden: isForbidden(result) }).toEqual({ what, forbidden: true });
      // A denial names only what was asked: never the other tenant's data or whether the object exists.
      expect(result.stdout + result.stderr).not.toContain('friday');
    }
    // The same denial for a name that does not exist: existence is not revealed.
    const missing = await alice.kubectl(['get', 'vpc', 'no-such-vpc', '-n', 'globex-prod']);
    const present = await alice.kubectl(['get', 'vpc', 'secret-net', '-n', 'globex-prod']);
    expect(missing.stderr.replace('no-such-vpc', 'X')).toBe(present.stderr.replace('secret-net', 'X'));
    for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) expect(await alice.canI(verb, 'vpcs.network.photoncloud.io', '-n', 'globex-prod')).toBe(false);
    expect(await alice.canI('patch', 'vpcs.network.photoncloud.io/status', '-n', 'globex-prod')).toBe(false);
    expect(await alice.canI('list', 'vpcs.network.photoncloud.io', '--all-namespaces')).toBe(false);
    // Untouched: bob's Vpc carries no label from alice.
    expect(ok(await bob.kubectl(['get', 'vpc', 'secret-net', '-n', 'globex-prod', '-o', 'jsonpath={.metadata.labels}']))).not.toContain('alice');
  });

  it('rbac_project_scope: a role in one project grants nothing in another of the same organization', async () => {
    await tenants.apply(project('acme-dev', 'acme'));
    await tenants.waitForNamespace('acme-dev');
    expect(await alice.canI('get', 'vpcs.network.photoncloud.io', '-n', 'acme-web')).toBe(true);
    expect(await alice.canI('get', 'vpcs.network.photoncloud.io', '-n', 'acme-dev')).toBe(false);
    expect(isForbidden(await alice.kubectl(['apply', '-f', '-'], json(vpc('dev-net', 'acme-dev'))))).toBe(true);
    expect(isForbidden(await alice.kubectl(['get', 'vpcs', '-n', 'acme-dev']))).toBe(true);
  });

  it('hierarchical_scope_inheritance: an organization binding makes a Project created afterwards usable', async () => {
    await tenants.apply(organization('initech'), user('carol'));
    await tenants.apply(organizationRoleBinding('initech-editors', 'initech', 'edit', ['carol']));
    const carol = await tenants.session('carol');
    // The Project comes after the binding.
    await tenants.apply(project('initech-tps', 'initech'));
    await tenants.waitForNamespace('initech-tps');
    await waitFor('carol may create Vpcs in the new project', () => carol.canI('create', 'vpcs.network.photoncloud.io', '-n', 'initech-tps'), { timeoutMs: 5_000 });
    ok(await carol.kubectl(['apply', '-f', '-'], json(vpc('reports', 'initech-tps'))));
    // edit, not admin: no role bindings; and nothing in another organization's projects.
    expect(await carol.canI('create', 'rolebindings.rbac.authorization.k8s.io', '-n', 'initech-tps')).toBe(false);
    expect(await carol.canI('get', 'vpcs.network.photoncloud.io', '-n', 'acme-web')).toBe(false);
    expect(isForbidden(await carol.kubectl(['get', 'vpcs', '-n', 'acme-web']))).toBe(true);
  });

  it('custom_role_fine_grained_permissions: a Role with chosen verbs and resourceNames grants exactly those', async () => {
    ok(await tenants.admin(['apply', '-f', '-'], json(vpc('allowed-net', 'acme-web', '10.1.0.0/16'))));
    ok(await tenants.admin(['apply', '-f', '-'], json(vpc('other-net', 'acme-web', '10.2.0.0/16'))));
    await tenants.apply(user('dave'), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'one-vpc-operator', namespace: 'acme-web' },
      rules: [{ apiGroups: ['network.photoncloud.io'], resources: ['vpcs'], resourceNames: ['allowed-net'], verbs: ['get', 'patch'] }],
    });
    await tenants.apply(roleBinding('dave-one-vpc', 'acme-web', { kind: 'Role', name: 'one-vpc-operator' }, ['dave']));
    const dave = await tenants.session('dave');
    await waitFor('dave may get allowed-net', () => dave.canI('get', 'vpcs.network.photoncloud.io/allowed-net', '-n', 'acme-web'));
    ok(await dave.kubectl(['get', 'vpc', 'allowed-net', '-n', 'acme-web']));
    ok(await dave.kubectl(['patch', 'vpc', 'allowed-net', '-n', 'acme-web', '--type', 'merge', '-p', '{"metadata":{"labels":{"tier":"web"}}}']));
    expect(await dave.canI('get', 'vpcs.network.photoncloud.io/other-net', '-n', 'acme-web')).toBe(false);
    expect(isForbidden(await dave.kubectl(['get', 'vpc', 'other-net', '-n', 'acme-web']))).toBe(true);
    expect(await dave.canI('list', 'vpcs.network.photoncloud.io', '-n', 'acme-web')).toBe(false);
    expect(isForbidden(await dave.kubectl(['get', 'vpcs', '-n', 'acme-web']))).toBe(true);
    expect(await dave.canI('delete', 'vpcs.network.photoncloud.io/allowed-net', '-n', 'acme-web')).toBe(false);
    expect(isForbidden(await dave.kubectl(['delete', 'vpc', 'allowed-net', '-n', 'acme-web', '--wait=false']))).toBe(true);
    expect(await dave.canI('create', 'vpcs.network.photoncloud.io', '-n', 'acme-web')).toBe(false);
    // can-i --list shows the rule as granted.
    const list = ok(await dave.kubectl(['auth', 'can-i', '--list', '-n', 'acme-web']));
    expect(list).toMatch(/vpcs\.network\.photoncloud\.io\s+\[\]\s+\[allowed-net\]\s+\[get patch\]/);
  });

  it('multiple_role_bindings: several bindings on one user combine, and nothing more', async () => {
    await tenants.apply(user('erin'), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'subnet-creator', namespace: 'acme-web' },
      rules: [{ apiGroups: ['network.photoncloud.io'], resources: ['subnets'], verbs: ['create'] }],
    });
    await tenants.apply(roleBinding('erin-view', 'acme-web', { kind: 'ClusterRole', name: 'view' }, ['erin']), roleBinding('erin-subnets', 'acme-web', { kind: 'Role', name: 'subnet-creator' }, ['erin']));
    await tenants.apply(roleBinding('erin-view-dev', 'acme-dev', { kind: 'ClusterRole', name: 'view' }, ['erin']));
    const erin = await tenants.session('erin');
    await waitFor('erin may list vpcs', () => erin.canI('list', 'vpcs.network.photoncloud.io', '-n', 'acme-web'));
    expect(await erin.canI('create', 'subnets.network.photoncloud.io', '-n', 'acme-web')).toBe(true);
    expect(await erin.canI('list', 'vpcs.network.photoncloud.io', '-n', 'acme-dev')).toBe(true);
    expect(await erin.canI('create', 'subnets.network.photoncloud.io', '-n', 'acme-dev')).toBe(false);
    expect(await erin.canI('delete', 'vpcs.network.photoncloud.io', '-n', 'acme-web')).toBe(false);
    expect(await erin.canI('get', 'secrets', '-n', 'acme-web')).toBe(false);
    expect(ok(await erin.kubectl(['get', 'vpcs', '-n', 'acme-web', '-o', 'name']))).toContain('first');
    ok(await erin.kubectl(['apply', '-f', '-'], json({ apiVersion: NET, kind: 'Subnet', metadata: { name: 'erins', namespace: 'acme-web' }, spec: { vpcRef: 'first', cidr: '10.0.1.0/24' } })));
    expect(isForbidden(await erin.kubectl(['delete', 'vpc', 'first', '-n', 'acme-web', '--wait=false']))).toBe(true);
    expect(isForbidden(await erin.kubectl(['get', 'secrets', '-n', 'acme-web']))).toBe(true);
  });

  it('organization-admin: creates Projects in its organization only, and binds roles within them', async () => {
    await tenants.apply(organization('umbrella'), user('olga'), user('ulf'));
    await tenants.apply(organizationRoleBinding('umbrella-admins', 'umbrella', 'organization-admin', ['olga']));
    const olga = await tenants.session('olga');
    await waitFor('olga may create projects', () => olga.canI('create', 'projects.iam.photoncloud.io'));
    ok(await olga.kubectl(['apply', '-f', '-'], json(project('umbrella-labs', 'umbrella'))));
    const elsewhere = await olga.kubectl(['apply', '-f', '-'], json(project('acme-side', 'acme')));
    expect(isForbidden(elsewhere)).toBe(true);
    expect(elsewhere.stderr).toContain('cannot create projects in organization "acme"');
    await tenants.waitForNamespace('umbrella-labs');
    ok(await olga.kubectl(['create', 'rolebinding', 'ulf-edit', '-n', 'umbrella-labs', '--clusterrole', 'edit', '--user', 'ulf']));
    expect(isForbidden(await olga.kubectl(['create', 'rolebinding', 'ulf-edit', '-n', 'acme-web', '--clusterrole', 'edit', '--user', 'ulf']))).toBe(true);
    expect(isForbidden(await olga.kubectl(['get', 'project', 'acme-web']))).toBe(true);
    ok(await olga.kubectl(['get', 'project', 'umbrella-labs']));
    const ulf = await tenants.session('ulf');
    await waitFor('ulf may edit in umbrella-labs', () => ulf.canI('create', 'vpcs.network.photoncloud.io', '-n', 'umbrella-labs'));
  });

  it('impersonation: --as runs as that user only for those allowed to impersonate, and is never ignored', async () => {
    // The admin may impersonate: can-i and requests answer for alice.
    expect(ok(await tenants.admin(['auth', 'can-i', 'create', 'vpcs.network.photoncloud.io', '-n', 'acme-web', '--as', 'alice'])).trim()).toBe('yes');
    const denied = await tenants.admin(['auth', 'can-i', 'create', 'vpcs.network.photoncloud.io', '-n', 'globex-prod', '--as', 'alice']);
    expect(denied.stdout.trim()).toBe('no');
    expect(isForbidden(await tenants.admin(['get', 'vpcs', '-n', 'globex-prod', '--as', 'alice']))).toBe(true);
    const whoami = JSON.parse(ok(await tenants.admin(['auth', 'whoami', '-o', 'json', '--as', 'alice', '--as-group', 'auditors'])));
    expect(whoami.status.userInfo).toMatchObject({ username: 'alice', groups: ['auditors', 'system:authenticated'] });
    // A tenant may not impersonate anyone: 403, not a request silently run as herself.
    const attempt = await alice.kubectl(['get', 'vpcs', '-n', 'globex-prod', '--as', 'bob']);
    expect(isForbidden(attempt)).toBe(true);
    expect(attempt.stderr).toContain('cannot impersonate resource "users" in API group "" at the cluster scope');
    expect(isForbidden(await alice.kubectl(['get', 'vpcs', '-n', 'acme-web', '--as', 'alice', '--as-group', 'system:masters']))).toBe(true);
  });

  it('escalation: an edit user cannot bind admin; an admin of one project cannot bind anything in another', async () => {
    await tenants.apply(user('frank'));
    await tenants.apply(roleBinding('frank-edit', 'acme-web', { kind: 'ClusterRole', name: 'edit' }, ['frank']));
    const frank = await tenants.session('frank');
    await waitFor('frank may edit', () => frank.canI('create', 'vpcs.network.photoncloud.io', '-n', 'acme-web'));
    // edit holds no rolebinding rights at all.
    const bind = await frank.kubectl(['create', 'rolebinding', 'frank-admin', '-n', 'acme-web', '--clusterrole', 'admin', '--user', 'frank']);
    expect(isForbidden(bind)).toBe(true);
    // alice (admin of acme-web) may bind edit there…
    ok(await alice.kubectl(['create', 'rolebinding', 'frank-edit-2', '-n', 'acme-web', '--clusterrole', 'edit', '--user', 'frank']));
    // …but not a role with more than she holds (cluster-admin), nor a custom role beyond admin,
    const overreach = await alice.kubectl(['create', 'rolebinding', 'frank-root', '-n', 'acme-web', '--clusterrole', 'cluster-admin', '--user', 'frank']);
    expect(isForbidden(overreach)).toBe(true);
    expect(overreach.stderr).toContain('is attempting to grant RBAC permissions not currently held');
    const role = await alice.kubectl(['create', 'role', 'nodes-reader', '-n', 'acme-web', '--verb', 'get', '--resource', 'nodes.compute.photoncloud.io']);
    expect(isForbidden(role)).toBe(true);
    // …and nothing in bob's project.
    expect(isForbidden(await alice.kubectl(['create', 'rolebinding', 'alice-in', '-n', 'globex-prod', '--clusterrole', 'view', '--user', 'alice']))).toBe(true);
    expect(await alice.canI('get', 'vpcs.network.photoncloud.io', '-n', 'globex-prod')).toBe(false);
  });
});
