// Issue 7, class 3: a CustomResourceDefinition may not take over a built-in group or another CRD. The landed
// server accepted `customresourcedefinitions.apiextensions.k8s.io` and `leases.coordination.k8s.io`; objects
// written through them broke the CRD controller, and deleting one removed every CRD and all their objects.
// Here every variation (each built-in group/resource in several versions, k8s.io, kubernetes.io and their
// subdomains in odd spellings, another CRD's names, updates moving a CRD into a reserved group, through
// POST, PUT, patches and apply) is a 4xx while /readyz stays fast; afterwards every built-in and every
// PhotonCloud kind still works and nothing was deleted. Then CRDs written straight into storage (as before
// the fix, or malformed): the controller reports them, does not spin, and deleting them deletes nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import winston from 'winston';
import YAML from 'yaml';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { duringAttack, mapConcurrently, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient, type HttpResult } from '../env/http.ts';
import { waitFor } from '../env/process.ts';

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const CRD_KEY_PREFIX = '/registry/apiextensions.k8s.io/customresourcedefinitions/';

function crd(group: string, plural: string, kind: string, versions: string[] = ['v1'], extraNames: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural, kind, ...extraNames },
      versions: versions.map((name, index) => ({ name, served: true, storage: index === 0, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } })),
    },
  };
}

const json = (body: unknown) => JSON.stringify(body);

