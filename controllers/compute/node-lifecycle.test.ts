// Which Lease updates the node-lifecycle controller looks at (its watch predicate), over a fake Node cache.
import { describe, expect, it } from '@jest/globals';
import type { ApiClient, Lease } from '../../apis/client/index.ts';
import type { Node, VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Informer } from '../runtime/informer.ts';
import { NodeLifecycle } from './node-lifecycle.ts';

const cache = <T extends KubeObject>(objects: T[]) =>
  ({ get: (name: string) => objects.find((object) => object.metadata.name === name), list: () => objects, addEventHandler: () => () => undefined }) as unknown as Informer<T>;
const node = (name: string, ready: string): Node => ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Node', metadata: { name }, spec: {}, status: { conditions: [{ type: 'Ready', status: ready, reason: 'x', message: '', lastTransitionTime: '' }] } }) as Node;
const lease = (name: string, renewTime: string, leaseDurationSeconds = 40): Lease => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'photon-node-lease' }, spec: { holderIdentity: name, renewTime, leaseDurationSeconds } }) as Lease;

describe('NodeLifecycle.leaseUpdateMatters', () => {
  const lifecycle = new NodeLifecycle({} as ApiClient, { nodes: cache([node('up', 'True'), node('lost', 'Unknown'), node('sick', 'False')]), leases: cache<Lease>([]), vms: cache<VirtualMachine>([]) });

  it('a Ready node\'s renewal needs no pass (the look already due finds it)', () => {
    expect(lifecycle.leaseUpdateMatters(lease('up', '2026-12-07T10:00:00.000000Z'), lease('up', '2026-12-07T10:00:10.000000Z'))).toBe(false);
  });

  it('a renewal of a node that is not Ready, or of one the controller has not seen, does; so does a new lease duration', () => {
    for (const name of ['lost', 'sick', 'unknown-node']) expect(lifecycle.leaseUpdateMatters(lease(name, '2026-12-07T10:00:00.000000Z'), lease(name, '2026-12-07T10:00:10.000000Z'))).toBe(true);
    expect(lifecycle.leaseUpdateMatters(lease('up', '2026-12-07T10:00:00.000000Z'), lease('up', '2026-12-07T10:00:10.000000Z', 10))).toBe(true);
  });
});
