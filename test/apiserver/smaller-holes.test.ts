// Issue 7, class 10 (the smaller holes; credential files, etcd TLS and ssl: OVSDB have their own tests, and
// watch timeoutSeconds is in watch-memory.test.ts): protobuf bodies went around the `__proto__` key guard,
// and `deletecollection` on namespaces deleted some before refusing a system namespace.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';

let server: ApiServerProcess;

beforeAll(async () => {
  server = await startApiServerProcess();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** A length-delimited protobuf field. */
const field = (number: number, bytes: Buffer) => Buffer.concat([Buffer.from([(number << 3) | 2]), varint(bytes.length), bytes]);
function varint(value: number): Buffer {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return Buffer.from(out);
}

/** A ConfigMap as kubectl encodes it (k8s\0 envelope, typeMeta, raw), with the given data entries. */
function protobufConfigMap(name: string, data: Record<string, string>): Buffer {
  const metadata = field(1, Buffer.from(name)); // ObjectMeta.name
  const entries = Object.entries(data).map(([key, value]) => field(2, Buffer.concat([field(1, Buffer.from(key)), field(2, Buffer.from(value))])));
  const raw = Buffer.concat([field(1, metadata), ...entries]);
  const typeMeta = Buffer.concat([field(1, Buffer.from('v1')), field(2, Buffer.from('ConfigMap'))]);
  return Buffer.concat([Buffer.from('k8s\0'), field(1, typeMeta), field(2, raw)]);
}

const createNamespace = (name: string) => server.client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) });

describe('smaller holes', () => {
  it('refuses "__proto__" keys in protobuf bodies, as in JSON and YAML', async () => {
    expect((await createNamespace('proto')).status).toBe(201);
    const path = '/api/v1/namespaces/proto/configmaps';
    const ok = await server.client.request(path, { method: 'POST', body: protobufConfigMap('fine', { a: 'b' }), headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' } });
    expect(ok.status).toBe(201);
    expect(ok.json().data).toEqual({ a: 'b' });
    // The data map's entry key is `__proto__` (protobuf map entries carry the key as a string field).
    const protoEntry = field(2, Buffer.concat([field(1, Buffer.from('__proto__')), field(2, Buffer.from('x'))]));
    const typeMeta = Buffer.concat([field(1, Buffer.from('v1')), field(2, Buffer.from('ConfigMap'))]);
    const polluted = Buffer.concat([Buffer.from('k8s\0'), field(1, typeMeta), field(2, Buffer.concat([field(1, field(1, Buffer.from('polluted'))), protoEntry]))]);
    const refused = await server.client.request(path, { method: 'POST', body: polluted, headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' } });
    expect(refused.status).toBe(400);
    expect(refused.json().message).toBe('field name "__proto__" is not allowed');
    expect((await server.client.request(`${path}/polluted`)).status).toBe(404);
  });

  it('refuses a namespace deletecollection that includes a system namespace before deleting any', async () => {
    for (const name of ['doomed-a', 'doomed-b', 'doomed-c']) expect((await createNamespace(name)).status).toBe(201);
    const response = await server.client.request('/api/v1/namespaces', { method: 'DELETE' });
    expect(response.status).toBe(403);
    expect(response.json().message).toMatch(/may not be deleted; nothing was deleted/);
    for (const name of ['doomed-a', 'doomed-b', 'doomed-c']) {
      const namespace = (await server.client.request(`/api/v1/namespaces/${name}`)).json();
      expect(namespace.metadata.deletionTimestamp).toBeUndefined();
      expect(namespace.status.phase).toBe('Active');
    }
    // A selector that leaves the system namespaces out still works.
    await server.client.request('/api/v1/namespaces/doomed-a', { method: 'PATCH', body: JSON.stringify({ metadata: { labels: { doomed: 'yes' } } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    const selected = await server.client.request('/api/v1/namespaces?labelSelector=doomed%3Dyes', { method: 'DELETE' });
    expect(selected.status).toBe(200);
    expect((await server.client.request('/api/v1/namespaces/doomed-b')).json().metadata.deletionTimestamp).toBeUndefined();
  });
});
