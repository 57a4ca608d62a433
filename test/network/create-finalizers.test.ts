// Finalizers added at create (apiserver/admission/controller-finalizers.ts), with the controller manager
// as production runs it (leader election on its Lease) on a real API server, etcd and OVN: while it leads,
// a Vpc, Subnet, SecurityGroup and Port are created with their OVN finalizer, and a Port then costs two API
// writes (create, status) instead of three; re-applying a manifest (server-side) keeps it; a deleted Port
// still leaves OVN. Without a manager a Port is created without it and deleted at once; a manager that comes
// back adds it itself (objects made meanwhile).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isNotFound, LeaseResource, type Lease } from '../../apis/client/index.ts';
import { CONTROLLER_MANAGER_LEASE, HANDLED_FINALIZERS_ANNOTATION } from '../../apis/meta/finalizers.ts';
import { PortResource } from '../../apis/network/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { waitForAnnouncedFinalizers } from '../env/announced-finalizers.ts';
import { waitFor } from '../env/process.ts';
import { create, namespace, portAddress, startNetworkEnv, waitReady, type NetworkEnv } from './harness.ts';

const OVN_FINALIZER = 'network.photoncloud.io/ovn';
const NS = 'finalizers';

let env: NetworkEnv;

/** Successful writes of ports and ports/status so far (apiserver_request_total). */
async function portWrites(): Promise<{ ports: number; status: number }> {
  const text = await env.api.server.metrics.registry.metrics();
  const sum = (subresource: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith('apiserver_request_total{') && line.includes('resource="ports"') && /verb="(CREATE|UPDATE|PATCH)"/.test(line) && /code="2\d\d"/.test(line) && line.includes(`subresource="${subresource}"`))
      .reduce((total, line) => total + Number(line.split(' ').pop()), 0);
  return { ports: sum(''), status: sum('status') };
}

/** Reconcile passes of the Port controller so far (every result: Ready, not ready, errors, conflicts). */
async function portPasses(): Promise<number> {
  const metric = await env.manager!.registry.getSingleMetric('photon_controller_reconcile_total')!.get();
  return metric.values.filter((value) => value.labels.controller === 'port-controller').reduce((total, value) => total + value.value, 0);
}

const lspNamed = async (name: string) => (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=name', 'find', 'Logical_Switch_Port', `name=${name}`)).trim();

beforeAll(async () => {
  env = await startNetworkEnv({ leaderElect: true });
  await namespace(env, NS);
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe('finalizers added at create', () => {
  it('while the manager leads, every network kind is created with its finalizer, and a Port takes two writes and one pass to Ready', async () => {
    const kinds = ['ports', 'securitygroups', 'subnets', 'vpcs'].map((plural) => `${plural}.network.photoncloud.io`);
    const announced = await waitForAnnouncedFinalizers(env.client, kinds);
    for (const kind of kinds) expect(announced.get(kind)).toEqual([OVN_FINALIZER]);

    const vpc = await create(env, 'Vpc', NS, 'main', { cidrBlocks: ['10.0.0.0/16'] });
    const subnet = await create(env, 'Subnet', NS, 'web', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    const group = await create(env, 'SecurityGroup', NS, 'open', { ingress: [{ protocol: 'TCP', ports: '22', from: { cidr: '0.0.0.0/0' } }] });
    for (const object of [vpc, subnet, group]) expect(object.metadata.finalizers).toEqual([OVN_FINALIZER]);
    await waitReady(env, 'Subnet', NS, 'web');

    const before = await portWrites();
    const passesBefore = await portPasses();
    const ports = await Promise.all(['a', 'b', 'c'].map((name) => create(env, 'Port', NS, name, { subnetRef: 'web' })));
    for (const port of ports) expect(port.metadata.finalizers).toEqual([OVN_FINALIZER]);
    for (const port of ports) await waitReady(env, 'Port', NS, port.metadata.name!);
    const after = await portWrites();
    expect({ ports: after.ports - before.ports, status: after.status - before.status }).toEqual({ ports: 3, status: 3 });
    // And one reconcile each: the watch event of the controller's own status write is not another pass.
    expect(await portPasses()).toBe(passesBefore + 3);

    // GitOps re-applies the same manifest: the finalizer, which the manifest does not name, stays (it was
    // added after the applier's fields were recorded, so re-applying without it does not remove it).
    const manifest = JSON.stringify({ apiVersion: PortResource.apiVersion, kind: 'Port', metadata: { name: 'applied', namespace: NS }, spec: { subnetRef: 'web' } });
    for (let round = 0; round < 2; round++) kubectlOk(await env.api.kubectl(['apply', '--server-side', '-f', '-'], { stdin: manifest }));
    const applied = await waitReady(env, 'Port', NS, 'applied');
    expect(applied.metadata.finalizers).toEqual([OVN_FINALIZER]);

    // The finalizer still does its job: a deleted Port leaves OVN before it leaves the API.
    const { uid } = portAddress(await waitReady(env, 'Port', NS, 'a'));
    expect(await lspNamed(uid)).not.toBe('');
    await env.client.delete(PortResource, 'a', { namespace: NS });
    await waitFor('the Port to be gone', () => env.client.get(PortResource, 'a', { namespace: NS }).then(() => false, (error: unknown) => (isNotFound(error) ? true : Promise.reject(error))), { timeoutMs: 30_000, intervalMs: 100 });
    expect(await lspNamed(uid)).toBe('');
  });

  it('without a manager a Port is created without it and deleted at once; a manager that comes back adds it itself', async () => {
    await env.stopControllers(); // releases the Lease: its announcement goes with it
    const lease = await env.client.get<Lease>(LeaseResource, CONTROLLER_MANAGER_LEASE.name, { namespace: CONTROLLER_MANAGER_LEASE.namespace });
    expect(lease.metadata.annotations?.[HANDLED_FINALIZERS_ANNOTATION]).toBeUndefined();

    const gone = await create(env, 'Port', NS, 'unmanaged-gone', { subnetRef: 'web' });
    expect(gone.metadata.finalizers).toBeUndefined();
    await env.client.delete(PortResource, 'unmanaged-gone', { namespace: NS });
    await expect(env.client.get(PortResource, 'unmanaged-gone', { namespace: NS })).rejects.toMatchObject({ code: 404 });

    const later = await create(env, 'Port', NS, 'unmanaged', { subnetRef: 'web' });
    expect(later.metadata.finalizers).toBeUndefined();
    env.startControllers();
    const port = await waitReady(env, 'Port', NS, 'unmanaged', 60_000);
    expect(port.metadata.finalizers).toEqual([OVN_FINALIZER]);
  });
});
