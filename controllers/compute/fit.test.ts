import { describe, expect, test } from '@jest/globals';
import { choose, type NodeView } from './fit.ts';

const GI = 1024 ** 3;
const node = (name: string, extra: Partial<NodeView> = {}): NodeView => ({
  name,
  labels: {},
  unschedulable: false,
  ready: true,
  allocatable: { cpu: 8, memoryBytes: 16 * GI },
  used: { cpu: 0, memoryBytes: 0, vms: 0 },
  ...extra,
});
const small = { cpu: 1, memoryBytes: GI };

describe('choose', () => {
  test('spreads: the node left least full wins, then fewer VMs, then the name', () => {
    expect(choose(small, undefined, [node('a', { used: { cpu: 4, memoryBytes: 2 * GI, vms: 2 } }), node('b', { used: { cpu: 1, memoryBytes: GI, vms: 1 } })]).node).toBe('b');
    // Memory can be the fuller dimension.
    expect(choose(small, undefined, [node('a', { used: { cpu: 0, memoryBytes: 12 * GI, vms: 1 } }), node('b', { used: { cpu: 4, memoryBytes: 0, vms: 1 } })]).node).toBe('b');
    expect(choose(small, undefined, [node('b'), node('a')]).node).toBe('a');
  });

  test('filters: not Ready, cordoned, nodeSelector, capacity — and says why', () => {
    const nodes = [node('down', { ready: false }), node('cordoned', { unschedulable: true }), node('zone-b', { labels: { zone: 'b' } }), node('full', { labels: { zone: 'a' }, used: { cpu: 8, memoryBytes: 0, vms: 8 } })];
    expect(choose(small, { zone: 'a' }, nodes)).toEqual({
      message: "0/4 nodes are available: 1 didn't match the VM's nodeSelector, 1 insufficient cpu, 1 not Ready, 1 unschedulable (cordoned) (wants 1 cpu, at most 0 free on a node)",
    });
    expect(choose(small, { zone: 'b' }, nodes).node).toBe('zone-b');
  });

  test('too many cores or too much memory anywhere', () => {
    expect(choose({ cpu: 64, memoryBytes: GI }, undefined, [node('a'), node('b', { used: { cpu: 4, memoryBytes: 0, vms: 1 } })]).message).toBe('0/2 nodes are available: 2 insufficient cpu (wants 64 cpu, at most 8 free on a node)');
    expect(choose({ cpu: 1, memoryBytes: 32 * GI }, undefined, [node('a')]).message).toBe('0/1 nodes are available: 1 insufficient memory (wants 32Gi memory, at most 16Gi free on a node)');
    expect(choose(small, undefined, []).message).toBe('no Nodes are registered');
  });

  test('exactly full fits', () => {
    expect(choose({ cpu: 8, memoryBytes: 16 * GI }, undefined, [node('a')]).node).toBe('a');
  });
});
