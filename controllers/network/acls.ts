// SecurityGroup rules → OVN ACLs (pure). Semantics, as in OpenStack/Kube-OVN security groups:
//   - a Port in any SecurityGroup denies ingress unless a rule of one of its groups allows it;
//   - egress is open unless one of its groups has egress rules, then only what egress rules allow;
//   - rules are stateful (allow-related: replies of allowed connections pass); DHCP always works.
// Three shared port groups carry the defaults (the Port controller keeps membership):
//   photon_secured_ports          every Port with at least one group: drop all IP ingress (priority 1000)
//   photon_egress_open_ports      secured Ports without egress rules: commit all IP egress (1001)
//   photon_egress_limited_ports   secured Ports with egress rules: drop other IP egress (1000)
// Each group's own port group carries its rules at priority 2000; DHCP exceptions at 2100.
import { formatCidr, parseCidr } from '../../apis/net/ipv4.ts';
import type { SecurityGroupEgressRule, SecurityGroupIngressRule, SecurityGroupPeer } from '../../apis/network/v1alpha1/index.ts';
import { addressSetName, EGRESS_LIMITED_PORTS_GROUP, SECURED_PORTS_GROUP } from './names.ts';

export const EGRESS_OPEN_PORTS_GROUP = 'photon_egress_open_ports';

export interface AclSpec {
  direction: 'to-lport' | 'from-lport';
  priority: number;
  match: string;
  action: 'allow-related' | 'allow' | 'drop';
}

const RULE_PRIORITY = 2000;

function protocolMatch(protocol: string | undefined, ports: string | undefined, side: 'dst'): string | undefined {
  switch (protocol ?? 'Any') {
    case 'Any':
      return undefined;
    case 'ICMP':
      return 'icmp4';
    case 'TCP':
    case 'UDP': {
      const l4 = protocol!.toLowerCase();
      if (!ports) return l4;
      const [low, high] = ports.split('-').map(Number);
      return high === undefined || high === low ? `${l4} && ${l4}.${side} == ${low}` : `${l4} && ${l4}.${side} >= ${low} && ${l4}.${side} <= ${high}`;
    }
    default:
      throw new Error(`unknown protocol ${protocol}`);
  }
}

/** The peer as a match on the remote address; undefined when the peer group is unknown (rule skipped). */
function peerMatch(peer: SecurityGroupPeer, field: 'ip4.src' | 'ip4.dst', groupUid: (name: string) => string | undefined): string | null | undefined {
  if (peer.cidr) {
    const cidr = parseCidr(peer.cidr);
    if (!cidr) return undefined;
    return cidr.prefix === 0 ? null : `${field} == ${formatCidr(cidr)}`;
  }
  if (peer.securityGroupRef) {
    const uid = groupUid(peer.securityGroupRef);
    return uid ? `${field} == $${addressSetName(uid)}` : undefined;
  }
  return null; // no constraint
}

export interface RulesResult {
  acls: AclSpec[];
  /** Peer groups referenced by rules that do not exist (their rules are left out until they do). */
  missingPeers: string[];
}

/** The ACLs of one SecurityGroup's own port group. */
export function securityGroupAcls(
  portGroup: string,
  spec: { ingress?: SecurityGroupIngressRule[]; egress?: SecurityGroupEgressRule[] },
  groupUid: (name: string) => string | undefined,
): RulesResult {
  const acls: AclSpec[] = [];
  const missingPeers = new Set<string>();
  const add = (direction: AclSpec['direction'], base: string, peer: string | null | undefined, proto: string | undefined, peerName: string | undefined) => {
    if (peer === undefined) {
      if (peerName) missingPeers.add(peerName);
      return;
    }
    const match = [base, 'ip4', peer, proto].filter((part) => part !== null && part !== undefined).join(' && ');
    if (!acls.some((acl) => acl.direction === direction && acl.match === match)) acls.push({ direction, priority: RULE_PRIORITY, match, action: 'allow-related' });
  };
  for (const rule of spec.ingress ?? []) add('to-lport', `outport == @${portGroup}`, peerMatch(rule.from, 'ip4.src', groupUid), protocolMatch(rule.protocol, rule.ports, 'dst'), rule.from.securityGroupRef);
  for (const rule of spec.egress ?? []) add('from-lport', `inport == @${portGroup}`, peerMatch(rule.to, 'ip4.dst', groupUid), protocolMatch(rule.protocol, rule.ports, 'dst'), rule.to.securityGroupRef);
  return { acls, missingPeers: [...missingPeers].sort() };
}

/** The ACLs of the three shared port groups (the defaults every secured Port gets). */
export function sharedGroupAcls(): Record<string, AclSpec[]> {
  return {
    [SECURED_PORTS_GROUP]: [
      { direction: 'to-lport', priority: 1000, match: `outport == @${SECURED_PORTS_GROUP} && ip`, action: 'drop' },
      { direction: 'to-lport', priority: 2100, match: `outport == @${SECURED_PORTS_GROUP} && ip4 && udp && udp.src == 67 && udp.dst == 68`, action: 'allow' },
    ],
    [EGRESS_OPEN_PORTS_GROUP]: [{ direction: 'from-lport', priority: 1001, match: `inport == @${EGRESS_OPEN_PORTS_GROUP} && ip`, action: 'allow-related' }],
    [EGRESS_LIMITED_PORTS_GROUP]: [
      { direction: 'from-lport', priority: 1000, match: `inport == @${EGRESS_LIMITED_PORTS_GROUP} && ip`, action: 'drop' },
      { direction: 'from-lport', priority: 2100, match: `inport == @${EGRESS_LIMITED_PORTS_GROUP} && ip4 && udp && udp.src == 68 && udp.dst == 67`, action: 'allow' },
    ],
  };
}

/** Which shared groups a Port belongs in, given whether it has groups and whether any has egress rules. */
export function sharedGroupsFor(hasGroups: boolean, egressLimited: boolean): string[] {
  if (!hasGroups) return [];
  return [SECURED_PORTS_GROUP, egressLimited ? EGRESS_LIMITED_PORTS_GROUP : EGRESS_OPEN_PORTS_GROUP];
}