describe('CRDs over built-in groups and other CRDs (a photon apiserver process)', () => {
  let server: ApiServerProcess;
  const request = (path: string, options: Parameters<ApiClient['request']>[1] = {}) => server.client.request(path, options);

  async function created(path: string, body: unknown): Promise<void> {
    const response = await request(path, { method: 'POST', body: json(body) });
    if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${response.text}`);
  }

  beforeAll(async () => {
    server = await startApiServerProcess();
    await created('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant' } });
    await created(CRDS, crd('example.com', 'widgets', 'Widget'));
    await waitFor('widgets to be served', async () => (await request('/apis/example.com/v1/namespaces/tenant/widgets')).status === 200);
    await created('/apis/example.com/v1/namespaces/tenant/widgets', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1 } });
    await created('/apis/coordination.k8s.io/v1/namespaces/tenant/leases', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'holder' }, spec: { holderIdentity: 'me' } });
    await created('/api/v1/namespaces/tenant/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } });
    await created('/apis/network.photoncloud.io/v1alpha1/namespaces/tenant/vpcs', { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main' }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  /** Every group/resource the server serves, from discovery: [group, plural, kind, version]. */
  async function servedResources(): Promise<Array<{ group: string; plural: string; kind: string; version: string; namespaced: boolean }>> {
    const out: Array<{ group: string; plural: string; kind: string; version: string; namespaced: boolean }> = [];
    const add = (group: string, version: string, list: { resources: Array<{ name: string; kind: string; namespaced: boolean }> }) => {
      for (const resource of list.resources) if (!resource.name.includes('/')) out.push({ group, plural: resource.name, kind: resource.kind, version, namespaced: resource.namespaced });
    };
    add('', 'v1', (await request('/api/v1')).json());
    for (const group of (await request('/apis')).json().groups as Array<{ name: string; preferredVersion: { version: string } }>) {
      add(group.name, group.preferredVersion.version, (await request(`/apis/${group.name}/${group.preferredVersion.version}`)).json());
    }
    return out;
  }

  /** What must not change: every CRD (by uid) and every object of the sampled kinds (by resourceVersion). */
  async function snapshot(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const item of (await request(CRDS)).json().items) out[`crd/${item.metadata.name}`] = item.metadata.uid;
    for (const path of ['/api/v1/namespaces/tenant/configmaps', '/apis/coordination.k8s.io/v1/namespaces/tenant/leases', '/apis/example.com/v1/namespaces/tenant/widgets', '/apis/network.photoncloud.io/v1alpha1/namespaces/tenant/vpcs']) {
      for (const item of (await request(path)).json().items) out[`${path}/${item.metadata.name}`] = item.metadata.resourceVersion;
    }
    return out;
  }

  it('answers every CRD over a reserved group, a built-in or another CRD with a 4xx, and changes nothing', async () => {
    const builtins = (await servedResources()).filter((resource) => !resource.group.endsWith('photoncloud.io') && resource.group !== 'example.com');
    expect(builtins.map((resource) => `${resource.plural}.${resource.group}`)).toEqual(expect.arrayContaining(['namespaces.', 'leases.coordination.k8s.io', 'customresourcedefinitions.apiextensions.k8s.io', 'events.events.k8s.io']));
    const bodies: unknown[] = [];
    for (const { group, plural, kind, version } of builtins) {
      for (const versions of [[version], ['v2'], ['v1beta1', version], ['v9alpha1']]) {
        bodies.push(crd(group, plural, kind, versions));
        if (group === '') for (const spelling of ['core', 'v1', 'api']) bodies.push(crd(spelling, plural, kind, versions));
      }
      // The same group with a new resource in it, and the group in other spellings.
      bodies.push(crd(group, 'takeovers', 'Takeover'));
      for (const spelling of [group.toUpperCase(), `${group}.`, `${group}..`, `x.${group}`]) if (group) bodies.push(crd(spelling, plural, kind));
    }
    for (const group of ['k8s.io', 'kubernetes.io', 'x.k8s.io', 'apps.k8s.io', 'networking.k8s.io', 'foo.bar.kubernetes.io', 'K8S.IO', 'Kubernetes.IO', 'X.K8s.Io', 'x.k8s.io.', 'k8s.io.', 'x.kubernetes.io..', 'snapshot.storage.k8s.io', 'gateway.networking.k8s.io']) {
      bodies.push(crd(group, 'widgets', 'Widget'));
      // Kubernetes' approval annotation does not open protected groups here.
      const approved = crd(group, 'gadgets', 'Gadget');
      (approved.metadata as { annotations?: Record<string, string> }).annotations = { 'api-approved.kubernetes.io': 'https://github.com/kubernetes/enhancements/pull/1111' };
      bodies.push(approved);
    }
    // A name that is not plural.group, either way round.
    bodies.push({ ...crd('example.com', 'leases', 'Lease'), metadata: { name: 'leases.coordination.k8s.io' } });
    bodies.push({ ...crd('coordination.k8s.io', 'leases', 'Lease', ['v2']), metadata: { name: 'things.example.com' } });

    const attacks: Array<{ what: string; send: () => Promise<HttpResult> }> = [];
    for (const body of bodies) {
      const name = (body as { metadata: { name: string } }).metadata.name;
      attacks.push({ what: `POST ${name}`, send: () => request(CRDS, { method: 'POST', body: json(body) }) });
      attacks.push({ what: `POST dry-run ${name}`, send: () => request(`${CRDS}?dryRun=All`, { method: 'POST', body: json(body) }) });
      if (/^[a-z0-9.-]+$/.test(name) && !name.startsWith('.') && !name.includes('..')) {
        attacks.push({ what: `apply ${name}`, send: () => request(`${CRDS}/${name}?fieldManager=attacker`, { method: 'PATCH', body: json(body), headers: { 'Content-Type': 'application/apply-patch+yaml' } }) });
        attacks.push({ what: `PUT ${name}`, send: () => request(`${CRDS}/${name}`, { method: 'PUT', body: json(body) }) });
      }
    }
    // A second CRD for another CRD's group/plural: the tenant's, and PhotonCloud's own (409 AlreadyExists).
    for (const body of [crd('example.com', 'widgets', 'Widget', ['v2']), crd('network.photoncloud.io', 'vpcs', 'Vpc', ['v1'])]) {
      attacks.push({ what: `POST ${(body.metadata as { name: string }).name} again`, send: () => request(CRDS, { method: 'POST', body: json(body) }) });
    }
    // Updates of an existing CRD that try to move it into a reserved or built-in group.
    const widgets = (await request(`${CRDS}/widgets.example.com`)).json();
    for (const group of ['coordination.k8s.io', 'apiextensions.k8s.io', 'x.k8s.io', 'kubernetes.io', 'k8s.io', 'events.k8s.io']) {
      attacks.push({ what: `PUT widgets → ${group}`, send: () => request(`${CRDS}/widgets.example.com`, { method: 'PUT', body: json({ ...widgets, spec: { ...widgets.spec, group } }) }) });
      attacks.push({ what: `merge patch widgets → ${group}`, send: () => request(`${CRDS}/widgets.example.com`, { method: 'PATCH', body: json({ spec: { group } }), headers: { 'Content-Type': 'application/merge-patch+json' } }) });
      attacks.push({ what: `JSON patch widgets → ${group}`, send: () => request(`${CRDS}/widgets.example.com`, { method: 'PATCH', body: json([{ op: 'replace', path: '/spec/group', value: group }]), headers: { 'Content-Type': 'application/json-patch+json' } }) });
      attacks.push({ what: `apply widgets → ${group}`, send: () => request(`${CRDS}/widgets.example.com?fieldManager=attacker&force=true`, { method: 'PATCH', body: json({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' }, spec: { ...widgets.spec, group } }), headers: { 'Content-Type': 'application/apply-patch+yaml' } }) });
    }
    expect(attacks.length).toBeGreaterThan(300);

    const before = await snapshot();
    const { result, readyz } = await duringAttack(server, () =>
      mapConcurrently(attacks, 8, async ({ what, send }) => {
        const response = await send();
        return { what, status: response.status, message: response.text.slice(0, 300) };
      }),
    );
    expect(result.filter(({ status }) => status < 400 || status >= 500)).toEqual([]);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
    expect(server.alive()).toBe(true);

    // The refusals name the field, in Kubernetes' form.
    const lease = await request(CRDS, { method: 'POST', body: json(crd('coordination.k8s.io', 'leases', 'Lease', ['v2'])) });
    expect(lease.status).toBe(422);
    expect(lease.json().message).toContain('spec.group: Forbidden: "coordination.k8s.io" is a protected group');
    expect(lease.json().details.causes).toContainEqual(expect.objectContaining({ field: 'spec.group', reason: 'FieldValueForbidden' }));

    // Nothing of the attack was stored or served, and nothing was deleted or changed.
    expect(await snapshot()).toEqual(before);
    const after = await servedResources();
    expect(after.filter((resource) => resource.plural === 'takeovers' || resource.version === 'v9alpha1' || resource.group.endsWith('k8s.io.'))).toEqual([]);
    expect(after.filter((resource) => resource.plural === 'customresourcedefinitions').map((resource) => resource.version)).toEqual(['v1']);
    expect(after.filter((resource) => resource.plural === 'leases').map((resource) => `${resource.group}/${resource.version}`)).toEqual(['coordination.k8s.io/v1']);
  }, 180_000);

  it('a CRD reusing a kind in another CRD\'s group is refused its names (NamesAccepted False); other groups may reuse kinds', async () => {
    await created(CRDS, crd('network.photoncloud.io', 'fakevpcs', 'Vpc', ['v1alpha1'], { singular: 'fakevpc' }));
    await created(CRDS, crd('example.com', 'namespaces', 'Namespace', ['v1'], { shortNames: ['ns'] }));
    const condition = async (name: string) =>
      ((await request(`${CRDS}/${name}`)).json().status?.conditions ?? []).find((entry: { type: string }) => entry.type === 'NamesAccepted');
    const refused = await waitFor('KindConflict on fakevpcs', async () => ((await condition('fakevpcs.network.photoncloud.io'))?.reason === 'KindConflict' ? condition('fakevpcs.network.photoncloud.io') : undefined));
    expect(refused).toMatchObject({ status: 'False', message: 'kind "Vpc" is already in use by vpcs.network.photoncloud.io' });
    expect((await request('/apis/network.photoncloud.io/v1alpha1/namespaces/tenant/fakevpcs')).status).toBe(404);
    await waitFor('namespaces.example.com to be served', async () => (await request('/apis/example.com/v1/namespaces/tenant/namespaces')).status === 200);
    // The real kinds are untouched.
    expect((await request('/apis/network.photoncloud.io/v1alpha1/namespaces/tenant/vpcs/main')).status).toBe(200);
    expect((await request('/api/v1/namespaces/tenant')).json().kind).toBe('Namespace');
    for (const name of ['fakevpcs.network.photoncloud.io', 'namespaces.example.com']) expect((await request(`${CRDS}/${name}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor('both CRDs to be gone', async () => (await request(`${CRDS}/fakevpcs.network.photoncloud.io`)).status === 404 && (await request(`${CRDS}/namespaces.example.com`)).status === 404);
    // Deleting the refused CRD deleted nothing of the CRD whose kind it wanted.
    expect((await request('/apis/network.photoncloud.io/v1alpha1/namespaces/tenant/vpcs/main')).status).toBe(200);
    expect((await request('/api/v1/namespaces/tenant')).status).toBe(200);
  }, 60_000);

  it('afterwards every built-in and every PhotonCloud kind can be created, listed and deleted', async () => {
    const served = await servedResources();
    const samples: Array<{ path: string; body: Record<string, unknown> }> = [
      { path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sample' } } },
      { path: '/api/v1/namespaces/tenant/configmaps', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sample' }, data: { a: 'b' } } },
      { path: '/api/v1/namespaces/tenant/secrets', body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sample' }, stringData: { a: 'b' } } },
      { path: '/api/v1/namespaces/tenant/serviceaccounts', body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sample' } } },
      { path: '/api/v1/namespaces/tenant/events', body: { apiVersion: 'v1', kind: 'Event', metadata: { name: 'sample' }, involvedObject: { kind: 'ConfigMap', name: 'c', namespace: 'tenant' }, reason: 'Test' } },
      { path: '/apis/events.k8s.io/v1/namespaces/tenant/events', body: { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'sample2' }, regarding: { kind: 'ConfigMap', name: 'c', namespace: 'tenant' }, reason: 'Test', eventTime: new Date().toISOString().replace(/Z$/, '000Z') /* now: older events expire at once */, reportingController: 'x', reportingInstance: 'y', action: 'Test', type: 'Normal' } },
      { path: '/apis/coordination.k8s.io/v1/namespaces/tenant/leases', body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'sample' }, spec: { holderIdentity: 'x' } } },
      { path: CRDS, body: crd('sample.example.com', 'samples', 'Sample') },
      { path: '/apis/rbac.authorization.k8s.io/v1/namespaces/tenant/roles', body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'sample' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] } },
      { path: '/apis/rbac.authorization.k8s.io/v1/namespaces/tenant/rolebindings', body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'sample' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sample' }, subjects: [{ kind: 'User', name: 'someone' }] } },
      { path: '/apis/rbac.authorization.k8s.io/v1/clusterroles', body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'sample' }, rules: [{ nonResourceURLs: ['/sample'], verbs: ['get'] }] } },
      { path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'sample' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sample' }, subjects: [{ kind: 'Group', name: 'sample-group' }] } },
    ];
    // PhotonCloud's kinds from their examples, in an order that satisfies their references.
    const order = ['organization', 'project', 'user', 'group', 'organizationrolebinding', 'vpc', 'subnet', 'securitygroup', 'port', 'image', 'node', 'virtualmachine', 'loadbalancer', 'zone', 'bucket', 'storageclass-standard', 'volume', 'volumesnapshot'];
    const examples = order.map((file) => YAML.parse(fs.readFileSync(path.join(REPOSITORY_ROOT, 'crds', 'examples', `${file}.yaml`), 'utf8')) as Record<string, any>);
    const photonKinds = served.filter((resource) => resource.group.endsWith('.photoncloud.io'));
    expect(examples.map((example) => example.kind).sort()).toEqual(photonKinds.map((resource) => resource.kind).sort());
    // The example Port also names a SecurityGroup "db" that the examples leave out.
    const webGroup = examples.find((example) => example.kind === 'SecurityGroup')!;
    examples.splice(examples.indexOf(webGroup) + 1, 0, { ...webGroup, metadata: { ...webGroup.metadata, name: 'db' } });
    await created('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'acme-web' } });
    for (const example of examples) {
      const resource = photonKinds.find((candidate) => candidate.kind === example.kind && `${candidate.group}/${candidate.version}` === example.apiVersion)!;
      const namespace = resource.namespaced ? `/namespaces/${example.metadata.namespace}` : '';
      samples.push({ path: `/apis/${resource.group}/${resource.version}${namespace}/${resource.plural}`, body: example });
    }
    for (const { path: collection, body } of samples) await created(collection, body);
    for (const { path: collection, body } of samples) {
      const list = await request(collection);
      expect(list.status).toBe(200);
      expect(list.json().items.map((item: { metadata: { name: string } }) => item.metadata.name)).toContain((body.metadata as { name: string }).name);
    }
    for (const { path: collection, body } of [...samples].reverse()) {
      const response = await request(`${collection}/${(body.metadata as { name: string }).name}`, { method: 'DELETE' });
      expect([200, 202]).toContain(response.status);
    }
    // The tenant's objects from before are all still there.
    for (const path of ['/api/v1/namespaces/tenant/configmaps/c', '/apis/coordination.k8s.io/v1/namespaces/tenant/leases/holder', '/apis/example.com/v1/namespaces/tenant/widgets/w', '/apis/network.photoncloud.io/v1alpha1/namespaces/tenant/vpcs/main']) {
      expect((await request(path)).status).toBe(200);
    }
  }, 120_000);
});

