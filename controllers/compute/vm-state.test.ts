import { describe, expect, test } from '@jest/globals';
import type { Node, VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Port } from '../../apis/network/v1alpha1/index.ts';
import { interfacePlans, ownedPort, ownedPortName, portHolder, summarize } from './vm-state.ts';

const T = '2026-01-01T00:00:00Z';
const vm = (spec: Partial<VirtualMachine['spec']> = {}, status?: VirtualMachine['status'], deleting = false): VirtualMachine => ({
  apiVersion: 'compute.photoncloud.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web-1', namespace: 'acme', uid: 'vm-uid', generation: 1, ...(deleting ? { deletionTimestamp: T } : {}) },
  spec: { memory: '256Mi', boot: { kernel: { imageRef: 'k' } }, ...spec },
  ...(status ? { status } : {}),
});
const node = (ready: 'True' | 'False' | 'Unknown'): Node => ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Node', metadata: { name: 'hv-1' }, status: { conditions: [{ type: 'Ready', status: ready, reason: 'R', message: 'm', lastTransitionTime: T }] } });

describe('vm-state', () => {
  test('Port names: <vm>-<iface>, shortened with a hash past 63 characters', () => {
    expect(ownedPortName('web-1', 'eth0')).toBe('web-1-eth0');
    const long = ownedPortName('a'.repeat(60), 'eth0');
    expect(long).toHaveLength(63);
    expect(long).not.toBe(ownedPortName('a'.repeat(61), 'eth0'));
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  test('interfaces: subnetRef creates an owned Port, portRef claims one', () => {
    const plans = interfacePlans(vm({ networks: [{ name: 'eth0', subnetRef: 's', ipAddress: '10.0.0.5', securityGroupRefs: ['web'] }, { name: 'eth1', portRef: 'p' }] }));
    expect(plans.map((plan) => [plan.portName, plan.owned])).toEqual([['web-1-eth0', true], ['p', false]]);
    const port = ownedPort(vm(), plans[0]);
    expect(port.spec).toEqual({ subnetRef: 's', ipAddress: '10.0.0.5', securityGroupRefs: ['web'] });
    expect(port.metadata.ownerReferences).toEqual([expect.objectContaining({ uid: 'vm-uid', controller: true, kind: 'VirtualMachine' })]);
  });

  test('who holds a Port', () => {
    const port = (owner?: Port['status']) => ({ metadata: { name: 'p' }, spec: { subnetRef: 's' }, status: owner }) as Port;
    expect(portHolder(port(), vm())).toBe('none');
    expect(portHolder(port({ owner: { kind: 'VirtualMachine', name: 'web-1' } }), vm())).toBe('this');
    expect(portHolder(port({ owner: { kind: 'VirtualMachine', name: 'other' } }), vm())).toBe('other');
    // A Port a VM made for itself is that VM's before its claim is written (and never another VM's to take).
    const made = (uid: string): Port => ({ metadata: { name: 'p', ownerReferences: [{ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', name: 'web-1', uid, controller: true }] }, spec: { subnetRef: 's' } }) as Port;
    const maker = vm();
    expect(portHolder(made('vm-uid'), maker)).toBe('this');
    expect(portHolder(made('uid-of-an-earlier-web-1'), maker)).toBe('other');
    expect(portHolder({ ...made('vm-uid'), status: { owner: { kind: 'VirtualMachine', name: 'db' } } } as Port, maker)).toBe('other');
  });

  test('printableStatus from the scheduler, the node and the agent', () => {
    const running = { node: 'hv-1', state: 'Running' as const };
    expect(summarize({ vm: vm() }).printableStatus).toBe('Scheduling');
    expect(summarize({ vm: vm({ runStrategy: 'Halted' }) }).printableStatus).toBe('Stopped');
    expect(summarize({ vm: vm({}, { conditions: [{ type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes: insufficient cpu', lastTransitionTime: T }] }) })).toEqual({
      printableStatus: 'ErrorUnschedulable',
      readiness: { ready: false, reason: 'Unschedulable', message: '0/1 nodes: insufficient cpu' },
    });
    expect(summarize({ vm: vm({}, { nodeName: 'hv-1' }), node: node('True') }).printableStatus).toBe('Provisioning');
    expect(summarize({ vm: vm({}, { nodeName: 'hv-1', runtime: running }), node: node('True') })).toMatchObject({ printableStatus: 'Running', readiness: { ready: true } });
    // Running but a Port not bound yet: Running, not Ready.
    expect(summarize({ vm: vm({}, { nodeName: 'hv-1', runtime: running }), node: node('True'), networkBlocker: { ready: false, reason: 'PortNotBound', message: 'x' } })).toMatchObject({ printableStatus: 'Running', readiness: { ready: false, reason: 'PortNotBound' } });
    expect(summarize({ vm: vm({}, { nodeName: 'hv-1', runtime: running }), node: node('Unknown') }).printableStatus).toBe('Unknown');
    // A report from the node the VM was on before a move is stale.
    expect(summarize({ vm: vm({}, { nodeName: 'hv-2', runtime: running }), node: { ...node('True'), metadata: { name: 'hv-2' } } }).printableStatus).toBe('Provisioning');
    expect(summarize({ vm: vm({}, { nodeName: 'hv-1', runtime: { node: 'hv-1', state: 'Failed', reason: 'ChecksumMismatch' } }), node: node('True') })).toMatchObject({ printableStatus: 'Failed', readiness: { reason: 'ChecksumMismatch' } });
    expect(summarize({ vm: vm({ runStrategy: 'Always' }, { nodeName: 'hv-1', runtime: { node: 'hv-1', state: 'Crashed' } }), node: node('True') }).printableStatus).toBe('Starting');
    expect(summarize({ vm: vm({ runStrategy: 'Manual' }, { nodeName: 'hv-1', runtime: { node: 'hv-1', state: 'Crashed' } }), node: node('True') }).printableStatus).toBe('Failed');
    expect(summarize({ vm: vm({}, { nodeName: 'hv-1', runtime: running }, true), node: node('True') }).printableStatus).toBe('Stopping');
  });
});
