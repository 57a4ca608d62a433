// Virtual networks programmed into a real OVN through the API, proven with ovn-trace (--ct=new --ct=new):
// delivery across subnets of one VPC, a SecurityGroup allowing tcp/22 and dropping tcp/80, and two tenants
// with identical CIDRs and addresses that never reach each other.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { macFor, switchName } from '../../controllers/network/names.ts';
import { create, namespace, portAddress, startNetworkEnv, waitReady, type NetworkEnv } from './harness.ts';

interface Endpoint {
  uid: string;
  ip: string;
  mac: string;
  subnetUid: string;
}

describe('virtual networks in OVN (ovn-trace)', () => {
  let env: NetworkEnv;

  /** A VPC with subnets a (10.0.1.0/24) and b (10.0.2.0/24), a port in each, and optionally a security group on b's port. */
  async function tenant(ns: string, options: { sshOnlyOnB?: boolean } = {}): Promise<{ a: Endpoint; b: Endpoint }> {
    await namespace(env, ns);
    await create(env, 'Vpc', ns, 'main', { cidrBlocks: ['10.0.0.0/16'] });
    const subnetA = await create(env, 'Subnet', ns, 'a', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    const subnetB = await create(env, 'Subnet', ns, 'b', { vpcRef: 'main', cidr: '10.0.2.0/24' });
    if (options.sshOnlyOnB) await create(env, 'SecurityGroup', ns, 'ssh-only', { ingress: [{ protocol: 'TCP', ports: '22', from: { cidr: '0.0.0.0/0' } }] });
    await create(env, 'Port', ns, 'pa', { subnetRef: 'a' });
    await create(env, 'Port', ns, 'pb', { subnetRef: 'b', ...(options.sshOnlyOnB ? { securityGroupRefs: ['ssh-only'] } : {}) });
    const pa = portAddress(await waitReady(env, 'Port', ns, 'pa'));
    const pb = portAddress(await waitReady(env, 'Port', ns, 'pb'));
    if (options.sshOnlyOnB) await waitReady(env, 'SecurityGroup', ns, 'ssh-only');
    return { a: { ...pa, subnetUid: subnetA.metadata.uid! }, b: { ...pb, subnetUid: subnetB.metadata.uid! } };
  }

  /** ovn-trace of a packet leaving `from` for `toIp` (via its gateway's MAC), as the VM would send it. */
  function trace(from: Endpoint, toIp: string, l4: string, detail: '--minimal' | '--detailed' = '--minimal'): Promise<string> {
    const gatewayMac = macFor(`${from.subnetUid}/router-port`);
    const flow = `inport == "${from.uid}" && eth.src == ${from.mac} && eth.dst == ${gatewayMac} && ip4.src == ${from.ip} && ip4.dst == ${toIp} && ip.ttl == 64 && ${l4}`;
    // --no-friendly-names: port names are UUIDs, which ovn-trace would otherwise abbreviate.
    return env.ovn.trace('--ct=new', '--ct=new', detail, '--no-friendly-names', switchName(from.subnetUid), flow);
  }

  beforeAll(async () => {
    env = await startNetworkEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('delivers a packet between two Ports of one VPC across subnets', async () => {
    const { a, b } = await tenant('trace-route');
    expect(a.ip).toBe('10.0.1.2'); // .1 is the gateway
    expect(b.ip).toBe('10.0.2.2');
    const out = await trace(a, b.ip, 'icmp4 && icmp4.type == 8');
    expect(out).toContain(`output("${b.uid}")`);
    // The router rewrote the source MAC and decremented TTL on the way.
    expect(out).toMatch(/ip\.ttl--/);
  });

  it('lets a SecurityGroup allow tcp/22 and drop tcp/80', async () => {
    const { a, b } = await tenant('trace-sg', { sshOnlyOnB: true });
    // The port's group and the shared default-deny group must both be in effect.
    const ssh = await trace(a, b.ip, 'tcp && tcp.src == 40000 && tcp.dst == 22 && tcp.flags == 2');
    expect(ssh).toContain(`output("${b.uid}")`);
    const http = await trace(a, b.ip, 'tcp && tcp.src == 40000 && tcp.dst == 80 && tcp.flags == 2', '--detailed');
    expect(http).not.toContain(`output("${b.uid}")`);
    // Dropped by the shared default-deny ACL on the way out to b.
    expect(http).toMatch(/ls_out_acl[^\n]*\n(.*\n)*?.*outport == @photon_secured_ports && ip.*\n\s*drop;/);
    // Egress from b is open (no egress rules): b may start connections to a.
    expect(await trace(b, a.ip, 'tcp && tcp.src == 40001 && tcp.dst == 5432 && tcp.flags == 2')).toContain(`output("${a.uid}")`);
  });

  it('keeps two tenants with the same CIDRs and addresses apart', async () => {
    const one = await tenant('trace-tenant-one');
    const two = await tenant('trace-tenant-two');
    expect(two.a.ip).toBe(one.a.ip); // same addresses in both tenants
    expect(two.b.ip).toBe(one.b.ip);
    const fromOne = await trace(one.a, one.b.ip, 'icmp4 && icmp4.type == 8');
    expect(fromOne).toContain(`output("${one.b.uid}")`);
    expect(fromOne).not.toContain(two.b.uid);
    expect(fromOne).not.toContain(two.a.uid);
    const fromTwo = await trace(two.a, two.b.ip, 'icmp4 && icmp4.type == 8');
    expect(fromTwo).toContain(`output("${two.b.uid}")`);
    expect(fromTwo).not.toContain(one.b.uid);
    // An address outside the tenant's VPC goes nowhere (no route out of the VPC).
    expect(await trace(one.a, '192.168.9.9', 'icmp4 && icmp4.type == 8')).not.toMatch(/output\(/);
  });
});