describe('CRDs stored before the fix, or malformed (an in-process server, writing storage directly)', () => {
  let env: TestApiServer;
  let client: ApiClient;
  const logs: Array<Record<string, unknown>> = [];

  /** Writes a value straight into storage under a CRD name, bypassing admission. */
  async function writeRaw(name: string, value: unknown): Promise<void> {
    const key = `${CRD_KEY_PREFIX}${name}`;
    const encoded = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    const existing = await env.server.store.get(key);
    if (existing) await env.server.store.update(key, encoded, existing.modRevision);
    else await env.server.store.create(key, encoded);
  }

  const condition = async (name: string, type: string) => ((await client.request(`${CRDS}/${name}`)).json().status?.conditions ?? []).find((entry: { type: string }) => entry.type === type);

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const logger = winston.createLogger({ level: 'info', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
    env = await startTestApiServer({ storage: 'embedded', overrides: { logger } });
    client = new ApiClient({ url: env.url, server: env.server });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await env?.stop();
  });

  const PRE_FIX = {
    'leases.coordination.k8s.io': crd('coordination.k8s.io', 'leases', 'Lease', ['v2']),
    'customresourcedefinitions.apiextensions.k8s.io': crd('apiextensions.k8s.io', 'customresourcedefinitions', 'CustomResourceDefinition', ['v2']),
  };
  const MALFORMED: Record<string, unknown> = {
    'nospec.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'nospec.example.com', finalizers: ['customresourcecleanup.apiextensions.k8s.io'] } },
    'stringspec.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'stringspec.example.com' }, spec: 'nope' },
    'wrongtypes.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'wrongtypes.example.com' }, spec: { group: 5, names: [], scope: 1, versions: 'v1' }, status: 'broken' },
    'noversions.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'noversions.example.com' }, spec: { group: 'example.com', names: { plural: 'noversions', kind: 'NoVersion' }, scope: 'Namespaced' } },
  };

  it('reports each with NamesAccepted/Established False and an Event, retries none in a loop, and keeps serving', async () => {
    await client.request('/apis/coordination.k8s.io/v1/namespaces/default/leases', { method: 'POST', body: json({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'holder' }, spec: { holderIdentity: 'me' } }) });
    for (const [name, value] of Object.entries({ ...PRE_FIX, ...MALFORMED })) await writeRaw(name, { ...(value as object), metadata: { ...(value as { metadata: object }).metadata, uid: `uid-${name}`, finalizers: ['customresourcecleanup.apiextensions.k8s.io'] } });
    await writeRaw('garbage.example.com', '{"not": "closed"');
    await writeRaw('array.example.com', '[]');

    for (const name of [...Object.keys(PRE_FIX), ...Object.keys(MALFORMED)]) {
      const accepted = await waitFor(`NamesAccepted on ${name}`, () => condition(name, 'NamesAccepted'));
      expect(accepted).toMatchObject({ status: 'False', reason: expect.stringMatching(/^Invalid/) });
      expect(await condition(name, 'Established')).toMatchObject({ status: 'False' });
      await waitFor(`a Warning Event about ${name}`, async () => {
        const events = (await client.request(`/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=${name}`)).json().items;
        return events.length === 1 && events[0].type === 'Warning';
      });
    }
    expect((await condition('leases.coordination.k8s.io', 'NamesAccepted')).message).toContain('"coordination.k8s.io" is a protected group');
    expect((await client.request('/apis/coordination.k8s.io/v2/namespaces/default/leases')).status).toBe(404);
    expect((await client.request('/apis/apiextensions.k8s.io/v2/customresourcedefinitions')).status).toBe(404);

    // No pass repeats for a problem only a change can fix: no more writes nor log lines over three of the
    // old controller's 500 ms retry periods.
    const revisions = async () => Object.fromEntries(((await client.request(CRDS)).json().items as Array<{ metadata: { name: string; resourceVersion: string } }>).map((item) => [item.metadata.name, item.metadata.resourceVersion]));
    const before = await revisions();
    const logged = logs.length;
    const until = Date.now() + 1500;
    await waitFor('the observation window', () => Date.now() >= until, { timeoutMs: 5000, intervalMs: 100 });
    expect(await revisions()).toEqual(before);
    expect(logs.slice(logged).filter((entry) => entry.component === 'crd-controller')).toEqual([]);

    // Everything else is served as before.
    expect((await client.request('/readyz')).status).toBe(200);
    expect((await client.request('/apis/coordination.k8s.io/v1/namespaces/default/leases/holder')).status).toBe(200);
    expect((await client.request('/apis/network.photoncloud.io/v1alpha1/namespaces/default/vpcs')).status).toBe(200);
    expect((await client.request(CRDS)).status).toBe(200);
  }, 60_000);

  it('a fixed CRD is looked at again at once and served', async () => {
    const stored = (await client.request(`${CRDS}/noversions.example.com`)).json();
    const fixed = { ...stored, spec: (crd('example.com', 'noversions', 'NoVersion') as { spec: unknown }).spec };
    expect((await client.request(`${CRDS}/noversions.example.com`, { method: 'PUT', body: json(fixed) })).status).toBe(200);
    await waitFor('noversions to be served', async () => (await client.request('/apis/example.com/v1/namespaces/default/noversions')).status === 200);
    await waitFor('Established True', async () => (await condition('noversions.example.com', 'Established'))?.status === 'True');
  }, 30_000);

  it('survives a restart with them stored', async () => {
    await env.restart();
    client.close();
    client = new ApiClient({ url: env.url, server: env.server });
    expect((await client.request('/apis/network.photoncloud.io/v1alpha1/namespaces/default/vpcs')).status).toBe(200);
    expect((await client.request('/apis/coordination.k8s.io/v2/namespaces/default/leases')).status).toBe(404);
    expect((await condition('leases.coordination.k8s.io', 'NamesAccepted'))?.status).toBe('False');
  }, 60_000);

  it('deleting them deletes nothing of anything else', async () => {
    const crdsBefore = ((await client.request(CRDS)).json().items as Array<{ metadata: { name: string; uid: string } }>).map((item) => item.metadata.uid);
    const deleted = [...Object.keys(PRE_FIX), ...Object.keys(MALFORMED)];
    for (const name of deleted) expect((await client.request(`${CRDS}/${name}`, { method: 'DELETE' })).status).toBe(200);
    for (const name of deleted) await waitFor(`${name} to be gone`, async () => (await client.request(`${CRDS}/${name}`)).status === 404);
    expect((await client.request('/apis/coordination.k8s.io/v1/namespaces/default/leases/holder')).status).toBe(200);
    const crdsAfter = ((await client.request(CRDS)).json().items as Array<{ metadata: { uid: string } }>).map((item) => item.metadata.uid);
    expect(crdsAfter.sort()).toEqual(crdsBefore.filter((uid) => !deleted.some((name) => uid === `uid-${name}`)).sort());
    expect(crdsAfter.length).toBeGreaterThanOrEqual(12);
    expect((await client.request('/api/v1/namespaces/default')).status).toBe(200);
  }, 60_000);
});
