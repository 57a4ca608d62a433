// Real packets through what the API programmed: network-namespace hosts attached to a userspace-datapath
// br-int as the Ports' interfaces (iface-id = Port UID) with ovn-controller running. Ping works inside a VPC
// (across subnets, through the VPC's router), SecurityGroup rules hold for real TCP, and two tenants with
// the same CIDRs and addresses never reach each other.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import type { KubeObject } from '../../apis/meta/types.ts';
import { attachPort, type AttachedPort } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';
import { create, namespace, portAddress, startNetworkEnv, waitReady, type NetworkEnv } from './harness.ts';

const PING = ['/usr/bin/ping', '/bin/ping'].find((file) => fs.existsSync(file));

describe('packets through PhotonCloud networks', () => {
  let env: NetworkEnv;
  const hosts: Record<string, AttachedPort> = {};

  /** A VPC with subnets a and b; hosts: a1 (a), b1 (b), b2 (b, in SecurityGroup ssh-only). */
  async function tenant(ns: string): Promise<void> {
    await namespace(env, ns);
    await create(env, 'Vpc', ns, 'main', { cidrBlocks: ['10.0.0.0/16'] });
    await create(env, 'Subnet', ns, 'a', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    await create(env, 'Subnet', ns, 'b', { vpcRef: 'main', cidr: '10.0.2.0/24' });
    await create(env, 'SecurityGroup', ns, 'ssh-only', { ingress: [{ protocol: 'TCP', ports: '22', from: { cidr: '10.0.0.0/16' } }, { protocol: 'ICMP', from: { cidr: '10.0.0.0/16' } }] });
    // Static addresses: both tenants' hosts get exactly the same ones.
    const ports: Array<[string, string, string[], string]> = [['a1', 'a', [], '10.0.1.10'], ['b1', 'b', [], '10.0.2.10'], ['b2', 'b', ['ssh-only'], '10.0.2.11']];
    for (const [name, subnet, groups, ipAddress] of ports) await create(env, 'Port', ns, name, { subnetRef: subnet, securityGroupRefs: groups, ipAddress });
    for (const [name, subnet] of ports) {
      const port: KubeObject = await waitReady(env, 'Port', ns, name);
      const { ip, mac, uid } = portAddress(port);
      hosts[`${ns}/${name}`] = await attachPort(env.chassis!, { ifaceId: uid, mac, ip: `${ip}/24`, gateway: subnet === 'a' ? '10.0.1.1' : '10.0.2.1' });
    }
    await waitReady(env, 'SecurityGroup', ns, 'ssh-only');
  }

  const ping = async (from: string, to: string) => (await hosts[from].exec(PING!, ['-c', '1', '-W', '2', to])).code === 0;

  /** A TCP connection from a host to a server answering `reply` on another (Node inside the namespaces). */
  async function tcp(from: string, to: string, port: number, reply = 'pong'): Promise<string | undefined> {
    const server = hosts[to].spawn('tcp-server', process.execPath, ['-e', `require('net').createServer((s) => s.end(${JSON.stringify(reply)})).listen(${port}, '0.0.0.0', () => console.log('listening'))`]);
    try {
      await waitFor('server listening', () => server.output().includes('listening'), { timeoutMs: 5000 });
      return await connect(from, hosts[to].ip, port);
    } finally {
      await server.stop(1000);
    }
  }

  async function connect(from: string, ip: string, port: number): Promise<string | undefined> {
    const client = await hosts[from].exec(process.execPath, ['-e', `const s = require('net').connect(${port}, '${ip}'); s.setTimeout(2500, () => process.exit(2)); let d=''; s.on('data', (c) => d += c); s.on('end', () => { process.stdout.write(d); process.exit(0); }); s.on('error', () => process.exit(1));`], { timeoutMs: 6000 });
    return client.code === 0 ? client.stdout : undefined;
  }

  beforeAll(async () => {
    if (!PING) throw new Error('ping (iputils-ping) is not installed');
    env = await startNetworkEnv({ chassis: true });
    await tenant('red');
    await tenant('blue');
    // Ports come up once ovn-controller has bound them.
    await waitFor('all ports up', async () => (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=up', 'find', 'Logical_Switch_Port', 'type=""')).trim().split(/\s+/).every((value) => value === 'true'), { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor('red a1 reaches b1', () => ping('red/a1', hosts['red/b1'].ip), { timeoutMs: 30_000, intervalMs: 500 });
  }, 120_000);
  afterAll(async () => {
    await env?.stop();
  });

  it('pings inside a VPC, within a subnet and across subnets through the router', async () => {
    expect(await ping('red/a1', hosts['red/b1'].ip)).toBe(true);
    expect(await ping('red/b1', hosts['red/a1'].ip)).toBe(true);
    expect(await ping('red/b1', hosts['red/b2'].ip)).toBe(true); // ICMP allowed by ssh-only
    expect(await ping('red/a1', '10.0.1.1')).toBe(true); // the gateway answers
  });

  it('enforces SecurityGroup rules on real TCP', async () => {
    expect(await tcp('red/a1', 'red/b2', 22)).toBe('pong');
    expect(await tcp('red/a1', 'red/b2', 80)).toBeUndefined();
    // b2 has no egress rules: it may open connections itself, and the replies come back.
    expect(await tcp('red/b2', 'red/a1', 5432)).toBe('pong');
    // b1 is in no group: open.
    expect(await tcp('red/a1', 'red/b1', 80)).toBe('pong');
  });

  it('never lets anything cross between tenants with the same addresses', async () => {
    expect(hosts['blue/b1'].ip).toBe(hosts['red/b1'].ip);
    // A server on each tenant's b1 (same address): each tenant's a1 reaches only its own.
    const red = hosts['red/b1'].spawn('red-server', process.execPath, ['-e', `require('net').createServer((s) => s.end('red')).listen(9000, () => console.log('listening'))`]);
    const blue = hosts['blue/b1'].spawn('blue-server', process.execPath, ['-e', `require('net').createServer((s) => s.end('blue')).listen(9000, () => console.log('listening'))`]);
    try {
      await waitFor('servers listening', () => red.output().includes('listening') && blue.output().includes('listening'), { timeoutMs: 5000 });
      for (let attempt = 0; attempt < 3; attempt++) {
        expect(await connect('red/a1', hosts['red/b1'].ip, 9000)).toBe('red');
        expect(await connect('blue/a1', hosts['blue/b1'].ip, 9000)).toBe('blue');
      }
    } finally {
      await red.stop(1000);
      await blue.stop(1000);
    }
    // An address that exists only in the other tenant's VPC is unreachable: blue has no 10.0.9.x, red gets one.
    await create(env, 'Subnet', 'red', 'c', { vpcRef: 'main', cidr: '10.0.9.0/24' });
    await create(env, 'Port', 'red', 'c1', { subnetRef: 'c' });
    const c1 = portAddress(await waitReady(env, 'Port', 'red', 'c1'));
    hosts['red/c1'] = await attachPort(env.chassis!, { ifaceId: c1.uid, mac: c1.mac, ip: `${c1.ip}/24`, gateway: '10.0.9.1' });
    await waitFor('red reaches its new host', () => ping('red/a1', c1.ip), { timeoutMs: 30_000, intervalMs: 500 });
    expect(await ping('blue/a1', c1.ip)).toBe(false);
  });
});
