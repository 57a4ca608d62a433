// Organizations, Projects and their namespaces, end to end: a real API server (embedded store), the IAM
// controllers as the controller manager runs them (in this process), and the real kubectl for everything a
// user does. Order of arrival (a Project before its Organization), the namespace and its labels, the default
// quota, deletion through the namespace lifecycle (a ConfigMap inside goes too), a Project named like a
// system namespace (NamespaceConflict, the namespace untouched), adoption of a namespace labelled for the
// Project, an Organization's deletion taking its Projects and bindings along, and a manager that was down
// while things changed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clientFromKubeconfig, ConfigMapResource, isNotFound, NamespaceResource, type ApiClient, type Namespace } from '../../apis/client/index.ts';
import { OrganizationResource, OrganizationRoleBindingResource, ProjectResource, type Organization, type OrganizationRoleBinding, type Project } from '../../apis/iam/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { Condition, KubeObject } from '../../apis/meta/types.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';

const IAM_CONTROLLERS = ['organization', 'project', 'organization-role-binding'];
const WAIT = { timeoutMs: 30_000, intervalMs: 100 };

const organization = (name: string) => ({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Organization', metadata: { name }, spec: { displayName: name } });
const project = (name: string, org: string, quota?: Record<string, unknown>) => ({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Project', metadata: { name }, spec: { organizationRef: { name: org }, ...(quota ? { quota } : {}) } });
const manifest = (...objects: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });

describe('IAM: organizations, projects and their namespaces', () => {
  let env: TestApiServer;
  let client: ApiClient;
  let manager: ControllerManager | undefined;
  let quotaServed: boolean;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
  const apply = async (...objects: object[]) => ok(await kubectl(['apply', '-f', '-'], manifest(...objects)));
  const startManager = () => {
    manager = startControllerManager({ kubeconfig: env.kubeconfig, ovnNorthbound: 'unix:/nonexistent', leaderElect: false, controllers: IAM_CONTROLLERS });
  };
  const stopManager = async () => {
    await manager?.stop();
    manager = undefined;
  };

  const getOrUndefined = async <T extends KubeObject>(resource: Parameters<ApiClient['get']>[0], name: string, namespace?: string): Promise<T | undefined> => {
    try {
      return await client.get<T>(resource, name, { namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };
  const condition = (object: KubeObject | undefined, type = 'Ready') => findCondition((object?.status as { conditions?: Condition[] } | undefined)?.conditions, type);
  /** Waits until Ready has this status and reason for the object's current generation. */
  const waitCondition = <T extends KubeObject>(resource: Parameters<ApiClient['get']>[0], name: string, status: 'True' | 'False', reason: string, type = 'Ready') =>
    waitFor(`${resource.kind} ${name} ${type}=${status} ${reason}`, async () => {
      const object = await getOrUndefined<T>(resource, name);
      const found = condition(object, type);
      return found?.status === status && found.reason === reason && found.observedGeneration === object!.metadata.generation ? object : undefined;
    }, WAIT);
  const waitGone = (resource: Parameters<ApiClient['get']>[0], name: string, namespace?: string) =>
    waitFor(`${resource.kind} ${namespace ? `${namespace}/` : ''}${name} gone`, async () => (await getOrUndefined(resource, name, namespace)) === undefined, WAIT);

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'iam-test' });
    // Whether ResourceQuota is served decides which of its two honest outcomes the quota step reports.
    quotaServed = /^resourcequotas\s/m.test(ok(await kubectl(['api-resources', '--api-group='])));
    startManager();
  });
  afterAll(async () => {
    await stopManager();
    client?.close();
    await env?.stop();
  });

  it('a Project waits for its Organization, then gets its namespace, labelled and owned, and its quota', async () => {
    await apply(project('shop', 'acme', { virtualMachines: 5, memory: '64Gi' }));
    const waiting = await waitCondition<Project>(ProjectResource, 'shop', 'False', 'OrganizationNotFound');
    expect(condition(waiting)!.message).toBe('Organization acme does not exist');
    expect(await getOrUndefined(NamespaceResource, 'shop')).toBeUndefined();
    // What the user sees: the Organization column from spec.organizationRef.name, READY False.
    expect(ok(await kubectl(['get', 'proj', 'shop']))).toMatch(/^shop\s+acme\s+.*False\s+\S+$/m);

    await apply(organization('acme'));
    const live = await waitCondition<Project>(ProjectResource, 'shop', 'True', 'NamespaceReady');
    expect(live.status?.namespace).toBe('shop');
    expect(live.metadata.finalizers).toContain('iam.photoncloud.io/namespace');
    const namespace = JSON.parse(ok(await kubectl(['get', 'namespace', 'shop', '-o', 'json']))) as Namespace;
    expect(namespace.metadata.labels).toMatchObject({ 'iam.photoncloud.io/project': 'shop', 'iam.photoncloud.io/organization': 'acme' });
    expect(namespace.metadata.ownerReferences).toEqual([{ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Project', name: 'shop', uid: live.metadata.uid, controller: true }]);
    expect(ok(await kubectl(['get', 'ns', '-l', 'iam.photoncloud.io/organization=acme', '-o', 'name'])).trim()).toBe('namespace/shop');
    // The Organization counts it.
    await waitFor('acme counts 1 project', async () => (await client.get<Organization>(OrganizationResource, 'acme')).status?.projectCount === 1, WAIT);
    await waitCondition<Organization>(OrganizationResource, 'acme', 'True', 'Active');

    if (quotaServed) {
      await waitCondition<Project>(ProjectResource, 'shop', 'True', 'Applied', 'QuotaApplied');
      const quota = JSON.parse(ok(await kubectl(['get', 'resourcequota', 'project-quota', '-n', 'shop', '-o', 'json'])));
      expect(quota.spec.hard).toEqual({ 'count/virtualmachines.compute.photoncloud.io': '5', 'requests.memory': '64Gi' });
      // Kept in sync with spec.quota, and removed with it.
      ok(await kubectl(['patch', 'project', 'shop', '--type=merge', '-p', '{"spec":{"quota":{"virtualMachines":7}}}']));
      await waitFor('project-quota follows spec.quota', async () => {
        const current = await getOrUndefined<KubeObject & { spec: { hard: Record<string, string> } }>({ group: '', version: 'v1', plural: 'resourcequotas', namespaced: true, kind: 'ResourceQuota' }, 'project-quota', 'shop');
        // A merge patch keeps spec.quota.memory.
        const sorted = (hard: Record<string, string> = {}) => JSON.stringify(Object.entries(hard).sort());
        return sorted(current?.spec.hard) === sorted({ 'count/virtualmachines.compute.photoncloud.io': '7', 'requests.memory': '64Gi' });
      }, WAIT);
      ok(await kubectl(['patch', 'project', 'shop', '--type=json', '-p', '[{"op":"remove","path":"/spec/quota"}]']));
      await waitGone({ group: '', version: 'v1', plural: 'resourcequotas', namespaced: true, kind: 'ResourceQuota' }, 'project-quota', 'shop');
      await waitCondition<Project>(ProjectResource, 'shop', 'True', 'NoQuota', 'QuotaApplied');
    } else {
      // Not served yet: the quota step says so, and the namespace is in place regardless.
      const reported = await waitCondition<Project>(ProjectResource, 'shop', 'False', 'ResourceQuotaNotServed', 'QuotaApplied');
      expect(condition(reported, 'Ready')!.status).toBe('True');
      expect(ok(await kubectl(['get', 'project', 'shop', '-o', 'jsonpath={.status.conditions[?(@.type=="QuotaApplied")].message}']))).toContain('does not serve ResourceQuota');
    }
  });

  it('deleting a Project deletes its namespace and everything in it, then the Project', async () => {
    await apply(project('blog', 'acme'));
    await waitCondition<Project>(ProjectResource, 'blog', 'True', 'NamespaceReady');
    ok(await kubectl(['create', 'configmap', 'settings', '-n', 'blog', '--from-literal=theme=dark']));

    ok(await kubectl(['delete', 'project', 'blog', '--wait=false']));
    // The Project stays until its namespace is gone: Terminating, Ready=False NamespaceTerminating.
    await waitFor('blog waits for its namespace', async () => {
      const live = await getOrUndefined<Project>(ProjectResource, 'blog');
      return live === undefined || condition(live)?.reason === 'NamespaceTerminating';
    }, WAIT);
    await waitGone(ConfigMapResource, 'settings', 'blog');
    await waitGone(NamespaceResource, 'blog');
    await waitGone(ProjectResource, 'blog');
    // Its Organization's count follows.
    await waitFor('acme counts 1 project again', async () => (await client.get<Organization>(OrganizationResource, 'acme')).status?.projectCount === 1, WAIT);
  });

  it('a Project named like a system namespace reports NamespaceConflict and never touches it; its deletion leaves it', async () => {
    const before = await client.get<Namespace>(NamespaceResource, 'default');
    await apply(project('default', 'acme'));
    const conflicted = await waitCondition<Project>(ProjectResource, 'default', 'False', 'NamespaceConflict');
    expect(condition(conflicted)!.message).toContain('reserved for the system');
    expect(conflicted.status?.namespace).toBeUndefined();

    ok(await kubectl(['delete', 'project', 'default', '--wait=false']));
    await waitGone(ProjectResource, 'default');
    const after = await client.get<Namespace>(NamespaceResource, 'default');
    expect(after.metadata.deletionTimestamp).toBeUndefined();
    expect({ labels: after.metadata.labels, ownerReferences: after.metadata.ownerReferences, resourceVersion: after.metadata.resourceVersion })
      .toEqual({ labels: before.metadata.labels, ownerReferences: before.metadata.ownerReferences, resourceVersion: before.metadata.resourceVersion });
  });

  it('a hand-made namespace is a conflict until it goes; one labelled for the Project is adopted', async () => {
    ok(await kubectl(['create', 'namespace', 'legacy']));
    await apply(project('legacy', 'acme'));
    expect(condition(await waitCondition<Project>(ProjectResource, 'legacy', 'False', 'NamespaceConflict'))!.message).toContain('belongs to no Project');
    // Removing the conflicting namespace lets the Project make its own (the namespace watch brings it back).
    ok(await kubectl(['delete', 'namespace', 'legacy', '--wait=false']));
    const owned = await waitCondition<Project>(ProjectResource, 'legacy', 'True', 'NamespaceReady');
    expect((await client.get<Namespace>(NamespaceResource, 'legacy')).metadata.ownerReferences?.[0]?.uid).toBe(owned.metadata.uid);

    // crds/examples/00-namespace.yaml's case: the namespace first, labelled for the Project, then the Project.
    ok(await kubectl(['apply', '-f', '-'], manifest({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prepared', labels: { 'iam.photoncloud.io/project': 'prepared' } } })));
    ok(await kubectl(['create', 'configmap', 'kept', '-n', 'prepared']));
    await apply(project('prepared', 'acme'));
    const adopted = await waitCondition<Project>(ProjectResource, 'prepared', 'True', 'NamespaceReady');
    const namespace = await client.get<Namespace>(NamespaceResource, 'prepared');
    expect(namespace.metadata.ownerReferences?.map((reference) => reference.uid)).toEqual([adopted.metadata.uid]);
    expect(namespace.metadata.labels?.['iam.photoncloud.io/organization']).toBe('acme');
    expect(await getOrUndefined(ConfigMapResource, 'kept', 'prepared')).toBeDefined();
  });

  it('an OrganizationRoleBinding is Ready while its Organization exists', async () => {
    const binding = (name: string, org: string) => ({
      apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'OrganizationRoleBinding', metadata: { name },
      spec: { organizationRef: { name: org }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }] },
    });
    await apply(binding('acme-editors', 'acme'), binding('nobody-editors', 'nobody'));
    await waitCondition<OrganizationRoleBinding>(OrganizationRoleBindingResource, 'acme-editors', 'True', 'Bound');
    await waitCondition<OrganizationRoleBinding>(OrganizationRoleBindingResource, 'nobody-editors', 'False', 'OrganizationNotFound');
    expect(ok(await kubectl(['get', 'orb', '-o', 'wide']))).toMatch(/^acme-editors\s+acme\s+edit\s+alice\s+.*True\s+\S+$/m);
    // roleRef is immutable, as in RBAC.
    const changed = await kubectl(['patch', 'orb', 'acme-editors', '--type=merge', '-p', '{"spec":{"roleRef":{"name":"admin"}}}']);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('roleRef is immutable');
    ok(await kubectl(['delete', 'orb', 'nobody-editors']));
  });

  it('restart: what changed while the manager was down converges when it is back', async () => {
    await stopManager();
    await apply(organization('globex'), project('globex-app', 'globex'));
    ok(await kubectl(['delete', 'project', 'legacy', '--wait=false']));
    // Nothing acts meanwhile: the finalizer holds the Project, no namespace appears.
    expect((await client.get<Project>(ProjectResource, 'legacy')).metadata.deletionTimestamp).toBeDefined();
    expect(await getOrUndefined(NamespaceResource, 'globex-app')).toBeUndefined();
    startManager();
    await waitCondition<Project>(ProjectResource, 'globex-app', 'True', 'NamespaceReady');
    await waitGone(NamespaceResource, 'legacy');
    await waitGone(ProjectResource, 'legacy');
  });

  it("deleting an Organization deletes its Projects (and their namespaces) and its bindings, then itself; a Project arriving meanwhile goes too", async () => {
    // A finalizer on a ConfigMap in shop's namespace holds the namespace, so shop, and so acme, stay
    // Terminating until it is removed: the window in which a new Project of acme arrives.
    await client.create(ConfigMapResource, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: 'shop', finalizers: ['test.photoncloud.io/hold'] } });
    ok(await kubectl(['delete', 'organization', 'acme', '--wait=false']));
    const terminating = await waitCondition<Organization>(OrganizationResource, 'acme', 'False', 'ProjectsRemaining');
    expect(condition(terminating)!.message).toBe('waiting for Projects to be deleted: prepared, shop');
    await waitGone(ProjectResource, 'prepared');
    await waitGone(NamespaceResource, 'prepared');
    expect((await client.get<Project>(ProjectResource, 'shop')).metadata.deletionTimestamp).toBeDefined();

    // Order of arrival: a Project of the terminating Organization is deleted as well, and gets no namespace.
    await apply(project('late', 'acme'));
    await waitGone(ProjectResource, 'late');
    expect(await getOrUndefined(NamespaceResource, 'late')).toBeUndefined();
    expect(await getOrUndefined(OrganizationRoleBindingResource, 'acme-editors')).toBeDefined(); // bindings go last

    ok(await kubectl(['patch', 'configmap', 'held', '-n', 'shop', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']));
    await waitGone(NamespaceResource, 'shop');
    await waitGone(ProjectResource, 'shop');
    await waitGone(OrganizationRoleBindingResource, 'acme-editors');
    await waitGone(OrganizationResource, 'acme');
    // Another Organization's Project is untouched.
    expect(condition(await client.get<Project>(ProjectResource, 'globex-app'))?.status).toBe('True');
  });
});
