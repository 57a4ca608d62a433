// Where a Port's address is recorded: its status, or (programmed before the status write, which a crash may
// have lost) its logical switch port. An allocator rebuilt after a restart must count both.
import { describe, expect, it } from '@jest/globals';
import type { NorthboundDriver } from '../../agents/ovn-nb/index.ts';
import { OvnUnavailableError } from '../../agents/ovn-nb/index.ts';
import type { LoadBalancerObject, NetworkInformers, PortObject, SubnetObject } from './deps.ts';
import { Allocators } from './port.ts';

const subnet = { metadata: { namespace: 'a', name: 'sn', uid: 'subnet-uid' }, spec: { vpcRef: 'v', cidr: '10.0.0.0/29' } } as unknown as SubnetObject;
const port = (name: string, status?: { ipAddress: string }) =>
  ({ metadata: { namespace: 'a', name, uid: `${name}-uid`, creationTimestamp: `2026-01-01T00:00:0${name.slice(1)}Z` }, spec: { subnetRef: 'sn' }, ...(status ? { status } : {}) }) as unknown as PortObject;

function informersWith(ports: PortObject[], loadBalancers: LoadBalancerObject[] = []): NetworkInformers {
  const listOf = <T>(items: T[]) => ({ list: () => items, get: (name: string) => items.find((item) => (item as { metadata: { name: string } }).metadata.name === name) });
  return { ports: listOf(ports), loadBalancers: listOf(loadBalancers), subnets: listOf([subnet]) } as unknown as NetworkInformers;
}

/** OVN as the driver shows it: logical switch ports by owner, or unreachable. */
function ovnWith(lsps: Record<string, { addresses: string[]; subnet: string }>, unavailableReason?: string): NorthboundDriver {
  return {
    unavailableReason,
    ownedRows: (uid: string) => (lsps[uid] ? [{ table: 'Logical_Switch_Port', row: { _uuid: `lsp-${uid}`, addresses: lsps[uid].addresses, external_ids: { 'photoncloud.io/subnet-uid': lsps[uid].subnet } } }] : []),
  } as unknown as NorthboundDriver;
}

describe('Port addresses recorded in OVN', () => {
  it('an allocator rebuilt after a crash holds the address a Port has only in its logical switch port', () => {
    // p1 was programmed with 10.0.0.2 and the manager died before its status write; p3 has its address in status.
    const ports = [port('p1'), port('p2'), port('p3', { ipAddress: '10.0.0.3' })];
    const allocators = new Allocators(informersWith(ports), ovnWith({ 'p1-uid': { addresses: ['0a:00:00:00:00:01 10.0.0.2'], subnet: 'subnet-uid' } }));
    const allocator = allocators.allocatorFor(subnet);
    expect(allocator.holder('10.0.0.2')).toBe('p1-uid');
    expect(allocator.holder('10.0.0.3')).toBe('p3-uid');
    expect(allocator.allocate('p2-uid')).toBe('10.0.0.4');
    expect(allocators.programmedAddress(ports[0]!, subnet)).toEqual({ ip: '10.0.0.2', mac: '0a:00:00:00:00:01' });
  });

  it('ignores a logical switch port made in another subnet’s switch', () => {
    const ports = [port('p1')];
    const allocators = new Allocators(informersWith(ports), ovnWith({ 'p1-uid': { addresses: ['0a:00:00:00:00:01 10.0.0.2'], subnet: 'old-subnet-uid' } }));
    expect(allocators.allocatorFor(subnet).holder('10.0.0.2')).toBeUndefined();
    expect(allocators.programmedAddress(ports[0]!, subnet)).toBeUndefined();
  });

  it('builds no allocator while OVN is unreachable (its records would be missed)', () => {
    const allocators = new Allocators(informersWith([]), ovnWith({}, 'connection refused'));
    expect(() => allocators.allocatorFor(subnet)).toThrow(OvnUnavailableError);
  });
});

describe('objects waiting for an address', () => {
  const lb = (name: string) => ({ metadata: { namespace: 'a', name, uid: `${name}-uid` }, spec: { subnetRef: 'sn' } }) as unknown as LoadBalancerObject;

  it('are listed by kind, namespace and subnet until they stop waiting', () => {
    const ports = [port('p1'), port('p2')];
    const lbs = [lb('web'), lb('api')];
    const allocators = new Allocators(informersWith(ports, lbs), ovnWith({}));
    allocators.setWaiting('Port', ports[0]!, ['sn']);
    allocators.setWaiting('LoadBalancer', lbs[0]!, ['sn']);
    allocators.setWaiting('LoadBalancer', lbs[1]!, ['other']);
    expect(allocators.waitingFor('Port', 'a', 'sn')).toEqual([{ namespace: 'a', name: 'p1' }]);
    expect(allocators.waitingFor('LoadBalancer', 'a', 'sn')).toEqual([{ namespace: 'a', name: 'web' }]);
    expect(allocators.waitingFor('LoadBalancer', 'a')).toEqual([{ namespace: 'a', name: 'web' }, { namespace: 'a', name: 'api' }]);
    expect(allocators.waitingFor('LoadBalancer', 'b')).toEqual([]);
    allocators.setWaiting('LoadBalancer', lbs[0]!, []);
    expect(allocators.waitingFor('LoadBalancer', 'a', 'sn')).toEqual([]);
  });

  it('forgets one that is gone, or was replaced by a new object of the same name', () => {
    const lbs = [lb('web')];
    const allocators = new Allocators(informersWith([], lbs), ovnWith({}));
    allocators.setWaiting('LoadBalancer', lbs[0]!, ['sn']);
    lbs[0] = { ...lbs[0]!, metadata: { ...lbs[0]!.metadata, uid: 'new-uid' } };
    expect(allocators.waitingFor('LoadBalancer', 'a')).toEqual([]);
    lbs[0] = lb('web');
    expect(allocators.waitingFor('LoadBalancer', 'a')).toEqual([]);
  });
});
