// Status and finalizer helpers against a real API server (embedded store): status writes only when changed
// and compare-and-swap on resourceVersion; finalizer patches that never clobber another controller's.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../../apis/client/index.ts';
import { VpcResource, type Vpc } from '../../../apis/network/v1alpha1/index.ts';
import { ensureFinalizer, removeFinalizer, writeStatusIfChanged } from '../../../controllers/runtime/index.ts';
import { setCondition } from '../../../apis/meta/conditions.ts';
import { startTestApiServer, type TestApiServer } from '../../env/apiserver.ts';

const NS = 'helpers-test';

describe('status and finalizer helpers', () => {
  let env: TestApiServer;
  let client: ApiClient;

  const create = (name: string) => client.create(VpcResource, { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } } as Vpc);
  const get = (name: string) => client.get<Vpc>(VpcResource, name, { namespace: NS });

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'embedded' });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'helpers-test' });
    await client.create(NamespaceResource, { metadata: { name: NS } });
  });

  afterAll(async () => {
    client?.close();
    await env?.stop();
  });

  it('writeStatusIfChanged writes once, skips an identical status, and refuses a stale view with 409', async () => {
    const vpc = await create('status');
    const status = { observedGeneration: 1, conditions: setCondition([], { type: 'Ready', status: 'True', reason: 'Provisioned' }, 1), subnets: ['a', 'b'] };
    const first = await writeStatusIfChanged(client, VpcResource, vpc, status, { fieldManager: 'vpc-controller' });
    expect(first.changed).toBe(true);
    expect(first.object.status).toEqual(status);
    const again = await writeStatusIfChanged(client, VpcResource, first.object, structuredClone(status));
    expect(again.changed).toBe(false);
    expect((await get('status')).metadata.resourceVersion).toBe(first.object.metadata.resourceVersion);

    // Fields dropped from the new status are removed (the merge patch carries null for them).
    const { subnets: _subnets, ...withoutSubnets } = status;
    const dropped = await writeStatusIfChanged(client, VpcResource, first.object, withoutSubnets);
    expect(dropped.object.status).toEqual(withoutSubnets);

    // The old view is stale now: CAS refuses it.
    await expect(writeStatusIfChanged(client, VpcResource, first.object, { ...status, observedGeneration: 9 })).rejects.toMatchObject({ code: 409, reason: 'Conflict' });
    await expect(writeStatusIfChanged(client, VpcResource, first.object, { ...status, observedGeneration: 9 }, { method: 'put' })).rejects.toMatchObject({ code: 409, reason: 'Conflict' });
    const put = await writeStatusIfChanged(client, VpcResource, dropped.object, { ...withoutSubnets, observedGeneration: 2 }, { method: 'put' });
    expect(put.object.status?.observedGeneration).toBe(2);

    await client.delete(VpcResource, 'status', { namespace: NS });
    expect(await writeStatusIfChanged(client, VpcResource, put.object, { observedGeneration: 3 })).toMatchObject({ changed: false, notFound: true });
  });

  it('ensureFinalizer / removeFinalizer never clobber a finalizer another controller added meanwhile', async () => {
    const vpc = await create('finalized');
    // Controller A read the object (no finalizers); controller B adds its finalizer first.
    const staleView = structuredClone(vpc);
    const added = await ensureFinalizer(client, VpcResource, vpc, 'other.photoncloud.io/b');
    expect(added?.metadata.finalizers).toEqual(['other.photoncloud.io/b']);
    await expect(ensureFinalizer(client, VpcResource, staleView, 'network.photoncloud.io/a')).rejects.toMatchObject({ code: 409, reason: 'Conflict' });
    expect((await get('finalized')).metadata.finalizers).toEqual(['other.photoncloud.io/b']);

    // With a fresh view A's finalizer is appended; a second ensure is a no-op.
    const both = await ensureFinalizer(client, VpcResource, await get('finalized'), 'network.photoncloud.io/a');
    expect(both?.metadata.finalizers).toEqual(['other.photoncloud.io/b', 'network.photoncloud.io/a']);
    expect(await ensureFinalizer(client, VpcResource, both!, 'network.photoncloud.io/a')).toBeUndefined();

    // B removes its own (index 0); A's view still has A at index 1: the test op catches the shift.
    const viewOfA = structuredClone(both!);
    await removeFinalizer(client, VpcResource, both!, 'other.photoncloud.io/b');
    await expect(removeFinalizer(client, VpcResource, viewOfA, 'network.photoncloud.io/a')).rejects.toMatchObject({ code: 409, reason: 'Conflict' });
    expect((await get('finalized')).metadata.finalizers).toEqual(['network.photoncloud.io/a']);

    // Deleting waits for A; removing A's finalizer lets the object go.
    await client.delete(VpcResource, 'finalized', { namespace: NS });
    const deleting = await get('finalized');
    expect(deleting.metadata.deletionTimestamp).toBeTruthy();
    await removeFinalizer(client, VpcResource, deleting, 'network.photoncloud.io/a');
    await expect(get('finalized')).rejects.toMatchObject({ code: 404 });
    // Removing from an object that is gone is not an error.
    expect(await removeFinalizer(client, VpcResource, deleting, 'network.photoncloud.io/a')).toBeUndefined();
  });
});
