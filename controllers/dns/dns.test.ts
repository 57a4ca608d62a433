// The Zone controller's pure parts: which record sets a zone serves and from where, who may serve a domain, and
// what OVN's DNS row holds.
import { describe, expect, it } from '@jest/globals';
import type { Zone } from '../../apis/dns/v1alpha1/index.ts';
import { domainConflict } from './claims.ts';
import { ovnDnsRecords, privateZoneRows } from './ovn-dns.ts';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { quoteTxt, vmRecordsChanged, zoneRecordSets, type ZoneView } from './records.ts';

let uid = 0;
const zoneOf = (namespace: string, spec: Zone['spec'], created = '2026-12-05T10:00:00Z', programmed = false): Zone =>
  ({
    apiVersion: 'dns.photoncloud.io/v1alpha1',
    kind: 'Zone',
    metadata: { name: `z${++uid}`, namespace, uid: `uid-${String(uid).padStart(4, '0')}`, creationTimestamp: created },
    spec,
    ...(programmed ? { status: { conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed', message: '', lastTransitionTime: created }] } } : {}),
  }) as Zone;

const view = (zone: Zone, extra: Partial<ZoneView> = {}): ZoneView => ({ zone, virtualMachines: [], loadBalancers: [], ports: [], subnets: [], nameservers: ['ns1.photon.test.'], ...extra });
const subnet = (name: string, vpcRef: string, cidr: string) => ({ metadata: { name }, spec: { vpcRef, cidr } }) as never;
const port = (name: string, subnetRef: string, ipAddress?: string, deleting = false) => ({ metadata: { name, ...(deleting ? { deletionTimestamp: 'now' } : {}) }, spec: { subnetRef }, status: { ipAddress } }) as never;
const vm = (name: string, printableStatus: string, interfaces: Array<{ portName: string; ipAddress: string }>) => ({ metadata: { name }, spec: {}, status: { printableStatus, interfaces } }) as never;

describe('zoneRecordSets', () => {
  it('serves records by hand in PowerDNS form, automatic ones for Running VMs only, hand-written winning', () => {
    const zone = zoneOf('a', { domain: 'acme.test.', ttlSeconds: 60, autoRecords: { virtualMachines: true, ports: true }, records: [{ name: 'web', type: 'A', values: ['192.0.2.1'] }, { name: '@', type: 'TXT', values: ['v="1"'] }, { name: 'v6', type: 'AAAA', values: ['2001:DB8:0::1'] }] });
    const sets = zoneRecordSets(view(zone, {
      ports: [port('web', 'app', '10.0.1.5'), port('db', 'app', '10.0.1.6'), port('gone', 'app', '10.0.1.7', true)],
      virtualMachines: [vm('app-1', 'Running', [{ portName: 'app-1-eth0', ipAddress: '10.0.1.9' }]), vm('app-2', 'Starting', [{ portName: 'x', ipAddress: '10.0.1.10' }])],
    }));
    expect(sets).toEqual([
      { name: 'acme.test.', type: 'TXT', ttl: 60, values: ['"v=\\"1\\""'], source: 'spec' },
      { name: 'app-1.acme.test.', type: 'A', ttl: 60, values: ['10.0.1.9'], source: 'VirtualMachine/app-1' },
      { name: 'db.acme.test.', type: 'A', ttl: 60, values: ['10.0.1.6'], source: 'Port/db' },
      { name: 'v6.acme.test.', type: 'AAAA', ttl: 60, values: ['2001:db8::1'], source: 'spec' },
      { name: 'web.acme.test.', type: 'A', ttl: 60, values: ['192.0.2.1'], source: 'spec' },
    ]);
  });

  it('keeps a private zone to its Vpc\'s addresses and adds PTRs for them', () => {
    const zone = zoneOf('a', { domain: 'acme.internal.', vpcRef: 'main', autoRecords: { ports: true } });
    const sets = zoneRecordSets(view(zone, { subnets: [subnet('app', 'main', '10.0.1.0/24'), subnet('other', 'second', '10.0.1.0/24')], ports: [port('in', 'app', '10.0.1.5'), port('out', 'other', '10.0.1.6')] }));
    expect(sets.map((set) => `${set.name} ${set.type} ${set.values.join(',')} ${set.source}`)).toEqual(['5.1.0.10.in-addr.arpa. PTR in.acme.internal. Subnet/app', 'in.acme.internal. A 10.0.1.5 Port/in']);
  });

  it('publishes NS at a delegation and drops the zone\'s own records at and below it; a CNAME stands alone', () => {
    const zone = zoneOf('a', { domain: 'corp.test.', delegations: [{ name: 'team', namespace: 'b' }], autoRecords: { ports: true }, records: [{ name: 'x.team', type: 'A', values: ['192.0.2.1'] }, { name: 'alias', type: 'CNAME', values: ['www.corp.test.'] }] });
    const sets = zoneRecordSets(view(zone, { ports: [port('alias', 'app', '10.0.1.5'), port('team', 'app', '10.0.1.6')] }));
    expect(sets.map((set) => `${set.name} ${set.type} ${set.source}`)).toEqual(['alias.corp.test. CNAME spec', 'team.corp.test. NS delegation']);
  });

  it('splits long TXT data into 255-character strings', () => {
    expect(quoteTxt('a'.repeat(300))).toBe(`"${'a'.repeat(255)}" "${'a'.repeat(45)}"`);
  });
});

describe('domainConflict', () => {
  it('gives a domain, its parents and children to the first project; a refused zone blocks nobody', () => {
    const first = zoneOf('a', { domain: 'app.corp.test.' }, '2026-12-05T10:00:00Z');
    const same = zoneOf('b', { domain: 'app.corp.test.' }, '2026-12-05T10:00:01Z');
    const parent = zoneOf('b', { domain: 'corp.test.' }, '2026-12-05T10:00:01Z');
    const child = zoneOf('b', { domain: 'x.app.corp.test.' }, '2026-12-05T10:00:01Z');
    const ownChild = zoneOf('a', { domain: 'sub.app.corp.test.' }, '2026-12-05T10:00:02Z');
    const all = [first, same, parent, child, ownChild];
    expect(domainConflict(first, all)).toBeUndefined();
    for (const zone of [same, parent, child]) {
      expect(domainConflict(zone, all)).toMatchObject({ reason: 'DomainTaken' });
      expect(domainConflict(zone, all)!.message).not.toContain('"a"');
    }
    // Project a's own child is fine, though b's refused zones are older.
    expect(domainConflict(ownChild, all)).toBeUndefined();
    // Gone: b's first zone holds the name, the rest of b's zones are b's own family.
    expect(domainConflict(same, [same, parent, child])).toBeUndefined();
  });

  it('lets a delegated child in, breaks ties within a second for the programmed zone, and separates VPCs', () => {
    const parent = zoneOf('a', { domain: 'corp.test.', delegations: [{ name: 'team', namespace: 'b' }] });
    expect(domainConflict(zoneOf('b', { domain: 'x.team.corp.test.' }, '2026-12-05T10:00:05Z'), [parent])).toBeUndefined();
    expect(domainConflict(zoneOf('c', { domain: 'x.team.corp.test.' }, '2026-12-05T10:00:05Z'), [parent])).toMatchObject({ reason: 'DomainTaken' });

    const late = zoneOf('b', { domain: 'tie.test.' }, '2026-12-05T10:00:00Z', true);
    const early = zoneOf('a', { domain: 'tie.test.' }, '2026-12-05T10:00:00Z', false);
    expect(domainConflict(early, [late, early])).toMatchObject({ reason: 'DomainTaken' });
    expect(domainConflict(late, [late, early])).toBeUndefined();

    const red = zoneOf('a', { domain: 'acme.internal.', vpcRef: 'main' });
    const blue = zoneOf('b', { domain: 'acme.internal.', vpcRef: 'main' });
    const redAgain = zoneOf('a', { domain: 'acme.internal.', vpcRef: 'main' }, '2026-12-05T10:00:09Z');
    expect(domainConflict(blue, [red, blue, redAgain])).toBeUndefined();
    expect(domainConflict(redAgain, [red, blue, redAgain])?.message).toContain(`Zone ${red.metadata.name} already serves acme.internal. in Vpc main`);
  });
});

describe('ovnDnsRecords', () => {
  it('merges A and AAAA per name, flattens in-zone CNAMEs, and lists what OVN cannot answer', () => {
    const plan = ovnDnsRecords([
      { name: 'web.acme.internal.', type: 'A', ttl: 1, values: ['10.0.1.5'], source: 'spec' },
      { name: 'web.acme.internal.', type: 'AAAA', ttl: 1, values: ['fd00::5'], source: 'spec' },
      { name: 'www.acme.internal.', type: 'CNAME', ttl: 1, values: ['web.acme.internal.'], source: 'spec' },
      { name: 'ext.acme.internal.', type: 'CNAME', ttl: 1, values: ['example.org.'], source: 'spec' },
      { name: '*.acme.internal.', type: 'A', ttl: 1, values: ['10.0.1.9'], source: 'spec' },
      { name: '5.1.0.10.in-addr.arpa.', type: 'PTR', ttl: 1, values: ['web.acme.internal.'], source: 'Subnet/app' },
      { name: 'acme.internal.', type: 'MX', ttl: 1, values: ['10 mail.acme.internal.'], source: 'spec' },
    ]);
    expect(plan.records).toEqual({ 'web.acme.internal': '10.0.1.5 fd00::5', 'www.acme.internal': '10.0.1.5 fd00::5', '5.1.0.10.in-addr.arpa': 'web.acme.internal' });
    expect(plan.unserved).toEqual(['ext.acme.internal. CNAME', '*.acme.internal. A', 'acme.internal. MX']);
    expect(privateZoneRows(plan.records, ['s1', 's2'])[0]!.memberOf).toEqual([
      { parent: { table: 'Logical_Switch', owner: 's1' }, column: 'dns_records' },
      { parent: { table: 'Logical_Switch', owner: 's2' }, column: 'dns_records' },
    ]);
  });
});

describe('vmRecordsChanged (which VM updates reach the zones of its namespace)', () => {
  const vm = (status: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'a', generation: 1, ...metadata }, spec: {}, status }) as unknown as VirtualMachine;
  const running = vm({ printableStatus: 'Running', interfaces: [{ name: 'eth0', portName: 'web-eth0', ipAddress: '10.0.0.5' }], conditions: [] });

  it('not a status write that leaves whether it runs and its addresses alone', () => {
    expect(vmRecordsChanged(running, vm({ printableStatus: 'Running', interfaces: [{ name: 'eth0', portName: 'web-eth0', ipAddress: '10.0.0.5' }], conditions: [{ type: 'Ready' }], runtime: { node: 'n1' } }))).toBe(false);
  });

  it('starting or stopping, an address, the spec or deletion', () => {
    expect(vmRecordsChanged(vm({ printableStatus: 'Starting' }), running)).toBe(true);
    expect(vmRecordsChanged(running, vm({ printableStatus: 'Running', interfaces: [{ name: 'eth0', portName: 'web-eth0', ipAddress: '10.0.0.6' }] }))).toBe(true);
    expect(vmRecordsChanged(running, { ...running, metadata: { ...running.metadata, generation: 2 } })).toBe(true);
    expect(vmRecordsChanged(running, { ...running, metadata: { ...running.metadata, deletionTimestamp: '2026-12-07T00:00:00Z' } })).toBe(true);
  });
});
