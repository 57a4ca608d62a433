// Private zones answered by OVN's native DNS to network-namespace hosts on tenant subnets (real packets through
// a userspace chassis): a host resolves its own VPC's names — Ports by name, records by hand, CNAMEs inside
// the zone, PTRs — while a tenant with the same CIDRs and the same zone name gets its own answers, and a
// VPC without the zone gets none. A DNS row deleted in OVN, or taken off a switch, comes back.
//
// Queries are sent without EDNS (dig +noedns): OVN 23.03.1 passes EDNS queries on unanswered (docs/dns.md).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Port } from '../../apis/network/v1alpha1/index.ts';
import { attachPort, type AttachedPort } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';
import { namespace, startDnsEnv, waitZone, zone, type DnsEnv } from './harness.ts';

describe('private zones on OVN DNS', () => {
  let env: DnsEnv;
  const hosts: Record<string, AttachedPort> = {};
  const network = (kind: string, ns: string, name: string, spec: object) => ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind, metadata: { name, namespace: ns }, spec });
  const apply = async (...objects: object[]) => {
    const result = await env.api.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
    if (result.code !== 0) throw new Error(result.stderr);
  };

  /** Asks from a host, as a guest's stub resolver would (the gateway is its DHCP resolver). */
  async function resolve(host: string, name: string, type = 'A'): Promise<string[]> {
    const args = ['+noedns', '+short', '+time=1', '+tries=2', `@${hosts[host]!.ip.replace(/\.\d+$/, '.1')}`, ...(type === 'PTR' ? ['-x', name] : [name, type])];
    const result = await hosts[host]!.exec('dig', args, { timeoutMs: 10_000 });
    return result.code === 0 ? result.stdout.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith(';')).sort() : [];
  }
  const waitResolves = (host: string, name: string, expected: string[], type = 'A') =>
    waitFor(`${host} resolves ${name} ${type} → ${expected.join(',') || 'nothing'}`, async () => JSON.stringify(await resolve(host, name, type)) === JSON.stringify(expected), { timeoutMs: 20_000, intervalMs: 200 });

  /** A VPC like every other tenant's (same CIDRs), a client and a web-1 host; web-1's address differs per tenant. */
  async function tenant(ns: string, webAddress: string, dbAddress: string | undefined): Promise<void> {
    await namespace(env, ns);
    await apply(
      network('Vpc', ns, 'main', { cidrBlocks: ['10.0.0.0/16'] }),
      network('Subnet', ns, 'a', { vpcRef: 'main', cidr: '10.0.1.0/24' }),
      network('Subnet', ns, 'b', { vpcRef: 'main', cidr: '10.0.2.0/24' }),
      network('Port', ns, 'client', { subnetRef: 'a', ipAddress: '10.0.1.10' }),
      network('Port', ns, 'web-1', { subnetRef: 'b', ipAddress: webAddress }),
      ...(dbAddress
        ? [zone(ns, 'internal', {
            domain: 'acme.internal.',
            vpcRef: 'main',
            autoRecords: { ports: true },
            records: [
              { name: 'db', type: 'A', values: [dbAddress] },
              { name: 'www', type: 'CNAME', values: ['web-1.acme.internal.'] },
              { name: '@', type: 'TXT', values: ['not for OVN'] },
            ],
          })]
        : []),
    );
    for (const [name, gateway] of [['client', '10.0.1.1'], ['web-1', '10.0.2.1']] as const) {
      const port = await waitFor(`Port ${ns}/${name} addressed`, async () => {
        const object = (await env.client.get({ group: 'network.photoncloud.io', version: 'v1alpha1', kind: 'Port', plural: 'ports', namespaced: true, apiVersion: 'network.photoncloud.io/v1alpha1' } as never, name, { namespace: ns })) as KubeObject & Port;
        return object.status?.macAddress ? object : undefined;
      }, { timeoutMs: 30_000, intervalMs: 100 });
      hosts[`${ns}/${name}`] = await attachPort(env.chassis!, { ifaceId: port.metadata.uid!, mac: port.status!.macAddress!, ip: `${port.status!.ipAddress}/24`, gateway, netns: 'pcdns' });
    }
  }

  beforeAll(async () => {
    env = await startDnsEnv({ chassis: true });
    await tenant('red', '10.0.2.10', '10.0.2.50');
    await tenant('blue', '10.0.2.20', '10.0.2.60');
    await tenant('green', '10.0.2.30', undefined);
    await waitFor('all ports up', async () => (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=up', 'find', 'Logical_Switch_Port', 'type=""')).trim().split(/\s+/).every((value) => value === 'true'), { timeoutMs: 30_000, intervalMs: 200 });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(Object.values(hosts).map((host) => host.remove()));
    await env?.stop();
  });

  it('answers each tenant its own names through OVN, never another tenant\'s', async () => {
    await waitResolves('red/client', 'web-1.acme.internal', ['10.0.2.10']);
    await waitResolves('blue/client', 'web-1.acme.internal', ['10.0.2.20']);
    expect(await resolve('red/client', 'db.acme.internal')).toEqual(['10.0.2.50']);
    expect(await resolve('blue/client', 'db.acme.internal')).toEqual(['10.0.2.60']);
    // From the other subnet of the VPC too, case-insensitively; a CNAME inside the zone answers its target's address.
    expect(await resolve('red/web-1', 'CLIENT.acme.internal')).toEqual(['10.0.1.10']);
    expect(await resolve('red/client', 'www.acme.internal')).toEqual(['10.0.2.10']);
    expect(await resolve('red/client', '10.0.2.10', 'PTR')).toEqual(['web-1.acme.internal.']);
    // A VPC without the zone (same CIDRs) gets no answer at all.
    expect(await resolve('green/client', 'web-1.acme.internal')).toEqual([]);

    const red = await waitZone(env, 'red', 'internal', 'True');
    expect(red.status?.unservedRecords).toEqual(['acme.internal. TXT']);
    expect(red.status?.nameserverAddresses).toEqual(['10.0.1.1', '10.0.2.1']);
    expect(red.status?.records).toContainEqual({ name: '10.2.0.10.in-addr.arpa.', type: 'PTR', values: ['web-1.acme.internal.'], source: 'Subnet/b' });
    // Guests learn the gateway as their resolver through DHCP.
    const dhcp = await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=options', 'find', 'DHCP_Options', 'cidr="10.0.1.0/24"');
    expect(dhcp).toContain('dns_server={10.0.1.1}');
  });

  it('follows a Port\'s removal and a record\'s change', async () => {
    await apply(network('Port', 'red', 'extra', { subnetRef: 'a', ipAddress: '10.0.1.77' }));
    await waitResolves('red/client', 'extra.acme.internal', ['10.0.1.77']);
    expect(await resolve('blue/client', 'extra.acme.internal')).toEqual([]);
    const result = await env.api.kubectl(['delete', 'port', 'extra', '-n', 'red', '--wait=true']);
    expect(result.code).toBe(0);
    await waitResolves('red/client', 'extra.acme.internal', []);
    await env.api.kubectl(['patch', 'zone', 'internal', '-n', 'red', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/records/0/values', value: ['10.0.2.51'] }])]);
    await waitResolves('red/client', 'db.acme.internal', ['10.0.2.51']);
    expect(await resolve('blue/client', 'db.acme.internal')).toEqual(['10.0.2.60']);
  });

  it('restores a DNS row deleted in OVN by hand, and one taken off a switch', async () => {
    const rowsOf = async (ns: string) => {
      const uid = (await env.client.get({ group: 'dns.photoncloud.io', version: 'v1alpha1', kind: 'Zone', plural: 'zones', namespaced: true, apiVersion: 'dns.photoncloud.io/v1alpha1' } as never, 'internal', { namespace: ns })).metadata.uid!;
      return (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=_uuid', 'find', 'DNS', `external_ids:"photoncloud.io/uid"="${uid}"`)).trim().split(/\s+/).filter(Boolean);
    };
    const [row] = await rowsOf('blue');
    expect(row).toBeDefined();
    const switches = (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=name', 'find', 'Logical_Switch', `dns_records{>=}${row}`)).trim().split(/\s+/).filter(Boolean);
    expect(switches).toHaveLength(2);
    // Off one switch: the next resync puts it back.
    await env.ovn.nbctl('remove', 'Logical_Switch', switches[0]!, 'dns_records', row!);
    await waitFor('the row back on the switch', async () => (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=dns_records', 'list', 'Logical_Switch', switches[0]!)).includes(row!), { timeoutMs: 15_000, intervalMs: 200 });
    // Deleted outright: recreated (a new row).
    const removeEverywhere = switches.flatMap((name) => ['--', 'remove', 'Logical_Switch', name, 'dns_records', row!]);
    await env.ovn.nbctl(...removeEverywhere.slice(1), '--', 'destroy', 'DNS', row!);
    await waitFor('a new DNS row', async () => (await rowsOf('blue')).some((uuid) => uuid !== row), { timeoutMs: 15_000, intervalMs: 200 });
    await waitResolves('blue/client', 'web-1.acme.internal', ['10.0.2.20']);
  });

  it('removes the zone\'s row when the Zone is deleted', async () => {
    const result = await env.api.kubectl(['delete', 'zone', 'internal', '-n', 'red', '--wait=true']);
    expect(result.code).toBe(0);
    await waitResolves('red/client', 'web-1.acme.internal', []);
    expect(await resolve('blue/client', 'web-1.acme.internal')).toEqual(['10.0.2.20']);
    const owners = (await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=external_ids', 'find', 'DNS')).trim().split('\n').filter(Boolean);
    expect(owners).toEqual([expect.stringContaining('photoncloud.io/namespace=blue')]);
  });
});
