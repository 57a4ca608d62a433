import { describe, expect, test } from '@jest/globals';
import type { Node, VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import { choose, enoughFitting, nodeView, occupies, pinOf, requestOf, type NodeView, type Pin } from './fit.ts';

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

describe('what counts', () => {
  const vm = (spec: Partial<VirtualMachine['spec']>): VirtualMachine =>
    ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'v', namespace: 'n' }, spec: { memory: '512Mi', boot: { imageRef: 'i' }, ...spec } }) as VirtualMachine;

  test('a VM asks for its cores (default 1) and memory; Halted VMs occupy nothing', () => {
    expect(requestOf(vm({}))).toEqual({ cpu: 1, memoryBytes: 512 * 1024 ** 2 });
    expect(requestOf(vm({ cpu: { cores: 4 }, memory: '4Gi' }))).toEqual({ cpu: 4, memoryBytes: 4 * GI });
    expect(occupies(vm({ runStrategy: 'Halted' }))).toBe(false);
    for (const runStrategy of [undefined, 'Always', 'RerunOnFailure', 'Manual'] as const) expect(occupies(vm({ runStrategy }))).toBe(true);
  });

  test('a Node is Ready only with Ready=True; cordon and allocatable are read from it', () => {
    const base = { apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Node', metadata: { name: 'hv', labels: { zone: 'a' } } } as const;
    const used = { cpu: 0, memoryBytes: 0, vms: 0 };
    const condition = (status: string) => ({ type: 'Ready', status, reason: 'R', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' });
    const ready: Node = { ...base, spec: { unschedulable: true }, status: { allocatable: { cpu: 4, memory: '8Gi' }, conditions: [condition('True')] } } as Node;
    expect(nodeView(ready, used)).toEqual({ name: 'hv', labels: { zone: 'a' }, unschedulable: true, ready: true, allocatable: { cpu: 4, memoryBytes: 8 * GI }, used });
    for (const status of ['False', 'Unknown']) expect(nodeView({ ...ready, status: { ...ready.status, conditions: [condition(status)] } } as Node, used).ready).toBe(false);
    expect(nodeView({ ...base } as Node, used)).toMatchObject({ ready: false, unschedulable: false, allocatable: { cpu: 0, memoryBytes: 0 } });
  });
});

describe('local Volumes pin a VM to their node', () => {
  const vmNaming = (...volumes: string[]) => ({ metadata: { name: 'vm', namespace: 'a' }, spec: { memory: '1Gi', volumes: volumes.map((volumeRef, n) => ({ name: `v${n}`, volumeRef })) } }) as unknown as VirtualMachine;
  const nodes = { data: 'hv-2', logs: 'hv-2', other: 'hv-1' } as Record<string, string | undefined>;

  test('the pinned node only, saying why the others are not', () => {
    const pin = pinOf(vmNaming('data', 'unbound'), (name) => nodes[name]);
    expect(pin).toEqual({ node: 'hv-2', why: 'not the node its local Volume data lives on (hv-2)' });
    expect(choose(small, undefined, [node('hv-1'), node('hv-2')], pin as Pin).node).toBe('hv-2');
    expect(choose(small, undefined, [node('hv-1'), node('hv-2', { ready: false })], pin as Pin).message).toBe('0/2 nodes are available: 1 not Ready, 1 not the node its local Volume data lives on (hv-2)');
  });

  test('no bound local Volume: no pin; local Volumes on two nodes: a conflict naming them', () => {
    expect(pinOf(vmNaming('unbound'), (name) => nodes[name])).toBeUndefined();
    expect(pinOf(vmNaming('data', 'logs'), (name) => nodes[name])).toMatchObject({ node: 'hv-2' });
    expect(pinOf(vmNaming('data', 'other'), (name) => nodes[name])).toEqual({ conflict: 'its local Volumes live on different nodes: data on hv-2, other on hv-1' });
  });
});

describe('choose with a sample (many nodes)', () => {
  test('looks at enough fitting nodes from where it starts, and says how many it scanned', () => {
    expect(enoughFitting(50)).toBe(50);
    expect(enoughFitting(1000)).toBe(420);
    expect(enoughFitting(5000)).toBe(500);
    expect(enoughFitting(20_000)).toBe(1000);
    // 300 nodes, the emptiest last: a full scan finds it, a sample of 100 from the start does not.
    const nodes = Array.from({ length: 300 }, (_, index) => node(`n-${String(index).padStart(3, '0')}`, { used: { cpu: index === 299 ? 0 : 2, memoryBytes: 0, vms: index === 299 ? 0 : 1 } }));
    expect(choose(small, undefined, nodes).node).toBe('n-299');
    const sampled = choose(small, undefined, nodes, undefined, { start: 0, enough: 100 });
    expect(sampled).toEqual({ node: 'n-000', message: '', scanned: 100 });
    // Started further on (where the previous decision stopped), the sample reaches it.
    expect(choose(small, undefined, nodes, undefined, { start: 250, enough: 100 }).node).toBe('n-299');
    // Nodes that do not fit are scanned past; with none fitting the answer says why, as a full scan does.
    const full = nodes.map((entry) => ({ ...entry, used: { cpu: 8, memoryBytes: 0, vms: 8 } }));
    expect(choose(small, undefined, full, undefined, { start: 7, enough: 100 }).message).toBe('0/300 nodes are available: 300 insufficient cpu (wants 1 cpu, at most 0 free on a node)');
  });
});
