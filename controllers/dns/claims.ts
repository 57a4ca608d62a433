// Who may serve a domain. A public domain — and everything under it — belongs to the project whose Zone claimed
// it first: another project's Zone for the same domain, a parent or a child is not served until the first is
// deleted, unless the parent delegates that child to the project (spec.delegations). Inside one project a child
// zone is fine, the same domain twice is not. Private zones only clash with a private zone of the same domain
// on the same Vpc; they may repeat across VPCs and shadow public names inside their VPC only.
//
// "First" is the oldest creationTimestamp; timestamps have whole seconds, so within one second a zone already
// programmed wins (it was serving), then the lower UID. Only zones that hold their names count: a refused
// zone blocks nobody.
//
// The message never says which project holds a name: tenants must not learn each other's names that way.
import type { Zone } from '../../apis/dns/v1alpha1/index.ts';
import { absoluteName } from '../../apis/dns/v1alpha1/validation.ts';
import { findCondition } from '../../apis/meta/conditions.ts';

export interface DomainConflict {
  reason: 'DomainTaken';
  message: string;
}

const isUnder = (name: string, ancestor: string) => name === ancestor || name.endsWith(`.${ancestor}`);
/** The last two labels: zones can only clash when they share them (every zone has at least two). */
const family = (domain: string) => domain.split('.').slice(-3).join('.');

function age(zone: Zone): string {
  const programmed = findCondition(zone.status?.conditions, 'Programmed')?.status === 'True';
  return `${zone.metadata.creationTimestamp ?? ''}\0${programmed ? 0 : 1}\0${zone.metadata.uid ?? ''}`;
}

/** Whether `parent` hands `child`'s domain to `child`'s namespace. */
function delegates(parent: Zone, child: Zone): boolean {
  return (parent.spec.delegations ?? []).some((delegation) => delegation.namespace === child.metadata.namespace && isUnder(child.spec.domain, absoluteName(delegation.name, parent.spec.domain)));
}

/** Why `zone` may not be served while `holder` holds its name, or undefined. */
function clash(zone: Zone, holder: Zone): DomainConflict | undefined {
  const domain = zone.spec.domain;
  if (zone.spec.vpcRef !== undefined || holder.spec.vpcRef !== undefined) {
    const sameVpc = zone.spec.vpcRef === holder.spec.vpcRef && holder.metadata.namespace === zone.metadata.namespace;
    return sameVpc && holder.spec.domain === domain ? { reason: 'DomainTaken', message: `Zone ${holder.metadata.name} already serves ${domain} in Vpc ${zone.spec.vpcRef}` } : undefined;
  }
  const sameProject = holder.metadata.namespace === zone.metadata.namespace;
  if (holder.spec.domain === domain) {
    return { reason: 'DomainTaken', message: sameProject ? `Zone ${holder.metadata.name} already serves ${domain}` : `${domain} is already served for another project` };
  }
  if (sameProject) return undefined;
  if (isUnder(domain, holder.spec.domain) && !delegates(holder, zone)) {
    return { reason: 'DomainTaken', message: `${domain} is inside a domain already served for another project (its owner may delegate it: spec.delegations)` };
  }
  if (isUnder(holder.spec.domain, domain) && !delegates(zone, holder)) return { reason: 'DomainTaken', message: `${domain} contains a domain already served for another project` };
  return undefined;
}

/** Why `zone` may not be served given every Zone there is, or undefined when it may. */
export function domainConflict(zone: Zone, all: readonly Zone[]): DomainConflict | undefined {
  const candidates = all.filter((other) => family(other.spec.domain) === family(zone.spec.domain) || other.metadata.uid === zone.metadata.uid);
  if (!candidates.some((other) => other.metadata.uid === zone.metadata.uid)) candidates.push(zone);
  candidates.sort((a, b) => (age(a) < age(b) ? -1 : age(a) > age(b) ? 1 : 0));
  const holders: Zone[] = [];
  for (const candidate of candidates) {
    let conflict: DomainConflict | undefined;
    for (const holder of holders) if ((conflict = clash(candidate, holder))) break;
    if (candidate.metadata.uid === zone.metadata.uid) return conflict;
    if (!conflict) holders.push(candidate);
  }
  return undefined;
}
