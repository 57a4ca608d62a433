// The LoadBalancer controller's pure parts: which backends a pool resolves to, the OVN Northbound rows of a
// LoadBalancer, and its status (backends, listeners, counts and conditions).
import { describe, expect, it } from '@jest/globals';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { LoadBalancer, LoadBalancerBackendStatus, LoadBalancerListener } from '../../apis/lb/v1alpha1/index.ts';
import type { Port, Subnet } from '../../apis/network/v1alpha1/index.ts';
import { resolvePool, resolvePools, selectorMatches, vmBackendChanged, type Backend, type BackendView } from './backends.ts';
import { lbAddressesChanged } from '../network/lb-addresses.ts';
import { portChangedForLbs } from './index.ts';
import type { LoadBalancerObject, PortObject } from './informers.ts';
import { PROXY_LABEL } from './proxy.ts';
import { loadBalancerRows, loadBalancerRowName, ovnProtocolOf, type LoadBalancerRowsInput, type VipTarget } from './ovn-rows.ts';
import { backendStatuses, listenerStatuses, summarize, type CheckedBackend, type ListenerTargets } from './status.ts';

// ---------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------

const subnet = (name: string, vpcRef: string): Subnet => ({ metadata: { name, uid: `uid-${name}` }, spec: { vpcRef, cidr: '10.0.0.0/24' } }) as unknown as Subnet;

