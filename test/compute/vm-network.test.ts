// The two network + VM tests of the system PhotonCloud implements, under their names there:
//   port_attachment_lifecycle  a VM attached to an existing Port (portRef): the Port shows it bound to the VM's
//                              node; a second VM naming it waits (PortInUse); deleting the first releases the
//                              Port, which the second then uses, with the same address
//   network_tenant_isolation   two tenants with the same CIDR: each tenant's VMs reach each other, never the
//                              other tenant's
// Real QEMU (TCG) guests on a real OVN chassis; what the guests saw is read from their consoles through the API.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { consoleOf, getVm, guestImages, guestVm, startComputeEnv, waitConsole, waitVmStatus, type ComputeEnv } from '../env/compute.ts';
import { waitFor } from '../env/process.ts';
import { manifest } from '../env/tenants.ts';

let env: ComputeEnv;

const vpc = (namespace: string) => ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name: 'main', namespace }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
const subnet = (namespace: string) => ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name: 'app', namespace }, spec: { vpcRef: 'main', cidr: '10.0.1.0/24' } });
const apply = async (...objects: object[]) => kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: manifest(...objects) }));

beforeAll(async () => {
  env = await startComputeEnv();
  await env.startAgent('hv-1', { cpu: 16, memory: '8Gi' });
}, 120_000);

afterAll(async () => {
  await env?.stop();
}, 60_000);

describe('VMs on tenant networks', () => {
  test('port_attachment_lifecycle', async () => {
    const NS = 'ports';
    await env.namespace(NS);
    const port = { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Port', metadata: { name: 'shared', namespace: NS }, spec: { subnetRef: 'app' } };
    await apply(...guestImages(env, NS), vpc(NS), subnet(NS), port, guestVm(NS, 'first', { networks: [{ name: 'eth0', portRef: 'shared' }] }));
    await waitVmStatus(env, NS, 'first', 'Running');
    let shared = await env.client.get<Port>(PortResource, 'shared', { namespace: NS });
    expect(shared.status).toMatchObject({ owner: { kind: 'VirtualMachine', name: 'first' }, boundNode: 'hv-1' });
    const address = { ip: shared.status!.ipAddress!, mac: shared.status!.macAddress! };
    await waitConsole(env, NS, 'first', `photon-guest: ip=${address.ip}`);

    // A second VM naming the same Port waits: a Port serves one VM at a time.
    await apply(guestVm(NS, 'second', { networks: [{ name: 'eth0', portRef: 'shared' }] }));
    await waitFor('second waiting with PortInUse', async () => {
      const vm = await getVm(env, NS, 'second');
      return vm.status?.conditions?.find((condition) => condition.type === 'NetworkReady')?.reason === 'PortInUse' ? vm : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect((await getVm(env, NS, 'second')).status?.runtime?.state).not.toBe('Running');

    // Deleting the first VM releases the Port (it outlives the VM: it was not the VM's own) …
    kubectlOk(await env.api.kubectl(['delete', 'virtualmachine', 'first', '-n', NS, '--wait=true', '--timeout=60s']));
    shared = await env.client.get<Port>(PortResource, 'shared', { namespace: NS });
    expect(shared.metadata.deletionTimestamp).toBeUndefined();
    // … and the second VM takes it, with the same address.
    const second = await waitVmStatus(env, NS, 'second', 'Running');
    expect(second.status!.interfaces![0]).toMatchObject({ portName: 'shared', ipAddress: address.ip, macAddress: address.mac });
    shared = await env.client.get<Port>(PortResource, 'shared', { namespace: NS });
    expect(shared.status).toMatchObject({ owner: { kind: 'VirtualMachine', name: 'second' }, boundNode: 'hv-1' });
    await waitConsole(env, NS, 'second', `photon-guest: ip=${address.ip}`);
  }, 240_000);

  test('network_tenant_isolation', async () => {
    // Same VPC and subnet CIDRs, same guest address 10.0.1.10 in both tenants; each pings its neighbour and
    // the other tenant's neighbour's address (which exists only there).
    const tenants = [
      { ns: 'tenant-a', self: '10.0.1.10', neighbour: '10.0.1.11', foreign: '10.0.1.12' },
      { ns: 'tenant-b', self: '10.0.1.10', neighbour: '10.0.1.12', foreign: '10.0.1.11' },
    ];
    for (const tenant of tenants) {
      await env.namespace(tenant.ns);
      const userData = `${`ping ${tenant.neighbour}\n`.repeat(4)}ping ${tenant.foreign}\n`;
      await apply(
        ...guestImages(env, tenant.ns),
        vpc(tenant.ns),
        subnet(tenant.ns),
        guestVm(tenant.ns, 'client', { networks: [{ name: 'eth0', subnetRef: 'app', ipAddress: tenant.self }], userData }),
        guestVm(tenant.ns, 'server', { networks: [{ name: 'eth0', subnetRef: 'app', ipAddress: tenant.neighbour }] }),
      );
    }
    for (const tenant of tenants) {
      await waitVmStatus(env, tenant.ns, 'client', 'Running');
      await waitVmStatus(env, tenant.ns, 'server', 'Running');
    }
    for (const tenant of tenants) {
      await waitConsole(env, tenant.ns, 'client', `photon-guest: ip=${tenant.self}`);
      await waitConsole(env, tenant.ns, 'client', `photon-guest: ping ${tenant.neighbour} ok`);
      const text = await waitConsole(env, tenant.ns, 'client', `photon-guest: ping ${tenant.foreign} failed`);
      expect(text).not.toContain(`photon-guest: ping ${tenant.foreign} ok`);
      await waitConsole(env, tenant.ns, 'server', `photon-guest: ip=${tenant.neighbour}`);
    }
    // The other tenant's console is not this tenant's: the same name in each namespace shows its own guest.
    expect(await consoleOf(env, 'tenant-a', 'server')).toContain('photon-guest: ip=10.0.1.11');
    expect(await consoleOf(env, 'tenant-b', 'server')).toContain('photon-guest: ip=10.0.1.12');
  }, 300_000);
});
