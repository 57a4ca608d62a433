// Addresses and lifecycles through the API against real OVN: 500 Ports created at once in a /23 (all Ready,
// all unique, usedIPs exact), exhaustion and recovery, static addresses, bad specs refused at admission or
// reported, deletion that waits for dependents (condition + event), and OVN rows left by deleted objects
// removed when the controllers start.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiStatusError } from '../../apis/client/index.ts';
import { PortResource, SubnetResource, VpcResource } from '../../apis/network/v1alpha1/index.ts';
import { waitFor } from '../env/process.ts';
import { create, namespace, portAddress, readyCondition, startNetworkEnv, waitReady, waitReason, type NetworkEnv } from './harness.ts';

describe('IPAM and network object lifecycles', () => {
  let env: NetworkEnv;
  const refused = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error as ApiStatusError;
    }
    throw new Error('the request was accepted');
  };

  beforeAll(async () => {
    env = await startNetworkEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('gives 500 concurrently created Ports in a /23 unique addresses, all Ready, and counts them exactly', async () => {
    await namespace(env, 'scale');
    await create(env, 'Vpc', 'scale', 'main', { cidrBlocks: ['10.8.0.0/16'] });
    await create(env, 'Subnet', 'scale', 'big', { vpcRef: 'main', cidr: '10.8.0.0/23', excludeIPs: ['10.8.0.2..10.8.0.9'] });
    await waitReady(env, 'Subnet', 'scale', 'big');
    const names = Array.from({ length: 500 }, (_, index) => `p${index}`);
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < names.length) await create(env, 'Port', 'scale', names[next++], { subnetRef: 'big' });
    }));
    const ports = await waitFor('500 Ports Ready', async () => {
      const list = await env.client.listAll(PortResource, { namespace: 'scale' });
      return list.items.filter((port) => readyCondition(port)?.status === 'True').length === 500 ? list.items : undefined;
    }, { timeoutMs: 180_000, intervalMs: 1000 });
    const addresses = ports.map((port) => portAddress(port).ip);
    expect(new Set(addresses).size).toBe(500);
    for (const address of addresses) {
      const [, , third, fourth] = address.split('.').map(Number);
      const host = third * 256 + fourth;
      expect(host).toBeGreaterThanOrEqual(10); // .0 network, .1 gateway, .2-.9 excluded
      expect(host).toBeLessThan(511); // .1.255 broadcast
    }
    // OVN has exactly one logical switch port per Port, with that address.
    const lsps = env.ovn.nbctl('--format=csv', '--data=bare', '--no-headings', '--columns=name,addresses', 'list', 'Logical_Switch_Port');
    const rows = (await lsps).trim().split('\n').map((line) => line.split(','));
    for (const port of ports) expect(rows.filter(([name]) => name === port.metadata.uid)).toHaveLength(1);
    const subnet = await waitFor('usedIPs = 500', async () => {
      const object = await env.client.get(SubnetResource, 'big', { namespace: 'scale' });
      return (object.status as { usedIPs?: number }).usedIPs === 500 ? object : undefined;
    });
    expect((subnet.status as { availableIPs?: number }).availableIPs).toBe(510 - 1 - 8 - 500);
    // The controller manager's metrics saw the work.
    const port = await env.manager!.metricsPort();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const reconciles = metrics.split('\n').filter((line) => line.startsWith('photon_controller_reconcile_total{controller="port-controller",result="success"}'));
    expect(Number(reconciles[0]?.split(' ').pop())).toBeGreaterThanOrEqual(500);
    expect(metrics).toContain('photon_workqueue_depth{name="port-controller"}');
    expect(metrics).toContain('photon_controller_reconcile_duration_seconds_bucket');
  }, 240_000);

  it('reports SubnetExhausted on the extra Port, which becomes Ready as soon as an address is freed', async () => {
    await namespace(env, 'full');
    await create(env, 'Vpc', 'full', 'main', { cidrBlocks: ['10.9.0.0/16'] });
    await create(env, 'Subnet', 'full', 'tiny', { vpcRef: 'main', cidr: '10.9.0.0/29' }); // 6 usable, 1 gateway → 5
    for (let index = 0; index < 5; index++) await create(env, 'Port', 'full', `p${index}`, { subnetRef: 'tiny' });
    for (let index = 0; index < 5; index++) await waitReady(env, 'Port', 'full', `p${index}`);
    await create(env, 'Port', 'full', 'extra', { subnetRef: 'tiny' });
    const exhausted = await waitReason(env, 'Port', 'full', 'extra', 'SubnetExhausted');
    expect(readyCondition(exhausted)!.message).toBe('Subnet tiny has no free address left');
    const freed = portAddress(await env.client.get(PortResource, 'p2', { namespace: 'full' })).ip;
    await env.client.delete(PortResource, 'p2', { namespace: 'full' });
    const extra = await waitReady(env, 'Port', 'full', 'extra');
    expect(portAddress(extra).ip).toBe(freed);
  });

  it('refuses bad specs at admission when knowable, and reports the rest as Ready=False', async () => {
    await namespace(env, 'bad');
    await create(env, 'Vpc', 'bad', 'main', { cidrBlocks: ['10.0.0.0/16'] });
    await create(env, 'Subnet', 'bad', 'web', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    const outside = await refused(create(env, 'Subnet', 'bad', 'outside', { vpcRef: 'main', cidr: '192.168.1.0/24' }));
    expect(outside.code).toBe(422);
    expect(outside.message).toContain("must be inside one of Vpc main's cidrBlocks");
    expect((await refused(create(env, 'Subnet', 'bad', 'overlap', { vpcRef: 'main', cidr: '10.0.1.0/25' }))).message).toContain('overlaps Subnet web');
    expect((await refused(create(env, 'Subnet', 'bad', 'gw', { vpcRef: 'main', cidr: '10.0.2.0/24', gateway: '10.0.3.1' }))).message).toContain('spec.gateway');
    await create(env, 'Port', 'bad', 'static', { subnetRef: 'web', ipAddress: '10.0.1.50' });
    expect(portAddress(await waitReady(env, 'Port', 'bad', 'static')).ip).toBe('10.0.1.50');
    expect((await refused(create(env, 'Port', 'bad', 'taken', { subnetRef: 'web', ipAddress: '10.0.1.50' }))).message).toContain('already used by Port static');
    expect((await refused(create(env, 'Port', 'bad', 'far', { subnetRef: 'web', ipAddress: '10.0.9.9' }))).message).toContain("must be inside Subnet web's cidr");
    // A security group that does not exist (yet) is no reason to refuse: order must not matter.
    expect((await create(env, 'Port', 'bad', 'nosg', { subnetRef: 'web', securityGroupRefs: ['nope'] })).metadata.uid).toBeDefined();
    // Not knowable at admission: the VPC does not exist yet. Reported, then fixed by creating it.
    await create(env, 'Subnet', 'bad', 'early', { vpcRef: 'later', cidr: '172.16.0.0/24' });
    await waitReason(env, 'Subnet', 'bad', 'early', 'VpcNotFound');
    await create(env, 'Vpc', 'bad', 'later', { cidrBlocks: ['172.16.0.0/16'] });
    await waitReady(env, 'Subnet', 'bad', 'early');
    // Nothing half-programmed for refused objects: only web's and early's switches exist in this namespace.
    const switches = (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=external_ids', 'find', 'Logical_Switch', 'external_ids:"photoncloud.io/namespace"=bad')).trim().split('\n').filter(Boolean);
    expect(switches).toHaveLength(2);
  });

  it('makes a Subnet with Ports and a Vpc with Subnets wait, saying why, until they are gone', async () => {
    await namespace(env, 'order');
    await create(env, 'Vpc', 'order', 'main', { cidrBlocks: ['10.0.0.0/16'] });
    const subnet = await create(env, 'Subnet', 'order', 'web', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    await create(env, 'Port', 'order', 'p', { subnetRef: 'web' });
    await waitReady(env, 'Port', 'order', 'p');
    await env.client.delete(VpcResource, 'main', { namespace: 'order' });
    const vpc = await waitReason(env, 'Vpc', 'order', 'main', 'SubnetsRemaining');
    expect(readyCondition(vpc)!.message).toBe('waiting for Subnets to be deleted: web');
    // The Subnet says what is true (its Vpc exists and is going), and no new Subnet may join that Vpc.
    expect(readyCondition(await waitReason(env, 'Subnet', 'order', 'web', 'VpcDeleting'))!.message).toBe('Vpc main is being deleted');
    expect((await refused(create(env, 'Subnet', 'order', 'late', { vpcRef: 'main', cidr: '10.0.2.0/24' }))).code).toBe(403);
    await env.client.delete(SubnetResource, 'web', { namespace: 'order' });
    const waiting = await waitReason(env, 'Subnet', 'order', 'web', 'PortsRemaining');
    expect(readyCondition(waiting)!.message).toBe('waiting for Ports to be deleted: p');
    const events = await env.api.kubectl(['get', 'events', '-n', 'order', '--field-selector', 'reason=PortsRemaining', '-o', 'name']);
    expect(events.stdout.trim()).not.toBe('');
    await env.client.delete(PortResource, 'p', { namespace: 'order' });
    await waitFor('everything gone', async () => {
      const [vpcs, subnets] = await Promise.all([env.client.list(VpcResource, { namespace: 'order' }), env.client.list(SubnetResource, { namespace: 'order' })]);
      return vpcs.items.length === 0 && subnets.items.length === 0;
    });
    const left = await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=name', 'find', 'Logical_Switch', `external_ids:"photoncloud.io/uid"=${subnet.metadata.uid}`);
    expect(left.trim()).toBe('');
  });

  it('removes OVN rows whose objects no longer exist when the controllers start', async () => {
    await env.stopControllers();
    await env.ovn.nbctl('ls-add', 'ls-orphan', '--', 'set', 'Logical_Switch', 'ls-orphan', 'external_ids:"photoncloud.io/kind"=Subnet', 'external_ids:"photoncloud.io/name"=gone', 'external_ids:"photoncloud.io/uid"=00000000-0000-0000-0000-00000000dead');
    await env.ovn.nbctl('ls-add', 'not-ours'); // rows without our labels are never touched
    env.startControllers();
    await waitFor('orphan removed', async () => !(await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=name', 'list', 'Logical_Switch')).includes('ls-orphan'), { timeoutMs: 30_000, intervalMs: 250 });
    expect(await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=name', 'list', 'Logical_Switch')).toContain('not-ours');
  });
});

