// Who may serve a domain. A public domain — and everything under it — belongs to the project whose Zone claimed
// it first (oldest creationTimestamp, then UID): another project's Zone for the same domain, a parent or a
// child is not served until the first is deleted, unless the parent delegates that child to the project
// (spec.delegations). Inside one project a child zone is fine, the same domain twice is not. Private zones
// only clash with a private zone of the same domain on the same Vpc; they may repeat across VPCs and shadow
// public names inside their VPC only.
//
// The message never says which project holds a name: tenants must not learn each other's names that way.
import type { Zone } from '../../apis/dns/v1alpha1/index.ts';
import { absoluteName } from '../../apis/dns/v1alpha1/validation.ts';

export interface DomainConflict {
  reason: 'DomainTaken';
  message: string;
}

const isUnder = (name: string, ancestor: string) => name === ancestor || name.endsWith(`.${ancestor}`);
const age = (zone: Zone) => `${zone.metadata.creationTimestamp ?? ''}\0${zone.metadata.uid ?? ''}`;

/** Whether `parent` hands `child`'s domain to `child`'s namespace. */
function delegates(parent: Zone, child: Zone): boolean {
  return (parent.spec.delegations ?? []).some((delegation) => delegation.namespace === child.metadata.namespace && isUnder(child.spec.domain, absoluteName(delegation.name, parent.spec.domain)));
}

/** Why `zone` may not be served given every Zone there is, or undefined when it may. */
export function domainConflict(zone: Zone, all: readonly Zone[]): DomainConflict | undefined {
  const domain = zone.spec.domain;
  for (const other of all) {
    if (other.metadata.uid === zone.metadata.uid || age(other) > age(zone)) continue; // only an older zone can hold it
    if (zone.spec.vpcRef !== undefined || other.spec.vpcRef !== undefined) {
      if (zone.spec.vpcRef === other.spec.vpcRef && other.metadata.namespace === zone.metadata.namespace && other.spec.domain === domain) {
        return { reason: 'DomainTaken', message: `Zone ${other.metadata.name} already serves ${domain} in Vpc ${zone.spec.vpcRef}` };
      }
      continue;
    }
    const sameProject = other.metadata.namespace === zone.metadata.namespace;
    if (other.spec.domain === domain) {
      return { reason: 'DomainTaken', message: sameProject ? `Zone ${other.metadata.name} already serves ${domain}` : `${domain} is already served for another project` };
    }
    if (sameProject) continue;
    if (isUnder(domain, other.spec.domain) && !delegates(other, zone)) {
      return { reason: 'DomainTaken', message: `${domain} is inside a domain already served for another project (ask its owner to delegate it: spec.delegations)` };
    }
    if (isUnder(other.spec.domain, domain) && !delegates(zone, other)) {
      return { reason: 'DomainTaken', message: `${domain} contains a domain already served for another project` };
    }
  }
  return undefined;
}
