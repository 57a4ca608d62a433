// Lists on the embedded store (the etcd paths are shared and covered by the kubectl suite): pagination
// whose pages all come from the first page's revision, selectors with limits, exact-revision reads,
// continue tokens outliving compaction, Table and metadata-only representations.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { ApiClient } from '../env/http.ts';

const NS = 'lists';
const VPCS = `/apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/vpcs`;
const vpc = (name: string, labels: Record<string, string>) => JSON.stringify({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, labels }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
const names = (list: { items: Array<{ metadata: { name: string } }> }) => list.items.map((item) => item.metadata.name);

describe('list', () => {
  let env: TestApiServer;
  let api: ApiClient;

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    api = new ApiClient(env);
    await api.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }) });
    for (let index = 0; index < 25; index++) {
      const name = `vpc-${String(index).padStart(2, '0')}`;
      const result = await api.request(VPCS, { method: 'POST', body: vpc(name, { parity: index % 2 ? 'odd' : 'even' }) });
      expect(result.status).toBe(201);
    }
  });
  afterAll(async () => {
    api?.close();
    await env?.stop();
  });

  it('pages with limit/continue, every page read at the first page revision', async () => {
    const first = (await api.request(`${VPCS}?limit=10`)).json();
    expect(names(first)).toHaveLength(10);
    expect(first.metadata.continue).toBeTruthy();
    // Changes after the first page must not leak into later pages.
    await api.request(VPCS, { method: 'POST', body: vpc('vpc-99-late', { parity: 'odd' }) });
    await api.request(`${VPCS}/vpc-24`, { method: 'DELETE' });
    const second = (await api.request(`${VPCS}?limit=10&continue=${first.metadata.continue}`)).json();
    const third = (await api.request(`${VPCS}?limit=10&continue=${second.metadata.continue}`)).json();
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect(third.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    expect(third.metadata.continue).toBeUndefined();
    const all = [...names(first), ...names(second), ...names(third)];
    expect(all).toEqual(Array.from({ length: 25 }, (_, index) => `vpc-${String(index).padStart(2, '0')}`));
    // A fresh list sees the changes.
    const now = (await api.request(VPCS)).json();
    expect(names(now)).toContain('vpc-99-late');
    expect(names(now)).not.toContain('vpc-24');
    await api.request(`${VPCS}/vpc-99-late`, { method: 'DELETE' });
    await api.request(VPCS, { method: 'POST', body: vpc('vpc-24', { parity: 'even' }) });
  });

  it('fills pages with selector matches and reads exact revisions', async () => {
    const odd = (await api.request(`${VPCS}?labelSelector=parity%3Dodd&limit=5`)).json();
    expect(names(odd)).toEqual(['vpc-01', 'vpc-03', 'vpc-05', 'vpc-07', 'vpc-09']);
    const rest = (await api.request(`${VPCS}?labelSelector=parity%3Dodd&limit=100&continue=${odd.metadata.continue}`)).json();
    expect(names(rest)).toEqual(['vpc-11', 'vpc-13', 'vpc-15', 'vpc-17', 'vpc-19', 'vpc-21', 'vpc-23']);
    const byName = (await api.request(`${VPCS}?fieldSelector=metadata.name%3Dvpc-07`)).json();
    expect(names(byName)).toEqual(['vpc-07']);
    const notName = (await api.request(`${VPCS}?fieldSelector=metadata.name!%3Dvpc-07&labelSelector=parity%3Dodd`)).json();
    expect(names(notName)).not.toContain('vpc-07');
    const before = (await api.request(VPCS)).json();
    await api.request(`${VPCS}/vpc-00`, { method: 'PATCH', body: '{"metadata":{"labels":{"parity":"changed"}}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    const exact = (await api.request(`${VPCS}?resourceVersion=${before.metadata.resourceVersion}&resourceVersionMatch=Exact&labelSelector=parity%3Deven`)).json();
    expect(names(exact)).toContain('vpc-00');
    const current = (await api.request(`${VPCS}?labelSelector=parity%3Deven`)).json();
    expect(names(current)).not.toContain('vpc-00');
  });

  it('refuses a continue token whose revision was compacted with 410', async () => {
    const first = (await api.request(`${VPCS}?limit=3`)).json();
    await api.request(`${VPCS}/vpc-01`, { method: 'PATCH', body: '{"metadata":{"labels":{"touched":"yes"}}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    await env.server.store.compact(await env.server.store.currentRevision());
    const next = await api.request(`${VPCS}?limit=3&continue=${first.metadata.continue}`);
    expect(next.status).toBe(410);
    expect(next.json()).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
  });

  it('renders Table rows (priority columns kept for -o wide) and metadata-only lists', async () => {
    const table = (await api.request(`${VPCS}?limit=2`, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json' } })).json();
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((column: { name: string; priority: number }) => `${column.name}:${column.priority}`)).toEqual(['Name:0', 'CIDRs:0', 'Subnets:1', 'Reason:1', 'Deleting:1', 'Ready:0', 'Age:0']);
    expect(table.rows).toHaveLength(2);
    expect(table.rows[0].cells[0]).toBe('vpc-00');
    // A list prints comma-separated, not as JSON.
    expect(table.rows[0].cells[1]).toBe('10.0.0.0/16');
    expect(table.rows[0].cells[6]).toMatch(/^\d+s$/);
    expect(table.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'vpc-00' } });
    expect(table.metadata.continue).toBeTruthy();
    const full = (await api.request(`${VPCS}?limit=1&includeObject=Object`, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } })).json();
    expect(full.rows[0].object).toMatchObject({ kind: 'Vpc', spec: { cidrBlocks: ['10.0.0.0/16'] } });
    const partial = (await api.request(VPCS, { headers: { Accept: 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io' } })).json();
    expect(partial.kind).toBe('PartialObjectMetadataList');
    expect(partial.items[0]).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: expect.objectContaining({ name: 'vpc-00' }) });
  });

  it('lists across namespaces and cluster-scoped kinds', async () => {
    const everywhere = (await api.request('/apis/network.photoncloud.io/v1alpha1/vpcs?labelSelector=parity')).json();
    expect(everywhere.items.length).toBeGreaterThanOrEqual(25);
    expect(everywhere.kind).toBe('VpcList');
    const namespaces = (await api.request('/api/v1/namespaces')).json();
    expect(names(namespaces)).toEqual(expect.arrayContaining(['default', 'photon-system', NS]));
    const active = (await api.request('/api/v1/namespaces?fieldSelector=status.phase%3DActive')).json();
    expect(names(active)).toContain(NS);
  });
});
