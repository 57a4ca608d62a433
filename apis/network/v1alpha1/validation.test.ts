import { describe, expect, it } from '@jest/globals';
import type { ObjectMeta } from '../../meta/types.ts';
import {
  cidrHostBitsProblem,
  normalizeCidr,
  securityGroupSpecProblems,
  staticAddressProblems,
  subnetPlacementProblems,
  subnetSpecProblems,
  vpcSpecProblems,
  type PortAddressing,
} from './validation.ts';
import type { SubnetSpec } from './subnet.ts';

const meta = (name: string, extra: ObjectMeta = {}): ObjectMeta => ({ name, namespace: 'ns', ...extra });
const subnet = (name: string, spec: Partial<SubnetSpec>, extra: ObjectMeta = {}) => ({ metadata: meta(name, extra), spec: { vpcRef: 'main', cidr: '10.0.1.0/24', ...spec } });
const port = (name: string, spec: { ipAddress?: string; subnetRef?: string }, status?: { ipAddress?: string }, extra: ObjectMeta = {}): PortAddressing => ({
  metadata: meta(name, extra),
  spec: { subnetRef: 'web', ...spec },
  ...(status ? { status } : {}),
});

describe('network validation', () => {
  it('normalises CIDRs and refuses host bits, naming the network', () => {
    expect(normalizeCidr('10.0.5.7/24')).toBe('10.0.5.0/24');
    expect(normalizeCidr('10.0.5.0/24')).toBe('10.0.5.0/24');
    expect(normalizeCidr('10.0.5.7/33')).toBeUndefined();
    expect(normalizeCidr('nonsense')).toBeUndefined();
    expect(cidrHostBitsProblem('spec.cidr', '10.0.5.7/24')).toEqual({ field: 'spec.cidr', value: '10.0.5.7/24', reason: 'CidrHostBitsSet', message: 'has host bits set; the network is 10.0.5.0/24' });
    for (const fine of ['10.0.5.0/24', '10.0.5.7/32', '0.0.0.0/0', undefined]) expect(cidrHostBitsProblem('spec.cidr', fine)).toBeUndefined();
    // Malformed CIDRs are the schema's to report, not this rule's.
    expect(cidrHostBitsProblem('spec.cidr', '10.0.5/24')).toBeUndefined();
    expect(cidrHostBitsProblem('x', '255.255.255.255/1')?.message).toBe('has host bits set; the network is 128.0.0.0/1');
  });

  it('checks the CIDRs of Vpc and SecurityGroup specs', () => {
    expect(vpcSpecProblems({ cidrBlocks: ['10.0.0.0/16', '10.1.2.3/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.0.0.5' }, { destination: '1.2.3.4/8', nextHop: '10.0.0.5' }] }).map((p) => [p.field, p.reason])).toEqual([
      ['spec.cidrBlocks[1]', 'CidrHostBitsSet'],
      ['spec.staticRoutes[1].destination', 'CidrHostBitsSet'],
    ]);
    expect(vpcSpecProblems(undefined)).toEqual([]);
    expect(securityGroupSpecProblems({ ingress: [{ from: { securityGroupRef: 'web' } }, { from: { cidr: '10.0.0.1/24' } }], egress: [{ to: { cidr: '10.0.0.1/32' } }] }).map((p) => p.field)).toEqual(['spec.ingress[1].from.cidr']);
    expect(securityGroupSpecProblems(undefined)).toEqual([]);
  });

  it('checks a Subnet spec on its own: host bits, gateway, excludeIPs', () => {
    expect(subnetSpecProblems({ vpcRef: 'main', cidr: '10.0.1.0/24', gateway: '10.0.1.254', excludeIPs: ['10.0.1.2..10.0.1.9'] })).toEqual([]);
    expect(subnetSpecProblems({ vpcRef: 'main', cidr: '10.0.1.9/24', gateway: '10.0.1.255', excludeIPs: ['10.0.1.9..10.0.1.2', '10.0.2.1'] }).map((p) => `${p.field} ${p.reason}: ${p.message}`)).toEqual([
      'spec.cidr CidrHostBitsSet: has host bits set; the network is 10.0.1.0/24',
      'spec.gateway GatewayOutsideCidr: must be a usable address inside spec.cidr 10.0.1.0/24',
      'spec.excludeIPs[0] ExcludeMalformed: must be an IPv4 address or a range "a..b" with a <= b',
      'spec.excludeIPs[1] ExcludeOutsideCidr: must be inside spec.cidr 10.0.1.0/24',
    ]);
    expect(subnetSpecProblems({ vpcRef: 'main', cidr: 'garbage' })).toEqual([]);
  });

  it('places a Subnet inside its Vpc and apart from its live siblings in the same Vpc and namespace', () => {
    const vpc = { metadata: meta('main'), spec: { cidrBlocks: ['10.0.0.0/16', '172.16.0.0/24'] } };
    const siblings = [
      subnet('web', { cidr: '10.0.1.0/24' }),
      subnet('other-vpc', { vpcRef: 'other', cidr: '10.0.2.0/24' }),
      subnet('deleting', { cidr: '10.0.3.0/24' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      subnet('elsewhere', { cidr: '10.0.4.0/24' }, { namespace: 'other-ns' }),
    ];
    const problems = (candidate: ReturnType<typeof subnet>, withVpc = true) => subnetPlacementProblems(candidate, withVpc ? vpc : undefined, siblings).map((p) => `${p.reason}: ${p.message}`);
    expect(problems(subnet('new', { cidr: '172.16.0.128/25' }))).toEqual([]);
    for (const free of ['10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24']) expect(problems(subnet('new', { cidr: free }))).toEqual([]);
    expect(problems(subnet('new', { cidr: '10.0.0.0/23' }))).toEqual(['CidrOverlap: overlaps Subnet web (10.0.1.0/24) in Vpc main']);
    expect(problems(subnet('new', { cidr: '10.1.0.0/24' }))).toEqual(["CidrOutsideVpc: must be inside one of Vpc main's cidrBlocks [10.0.0.0/16, 172.16.0.0/24]"]);
    // Straddling two blocks is inside neither.
    expect(problems(subnet('new', { cidr: '172.16.0.0/23' }))).toEqual(["CidrOutsideVpc: must be inside one of Vpc main's cidrBlocks [10.0.0.0/16, 172.16.0.0/24]"]);
    // Without its Vpc (not there yet) only the siblings are checked; a Subnet never overlaps itself.
    expect(problems(subnet('new', { cidr: '192.168.0.0/24' }), false)).toEqual([]);
    expect(problems(subnet('new', { cidr: '10.0.1.0/25' }), false)).toEqual(['CidrOverlap: overlaps Subnet web (10.0.1.0/24) in Vpc main']);
    expect(problems(subnet('web', { cidr: '10.0.1.0/24' }))).toEqual([]);
  });

  it('checks a static address against its Subnet and the other Ports', () => {
    const web = subnet('web', { cidr: '10.0.1.0/24', gateway: '10.0.1.254', excludeIPs: ['10.0.1.100..10.0.1.110'] });
    const ports = [
      port('static', { ipAddress: '10.0.1.20' }),
      port('allocated', {}, { ipAddress: '10.0.1.21' }),
      port('gone', { ipAddress: '10.0.1.22' }, undefined, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      port('other-subnet', { subnetRef: 'db', ipAddress: '10.0.1.23' }),
    ];
    const problems = (ipAddress: string, name = 'new') => staticAddressProblems(port(name, { ipAddress }), web, ports).map((p) => `${p.reason}: ${p.message}`);
    for (const fine of ['10.0.1.1', '10.0.1.22', '10.0.1.23', '10.0.1.253']) expect(problems(fine)).toEqual([]);
    expect(problems('10.0.2.1')).toEqual(["AddressOutsideSubnet: must be inside Subnet web's cidr 10.0.1.0/24"]);
    expect(problems('10.0.1.0')).toEqual(['AddressReserved: is the network or broadcast address']);
    expect(problems('10.0.1.255')).toEqual(['AddressReserved: is the network or broadcast address']);
    expect(problems('10.0.1.254')).toEqual(["AddressIsGateway: is Subnet web's gateway"]);
    expect(problems('10.0.1.105')).toEqual(['AddressExcluded: is excluded from allocation by Subnet web (excludeIPs)']);
    expect(problems('10.0.1.20')).toEqual(['AddressInUse: already used by Port static']);
    expect(problems('10.0.1.21')).toEqual(['AddressInUse: already used by Port allocated']);
    expect(problems('10.0.1.20', 'static')).toEqual([]);
    // No static address, or no Subnet to check against: nothing to say.
    expect(staticAddressProblems(port('new', {}), web, ports)).toEqual([]);
    expect(staticAddressProblems(port('new', { ipAddress: '10.9.9.9' }), undefined, ports)).toEqual([]);
  });
});
