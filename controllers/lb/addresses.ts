// The addresses a LoadBalancer holds in its tenant's subnets, through the Port controller's allocators (one
// per manager, so no Port can take them): its VIP (owner: its UID) and one health-check source per subnet
// with checked backends (owner: <uid>/health-check-source). The caller commits them to status before OVN
// uses them; the allocators are rebuilt from that status after a restart, so nothing leaks or doubles.
import type { LoadBalancerHealthCheckSourceAddress } from '../../apis/lb/v1alpha1/index.ts';
import { notReady, type Readiness } from '../runtime/lifecycle.ts';
import type { SubnetObject } from '../network/deps.ts';
import { healthCheckSourceOwner, type Allocators } from '../network/port.ts';
import type { LbInformers, LoadBalancerObject } from './informers.ts';

export class LbAddresses {
  constructor(
    private readonly allocators: Allocators,
    private readonly informers: Pick<LbInformers, 'subnets'>,
  ) {}

  /** The VIP: requested, recorded, or newly allocated; or why there is none. */
  vip(lb: LoadBalancerObject, subnet: SubnetObject): string | Readiness {
    const uid = lb.metadata.uid!;
    const allocator = this.allocators.allocatorFor(subnet);
    const requested = lb.spec.vipAddress;
    const recorded = lb.status?.vipAddress;
    // A changed request (or a move to another subnet) gives the old VIP back first.
    if (recorded && ((requested && requested !== recorded) || allocator.holder(recorded) !== uid)) this.allocators.release(uid);
    const wanted = requested ?? recorded;
    if (wanted) {
      const result = allocator.reserve(wanted, uid);
      if (result.ok) return wanted;
      if (result.reason === 'InUse') return notReady('VIPAddressConflict', `${wanted} is already used by ${this.allocators.describeHolder(lb.metadata.namespace, result.holder!)}`);
      // The Subnet's change (a watch) brings the LoadBalancer back; a spec change may fix it too.
      if (requested) return notReady('InvalidVIPAddress', `${wanted} cannot be used in Subnet ${subnet.metadata.name} (${result.reason === 'Reserved' ? 'gateway or excluded' : 'outside the subnet'})`);
    }
    return allocator.allocate(uid) ?? notReady('SubnetExhausted', `Subnet ${subnet.metadata.name} has no free address left for the VIP`);
  }

  /** One source address per subnet with backends (kept while still needed; others given back). */
  healthCheckSources(lb: LoadBalancerObject, subnets: SubnetObject[]): { sources: LoadBalancerHealthCheckSourceAddress[]; exhausted: string[] } {
    const owner = healthCheckSourceOwner(lb.metadata.uid!);
    const recorded = new Map((lb.status?.healthCheckSourceAddresses ?? []).map((source) => [source.subnetRef, source.address]));
    const sources: LoadBalancerHealthCheckSourceAddress[] = [];
    const exhausted: string[] = [];
    const wanted = new Set(subnets.map((subnet) => subnet.metadata.name!));
    for (const [name] of recorded) {
      const subnet = this.informers.subnets.get(name, lb.metadata.namespace);
      if (!wanted.has(name) && subnet) this.allocators.allocatorFor(subnet).release(owner);
    }
    for (const subnet of subnets) {
      const allocator = this.allocators.allocatorFor(subnet);
      const previous = recorded.get(subnet.metadata.name!);
      const address = previous && allocator.reserve(previous, owner).ok ? previous : allocator.allocate(owner);
      if (address) sources.push({ subnetRef: subnet.metadata.name!, address });
      else exhausted.push(subnet.metadata.name!);
    }
    return { sources: sources.sort((a, b) => a.subnetRef.localeCompare(b.subnetRef)), exhausted };
  }
}
