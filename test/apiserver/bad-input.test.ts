// Bad input never reaches storage: each request below gets a 4xx Status that names the problem, and the
// store's revision does not move (nothing written, nothing half-written). Runs on real etcd.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient, type HttpResult } from '../env/http.ts';

const NS = 'bad-input';
const VPCS = `/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/vpcs`;
const SUBNETS = `/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/subnets`;
const PORTS = `/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/ports`;

const vpc = (name: string, spec: unknown = { cidrBlocks: ['10.0.0.0/16'] }, metadata: Record<string, unknown> = {}) =>
  ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, ...metadata }, spec });
const networkObject = (kind: 'Subnet' | 'Port', name: string, spec: unknown, metadata: Record<string, unknown> = {}) =>
  JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind, metadata: { name, ...metadata }, spec });

describe('bad input', () => {
  let env: TestApiServer;
  let api: ApiClient;

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd' });
    api = new ApiClient(env);
    await api.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }) });
    const created = await api.request(VPCS, { method: 'POST', body: JSON.stringify(vpc('existing')) });
    expect(created.status).toBe(201);
    const subnet = await api.request(SUBNETS, { method: 'POST', body: JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'web' }, spec: { vpcRef: 'existing', cidr: '10.0.1.0/24' } }) });
    expect(subnet.status).toBe(201);
  });
  afterAll(async () => {
    api?.close();
    await env?.stop();
  });

  /** Sends a request that must be refused with `code`, and checks that storage did not change. */
  async function refused(code: number, path: string, options: Parameters<ApiClient['request']>[1]): Promise<{ status: HttpResult; body: any }> {
    const before = await env.server.store.currentRevision();
    const status = await api.request(path, options);
    const after = await env.server.store.currentRevision();
    if (status.status !== code) throw new Error(`${options?.method ?? 'GET'} ${path}: expected ${code}, got ${status.status}: ${status.text}`);
    if (after !== before) throw new Error(`${options?.method ?? 'GET'} ${path} changed storage (revision ${before} → ${after}): ${status.text}`);
    const body = status.json();
    expect(body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code });
    expect(typeof body.message).toBe('string');
    return { status, body };
  }

  it('refuses malformed JSON and YAML with 400', async () => {
    const json = await refused(400, VPCS, { method: 'POST', body: '{"apiVersion": "network.photoncloud.io/v1alpha1", "kind": "Vpc",' });
    expect(json.body.message).toContain('not valid JSON');
    const yaml = await refused(400, VPCS, { method: 'POST', body: 'kind: Vpc\nmetadata: [unclosed\n', headers: { 'Content-Type': 'application/yaml' } });
    expect(yaml.body.message).toContain('not valid YAML');
    const duplicate = await refused(400, VPCS, { method: 'POST', body: 'kind: Vpc\nkind: Vpc\n', headers: { 'Content-Type': 'application/yaml' } });
    expect(duplicate.body.message).toMatch(/unique|duplicate/i);
    await refused(400, VPCS, { method: 'POST', body: '' });
    await refused(400, VPCS, { method: 'POST', body: '[1,2,3]' });
    const deep = await refused(400, VPCS, { method: 'POST', body: '['.repeat(5000) + ']'.repeat(5000) });
    expect(deep.body.message).toContain('nested');
    const proto = await refused(400, VPCS, { method: 'POST', body: JSON.stringify(vpc('p')).replace('"spec"', '"__proto__":{"polluted":true},"spec"') });
    expect(proto.body.message).toContain('__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses bodies over 3 MiB with 413', async () => {
    const huge = JSON.stringify(vpc('huge', { cidrBlocks: ['10.0.0.0/16'] }, { annotations: { big: 'x'.repeat(3 * 1024 * 1024) } }));
    const result = await refused(413, VPCS, { method: 'POST', body: huge });
    expect(result.body.reason).toBe('RequestEntityTooLarge');
  });

  it('refuses unknown fields under Strict (400), warns under Warn and drops them under Ignore', async () => {
    const strict = await refused(400, `${VPCS}?fieldValidation=Strict`, { method: 'POST', body: JSON.stringify(vpc('strict', { cidrBlocks: ['10.0.0.0/16'], colour: 'red' }, { shoeSize: 42 })) });
    expect(strict.body.message).toContain('unknown field "spec.colour"');
    expect(strict.body.message).toContain('unknown field "metadata.shoeSize"');
    const warn = await api.request(`${VPCS}?fieldValidation=Warn`, { method: 'POST', body: JSON.stringify(vpc('warned', { cidrBlocks: ['10.0.0.0/16'], colour: 'red' })) });
    expect(warn.status).toBe(201);
    expect(warn.headers.warning).toContain('299 - "unknown field \\"spec.colour\\""');
    expect(warn.json().spec).toEqual({ cidrBlocks: ['10.0.0.0/16'] });
    const ignore = await api.request(`${VPCS}?fieldValidation=Ignore`, { method: 'POST', body: JSON.stringify(vpc('ignored', { cidrBlocks: ['10.0.0.0/16'], colour: 'red' })) });
    expect(ignore.status).toBe(201);
    expect(ignore.headers.warning).toBeUndefined();
    await refused(400, `${VPCS}?fieldValidation=Loud`, { method: 'POST', body: JSON.stringify(vpc('x')) });
  });

  it('refuses schema violations with 422 and a cause per field', async () => {
    const result = await refused(422, VPCS, { method: 'POST', body: JSON.stringify(vpc('invalid', { cidrBlocks: ['300.0.0.0/8', 7], staticRoutes: [{ destination: '0.0.0.0/0' }] })) });
    expect(result.body.reason).toBe('Invalid');
    expect(result.body.details).toMatchObject({ name: 'invalid', group: 'network.photoncloud.io', kind: 'Vpc' });
    const fields = result.body.details.causes.map((cause: { field: string }) => cause.field);
    expect(fields).toEqual(expect.arrayContaining(['spec.cidrBlocks[0]', 'spec.cidrBlocks[1]', 'spec.staticRoutes[0].nextHop']));
    expect(result.body.details.causes.find((cause: { field: string }) => cause.field === 'spec.staticRoutes[0].nextHop').reason).toBe('FieldValueRequired');
    const missingSpec = await refused(422, VPCS, { method: 'POST', body: JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'nospec' } }) });
    expect(missingSpec.body.message).toContain('spec: Required value');
  });

  it('refuses bad names and metadata with 422', async () => {
    for (const name of ['UPPER', 'under_score', '-leading', 'a'.repeat(64), 'dots.are.not.labels']) {
      const result = await refused(422, VPCS, { method: 'POST', body: JSON.stringify(vpc(name)) });
      expect(result.body.details.causes[0].field).toBe('metadata.name');
    }
    await refused(422, VPCS, { method: 'POST', body: JSON.stringify({ ...vpc(''), metadata: {} }) });
    const labels = await refused(422, VPCS, { method: 'POST', body: JSON.stringify(vpc('labels', undefined, { labels: { 'bad key!': 'v', ok: 'bad value!' } })) });
    expect(labels.body.details.causes.map((cause: { field: string }) => cause.field)).toEqual(['metadata.labels', 'metadata.labels']);
    // A name that decodes to something holding '/' can address nothing (path-traversal.test.ts has the rest).
    const badPathName = await refused(400, `${VPCS}/a%2Fb`, { method: 'GET' });
    expect(badPathName.body.message).toBe(`invalid path segment "a/b": may not contain '/'`);
  });

  it('refuses wrong content types with 415, including strategic merge patch', async () => {
    await refused(415, VPCS, { method: 'POST', body: JSON.stringify(vpc('text')), headers: { 'Content-Type': 'text/plain' } });
    const smp = await refused(415, `${VPCS}/existing`, { method: 'PATCH', body: '{"spec":{}}', headers: { 'Content-Type': 'application/strategic-merge-patch+json' } });
    expect(smp.body.message).toContain('application/merge-patch+json');
    // Protobuf is understood only for built-in kinds; a custom kind in protobuf is 415, a corrupt envelope 400.
    const field = (number: number, bytes: Buffer) => Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
    const typeMeta = field(1, Buffer.concat([field(1, Buffer.from('network.photoncloud.io/v1alpha1')), field(2, Buffer.from('Vpc'))]));
    const protobufVpc = Buffer.concat([Buffer.from('k8s\0', 'latin1'), typeMeta]);
    await refused(415, VPCS, { method: 'POST', body: protobufVpc, headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' } });
    const corrupt = await refused(400, VPCS, { method: 'POST', body: Buffer.from('k8s\0garbage', 'latin1'), headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' } });
    expect(corrupt.body.message).toContain('malformed protobuf');
  });

  it('refuses a stale resourceVersion with 409 Conflict on PUT and PATCH', async () => {
    const current = (await api.request(`${VPCS}/existing`)).json();
    const stale = { ...current, metadata: { ...current.metadata, resourceVersion: '1' }, spec: { cidrBlocks: ['10.7.0.0/16'] } };
    const put = await refused(409, `${VPCS}/existing`, { method: 'PUT', body: JSON.stringify(stale) });
    expect(put.body.reason).toBe('Conflict');
    expect(put.body.message).toBe('Operation cannot be fulfilled on vpcs.network.photoncloud.io "existing": the object has been modified; please apply your changes to the latest version and try again');
    await refused(409, `${VPCS}/existing`, { method: 'PATCH', body: '{"metadata":{"resourceVersion":"1"},"spec":{"cidrBlocks":["10.8.0.0/16"]}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    await refused(409, VPCS, { method: 'POST', body: JSON.stringify(vpc('existing')) });
    await refused(409, `${VPCS}/existing`, { method: 'DELETE', body: JSON.stringify({ preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }) });
  });

  it('refuses unknown kinds, groups and namespaces with 404', async () => {
    await refused(404, `/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/widgets`, { method: 'POST', body: JSON.stringify(vpc('w')) });
    await refused(404, `/apis/nope.photoncloud.io/v1/namespaces/${NS}/vpcs`, { method: 'GET' });
    await refused(404, '/apis/network.photoncloud.io/v9/vpcs', { method: 'GET' });
    const missingNs = await refused(404, '/apis/network.photoncloud.io/v1alpha1/namespaces/no-such-ns/vpcs', { method: 'POST', body: JSON.stringify(vpc('x')) });
    expect(missingNs.body.message).toBe('namespaces "no-such-ns" not found');
    const missing = await refused(404, `${VPCS}/ghost`, { method: 'GET' });
    expect(missing.body.details).toEqual({ name: 'ghost', group: 'network.photoncloud.io', kind: 'vpcs' });
  });

  it('refuses mismatched kinds, names and namespaces with 400', async () => {
    const kind = await refused(400, VPCS, { method: 'POST', body: JSON.stringify({ ...vpc('k'), kind: 'Subnet' }) });
    expect(kind.body.message).toContain('does not match the kind');
    await refused(400, VPCS, { method: 'POST', body: JSON.stringify({ ...vpc('k'), apiVersion: 'network.photoncloud.io/v2' }) });
    await refused(400, VPCS, { method: 'POST', body: JSON.stringify({ spec: {} }) });
    await refused(400, VPCS, { method: 'POST', body: JSON.stringify(vpc('k', undefined, { namespace: 'other' })) });
    await refused(400, `${VPCS}/existing`, { method: 'PUT', body: JSON.stringify(vpc('another')) });
    await refused(400, VPCS, { method: 'POST', body: JSON.stringify(vpc('withrv', undefined, { resourceVersion: '5' })) });
  });

  it('refuses bad query parameters with 400', async () => {
    await refused(400, `${VPCS}?limit=abc`, { method: 'GET' });
    await refused(400, `${VPCS}?labelSelector=${encodeURIComponent('a in (b')}`, { method: 'GET' });
    const field = await refused(400, `${VPCS}?fieldSelector=spec.colour%3Dred`, { method: 'GET' });
    expect(field.body.message).toBe('field label not supported: spec.colour');
    await refused(400, `${VPCS}?continue=not-a-token`, { method: 'GET' });
    await refused(400, `${VPCS}?dryRun=Some`, { method: 'POST', body: JSON.stringify(vpc('dry')) });
    await refused(400, `${VPCS}?resourceVersion=abc`, { method: 'GET' });
    await refused(400, `${VPCS}/existing?force=true`, { method: 'PATCH', body: '{}', headers: { 'Content-Type': 'application/merge-patch+json' } });
  });

  it('refuses malformed and failing patches without writing', async () => {
    await refused(400, `${VPCS}/existing`, { method: 'PATCH', body: '{"op":"add"}', headers: { 'Content-Type': 'application/json-patch+json' } });
    await refused(400, `${VPCS}/existing`, { method: 'PATCH', body: '[{"op":"jump","path":"/spec"}]', headers: { 'Content-Type': 'application/json-patch+json' } });
    await refused(422, `${VPCS}/existing`, { method: 'PATCH', body: '[{"op":"remove","path":"/spec/nothing"}]', headers: { 'Content-Type': 'application/json-patch+json' } });
    await refused(422, `${VPCS}/existing`, { method: 'PATCH', body: '{"spec":{"cidrBlocks":"not-a-list"}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    await refused(400, `${VPCS}/existing`, { method: 'PATCH', body: '{"metadata":{"name":"renamed"}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    await refused(400, `${VPCS}/existing`, { method: 'PATCH', body: 'kind: Vpc', headers: { 'Content-Type': 'application/apply-patch+yaml' } });
  });

  it('refuses changes to immutable fields with 422', async () => {
    const result = await refused(422, `${SUBNETS}/web`, { method: 'PATCH', body: '{"spec":{"cidr":"10.0.2.0/24"}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(result.body.details.causes[0]).toMatchObject({ field: 'spec.cidr', reason: 'FieldValueInvalid' });
    expect(result.body.message).toContain('immutable');
  });

  it('refuses CIDRs with host bits with 422 naming the field and the network', async () => {
    const subnet = await refused(422, SUBNETS, { method: 'POST', body: networkObject('Subnet', 'hosty', { vpcRef: 'existing', cidr: '10.0.5.7/24' }) });
    expect(subnet.body.details.causes).toEqual([{ field: 'spec.cidr', reason: 'FieldValueInvalid', message: 'Invalid value: "10.0.5.7/24": has host bits set; the network is 10.0.5.0/24' }]);
    expect(subnet.body.message).toBe('Subnet.network.photoncloud.io "hosty" is invalid: spec.cidr: Invalid value: "10.0.5.7/24": has host bits set; the network is 10.0.5.0/24');
    const blocks = await refused(422, VPCS, { method: 'POST', body: JSON.stringify(vpc('hosty', { cidrBlocks: ['10.0.0.0/16', '10.1.0.1/16'] })) });
    expect(blocks.body.details.causes.map((cause: { field: string }) => cause.field)).toEqual(['spec.cidrBlocks[1]']);
    // The same update to the stored Vpc is refused too, and a dry run answers the same.
    await refused(422, `${VPCS}/existing?dryRun=All`, { method: 'PATCH', body: '{"spec":{"staticRoutes":[{"destination":"192.168.0.1/16","nextHop":"10.0.1.9"}]}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
  });

  it('admits references to objects that do not exist yet: creation order does not matter', async () => {
    const port = await api.request(PORTS, { method: 'POST', body: networkObject('Port', 'early', { subnetRef: 'web', securityGroupRefs: ['not-yet'] }) });
    expect(port.status).toBe(201);
    expect(port.json().spec.securityGroupRefs).toEqual(['not-yet']);
    const orphan = await api.request(PORTS, { method: 'POST', body: networkObject('Port', 'no-subnet', { subnetRef: 'not-yet', ipAddress: '10.99.0.5' }) });
    expect(orphan.status).toBe(201);
    const subnet = await api.request(SUBNETS, { method: 'POST', body: networkObject('Subnet', 'no-vpc', { vpcRef: 'not-yet', cidr: '172.16.0.0/24' }) });
    expect(subnet.status).toBe(201);
  });

  it('refuses new children of a parent being deleted with 403, but not updates of existing children', async () => {
    const hold = { finalizers: ['test.photoncloud.io/hold'] };
    expect((await api.request(VPCS, { method: 'POST', body: JSON.stringify(vpc('prod', { cidrBlocks: ['10.20.0.0/16'] }, hold)) })).status).toBe(201);
    expect((await api.request(SUBNETS, { method: 'POST', body: networkObject('Subnet', 'before', { vpcRef: 'prod', cidr: '10.20.1.0/24' }, hold) })).status).toBe(201);
    // Deleting waits on our finalizer: both stay, terminating. A list answers only once the watch cache (which
    // admission reads) has caught up with the store, so no waiting is needed after it.
    expect((await api.request(`${VPCS}/prod`, { method: 'DELETE' })).status).toBe(200);
    expect((await api.request(`${SUBNETS}/before`, { method: 'DELETE' })).status).toBe(200);
    const listed = (await api.request(`${VPCS}?fieldSelector=metadata.name%3Dprod`)).json();
    expect(listed.items[0].metadata.deletionTimestamp).toBeDefined();

    const subnet = await refused(403, SUBNETS, { method: 'POST', body: networkObject('Subnet', 'late', { vpcRef: 'prod', cidr: '10.20.2.0/24' }) });
    expect(subnet.body).toMatchObject({
      reason: 'Forbidden',
      message: 'unable to create Subnet "late": Vpc "prod" is being deleted',
      details: { name: 'late', group: 'network.photoncloud.io', kind: 'subnets', causes: [{ reason: 'ParentTerminating', field: 'spec.vpcRef', message: 'Vpc "prod" is being deleted' }] },
    });
    await refused(403, `${SUBNETS}?dryRun=All`, { method: 'POST', body: networkObject('Subnet', 'late', { vpcRef: 'prod', cidr: '10.20.2.0/24' }) });
    const port = await refused(403, PORTS, { method: 'POST', body: networkObject('Port', 'late', { subnetRef: 'before' }) });
    expect(port.body.message).toBe('unable to create Port "late": Subnet "before" is being deleted');
    expect(port.body.details).toMatchObject({ kind: 'ports', causes: [{ field: 'spec.subnetRef' }] });

    // The existing child may still change (that is how its controller cleans it up), and then go.
    const labelled = await api.request(`${SUBNETS}/before`, { method: 'PATCH', body: '{"metadata":{"labels":{"state":"leaving"}}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(labelled.status).toBe(200);
    for (const path of [`${SUBNETS}/before`, `${VPCS}/prod`]) {
      const released = await api.request(path, { method: 'PATCH', body: '{"metadata":{"finalizers":null}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
      expect(released.status).toBe(200);
      expect((await api.request(path)).status).toBe(404);
    }
  });

  it('writes nothing on dryRun=All but answers as if it had', async () => {
    const before = await env.server.store.currentRevision();
    const created = await api.request(`${VPCS}?dryRun=All`, { method: 'POST', body: JSON.stringify(vpc('dry')) });
    expect(created.status).toBe(201);
    expect(created.json().metadata.uid).toBeDefined();
    const patched = await api.request(`${VPCS}/existing?dryRun=All`, { method: 'PATCH', body: '{"spec":{"cidrBlocks":["10.9.0.0/16"]}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(patched.json().spec.cidrBlocks).toEqual(['10.9.0.0/16']);
    const deleted = await api.request(`${VPCS}/existing?dryRun=All`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await env.server.store.currentRevision()).toBe(before);
    expect((await api.request(`${VPCS}/dry`)).status).toBe(404);
    expect((await api.request(`${VPCS}/existing`)).json().spec.cidrBlocks).toEqual(['10.0.0.0/16']);
  });

  it('refuses anonymous and badly authenticated requests with 401, but serves health to anyone', async () => {
    const anonymous = await refused(401, VPCS, { method: 'GET', anonymous: true });
    expect(anonymous.body.reason).toBe('Unauthorized');
    await refused(401, VPCS, { method: 'GET', token: 'not-a-token' });
    expect((await api.request('/healthz', { anonymous: true })).text).toBe('ok');
    expect((await api.request('/readyz?verbose', { anonymous: true })).text).toContain('[+]storage ok');
    expect((await api.request('/version', { anonymous: true })).json()).toMatchObject({ major: '1', minor: '32' });
  });
});
