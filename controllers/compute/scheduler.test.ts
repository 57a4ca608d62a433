// The Scheduler's decisions over its informers' caches, without an API server (test/compute/scheduler.test.ts
// runs it against one): node views are reused from one decision to the next, so each decision must see the
// placements made before it — the ones still being written (assumed) and the ones the cache already holds.
import { describe, expect, it } from '@jest/globals';
import type { Node, VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { ApiClient } from '../../apis/client/index.ts';
import type { Informer, InformerHandlers } from '../runtime/informer.ts';
import type { ReconcileContext } from '../runtime/reconciler.ts';
import { Scheduler } from './scheduler.ts';

/** An informer reduced to what the scheduler reads: a cache the test fills, and its handlers. */
function fakeInformer<T extends KubeObject>() {
  const objects = new Map<string, T>();
  const handlers: Array<InformerHandlers<T>> = [];
  const keyOf = (name: string, namespace?: string) => `${namespace ?? ''}/${name}`;
  const informer = {
    addEventHandler: (given: InformerHandlers<T>) => (handlers.push(given), () => undefined),
    get: (name: string, namespace?: string) => objects.get(keyOf(name, namespace)),
    list: () => [...objects.values()],
  } as unknown as Informer<T>;
  const put = (object: T) => {
    const key = keyOf(object.metadata.name!, object.metadata.namespace);
    const old = objects.get(key);
    objects.set(key, object);
    for (const handler of handlers) {
      if (old) handler.onUpdate?.(old, object);
      else handler.onAdd?.(object);
    }
  };
  return { informer, put };
}

const node = (name: string, cpu: number): Node =>
  ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Node', metadata: { name }, spec: {}, status: { allocatable: { cpu, memory: '64Gi' }, conditions: [{ type: 'Ready', status: 'True', reason: 'AgentReady', message: '', lastTransitionTime: '' }] } }) as Node;
let version = 0;
const vm = (name: string, cores: number, nodeName?: string): VirtualMachine =>
  ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'ns', generation: 1, resourceVersion: String(++version) }, spec: { cpu: { cores }, memory: '1Gi' }, status: nodeName ? { nodeName } : {} }) as unknown as VirtualMachine;

/** A scheduler whose status writes are recorded; each resolves when the test says so (in flight until then). */
function setUp(nodes: Node[]) {
  const vms = fakeInformer<VirtualMachine>();
  const nodeInformer = fakeInformer<Node>();
  for (const each of nodes) nodeInformer.put(each);
  const placed = new Map<string, string>();
  const pending: Array<() => void> = [];
  const client = {
    patch: (_resource: unknown, name: string, patch: { status: { nodeName?: string } }) =>
      new Promise((resolve) => {
        if (patch.status.nodeName) placed.set(name, patch.status.nodeName);
        pending.push(() => resolve(patch));
      }),
  } as unknown as ApiClient;
  const scheduler = new Scheduler(client, vms.informer, nodeInformer.informer);
  const context = { signal: new AbortController().signal, log: { info: () => undefined }, recorder: { event: async () => undefined } } as unknown as ReconcileContext;
  /** Creates the VM in the cache and starts its decision (its write stays in flight). */
  const schedule = (object: VirtualMachine) => {
    vms.put(object);
    return scheduler.reconcile({ name: object.metadata.name!, namespace: 'ns' }, context);
  };
  /** Ends every write in flight and puts each placed VM into the cache as bound (the informer caught up). */
  const settle = async (written: Promise<unknown>[], cores: number) => {
    for (const resolve of pending.splice(0)) resolve();
    await Promise.all(written);
    for (const [name, nodeName] of placed) vms.put(vm(name, cores, nodeName));
  };
  return { schedule, settle, placed };
}

const perNode = (placed: Map<string, string>) => {
  const counts: Record<string, number> = {};
  for (const nodeName of placed.values()) counts[nodeName] = (counts[nodeName] ?? 0) + 1;
  return counts;
};

describe('Scheduler', () => {
  it('spreads VMs whose writes are still in flight (assumed placements), each decision seeing the ones before', async () => {
    const { schedule, settle, placed } = setUp([node('a', 8), node('b', 8), node('c', 8)]);
    const written = Array.from({ length: 6 }, (_, index) => schedule(vm(`vm-${index}`, 1)));
    expect(perNode(placed)).toEqual({ a: 2, b: 2, c: 2 });
    await settle(written, 1);
  });

  it('counts what the cache holds once the writes are seen, and fills a node exactly, never past it', async () => {
    const { schedule, settle, placed } = setUp([node('a', 4), node('b', 2)]);
    const first = Array.from({ length: 3 }, (_, index) => schedule(vm(`first-${index}`, 1)));
    await settle(first, 1); // now bound in the cache, no longer assumed: the index counts them
    expect(perNode(placed)).toEqual({ a: 2, b: 1 });
    const second = Array.from({ length: 3 }, (_, index) => schedule(vm(`second-${index}`, 1)));
    await settle(second, 1);
    expect(perNode(placed)).toEqual({ a: 4, b: 2 });
    // Both nodes are full: the next VM is not placed.
    const full = schedule(vm('one-too-many', 1));
    await settle([full], 1);
    expect(placed.has('one-too-many')).toBe(false);
  });

  it('queues no pass for an update of a VM that is not pending (bound, or being deleted); a pending one and a resync are', () => {
    const scheduler = new Scheduler({} as ApiClient, fakeInformer<VirtualMachine>().informer, fakeInformer<Node>().informer);
    const pending = vm('a', 1);
    const bound = vm('a', 1, 'node-1');
    expect(scheduler.updateNeedsNoPass(pending, bound)).toBe(true);
    expect(scheduler.updateNeedsNoPass(bound, { ...bound, status: { ...bound.status, phase: 'Running' } } as VirtualMachine)).toBe(true);
    expect(scheduler.updateNeedsNoPass(pending, { ...pending, metadata: { ...pending.metadata, deletionTimestamp: '2026-12-07T00:00:00Z' } })).toBe(true);
    expect(scheduler.updateNeedsNoPass(pending, vm('a', 2))).toBe(false); // still pending: its request changed
    expect(scheduler.updateNeedsNoPass(bound, vm('a', 1))).toBe(false); // released (its node lost): placed again
    expect(scheduler.updateNeedsNoPass(bound, bound)).toBe(false); // a resync
  });
});
