// ResourceQuota through the real kubectl and concurrent raw requests: enforced at admission and race-free
// (50 concurrent creates against a count of 10 yield exactly 10), status.used kept true (charges at once,
// releases after deletes), VirtualMachine sums (cores, memory, disks), a Project's default quota, and
// `kubectl create quota` / `kubectl describe quota` as users run them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectlOk as ok } from '../env/apiserver.ts';
import { ApiClient } from '../env/http.ts';
import { waitFor } from '../env/process.ts';
import { organization, startTenantEnvironment, type TenantEnvironment } from '../env/tenants.ts';

let tenants: TenantEnvironment;
let api: ApiClient;

const configMap = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' } });
const used = async (namespace: string, name: string) => JSON.parse(ok(await tenants.admin(['get', 'quota', name, '-n', namespace, '-o', 'json']))).status?.used ?? {};

beforeAll(async () => {
  tenants = await startTenantEnvironment();
  api = new ApiClient(tenants.env);
}, 120_000);

afterAll(async () => {
  api?.close();
  await tenants?.stop();
});

describe('ResourceQuota', () => {
  it('50 concurrent creates against a count of 10 admit exactly 10, and status.used says 10', async () => {
    ok(await tenants.admin(['create', 'namespace', 'counted']));
    // kubectl create quota sends protobuf.
    ok(await tenants.admin(['create', 'quota', 'configmaps', '-n', 'counted', '--hard', 'count/configmaps=10']));
    await waitFor('the quota status', async () => (await used('counted', 'configmaps'))['count/configmaps'] === '0');
    const results = await Promise.all(Array.from({ length: 50 }, (_, index) => api.request('/api/v1/namespaces/counted/configmaps', { method: 'POST', body: configMap(`cm-${index}`) })));
    const statuses = results.map((result) => result.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(10);
    expect(statuses.filter((status) => status === 403)).toHaveLength(40);
    const refusal = results.find((result) => result.status === 403)!.json();
    expect(refusal.message).toBe('exceeded quota: configmaps, requested: count/configmaps=1, used: count/configmaps=10, limited: count/configmaps=10');
    expect((await api.request('/api/v1/namespaces/counted/configmaps')).json().items).toHaveLength(10);
    expect((await used('counted', 'configmaps'))['count/configmaps']).toBe('10');
    // Dry runs are checked, never charged.
    expect((await api.request('/api/v1/namespaces/counted/configmaps?dryRun=All', { method: 'POST', body: configMap('dry') })).status).toBe(403);
  }, 60_000);

  it('deletes release their charge, and the room is usable again', async () => {
    const names = (await api.request('/api/v1/namespaces/counted/configmaps')).json().items.map((item: { metadata: { name: string } }) => item.metadata.name) as string[];
    for (const name of names.slice(0, 3)) ok(await tenants.admin(['delete', 'configmap', name, '-n', 'counted']));
    await waitFor('used to drop to 7', async () => (await used('counted', 'configmaps'))['count/configmaps'] === '7', { timeoutMs: 20_000, intervalMs: 200 });
    for (const name of ['again-1', 'again-2', 'again-3']) expect((await api.request('/api/v1/namespaces/counted/configmaps', { method: 'POST', body: configMap(name) })).status).toBe(201);
    expect((await api.request('/api/v1/namespaces/counted/configmaps', { method: 'POST', body: configMap('one-too-many') })).status).toBe(403);
    const described = ok(await tenants.admin(['describe', 'quota', 'configmaps', '-n', 'counted']));
    expect(described).toMatch(/count\/configmaps\s+10\s+10/);
    expect(ok(await tenants.admin(['get', 'quota', '-n', 'counted']))).toContain('count/configmaps: 10/10');
  }, 60_000);

  it('sums VirtualMachine cores, memory and disks', async () => {
    ok(await tenants.admin(['create', 'namespace', 'compute']));
    ok(await tenants.admin(['create', 'quota', 'compute', '-n', 'compute', '--hard', 'requests.cpu=4,requests.memory=8Gi,requests.storage=100Gi,count/virtualmachines.compute.photoncloud.io=5']));
    await waitFor('the quota status', async () => (await used('compute', 'compute'))['requests.cpu'] === '0');
    const vm = (name: string, cores: number, memory: string, disk = '10Gi') => JSON.stringify({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'compute' }, spec: { cpu: { cores }, memory, boot: { imageRef: 'debian-12', diskSize: disk } } });
    ok(await tenants.admin(['apply', '-f', '-'], vm('small', 2, '4Gi')));
    const tooBig = await tenants.admin(['apply', '-f', '-'], vm('big', 3, '2Gi'));
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stderr).toContain('exceeded quota: compute, requested: requests.cpu=3, used: requests.cpu=2, limited: requests.cpu=4');
    const tooMuchDisk = await tenants.admin(['apply', '-f', '-'], vm('disky', 1, '1Gi', '200Gi'));
    expect(tooMuchDisk.stderr).toContain('requests.storage');
    ok(await tenants.admin(['apply', '-f', '-'], vm('second', 2, '4Gi')));
    expect(await used('compute', 'compute')).toEqual({ 'requests.cpu': '4', 'requests.memory': '8Gi', 'requests.storage': '20Gi', 'count/virtualmachines.compute.photoncloud.io': '2' });
    // Growing a VM is charged the difference.
    const grow = await tenants.admin(['patch', 'virtualmachine', 'small', '-n', 'compute', '--type', 'merge', '-p', '{"spec":{"memory":"6Gi"}}']);
    expect(grow.stderr).toContain('exceeded quota: compute, requested: requests.memory=2Gi, used: requests.memory=8Gi, limited: requests.memory=8Gi');
  }, 60_000);

  it('refuses what is not a quota, naming the field', async () => {
    const bad = await tenants.admin(['create', 'quota', 'bad', '-n', 'compute', '--hard', 'count/configmaps=lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/quantities must match/); // kubectl checks this one itself
    const raw = await api.request('/api/v1/namespaces/compute/resourcequotas', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'neg' }, spec: { hard: { 'count/configmaps': '-1' } } }) });
    expect(raw.status).toBe(422);
    expect(raw.json().details.causes[0].field).toBe('spec.hard[count/configmaps]');
    const word = await api.request('/api/v1/namespaces/compute/resourcequotas', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'word' }, spec: { hard: { 'requests.cpu': 'lots' } } }) });
    expect(word.status).toBe(422);
    expect(word.json().message).toContain('spec.hard[requests.cpu]: Invalid value: "lots": must be a non-negative quantity');
  });

  it('a Project\'s spec.quota becomes its namespace\'s project-quota', async () => {
    await tenants.apply(organization('quota-org'), { apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Project', metadata: { name: 'quota-proj' }, spec: { organizationRef: { name: 'quota-org' }, quota: { virtualMachines: 1, cpuCores: 8 } } });
    await tenants.waitForNamespace('quota-proj');
    await waitFor('project-quota', async () => (await tenants.admin(['get', 'quota', 'project-quota', '-n', 'quota-proj'])).code === 0, { timeoutMs: 30_000 });
    const quota = JSON.parse(ok(await tenants.admin(['get', 'quota', 'project-quota', '-n', 'quota-proj', '-o', 'json'])));
    expect(quota.spec.hard).toEqual({ 'count/virtualmachines.compute.photoncloud.io': '1', 'requests.cpu': '8' });
  }, 60_000);
});
