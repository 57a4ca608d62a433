// The subnet addresses a LoadBalancer holds, as its status records them: its VIP and one health-check source
// per checked subnet. The network controllers read them as they read Ports' addresses: allocators are built
// from them (port.ts), a Subnet counts them as used (subnet.ts), and a change of them may free one.
import { specDeletionOrStatusChanged } from '../runtime/predicates.ts';
import type { LoadBalancerObject } from './deps.ts';

export interface HeldAddress {
  subnetRef: string;
  address: string;
  role: 'vip' | 'health-check-source';
}

/** Every address the LoadBalancer's status records (one being deleted keeps them until its cleanup). */
export function lbAddresses(lb: LoadBalancerObject): HeldAddress[] {
  const held: HeldAddress[] = [];
  if (lb.status?.vipAddress) held.push({ subnetRef: lb.spec.subnetRef, address: lb.status.vipAddress, role: 'vip' });
  for (const source of lb.status?.healthCheckSourceAddresses ?? []) held.push({ subnetRef: source.subnetRef, address: source.address, role: 'health-check-source' });
  return held;
}

/** The Subnets it holds addresses in (or, by its spec, will). */
export const lbSubnets = (lb: LoadBalancerObject): string[] => [...new Set([lb.spec.subnetRef, ...lbAddresses(lb).map((held) => held.subnetRef)])];

/** Its addresses, spec or deletion changed: an update that may take or free an address. */
export function lbAddressesChanged(old: LoadBalancerObject, lb: LoadBalancerObject): boolean {
  return specDeletionOrStatusChanged<LoadBalancerObject>('vipAddress')(old, lb) || JSON.stringify(old.status?.healthCheckSourceAddresses) !== JSON.stringify(lb.status?.healthCheckSourceAddresses);
}