const port = (name: string, subnetRef: string, ipAddress?: string, deleting = false): Port =>
  ({
    metadata: { name, uid: `uid-${name}`, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { subnetRef },
    status: ipAddress ? { ipAddress } : {},
  }) as unknown as Port;

interface Nic {
  portName?: string;
  ipAddress?: string;
}

const vm = (name: string, labels: Record<string, string>, nics: Nic[], printableStatus = 'Running', deleting = false): VirtualMachine =>
  ({
    metadata: { name, labels, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: {},
    status: { printableStatus, interfaces: nics.map((nic, index) => ({ name: `eth${index}`, ...nic })) },
  }) as unknown as VirtualMachine;

const lbOf = (spec: Partial<LoadBalancer['spec']> = {}): LoadBalancer =>
  ({
    apiVersion: 'lb.photoncloud.io/v1alpha1',
    kind: 'LoadBalancer',
    metadata: { name: 'lb', namespace: 'a', uid: 'lb-uid' },
    spec: { subnetRef: 'front', listeners: [{ name: 'tcp', protocol: 'TCP', port: 80 }], ...spec },
  }) as LoadBalancer;

// Vpc "blue" has subnets front and back; Vpc "red" has subnet other.
const subnets = [subnet('front', 'blue'), subnet('back', 'blue'), subnet('other', 'red')];

const viewOf = (extra: Partial<BackendView> = {}): BackendView => ({ lb: lbOf(), vpc: 'blue', virtualMachines: [], ports: [], subnets, ...extra });

const names = (backends: readonly Backend[]) => backends.map((backend) => `${backend.kind}/${backend.name}`);

// ---------------------------------------------------------------------------------------------------------
// backends.ts
// ---------------------------------------------------------------------------------------------------------

describe('selectorMatches', () => {
  it('needs every key of the selector with the same value', () => {
    expect(selectorMatches({ app: 'web' }, { app: 'web', tier: 'front' })).toBe(true);
    expect(selectorMatches({ app: 'web', tier: 'front' }, { app: 'web' })).toBe(false);
    expect(selectorMatches({ app: 'web' }, { app: 'db' })).toBe(false);
    expect(selectorMatches({ app: 'web' }, undefined)).toBe(false);
  });

  it('matches anything with an empty selector (resolvePool does not use an empty one)', () => {
    expect(selectorMatches({}, undefined)).toBe(true);
    expect(selectorMatches({}, { app: 'web' })).toBe(true);
  });
});

describe('resolvePool: selector', () => {
  it('takes Running VMs with matching labels, at their first interface whose Port is on the Vpc', () => {
    const pool = resolvePool(
      viewOf({
        ports: [port('web-1-eth0', 'other', '10.9.0.5'), port('web-1-eth1', 'back', '10.0.2.5')],
        virtualMachines: [vm('web-1', { app: 'web' }, [{ portName: 'web-1-eth0', ipAddress: '10.9.0.5' }, { portName: 'web-1-eth1', ipAddress: '10.0.2.5' }])],
      }),
      { selector: { app: 'web' } },
    );
    expect(pool).toEqual({ backends: [{ name: 'web-1', kind: 'VirtualMachine', address: '10.0.2.5', portUid: 'uid-web-1-eth1', subnetRef: 'back' }], refused: [], waiting: [] });
  });

  it('leaves out VMs that are not Running, do not match, are being deleted, or have no interface on the Vpc', () => {
    const pool = resolvePool(
      viewOf({
        ports: [
          port('ok-eth0', 'front', '10.0.1.1'),
          port('stopped-eth0', 'front', '10.0.1.2'),
          port('starting-eth0', 'front', '10.0.1.3'),
          port('db-eth0', 'front', '10.0.1.4'),
          port('deleting-eth0', 'front', '10.0.1.5'),
          port('elsewhere-eth0', 'other', '10.9.0.6'),
          port('noaddr-eth0', 'front'),
          port('portgone-eth0', 'front', '10.0.1.8', true),
        ],
        virtualMachines: [
          vm('ok', { app: 'web' }, [{ portName: 'ok-eth0', ipAddress: '10.0.1.1' }]),
          vm('stopped', { app: 'web' }, [{ portName: 'stopped-eth0', ipAddress: '10.0.1.2' }], 'Stopped'),
          vm('starting', { app: 'web' }, [{ portName: 'starting-eth0', ipAddress: '10.0.1.3' }], 'Starting'),
          vm('db', { app: 'db' }, [{ portName: 'db-eth0', ipAddress: '10.0.1.4' }]),
          vm('deleting', { app: 'web' }, [{ portName: 'deleting-eth0', ipAddress: '10.0.1.5' }], 'Running', true),
          vm('elsewhere', { app: 'web' }, [{ portName: 'elsewhere-eth0', ipAddress: '10.9.0.6' }]),
          vm('noaddr', { app: 'web' }, [{ portName: 'noaddr-eth0' }]),
          vm('noport', { app: 'web' }, [{ portName: 'missing', ipAddress: '10.0.1.7' }]),
          vm('portgone', { app: 'web' }, [{ portName: 'portgone-eth0', ipAddress: '10.0.1.8' }]),
          vm('nonics', { app: 'web' }, []),
        ],
      }),
      { selector: { app: 'web' } },
    );
    expect(names(pool.backends)).toEqual(['VirtualMachine/ok']);
    expect(pool.refused).toEqual([]);
    expect(pool.waiting).toEqual([]);
  });

  it('leaves out a VM without status', () => {
    const bare = { metadata: { name: 'bare', labels: { app: 'web' } }, spec: {} } as unknown as VirtualMachine;
    expect(resolvePool(viewOf({ virtualMachines: [bare] }), { selector: { app: 'web' } }).backends).toEqual([]);
  });

  it('selects nothing with an empty or missing selector, or no spec at all', () => {
    const view = viewOf({ ports: [port('a-eth0', 'front', '10.0.1.1')], virtualMachines: [vm('a', {}, [{ portName: 'a-eth0', ipAddress: '10.0.1.1' }])] });
    expect(resolvePool(view, { selector: {} }).backends).toEqual([]);
    expect(resolvePool(view, {}).backends).toEqual([]);
    expect(resolvePool(view, undefined)).toEqual({ backends: [], refused: [], waiting: [] });
  });
});

describe('resolvePool: portRefs', () => {
  it('takes named Ports on the Vpc, refuses missing and foreign ones, waits for unaddressed ones', () => {
    const pool = resolvePool(
      viewOf({ ports: [port('p1', 'front', '10.0.1.10'), port('p2', 'back', '10.0.2.10'), port('foreign', 'other', '10.9.0.10'), port('fresh', 'front'), port('leaving', 'front', '10.0.1.11', true)] }),
      { portRefs: ['p2', 'missing', 'foreign', 'fresh', 'p1', 'leaving'] },
    );
    expect(pool.backends).toEqual([
      { name: 'p1', kind: 'Port', address: '10.0.1.10', portUid: 'uid-p1', subnetRef: 'front' },
      { name: 'p2', kind: 'Port', address: '10.0.2.10', portUid: 'uid-p2', subnetRef: 'back' },
    ]);
    expect(pool.refused).toEqual(['Port missing does not exist', 'Port foreign is not on Vpc blue', 'Port leaving does not exist']);
    expect(pool.waiting).toEqual(['fresh']);
  });

  it('refuses a Port whose Subnet is unknown (its Vpc cannot be shown to be the LB\'s)', () => {
    const pool = resolvePool(viewOf({ ports: [port('orphan', 'nowhere', '10.0.1.10')] }), { portRefs: ['orphan'] });
    expect(pool).toEqual({ backends: [], refused: ['Port orphan is not on Vpc blue'], waiting: [] });
  });

  it('counts a VM once when its own Port is named too, and sorts Ports before VirtualMachines, each by name', () => {
    const pool = resolvePool(
      viewOf({
        ports: [port('web-b-eth0', 'front', '10.0.1.2'), port('web-a-eth0', 'front', '10.0.1.1'), port('zeta', 'back', '10.0.2.1'), port('alpha', 'back', '10.0.2.2')],
        virtualMachines: [vm('web-b', { app: 'web' }, [{ portName: 'web-b-eth0', ipAddress: '10.0.1.2' }]), vm('web-a', { app: 'web' }, [{ portName: 'web-a-eth0', ipAddress: '10.0.1.1' }])],
      }),
      { selector: { app: 'web' }, portRefs: ['zeta', 'web-a-eth0', 'alpha'] },
    );
    expect(names(pool.backends)).toEqual(['Port/alpha', 'Port/zeta', 'VirtualMachine/web-a', 'VirtualMachine/web-b']);
    expect(new Set(pool.backends.map((backend) => backend.address)).size).toBe(pool.backends.length);
    // The VM (resolved first) is the one kept for the shared address.
    expect(pool.backends.find((backend) => backend.address === '10.0.1.1')).toMatchObject({ kind: 'VirtualMachine', name: 'web-a', portUid: 'uid-web-a-eth0' });
  });

  it('gives the same output whatever order the objects come in', () => {
    const ports = [port('a-eth0', 'front', '10.0.1.1'), port('b-eth0', 'front', '10.0.1.2'), port('c-eth0', 'back', '10.0.2.3'), port('p', 'front', '10.0.1.9')];
    const vms = [vm('a', { app: 'web' }, [{ portName: 'a-eth0', ipAddress: '10.0.1.1' }]), vm('b', { app: 'web' }, [{ portName: 'b-eth0', ipAddress: '10.0.1.2' }]), vm('c', { app: 'web' }, [{ portName: 'c-eth0', ipAddress: '10.0.2.3' }])];
    const spec = { selector: { app: 'web' }, portRefs: ['p'] };
    const forward = resolvePool(viewOf({ ports, virtualMachines: vms }), spec);
    const backward = resolvePool(viewOf({ ports: [...ports].reverse(), virtualMachines: [...vms].reverse() }), spec);
    expect(backward).toEqual(forward);
    expect(names(forward.backends)).toEqual(['Port/p', 'VirtualMachine/a', 'VirtualMachine/b', 'VirtualMachine/c']);
  });
});

describe('resolvePools', () => {
  it('has a default pool and one per HTTP rule, keyed <listener>/<index>; TCP/UDP listeners add none', () => {
    const lb = lbOf({
      backends: { portRefs: ['p1'] },
      listeners: [
        { name: 'tcp', protocol: 'TCP', port: 22, rules: [{ backends: { portRefs: ['p2'] } }] } as LoadBalancerListener,
        { name: 'udp', protocol: 'UDP', port: 53 },
        { name: 'web', protocol: 'HTTP', port: 80, rules: [{ host: 'a.test', backends: { portRefs: ['p2'] } }, { pathPrefix: '/api', backends: { selector: { app: 'api' } } }] },
        { name: 'plain', protocol: 'HTTP', port: 8080 },
      ],
    });
    const pools = resolvePools(
      viewOf({
        lb,
        ports: [port('p1', 'front', '10.0.1.1'), port('p2', 'front', '10.0.1.2'), port('api-eth0', 'back', '10.0.2.1')],
        virtualMachines: [vm('api', { app: 'api' }, [{ portName: 'api-eth0', ipAddress: '10.0.2.1' }])],
      }),
    );
    expect([...pools.keys()]).toEqual(['default', 'web/0', 'web/1']);
    expect(names(pools.get('default')!.backends)).toEqual(['Port/p1']);
    expect(names(pools.get('web/0')!.backends)).toEqual(['Port/p2']);
    expect(names(pools.get('web/1')!.backends)).toEqual(['VirtualMachine/api']);
  });

  it('has an empty default pool when spec.backends is absent', () => {
    expect(resolvePools(viewOf())).toEqual(new Map([['default', { backends: [], refused: [], waiting: [] }]]));
  });
});

describe('watch predicates: which updates of other kinds bring LoadBalancers back', () => {
  const changed = <T extends object>(object: T, edit: (copy: T) => void): T => {
    const copy = structuredClone(object);
    edit(copy);
    return copy;
  };

  it('a VM: labels, state, addresses and deletion; not its other status', () => {
    const before = vm('a', { app: 'web' }, [{ portName: 'a-0', ipAddress: '10.0.0.5' }]);
    expect(vmBackendChanged(before, changed(before, (copy) => ((copy.status as { phase?: string }).phase = 'Booting')))).toBe(false);
    expect(vmBackendChanged(before, changed(before, (copy) => (copy.metadata.annotations = { note: 'x' })))).toBe(false);
    expect(vmBackendChanged(before, changed(before, (copy) => (copy.metadata.labels = { app: 'db' })))).toBe(true);
    expect(vmBackendChanged(before, changed(before, (copy) => (copy.status!.printableStatus = 'Stopped')))).toBe(true);
    expect(vmBackendChanged(before, changed(before, (copy) => (copy.status!.interfaces![0]!.ipAddress = '10.0.0.6')))).toBe(true);
    expect(vmBackendChanged(before, changed(before, (copy) => (copy.metadata.deletionTimestamp = '2026-01-01T00:00:00Z')))).toBe(true);
  });

  it('a Port: subnet, address, MAC, readiness, proxy label, owner and deletion; not a claim', () => {
    const before = { ...port('p', 'front', '10.0.0.5'), metadata: { name: 'p', uid: 'uid-p', generation: 1 } } as unknown as PortObject;
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.status!.owner = { kind: 'VirtualMachine', name: 'a' } as never)))).toBe(false);
    expect(portChangedForLbs(before, changed(before, (copy) => ((copy.status as { boundNode?: string }).boundNode = 'n1')))).toBe(false);
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.metadata.generation = 2)))).toBe(true);
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.status!.ipAddress = '10.0.0.6')))).toBe(true);
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.status!.macAddress = '0a:00:00:00:00:01')))).toBe(true);
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.status!.conditions = [{ type: 'Ready', status: 'True', reason: 'Programmed', message: 'ok', lastTransitionTime: '' }])))).toBe(true);
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.metadata.labels = { [PROXY_LABEL]: 'lb' })))).toBe(true);
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'LoadBalancer', name: 'lb', uid: 'lb-uid', controller: true }])))).toBe(true);
    expect(portChangedForLbs(before, changed(before, (copy) => (copy.metadata.deletionTimestamp = '2026-01-01T00:00:00Z')))).toBe(true);
  });

  it('another LoadBalancer: its VIP, health-check sources, spec or deletion; not its backends', () => {
    const before = { ...lbOf(), metadata: { name: 'lb', namespace: 'a', uid: 'lb-uid', generation: 1 }, status: { vipAddress: '10.0.0.2', healthCheckSourceAddresses: [{ subnetRef: 'front', address: '10.0.0.3' }] } } as LoadBalancerObject;
    expect(lbAddressesChanged(before, changed(before, (copy) => (copy.status!.backendCount = 3)))).toBe(false);
    expect(lbAddressesChanged(before, changed(before, (copy) => (copy.status!.vipAddress = '10.0.0.4')))).toBe(true);
    expect(lbAddressesChanged(before, changed(before, (copy) => (copy.status!.healthCheckSourceAddresses = [])))).toBe(true);
    expect(lbAddressesChanged(before, changed(before, (copy) => (copy.metadata.generation = 2)))).toBe(true);
    expect(lbAddressesChanged(before, changed(before, (copy) => (copy.metadata.deletionTimestamp = '2026-01-01T00:00:00Z')))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------
// ovn-rows.ts
// ---------------------------------------------------------------------------------------------------------

const target = (address: string, port: number, subnetRef = 'front') => ({ address, port, portUid: `lsp-${address}`, subnetRef });

const rowsInput = (extra: Partial<LoadBalancerRowsInput> = {}): LoadBalancerRowsInput => ({
  uid: 'lb-uid',
  vip: '10.0.1.100',
  vips: [],
  healthCheck: { enabled: true, intervalSeconds: 5, timeoutSeconds: 3, successThreshold: 1, failureThreshold: 3 },
  healthCheckSources: new Map([
    ['front', '10.0.1.250'],
    ['back', '10.0.2.250'],
  ]),
  sessionAffinity: 'None',
  vpcUid: 'vpc-uid',
  subnetUids: ['sw-front', 'sw-back'],
  ...extra,
});

const expectedMemberOf = [
  { parent: { table: 'Logical_Router', owner: 'vpc-uid' }, column: 'load_balancer' },
  { parent: { table: 'Logical_Switch', owner: 'sw-front' }, column: 'load_balancer' },
  { parent: { table: 'Logical_Switch', owner: 'sw-back' }, column: 'load_balancer' },
];

describe('ovnProtocolOf / loadBalancerRowName', () => {
  it('maps UDP to udp and TCP, HTTP and the default to tcp', () => {
    expect(ovnProtocolOf({ name: 'x', protocol: 'UDP', port: 1 })).toBe('udp');
    expect(ovnProtocolOf({ name: 'x', protocol: 'TCP', port: 1 })).toBe('tcp');
    expect(ovnProtocolOf({ name: 'x', protocol: 'HTTP', port: 1 })).toBe('tcp');
    expect(ovnProtocolOf({ name: 'x', port: 1 })).toBe('tcp');
    expect(loadBalancerRowName('u', 'udp')).toBe('lb-u-udp');
  });
});

describe('loadBalancerRows', () => {
  it('makes no rows without VIPs', () => {
    expect(loadBalancerRows(rowsInput())).toEqual([]);
  });

  it('makes one Load_Balancer per protocol in use, member of the router and every switch, with health checks', () => {
    const vips: VipTarget[] = [
      { protocol: 'tcp', port: 80, targets: [target('10.0.1.1', 8080), target('10.0.2.1', 8080, 'back')] },
      { protocol: 'tcp', port: 443, targets: [target('10.0.1.1', 8443)] },
      { protocol: 'udp', port: 53, targets: [target('10.0.2.1', 5353, 'back')] },
    ];
    const rows = loadBalancerRows(rowsInput({ vips }));
    expect(rows.map((row) => `${row.table}/${row.key}`)).toEqual([
      'Load_Balancer/tcp',
      'Load_Balancer_Health_Check/tcp-80',
      'Load_Balancer_Health_Check/tcp-443',
      'Load_Balancer/udp',
      'Load_Balancer_Health_Check/udp-53',
    ]);
    expect(rows[0]).toEqual({
      table: 'Load_Balancer',
      key: 'tcp',
      columns: {
        name: 'lb-lb-uid-tcp',
        protocol: 'tcp',
        vips: { '10.0.1.100:80': '10.0.1.1:8080,10.0.2.1:8080', '10.0.1.100:443': '10.0.1.1:8443' },
        ip_port_mappings: { '10.0.1.1': 'lsp-10.0.1.1:10.0.1.250', '10.0.2.1': 'lsp-10.0.2.1:10.0.2.250' },
        selection_fields: [],
        options: { reject: 'true' },
      },
      memberOf: expectedMemberOf,
    });
    expect(rows[1]).toEqual({
      table: 'Load_Balancer_Health_Check',
      key: 'tcp-80',
      columns: { vip: '10.0.1.100:80', options: { interval: '5', timeout: '3', success_count: '1', failure_count: '3' } },
      memberOf: [{ parent: { table: 'Load_Balancer', owner: 'lb-uid', key: 'tcp' }, column: 'health_check' }],
    });
    expect(rows[3]).toMatchObject({
      columns: { name: 'lb-lb-uid-udp', protocol: 'udp', vips: { '10.0.1.100:53': '10.0.2.1:5353' }, ip_port_mappings: { '10.0.2.1': 'lsp-10.0.2.1:10.0.2.250' } },
      memberOf: expectedMemberOf,
    });
    expect(rows[4]).toMatchObject({ columns: { vip: '10.0.1.100:53' }, memberOf: [{ parent: { table: 'Load_Balancer', owner: 'lb-uid', key: 'udp' }, column: 'health_check' }] });
  });

  it('writes the health check options as strings from the spec', () => {
    const rows = loadBalancerRows(rowsInput({ vips: [{ protocol: 'tcp', port: 22, targets: [target('10.0.1.1', 22)] }], healthCheck: { enabled: true, intervalSeconds: 10, timeoutSeconds: 7, successThreshold: 2, failureThreshold: 5 } }));
    expect(rows.find((row) => row.table === 'Load_Balancer_Health_Check')!.columns.options).toEqual({ interval: '10', timeout: '7', success_count: '2', failure_count: '5' });
  });

  it('makes only the udp row when there are only UDP listeners', () => {
    const rows = loadBalancerRows(rowsInput({ vips: [{ protocol: 'udp', port: 53, targets: [target('10.0.1.1', 53)] }] }));
    expect(rows.filter((row) => row.table === 'Load_Balancer').map((row) => row.key)).toEqual(['udp']);
  });

  it('leaves a target without a source address in its subnet out of vips when checks are on', () => {
    const rows = loadBalancerRows(
      rowsInput({
        vips: [
          { protocol: 'tcp', port: 80, targets: [target('10.0.1.1', 80), target('10.0.3.1', 80, 'unsourced')] },
          { protocol: 'tcp', port: 81, targets: [target('10.0.3.1', 81, 'unsourced')] },
        ],
      }),
    );
    expect(rows[0].columns.vips).toEqual({ '10.0.1.100:80': '10.0.1.1:80', '10.0.1.100:81': '' });
    expect(rows[0].columns.ip_port_mappings).toEqual({ '10.0.1.1': 'lsp-10.0.1.1:10.0.1.250' });
    // The VIP:port still gets its check (and rejects while it has no backend).
    expect(rows.filter((row) => row.table === 'Load_Balancer_Health_Check').map((row) => row.key)).toEqual(['tcp-80', 'tcp-81']);
  });

  it('keeps every target, without mappings or health check rows, when checks are off', () => {
    const rows = loadBalancerRows(
      rowsInput({
        healthCheck: { enabled: false, intervalSeconds: 5, timeoutSeconds: 3, successThreshold: 1, failureThreshold: 3 },
        vips: [{ protocol: 'tcp', port: 80, targets: [target('10.0.1.1', 80), target('10.0.3.1', 80, 'unsourced')] }],
      }),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].table).toBe('Load_Balancer');
    expect(rows[0].columns.vips).toEqual({ '10.0.1.100:80': '10.0.1.1:80,10.0.3.1:80' });
    expect(rows[0].columns.ip_port_mappings).toEqual({});
  });

  it('selects by source address with ClientIP affinity, always rejecting when there is no backend', () => {
    const rows = loadBalancerRows(rowsInput({ sessionAffinity: 'ClientIP', vips: [{ protocol: 'tcp', port: 80, targets: [] }, { protocol: 'udp', port: 53, targets: [] }] }));
    const balancers = rows.filter((row) => row.table === 'Load_Balancer');
    expect(balancers.map((row) => row.columns.selection_fields)).toEqual([['ip_src'], ['ip_src']]);
    expect(balancers.map((row) => row.columns.options)).toEqual([{ reject: 'true' }, { reject: 'true' }]);
    expect(balancers[0].columns.vips).toEqual({ '10.0.1.100:80': '' });
  });

  it('is a member of the router alone when no switch is programmed', () => {
    const rows = loadBalancerRows(rowsInput({ subnetUids: [], vips: [{ protocol: 'tcp', port: 80, targets: [target('10.0.1.1', 80)] }] }));
    expect(rows[0].memberOf).toEqual([{ parent: { table: 'Logical_Router', owner: 'vpc-uid' }, column: 'load_balancer' }]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// status.ts
// ---------------------------------------------------------------------------------------------------------

const backend = (name: string, address: string, kind: Backend['kind'] = 'VirtualMachine'): Backend => ({ name, kind, address, portUid: `lsp-${name}`, subnetRef: 'front' });

const checked = (b: Backend, port: number, health: CheckedBackend['health'], protocol: CheckedBackend['protocol'] = 'TCP'): CheckedBackend => ({ backend: b, port, protocol, health });

const listener = (name: string, port: number, backends: CheckedBackend[], programmed = true, protocol: ListenerTargets['protocol'] = 'TCP'): ListenerTargets => ({ name, protocol, port, programmed, backends });

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:05:00.000Z';

describe('backendStatuses', () => {
  it('makes one entry per backend and port, healthy when online, since now the first time', () => {
    const a = backend('a', '10.0.1.1');
    const entries = backendStatuses([listener('http', 80, [checked(a, 8080, 'online'), checked(backend('p', '10.0.1.9', 'Port'), 8080, 'offline')]), listener('dns', 53, [checked(a, 53, 'unknown', 'UDP')], true, 'UDP')], undefined, T0);
    expect(entries).toEqual([
      { name: 'a', kind: 'VirtualMachine', address: '10.0.1.1', port: 53, protocol: 'UDP', health: 'unknown', healthy: false, since: T0 },
      { name: 'a', kind: 'VirtualMachine', address: '10.0.1.1', port: 8080, protocol: 'TCP', health: 'online', healthy: true, since: T0 },
      { name: 'p', kind: 'Port', address: '10.0.1.9', port: 8080, protocol: 'TCP', health: 'offline', healthy: false, since: T0 },
    ]);
  });

  it('carries since over while health is unchanged and sets it to now when it changes', () => {
    const a = backend('a', '10.0.1.1');
    const b = backend('b', '10.0.1.2');
    const c = backend('c', '10.0.1.3');
    const previous: LoadBalancerBackendStatus[] = [
      { name: 'a', kind: 'VirtualMachine', address: '10.0.1.1', port: 80, protocol: 'TCP', health: 'online', healthy: true, since: T0 },
      { name: 'b', kind: 'VirtualMachine', address: '10.0.1.2', port: 80, protocol: 'TCP', health: 'unknown', healthy: false, since: T0 },
      { name: 'c', kind: 'VirtualMachine', address: '10.0.1.3', port: 80, protocol: 'TCP', health: 'online', healthy: true },
    ];
    const entries = backendStatuses([listener('tcp', 80, [checked(a, 80, 'online'), checked(b, 80, 'online'), checked(c, 80, 'online')])], previous, T1);
    expect(entries.map((entry) => [entry.name, entry.since])).toEqual([
      ['a', T0],
      ['b', T1],
      ['c', T1], // no since before: now
    ]);
  });

  it('starts since anew when the address, port or protocol changed (a different entry)', () => {
    const previous: LoadBalancerBackendStatus[] = [
      { name: 'a', kind: 'VirtualMachine', address: '10.0.1.1', port: 80, protocol: 'TCP', health: 'online', healthy: true, since: T0 },
      { name: 'b', kind: 'VirtualMachine', address: '10.0.1.2', port: 80, protocol: 'TCP', health: 'online', healthy: true, since: T0 },
      { name: 'c', kind: 'VirtualMachine', address: '10.0.1.3', port: 80, protocol: 'TCP', health: 'online', healthy: true, since: T0 },
    ];
    const entries = backendStatuses(
      [listener('tcp', 80, [checked(backend('a', '10.0.1.11'), 80, 'online'), checked(backend('b', '10.0.1.2'), 81, 'online'), checked(backend('c', '10.0.1.3'), 80, 'online', 'HTTP')])],
      previous,
      T1,
    );
    expect(entries.map((entry) => entry.since)).toEqual([T1, T1, T1]);
  });

  it('sorts by name, then kind, then port numerically, then protocol', () => {
    const web = backend('web', '10.0.1.1');
    const entries = backendStatuses(
      [
        listener('l1', 1, [checked(web, 10000, 'online'), checked(backend('api', '10.0.1.2'), 443, 'online'), checked(web, 9, 'online')]),
        listener('l2', 2, [checked(backend('web', '10.0.1.3', 'Port'), 80, 'online'), checked(web, 9, 'online', 'UDP')]),
      ],
      undefined,
      T0,
    );
    expect(entries.map((entry) => `${entry.name}/${entry.kind}/${entry.port}/${entry.protocol}`)).toEqual(['api/VirtualMachine/443/TCP', 'web/Port/80/TCP', 'web/VirtualMachine/9/TCP', 'web/VirtualMachine/9/UDP', 'web/VirtualMachine/10000/TCP']);
  });

  // Found by this test: a joined sort key put "web-2" before "web" ('-' collates before '/').
  it('sorts a name before a longer name it is a prefix of ("web" before "web-2")', () => {
    const entries = backendStatuses([listener('tcp', 80, [checked(backend('web-2', '10.0.1.2'), 80, 'online'), checked(backend('web', '10.0.1.1'), 80, 'online')])], undefined, T0);
    expect(entries.map((entry) => entry.name)).toEqual(['web', 'web-2']);
  });

  it('makes one entry for the same backend, port and protocol found through two listeners', () => {
    const a = backend('a', '10.0.1.1');
    expect(backendStatuses([listener('x', 80, [checked(a, 8080, 'online')]), listener('y', 81, [checked(a, 8080, 'online')])], undefined, T0)).toHaveLength(1);
  });

  it('is empty with no backends', () => {
    expect(backendStatuses([listener('tcp', 80, [])], [{ name: 'gone', address: '10.0.1.1', since: T0 }], T1)).toEqual([]);
  });
});

describe('listenerStatuses', () => {
  it('is Pending until programmed (or until the first check result), then NoBackends, NoHealthyBackends or Active', () => {
    const a = backend('a', '10.0.1.1');
    const b = backend('b', '10.0.1.2');
    expect(
      listenerStatuses([
        listener('pending', 1, [checked(a, 1, 'online')], false),
        listener('empty', 2, []),
        listener('down', 3, [checked(a, 3, 'offline'), checked(b, 3, 'unknown')]),
        listener('checking', 4, [checked(a, 4, 'unknown')]),
        listener('up', 5, [checked(a, 5, 'offline'), checked(b, 5, 'online')], true, 'HTTP'),
        listener('pending-empty', 6, [], false, 'UDP'),
      ]),
    ).toEqual([
      { name: 'pending', protocol: 'TCP', port: 1, state: 'Pending' },
      { name: 'empty', protocol: 'TCP', port: 2, state: 'NoBackends' },
      { name: 'down', protocol: 'TCP', port: 3, state: 'NoHealthyBackends' },
      { name: 'checking', protocol: 'TCP', port: 4, state: 'Pending' },
      { name: 'up', protocol: 'HTTP', port: 5, state: 'Active' },
      { name: 'pending-empty', protocol: 'UDP', port: 6, state: 'Pending' },
    ]);
  });
});

const entry = (name: string, port: number, health: 'online' | 'offline' | 'unknown', kind: 'VirtualMachine' | 'Port' = 'VirtualMachine', address = `10.0.1.${name.length}`): LoadBalancerBackendStatus => ({
  name,
  kind,
  address,
  port,
  protocol: 'TCP',
  health,
  healthy: health === 'online',
  since: T0,
});

describe('summarize', () => {
  it('says NoBackends with nothing selected, not degraded', () => {
    expect(summarize([])).toEqual({
      backendCount: 0,
      healthyBackendCount: 0,
      unready: { reason: 'NoBackends', message: 'no backend is selected: the VIP rejects connections' },
      degraded: { status: 'False', reason: 'NotDegraded', message: '' },
    });
  });

  it('counts distinct backends, healthy only when online on every port', () => {
    const summary = summarize([entry('a', 80, 'online'), entry('a', 443, 'online'), entry('b', 80, 'online'), entry('b', 443, 'unknown'), entry('a', 80, 'online', 'Port')]);
    expect(summary.backendCount).toBe(3); // VirtualMachine a, VirtualMachine b, Port a
    expect(summary.healthyBackendCount).toBe(2);
    expect(summary.unready).toBeUndefined();
    expect(summary.degraded).toEqual({ status: 'False', reason: 'NotDegraded', message: '' });
  });

  it('is degraded, and Ready, when some are offline and some healthy', () => {
    const summary = summarize([entry('a', 80, 'online', 'VirtualMachine', '10.0.1.1'), entry('b', 80, 'offline', 'VirtualMachine', '10.0.1.2'), entry('p', 8080, 'offline', 'Port', '10.0.1.3')]);
    expect(summary.unready).toBeUndefined();
    expect(summary.degraded).toEqual({ status: 'True', reason: 'BackendsOffline', message: 'failing health checks: VirtualMachine b (10.0.1.2:80), Port p (10.0.1.3:8080)' });
    expect(summary.healthyBackendCount).toBe(1);
  });

  it('counts a backend offline on one port as unhealthy, and degraded while it is online on another', () => {
    const summary = summarize([entry('a', 80, 'online'), entry('a', 443, 'offline')]);
    expect(summary).toMatchObject({ backendCount: 1, healthyBackendCount: 0, degraded: { status: 'True', reason: 'BackendsOffline' } });
    expect(summary.unready).toBeUndefined();
  });

  it('says NoHealthyBackends when none is healthy and some are offline, not degraded', () => {
    const summary = summarize([entry('a', 80, 'offline', 'VirtualMachine', '10.0.1.1'), entry('b', 80, 'unknown', 'VirtualMachine', '10.0.1.2')]);
    expect(summary.unready).toEqual({ reason: 'NoHealthyBackends', message: 'every backend fails its health checks: VirtualMachine a (10.0.1.1:80)' });
    expect(summary.degraded.status).toBe('False');
    expect(summary.healthyBackendCount).toBe(0);
  });

  it('says CheckingBackends when every result is still unknown', () => {
    const summary = summarize([entry('a', 80, 'unknown', 'VirtualMachine', '10.0.1.1'), entry('p', 53, 'unknown', 'Port', '10.0.1.2')]);
    expect(summary.unready).toEqual({ reason: 'CheckingBackends', message: 'waiting for the first health check results of VirtualMachine a (10.0.1.1:80), Port p (10.0.1.2:53)' });
    expect(summary.degraded.status).toBe('False');
  });

  it('is neither unready nor degraded with some healthy and the rest unknown', () => {
    const summary = summarize([entry('a', 80, 'online'), entry('bb', 80, 'unknown')]);
    expect(summary.unready).toBeUndefined();
    expect(summary.degraded.status).toBe('False');
  });

  it('lists at most 5 in a message, then "and N more"', () => {
    const offline = Array.from({ length: 8 }, (_, index) => entry(`vm${index}`, 80, 'offline', 'VirtualMachine', `10.0.1.${index + 1}`));
    const degraded = summarize([entry('ok', 80, 'online', 'VirtualMachine', '10.0.1.100'), ...offline]);
    expect(degraded.degraded.message).toBe(
      'failing health checks: VirtualMachine vm0 (10.0.1.1:80), VirtualMachine vm1 (10.0.1.2:80), VirtualMachine vm2 (10.0.1.3:80), VirtualMachine vm3 (10.0.1.4:80), VirtualMachine vm4 (10.0.1.5:80) and 3 more',
    );
    const exactlyFive = summarize(offline.slice(0, 5));
    expect(exactlyFive.unready!.reason).toBe('NoHealthyBackends');
    expect(exactlyFive.unready!.message).not.toContain('more');
    expect(exactlyFive.unready!.message.split(', ')).toHaveLength(5);
    const six = summarize(offline.slice(0, 6));
    expect(six.unready!.message).toMatch(/VirtualMachine vm4 \(10\.0\.1\.5:80\) and 1 more$/);
  });
});
