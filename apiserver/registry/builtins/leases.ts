// coordination.k8s.io/v1 Lease: leader election for controller managers and node heartbeats.
import type { ResourceInfo } from '../resource.ts';
import { AGE_COLUMN, builtinResource, int, microTime, str } from './define.ts';

export function leaseResource(): ResourceInfo {
  return builtinResource({
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    plural: 'leases',
    namespaced: true,
    description: 'Lease defines a lease concept: the holder renews it before leaseDurationSeconds pass, or others may take it.',
    properties: {
      spec: {
        type: 'object',
        description: 'Specification of the Lease.',
        properties: {
          holderIdentity: str('The identity of the holder of a current lease.'),
          leaseDurationSeconds: int('Duration that candidates for a lease need to wait to force acquire it, measured against the time of last observed renewTime.', { minimum: 1 }),
          acquireTime: microTime('When the current lease was acquired (RFC 3339 with microseconds).'),
          renewTime: microTime('When the current holder of a lease has last updated the lease.'),
          leaseTransitions: int('The number of transitions of a lease between holders.', { minimum: 0 }),
          strategy: str('Strategy indicates the strategy for picking the leader for coordinated leader election.'),
          preferredHolder: str('PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up.'),
        },
      },
    },
    printerColumns: [{ name: 'Holder', type: 'string', jsonPath: '.spec.holderIdentity', description: 'The identity of the holder' }, AGE_COLUMN],
    selectableFields: ['spec.holderIdentity'],
  });
}
