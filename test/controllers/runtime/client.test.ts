// apis/client against a real API server on etcd: CRUD, status, merge/JSON/apply patches, paginated lists,
// watches (events, bookmarks, 410 as an error carrying the code), error classes, and no token in errors.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import util from 'node:util';
import {
  ApiClient,
  ApiStatusError,
  clientFromKubeconfig,
  ConfigMapResource,
  EventResource,
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  LeaseResource,
  loadKubeconfig,
  NamespaceResource,
  SecretResource,
  type ConfigMap,
  type Lease,
  type Namespace,
  type Secret,
} from '../../../apis/client/index.ts';
import type { KubeObject, Status, WatchEvent } from '../../../apis/meta/types.ts';
import { VpcResource, type Vpc } from '../../../apis/network/v1alpha1/index.ts';
import { startTestApiServer, type TestApiServer } from '../../env/apiserver.ts';
import { waitFor } from '../../env/process.ts';

const NS = 'client-test';

function vpc(name: string, cidr = '10.0.0.0/16', labels: Record<string, string> = {}): Vpc {
  return { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, namespace: NS, labels }, spec: { cidrBlocks: [cidr] } };
}

async function rejection(promise: Promise<unknown>): Promise<ApiStatusError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiStatusError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('apis/client', () => {
  let env: TestApiServer;
  let client: ApiClient;

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd', overrides: { compactionPollMs: 200 } });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'client-test' });
    await client.create<Namespace>(NamespaceResource, { metadata: { name: NS } });
  });

  afterAll(async () => {
    client?.close();
    await env?.stop();
  });

  it('reads the kubeconfig: server, CA, token', () => {
    const connection = loadKubeconfig(env.kubeconfig);
    expect(connection.server).toBe(env.url);
    expect(connection.caPem).toBe(env.server.caCertificatePem);
    expect(connection.token).toBe(env.server.adminToken);
    expect(client.userAgent).toBe('photon/client-test');
    // The token never shows when the client is logged or inspected.
    expect(util.inspect(client)).not.toContain(env.server.adminToken);
    expect(JSON.stringify(client)).not.toContain(env.server.adminToken);
  });

  it('creates, gets, updates, updates status and deletes a Vpc', async () => {
    const created = await client.create(VpcResource, vpc('crud'));
    expect(created.metadata.uid).toBeTruthy();
    expect(created.metadata.generation).toBe(1);
    const fetched = await client.get<Vpc>(VpcResource, 'crud', { namespace: NS });
    expect(fetched.spec.cidrBlocks).toEqual(['10.0.0.0/16']);

    fetched.spec.cidrBlocks = ['10.0.0.0/16', '10.1.0.0/16'];
    const updated = await client.update(VpcResource, fetched);
    expect(updated.metadata.generation).toBe(2);
    // The old resourceVersion is stale now: compare-and-swap refuses it.
    const stale = await rejection(client.update(VpcResource, fetched));
    expect(stale.code).toBe(409);
    expect(isConflict(stale)).toBe(true);
    expect(stale.request).toBe(`PUT /apis/network.photoncloud.io/v1alpha1/namespaces/${NS}/vpcs/crud`);

    const withStatus = await client.updateStatus(VpcResource, { ...updated, status: { observedGeneration: 2, conditions: [] } });
    expect(withStatus.status?.observedGeneration).toBe(2);
    expect(withStatus.metadata.generation).toBe(2);

    const deleted = (await client.delete(VpcResource, 'crud', { namespace: NS, propagationPolicy: 'Background' })) as Status;
    expect(deleted.kind).toBe('Status');
    expect(deleted.status).toBe('Success');
    expect(isNotFound(await rejection(client.get(VpcResource, 'crud', { namespace: NS })))).toBe(true);
  });

  it('patches: merge, JSON (with test), apply, and status', async () => {
    await client.create(VpcResource, vpc('patched'));
    const merged = await client.patch<Vpc>(VpcResource, 'patched', { metadata: { labels: { tier: 'web' } } }, { namespace: NS });
    expect(merged.metadata.labels).toEqual({ tier: 'web' });

    const json = await client.patch<Vpc>(
      VpcResource,
      'patched',
      [
        { op: 'test', path: '/metadata/labels/tier', value: 'web' },
        { op: 'add', path: '/metadata/finalizers', value: ['network.photoncloud.io/test'] },
      ],
      { namespace: NS, type: 'json' },
    );
    expect(json.metadata.finalizers).toEqual(['network.photoncloud.io/test']);
    // A failed test op leaves the object alone (422 from the server).
    const failed = await rejection(client.patch(VpcResource, 'patched', [{ op: 'test', path: '/metadata/labels/tier', value: 'db' }, { op: 'remove', path: '/metadata/finalizers' }], { namespace: NS, type: 'json' }));
    expect(isInvalid(failed)).toBe(true);
    expect((await client.get<Vpc>(VpcResource, 'patched', { namespace: NS })).metadata.finalizers).toEqual(['network.photoncloud.io/test']);

    // Apply creates what does not exist; a second apply by the same manager replaces what it owns.
    const createdByApply = await client.patch<Vpc>(VpcResource, 'applied', { metadata: { namespace: NS }, spec: { cidrBlocks: ['10.8.0.0/16'] } }, { namespace: NS, type: 'apply', fieldManager: 'client-test' });
    expect(createdByApply.metadata.uid).toBeTruthy();
    const applied = await client.patch<Vpc>(VpcResource, 'applied', { spec: { cidrBlocks: ['10.9.0.0/16'] } }, { namespace: NS, type: 'apply', fieldManager: 'client-test', force: true });
    expect(applied.spec.cidrBlocks).toEqual(['10.9.0.0/16']);
    expect(applied.metadata.managedFields?.some((entry) => entry.manager === 'client-test' && entry.operation === 'Apply')).toBe(true);

    const status = await client.patch<Vpc>(VpcResource, 'patched', { status: { observedGeneration: 7 }, spec: { cidrBlocks: ['10.7.0.0/16'] } }, { namespace: NS, subresource: 'status' });
    expect(status.status?.observedGeneration).toBe(7);
    expect(status.spec.cidrBlocks).toEqual(['10.0.0.0/16']); // /status writes change only status

    // A patch carrying a stale resourceVersion is a conflict.
    const conflict = await rejection(client.patch(VpcResource, 'patched', { metadata: { resourceVersion: merged.metadata.resourceVersion, labels: { x: 'y' } } }, { namespace: NS }));
    expect(isConflict(conflict)).toBe(true);

    // Deleting with finalizers keeps the object (with deletionTimestamp) until they are removed.
    const deleting = (await client.delete<Vpc>(VpcResource, 'patched', { namespace: NS })) as Vpc;
    expect(deleting.metadata.deletionTimestamp).toBeTruthy();
    await client.patch(VpcResource, 'patched', [{ op: 'remove', path: '/metadata/finalizers/0' }], { namespace: NS, type: 'json' });
    await waitFor('patched gone', async () => isNotFound(await rejection(client.get(VpcResource, 'patched', { namespace: NS }))));
  });

  it('reports errors as ApiStatusError with code, reason and the Status body', async () => {
    await client.create(VpcResource, vpc('dup'));
    const exists = await rejection(client.create(VpcResource, vpc('dup')));
    expect(exists.code).toBe(409);
    expect(exists.reason).toBe('AlreadyExists');
    expect(isAlreadyExists(exists)).toBe(true);
    expect(isConflict(exists)).toBe(false);
    expect(exists.status.details?.name).toBe('dup');

    const invalid = await rejection(client.create(VpcResource, { ...vpc('bad'), spec: { cidrBlocks: ['not-a-cidr'] } }));
    expect(invalid.code).toBe(422);
    expect(invalid.status.details?.causes?.[0]?.field).toContain('spec.cidrBlocks');

    const precondition = await rejection(client.delete(VpcResource, 'dup', { namespace: NS, preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }));
    expect(isConflict(precondition)).toBe(true);

    const notFound = await rejection(client.get(VpcResource, 'missing', { namespace: NS }));
    expect(notFound.message).toBe('vpcs.network.photoncloud.io "missing" not found');
    expect(notFound.reason).toBe('NotFound');

    // A name is one path segment, sent as it is: `..` is refused by the server, never resolved into the
    // collection's path (a get that would have answered a list).
    for (const name of ['..', '.']) {
      const dotted = await rejection(client.get(VpcResource, name, { namespace: NS }));
      expect([dotted.code, dotted.message]).toEqual([400, `invalid path segment "${name}": may not be '${name}'`]);
    }

    // A bad token: 401, and neither token shows in the error.
    const connection = loadKubeconfig(env.kubeconfig);
    const intruder = new ApiClient({ ...connection, token: 'not-the-token-0123456789' });
    try {
      const unauthorized = await rejection(intruder.get(VpcResource, 'dup', { namespace: NS }));
      expect(unauthorized.code).toBe(401);
      const rendered = `${unauthorized.message} ${unauthorized.stack} ${JSON.stringify(unauthorized)} ${util.inspect(unauthorized)}`;
      expect(rendered).not.toContain('not-the-token-0123456789');
      expect(rendered).not.toContain(env.server.adminToken);
    } finally {
      intruder.close();
    }
    // The client's own timeout.
    await expect(client.get(VpcResource, 'dup', { namespace: NS, timeoutMs: 1 })).rejects.toThrow(/no answer within 1 ms/);
  });

  it('names writes with the default fieldManager, or the User-Agent product when there is none', async () => {
    const named = clientFromKubeconfig(env.kubeconfig, { component: 'vpc-controller', fieldManager: 'vpc-controller' });
    try {
      const created = await named.create(VpcResource, vpc('managed'));
      expect(created.metadata.managedFields?.map((entry) => entry.manager)).toEqual(['vpc-controller']);
      const patched = await client.patch<Vpc>(VpcResource, 'managed', { metadata: { labels: { a: 'b' } } }, { namespace: NS });
      expect(patched.metadata.managedFields?.map((entry) => entry.manager).sort()).toEqual(['photon', 'vpc-controller']);
    } finally {
      named.close();
    }
  });

  it('lists with selectors and follows continue', async () => {
    const ns = 'client-list';
    await client.create<Namespace>(NamespaceResource, { metadata: { name: ns } });
    for (let i = 0; i < 7; i++) await client.create(VpcResource, { ...vpc(`v${i}`, '10.0.0.0/16', { parity: i % 2 ? 'odd' : 'even' }), metadata: { name: `v${i}`, namespace: ns, labels: { parity: i % 2 ? 'odd' : 'even' } } });
    const page = await client.list<Vpc>(VpcResource, { namespace: ns, limit: 3 });
    expect(page.items).toHaveLength(3);
    expect(page.metadata.continue).toBeTruthy();
    const all = await client.listAll<Vpc>(VpcResource, { namespace: ns, pageSize: 2 });
    expect(all.items.map((item) => item.metadata.name)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    expect(Number(all.metadata.resourceVersion)).toBeGreaterThan(0);
    const odd = await client.listAll<Vpc>(VpcResource, { namespace: ns, labelSelector: 'parity=odd' });
    expect(odd.items.map((item) => item.metadata.name)).toEqual(['v1', 'v3', 'v5']);
    const one = await client.list<Vpc>(VpcResource, { namespace: ns, fieldSelector: 'metadata.name=v4' });
    expect(one.items.map((item) => item.metadata.name)).toEqual(['v4']);
    const everywhere = await client.listAll<Vpc>(VpcResource, {});
    expect(everywhere.items.length).toBeGreaterThanOrEqual(7);
  });

  it('works with the built-in kinds: ConfigMap, Secret, Lease, Event, Namespace', async () => {
    const configMap = await client.create<ConfigMap>(ConfigMapResource, { metadata: { name: 'cm', namespace: NS }, data: { a: '1' } });
    expect(configMap.apiVersion).toBe('v1');
    const patched = await client.patch<ConfigMap>(ConfigMapResource, 'cm', { data: { b: '2' } }, { namespace: NS });
    expect(patched.data).toEqual({ a: '1', b: '2' });
    const secret = await client.create<Secret>(SecretResource, { metadata: { name: 's', namespace: NS }, stringData: { password: 'hunter2' } });
    expect(secret.metadata.name).toBe('s');
    const lease = await client.create<Lease>(LeaseResource, { metadata: { name: 'l', namespace: NS }, spec: { holderIdentity: 'me', leaseDurationSeconds: 15 } });
    expect(lease.spec?.holderIdentity).toBe('me');
    const event = await client.create(EventResource, {
      metadata: { name: 'e.1', namespace: NS },
      involvedObject: { kind: 'ConfigMap', name: 'cm', namespace: NS, uid: configMap.metadata.uid },
      type: 'Normal',
      reason: 'Tested',
      message: 'hello',
      count: 1,
    } as KubeObject);
    expect(event.metadata.uid).toBeTruthy();
    const namespace = await client.get<Namespace>(NamespaceResource, NS);
    expect(namespace.status?.phase).toBe('Active');
    await client.delete(ConfigMapResource, 'cm', { namespace: NS });
    await client.delete(SecretResource, 's', { namespace: NS });
    await client.delete(LeaseResource, 'l', { namespace: NS });
  });

  it('watches: events in order, bookmarks, close() resolves done', async () => {
    const ns = 'client-watch';
    await client.create<Namespace>(NamespaceResource, { metadata: { name: ns } });
    const list = await client.list<Vpc>(VpcResource, { namespace: ns });
    const events: Array<WatchEvent<Vpc>> = [];
    const handle = await client.watch<Vpc>(VpcResource, { namespace: ns, resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true }, (event) => events.push(event));
    await client.create(VpcResource, { ...vpc('w1'), metadata: { name: 'w1', namespace: ns } });
    await client.patch(VpcResource, 'w1', { metadata: { labels: { a: 'b' } } }, { namespace: ns });
    await client.delete(VpcResource, 'w1', { namespace: ns });
    await waitFor('three events', () => events.filter((event) => event.type !== 'BOOKMARK').length >= 3);
    expect(events.filter((event) => event.type !== 'BOOKMARK').map((event) => `${event.type} ${event.object.metadata.name}`)).toEqual(['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    await waitFor('a bookmark', () => events.some((event) => event.type === 'BOOKMARK'), { timeoutMs: 5000 });
    handle.close();
    await expect(handle.done).resolves.toBeUndefined();

    // timeoutSeconds: the server ends the stream, done resolves.
    const short = await client.watch(VpcResource, { namespace: ns, timeoutSeconds: 1 }, () => undefined);
    await expect(short.done).resolves.toBeUndefined();

    // An AbortSignal closes it too.
    const controller = new AbortController();
    const aborted = await client.watch(VpcResource, { namespace: ns, signal: controller.signal }, () => undefined);
    controller.abort();
    await expect(aborted.done).resolves.toBeUndefined();
  });

  it('surfaces 410 Expired (ERROR event) as an error carrying the code', async () => {
    const ns = 'client-expired';
    await client.create<Namespace>(NamespaceResource, { metadata: { name: ns } });
    const before = await client.list(VpcResource, { namespace: ns });
    await client.create(VpcResource, { ...vpc('x'), metadata: { name: 'x', namespace: ns } });
    await client.create(VpcResource, { ...vpc('y'), metadata: { name: 'y', namespace: ns } });
    await env.server.store.compact(await env.server.store.currentRevision());
    // The server polls compaction every 200 ms.
    const error = await waitFor(
      'a 410',
      async () => {
        let caught: unknown;
        try {
          const handle = await client.watch(VpcResource, { namespace: ns, resourceVersion: before.metadata.resourceVersion }, () => undefined);
          const timer = setTimeout(() => handle.close(), 1000);
          await handle.done;
          clearTimeout(timer);
        } catch (watchError) {
          caught = watchError;
        }
        return caught;
      },
      { timeoutMs: 10_000 },
    );
    expect(error).toBeInstanceOf(ApiStatusError);
    expect(isGone(error)).toBe(true);
    expect((error as ApiStatusError).code).toBe(410);
    expect((error as ApiStatusError).reason).toBe('Expired');
  });

  it('fails a watch when the server goes away mid-stream only as a normal end or an error, never silently', async () => {
    const handle = await client.watch(VpcResource, { namespace: NS, allowWatchBookmarks: true }, () => undefined);
    await env.restart();
    // The server's shutdown ends every watch cleanly (done resolves); a broken connection would reject.
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([handle.done.then(() => 'ended', () => 'failed'), new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), 5000)))]);
    clearTimeout(timer);
    expect(outcome).not.toBe('hung');
    // The same client works against the restarted server (same CA and token, fresh sockets).
    expect((await client.get<Namespace>(NamespaceResource, NS)).metadata.name).toBe(NS);
  });
});
