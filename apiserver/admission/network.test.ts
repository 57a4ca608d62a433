import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { CrossObjectAdmission, type AdmissionLookup } from './cross-object.ts';
import { registerNetworkAdmission } from './network.ts';
import type { ResourceInfo } from '../registry/resource.ts';

const GROUP = 'network.photoncloud.io';
const object = (kind: string, name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject => ({ apiVersion: `${GROUP}/v1alpha1`, kind, metadata: { name, namespace: 'ns' }, spec, ...(status ? { status } : {}) });

function admission(objects: KubeObject[]): (candidate: KubeObject, old?: KubeObject) => string[] {
  const plural = (kind: string) => `${kind.toLowerCase()}s`;
  const lookup: AdmissionLookup = {
    list: (_group, pluralName, namespace) => objects.filter((item) => plural(item.kind!) === pluralName && (!namespace || item.metadata.namespace === namespace)),
    get: (_group, pluralName, namespace, name) => objects.find((item) => plural(item.kind!) === pluralName && item.metadata.namespace === namespace && item.metadata.name === name),
  };
  const checks = new CrossObjectAdmission(lookup);
  registerNetworkAdmission(checks);
  return (candidate, old) => checks.check({ group: GROUP, kind: candidate.kind } as ResourceInfo, candidate, old).map((error) => `${error.field}: ${error.message}`);
}

describe('network admission', () => {
  const world = [
    object('Vpc', 'main', { cidrBlocks: ['10.0.0.0/16'] }),
    object('Subnet', 'web', { vpcRef: 'main', cidr: '10.0.1.0/24', excludeIPs: ['10.0.1.2..10.0.1.9'] }),
    object('SecurityGroup', 'ssh', {}),
    object('Port', 'taken', { subnetRef: 'web' }, { ipAddress: '10.0.1.20' }),
  ];
  const check = admission(world);

  it('refuses a Subnet outside its VPC, overlapping a sibling, or with a gateway or exclusion outside it', () => {
    expect(check(object('Subnet', 'db', { vpcRef: 'main', cidr: '10.0.2.0/24' }))).toEqual([]);
    expect(check(object('Subnet', 'far', { vpcRef: 'main', cidr: '192.168.0.0/24' }))).toEqual([
      `spec.cidr: Invalid value: "192.168.0.0/24": must be inside one of Vpc main's cidrBlocks [10.0.0.0/16]`,
    ]);
    expect(check(object('Subnet', 'overlap', { vpcRef: 'main', cidr: '10.0.1.128/25' }))).toEqual([`spec.cidr: Invalid value: "10.0.1.128/25": overlaps Subnet web (10.0.1.0/24) in Vpc main`]);
    expect(check(object('Subnet', 'gw', { vpcRef: 'main', cidr: '10.0.3.0/24', gateway: '10.0.4.1', excludeIPs: ['10.0.5.1'] }))).toEqual([
      'spec.gateway: Invalid value: "10.0.4.1": must be a usable address inside spec.cidr 10.0.3.0/24',
      'spec.excludeIPs[0]: Invalid value: "10.0.5.1": must be inside spec.cidr 10.0.3.0/24',
    ]);
    // An unknown VPC is not knowable yet: the controller reports it.
    expect(check(object('Subnet', 'later', { vpcRef: 'not-yet', cidr: '172.16.0.0/24' }))).toEqual([]);
    // Updating a subnet without touching cidr/vpcRef does not re-check overlap against itself.
    expect(check(world[1], world[1])).toEqual([]);
  });

  it('refuses a Port whose static address is outside, reserved, excluded or taken, or whose groups do not exist', () => {
    expect(check(object('Port', 'ok', { subnetRef: 'web', ipAddress: '10.0.1.30', securityGroupRefs: ['ssh'] }))).toEqual([]);
    expect(check(object('Port', 'out', { subnetRef: 'web', ipAddress: '10.0.2.5' }))).toEqual([`spec.ipAddress: Invalid value: "10.0.2.5": must be inside Subnet web's cidr 10.0.1.0/24`]);
    expect(check(object('Port', 'gw', { subnetRef: 'web', ipAddress: '10.0.1.1' }))).toEqual([`spec.ipAddress: Invalid value: "10.0.1.1": is Subnet web's gateway`]);
    expect(check(object('Port', 'bc', { subnetRef: 'web', ipAddress: '10.0.1.255' }))).toEqual(['spec.ipAddress: Invalid value: "10.0.1.255": is the network or broadcast address']);
    expect(check(object('Port', 'ex', { subnetRef: 'web', ipAddress: '10.0.1.5' }))).toEqual(['spec.ipAddress: Invalid value: "10.0.1.5": is excluded from allocation by Subnet web (excludeIPs)']);
    expect(check(object('Port', 'dup', { subnetRef: 'web', ipAddress: '10.0.1.20' }))).toEqual(['spec.ipAddress: Duplicate value: "10.0.1.20": already used by Port taken']);
    expect(check(object('Port', 'nosg', { subnetRef: 'web', securityGroupRefs: ['ssh', 'web-sg'] }))).toEqual(['spec.securityGroupRefs[1]: Not found: "web-sg"']);
  });
});
