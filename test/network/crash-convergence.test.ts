// The controller manager killed (SIGKILL) in the middle of creating and deleting a few hundred Ports, then
// restarted: everything converges — every live Port Ready with a unique address, exactly one logical switch
// port each, nothing left of the deleted ones, no duplicated or leaked addresses.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { PortResource, SubnetResource } from '../../apis/network/v1alpha1/index.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { startProcess, waitFor, type ManagedProcess } from '../env/process.ts';
import { create, namespace, NETWORK_CONTROLLERS, portAddress, readyCondition, startNetworkEnv, waitReady, type NetworkEnv } from './harness.ts';

const NS = 'crash';

describe('controller manager crash in the middle of work', () => {
  let env: NetworkEnv;
  let manager: ManagedProcess | undefined;

  const startManager = () =>
    startProcess('controller-manager', process.execPath, [
      '--import', 'tsx', path.join(REPOSITORY_ROOT, 'controllers/main.ts'),
      '--kubeconfig', env.api.kubeconfig, '--ovn-nb', env.ovn.nbEndpoint, '--leader-elect', 'false', '--controllers', NETWORK_CONTROLLERS.join(','), '--metrics-address', '127.0.0.1:0',
    ], { cwd: REPOSITORY_ROOT });

  beforeAll(async () => {
    env = await startNetworkEnv();
    await env.stopControllers(); // this test runs the controller manager as its own process
  });
  afterAll(async () => {
    await manager?.kill();
    await env?.stop();
  });

  it('converges after SIGKILL with no orphaned rows and no leaked or duplicated addresses', async () => {
    await namespace(env, NS);
    await create(env, 'Vpc', NS, 'main', { cidrBlocks: ['10.20.0.0/16'] });
    await create(env, 'Subnet', NS, 'a', { vpcRef: 'main', cidr: '10.20.1.0/24' });
    await create(env, 'Subnet', NS, 'b', { vpcRef: 'main', cidr: '10.20.2.0/24' });
    await create(env, 'SecurityGroup', NS, 'web', { ingress: [{ protocol: 'TCP', ports: '443', from: { cidr: '0.0.0.0/0' } }] });
    manager = startManager();
    await waitReady(env, 'Subnet', NS, 'a', 60_000);

    // Churn: create 300 Ports (some in the group) and delete every third one shortly after creating it.
    const deleted = new Set<string>();
    let created = 0;
    const churn = (async () => {
      const workers = Array.from({ length: 8 }, async (_, worker) => {
        for (let index = worker; index < 300; index += 8) {
          const name = `p${index}`;
          await create(env, 'Port', NS, name, { subnetRef: index % 2 ? 'a' : 'b', ...(index % 5 === 0 ? { securityGroupRefs: ['web'] } : {}) });
          created++;
          if (index % 3 === 0) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            await env.client.delete(PortResource, name, { namespace: NS });
            deleted.add(name);
          }
        }
      });
      await Promise.all(workers);
    })();
    await waitFor('work under way', () => created > 60, { timeoutMs: 60_000 });
    await manager.kill(); // SIGKILL: no cleanup, in the middle of reconciles
    await churn;
    manager = startManager();

    const live = await waitFor('every live Port Ready and every deleted one gone', async () => {
      const ports = (await env.client.listAll(PortResource, { namespace: NS })).items;
      if (ports.some((port) => deleted.has(port.metadata.name!))) return undefined;
      return ports.length === 300 - deleted.size && ports.every((port) => readyCondition(port)?.status === 'True') ? ports : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1000 });

    // Unique addresses, per subnet.
    const bySubnet = new Map<string, string[]>();
    for (const port of live) {
      const subnet = (port.spec as { subnetRef: string }).subnetRef;
      bySubnet.set(subnet, [...(bySubnet.get(subnet) ?? []), portAddress(port).ip]);
    }
    for (const addresses of bySubnet.values()) expect(new Set(addresses).size).toBe(addresses.length);

    // OVN: exactly one logical switch port per live Port (named by its UID, with its address), none else.
    const rows = (await env.ovn.nbctl('--format=csv', '--data=bare', '--no-headings', '--columns=name,addresses,external_ids', 'list', 'Logical_Switch_Port'))
      .trim().split('\n').filter((line) => line.includes('kind=Port'));
    expect(rows).toHaveLength(live.length);
    for (const port of live) {
      const mine = rows.filter((line) => line.startsWith(`${port.metadata.uid},`));
      expect(mine).toHaveLength(1);
      const { ip, mac } = portAddress(port);
      expect(mine[0]).toContain(`${mac} ${ip}`);
    }
    // Security group membership follows exactly the live members.
    const members = live.filter((port) => ((port.spec as { securityGroupRefs?: string[] }).securityGroupRefs ?? []).includes('web')).map((port) => port.metadata.uid!).sort();
    const group = await waitFor('port group membership', async () => {
      const lsps = (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=ports', 'find', 'Port_Group', 'external_ids:"photoncloud.io/name"=web')).trim().split(/\s+/).filter(Boolean);
      const names = await Promise.all(lsps.map(async (uuid) => (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=name', 'list', 'Logical_Switch_Port', uuid)).trim()));
      return names.sort().join() === members.join() ? names : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(group).toHaveLength(members.length);
    // Subnet counters match.
    for (const [subnet, addresses] of bySubnet) {
      await waitFor(`usedIPs of ${subnet}`, async () => ((await env.client.get(SubnetResource, subnet, { namespace: NS })).status as { usedIPs?: number }).usedIPs === addresses.length);
    }
  }, 300_000);
});
