// ControllerFinalizers: a create gets the finalizers the leading controller manager announced for its
// resource, and nothing without a held Lease or a well-formed announcement.
import { describe, expect, it } from '@jest/globals';
import { CONTROLLER_MANAGER_LEASE, formatHandledFinalizers, HANDLED_FINALIZERS_ANNOTATION, parseHandledFinalizers } from '../../apis/meta/finalizers.ts';
import type { Lease, LeaseSpec } from '../../apis/client/resources.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import type { AdmissionLookup } from './chain.ts';
import { controllerFinalizers, leaseHeld } from './controller-finalizers.ts';

const NOW = Date.parse('2026-12-06T10:00:00Z');
const PORTS = { group: 'network.photoncloud.io', version: 'v1alpha1', kind: 'Port', plural: 'ports', namespaced: true } as ResourceInfo;
const SUBNETS = { ...PORTS, kind: 'Subnet', plural: 'subnets' } as ResourceInfo;
const SECRETS = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true } as ResourceInfo;

const ANNOUNCED = formatHandledFinalizers([
  { group: 'network.photoncloud.io', plural: 'ports', finalizer: 'network.photoncloud.io/ovn' },
  { group: '', plural: 'secrets', finalizer: 'example.photoncloud.io/keep' },
]);

function managerLease(spec: LeaseSpec, annotation: string | null = ANNOUNCED): Lease {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...CONTROLLER_MANAGER_LEASE, annotations: annotation === null ? undefined : { [HANDLED_FINALIZERS_ANNOTATION]: annotation } }, spec };
}
const held = { holderIdentity: 'manager-1', renewTime: new Date(NOW - 5000).toISOString(), leaseDurationSeconds: 15 };

/** The finalizers a create of `resource` ends up with, with `lease` as the manager's Lease in the cache. */
async function admitted(lease: KubeObject | undefined, resource: ResourceInfo = PORTS, finalizers?: string[]): Promise<string[] | undefined> {
  const lookup: AdmissionLookup = {
    get: async () => {
      throw new Error('a storage read on every create');
    },
    list: async () => [],
    cached: (ref, namespace, name) => (ref.plural === 'leases' && namespace === CONTROLLER_MANAGER_LEASE.namespace && name === CONTROLLER_MANAGER_LEASE.name ? lease : undefined),
  };
  const object: KubeObject = { apiVersion: 'v1', kind: resource.kind, metadata: { name: 'x', namespace: 'ns', finalizers } };
  expect(await controllerFinalizers(() => NOW).admit({ operation: 'CREATE', resource, object, dryRun: false }, lookup)).toEqual([]);
  return object.metadata.finalizers;
}

describe('ControllerFinalizers', () => {
  it('adds the announced finalizer of the resource while the manager holds its Lease (core group too), after the ones given', async () => {
    expect(await admitted(managerLease(held))).toEqual(['network.photoncloud.io/ovn']);
    expect(await admitted(managerLease(held), SECRETS, ['mine'])).toEqual(['mine', 'example.photoncloud.io/keep']);
    expect(await admitted(managerLease(held), PORTS, ['network.photoncloud.io/ovn'])).toEqual(['network.photoncloud.io/ovn']);
  });

  it('adds nothing for a resource not announced, without a Lease, or for a Lease released or expired', async () => {
    expect(await admitted(managerLease(held), SUBNETS)).toBeUndefined();
    expect(await admitted(undefined)).toBeUndefined();
    expect(await admitted(managerLease({ ...held, holderIdentity: '' }))).toBeUndefined();
    expect(await admitted(managerLease({ ...held, renewTime: new Date(NOW - 16_000).toISOString() }))).toBeUndefined();
    expect(await admitted(managerLease({ ...held, renewTime: 'yesterday' }))).toBeUndefined();
    expect(await admitted(managerLease(held, null))).toBeUndefined();
  });

  it('ignores an announcement that is not well formed', async () => {
    for (const bad of ['ports.network.photoncloud.io', 'ports.network.photoncloud.io=a=b', 'Ports=x/y', 'ports=x/y z', ',', 'ports=a/b,'.repeat(100)]) {
      expect(parseHandledFinalizers(bad)).toBeUndefined();
      expect(await admitted(managerLease(held, bad))).toBeUndefined();
    }
  });

  it('formats and parses the announcement (sorted, duplicates once)', () => {
    const text = formatHandledFinalizers([
      { group: 'network.photoncloud.io', plural: 'vpcs', finalizer: 'network.photoncloud.io/ovn' },
      { group: 'network.photoncloud.io', plural: 'ports', finalizer: 'network.photoncloud.io/ovn' },
      { group: 'network.photoncloud.io', plural: 'ports', finalizer: 'network.photoncloud.io/ovn' },
    ]);
    expect(text).toBe('ports.network.photoncloud.io=network.photoncloud.io/ovn,vpcs.network.photoncloud.io=network.photoncloud.io/ovn');
    expect(parseHandledFinalizers(text)).toEqual(new Map([['ports.network.photoncloud.io', ['network.photoncloud.io/ovn']], ['vpcs.network.photoncloud.io', ['network.photoncloud.io/ovn']]]));
  });

  it('holds a Lease by the Lease API rule: a holder renewed within its duration', () => {
    expect(leaseHeld(managerLease(held), NOW)).toBe(true);
    expect(leaseHeld(managerLease(held), NOW + 10_001)).toBe(false);
    expect(leaseHeld(managerLease({ ...held, leaseDurationSeconds: undefined }), NOW)).toBe(false);
  });
});
