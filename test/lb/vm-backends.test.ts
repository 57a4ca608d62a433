// A LoadBalancer over real VirtualMachines (QEMU guests under TCG on a real OVN chassis, run by a real node
// agent): backends chosen by label among Running VMs, each guest serving HTTP with its own name (busybox
// httpd, user data "serve"); a client in another subnet reaches both through the VIP, a halted VM leaves the
// rotation (and status), a relabelled one leaves the pool, and deleting the LoadBalancer frees the VIP.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectlOk } from '../env/apiserver.ts';
import { COMPUTE_CONTROLLERS, guestImages, guestVm, startComputeEnv, waitConsole, waitVmStatus, type ComputeEnv } from '../env/compute.ts';
import { attachPort, type AttachedPort } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';
import { LoadBalancerResource } from '../../apis/lb/v1alpha1/index.ts';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { condition, connect, type LoadBalancerObject } from './harness.ts';

const NS = 'shop';
let env: ComputeEnv;
let client: AttachedPort;

const apply = async (...objects: object[]) => kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...objects) }));
const web = (name: string) => {
  const vm = guestVm(NS, name, { networks: [{ name: 'eth0', subnetRef: 'app' }], userData: `serve 8080 ${name}\n` }) as { metadata: Record<string, unknown> };
  vm.metadata.labels = { app: 'web' };
  return vm;
};
const getLb = () => env.client.get(LoadBalancerResource, 'web', { namespace: NS }) as Promise<LoadBalancerObject>;
const waitLb = (what: string, check: (lb: LoadBalancerObject) => boolean, timeoutMs = 60_000) =>
  waitFor(`LoadBalancer ${NS}/web: ${what}`, async () => {
    const lb = await getLb().catch(() => undefined);
    return lb && lb.status?.observedGeneration === lb.metadata.generation && check(lb) ? lb : undefined;
  }, { timeoutMs, intervalMs: 250 });
/** An HTTP GET through the VIP from the client host: the body (the guest's name), or undefined. */
const get = async (vip: string) => (await connectHttp(vip))?.trim();

async function connectHttp(vip: string): Promise<string | undefined> {
  const script = `require('http').get({ host: '${vip}', port: 80, path: '/', timeout: 3000 }, (res) => { let d = ''; res.on('data', (c) => d += c); res.on('end', () => { process.stdout.write(d); process.exit(0); }); }).on('error', () => process.exit(1)).on('timeout', () => process.exit(2));`;
  const result = await client.exec(process.execPath, ['-e', script], { timeoutMs: 8000 });
  return result.code === 0 ? result.stdout : undefined;
}

beforeAll(async () => {
  env = await startComputeEnv({ controllers: [...COMPUTE_CONTROLLERS, 'loadbalancer'] });
  const agent = await env.startAgent('hv-1', { cpu: 16, memory: '8Gi' });
  await env.namespace(NS);
  await apply(
    ...guestImages(env, NS),
    { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } },
    { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'app', namespace: NS }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } },
    { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'users', namespace: NS }, spec: { vpcRef: 'main', cidr: '10.0.2.0/24' } },
    { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Port', metadata: { name: 'client', namespace: NS }, spec: { subnetRef: 'users', ipAddress: '10.0.2.10' } },
    web('web-1'),
    web('web-2'),
  );
  const port = await waitFor('client Port addressed', async () => {
    const object = await env.client.get<Port>(PortResource, 'client', { namespace: NS });
    return object.status?.macAddress && condition(object as never, 'Ready')?.status === 'True' ? object : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  client = await attachPort(agent.chassis, { ifaceId: port.metadata.uid!, mac: port.status!.macAddress!, ip: '10.0.2.10/24', gateway: '10.0.2.1' });
  for (const name of ['web-1', 'web-2']) {
    await waitVmStatus(env, NS, name, 'Running', 120_000);
    await waitConsole(env, NS, name, 'photon-guest: serve 8080 ok', 120_000);
  }
}, 300_000);

afterAll(async () => {
  await env?.stop();
}, 60_000);

describe('LoadBalancer over VirtualMachines', () => {
  let vip = '';

  it('spreads connections over the Running VMs its selector picks', async () => {
    await apply({ apiVersion: 'lb.photoncloud.io/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'web', namespace: NS }, spec: { subnetRef: 'app', listeners: [{ name: 'http', port: 80, targetPort: 8080 }], backends: { selector: { app: 'web' } }, healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 2 } } });
    const lb = await waitLb('2 healthy VMs', (object) => object.status?.healthyBackendCount === 2 && condition(object, 'Ready')?.status === 'True', 90_000);
    vip = lb.status!.vipAddress!;
    expect(lb.status!.backends!.map((backend) => [backend.kind, backend.name, backend.health])).toEqual([['VirtualMachine', 'web-1', 'online'], ['VirtualMachine', 'web-2', 'online']]);
    // kubectl shows the printer columns users rely on.
    expect(kubectlOk(await env.api.kubectl(['get', 'lb', 'web', '-n', NS, '--no-headers', '-o', 'custom-columns=VIP:.status.vipAddress,B:.status.backendCount,H:.status.healthyBackendCount'])).trim().split(/\s+/)).toEqual([vip, '2', '2']);
    const seen = new Set<string | undefined>();
    await waitFor('both VMs answer through the VIP', async () => (seen.add(await get(vip)), seen.has('web-1') && seen.has('web-2')), { timeoutMs: 60_000, intervalMs: 0 });
  }, 150_000);

  it('takes a halted VM out of rotation and out of the pool', async () => {
    kubectlOk(await env.api.kubectl(['patch', 'virtualmachine', 'web-2', '-n', NS, '--type', 'merge', '-p', '{"spec":{"runStrategy":"Halted"}}']));
    await waitLb('web-2 gone from the backends', (lb) => lb.status?.backends?.map((backend) => backend.name).join() === 'web-1', 90_000);
    for (let i = 0; i < 6; i++) expect(await get(vip)).toBe('web-1');
  }, 120_000);

  it('follows labels: a VM relabelled away leaves, and NoBackends says so', async () => {
    kubectlOk(await env.api.kubectl(['label', 'virtualmachine', 'web-1', '-n', NS, 'app=other', '--overwrite']));
    const lb = await waitLb('no backends', (object) => condition(object, 'Ready')?.reason === 'NoBackends');
    expect(lb.status!.backendCount).toBe(0);
    expect(await connect(client, vip, 80, 1500)).toBeUndefined();
    kubectlOk(await env.api.kubectl(['label', 'virtualmachine', 'web-1', '-n', NS, 'app=web', '--overwrite']));
    await waitLb('web-1 back', (object) => object.status?.healthyBackendCount === 1);
    await waitFor('web-1 answers again', async () => (await get(vip)) === 'web-1', { timeoutMs: 30_000, intervalMs: 200 });
  }, 90_000);
});
