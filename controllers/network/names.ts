// Names of the OVN rows PhotonCloud creates. They derive from object UIDs, so a deleted and re-created object
// of the same name never collides with leftovers, and two tenants' objects never share a name. Port group
// and address set names must be identifiers (they appear in ACL matches as @name / $name).
import { createHash } from 'node:crypto';

const identifier = (uid: string) => uid.replace(/-/g, '_');

export const routerName = (vpcUid: string) => `lr-${vpcUid}`;
export const switchName = (subnetUid: string) => `ls-${subnetUid}`;
/** The router's port into a subnet. */
export const routerPortName = (subnetUid: string) => `lrp-${subnetUid}`;
/** The subnet's port facing the router (type=router). */
export const switchRouterPortName = (subnetUid: string) => `ls-rtr-${subnetUid}`;
/** A Port's logical switch port: its name is the Port's UID, which is also the iface-id hypervisors bind. */
export const logicalSwitchPortName = (portUid: string) => portUid;
export const portGroupName = (securityGroupUid: string) => `pg_${identifier(securityGroupUid)}`;
export const addressSetName = (securityGroupUid: string) => `as_${identifier(securityGroupUid)}_ip4`;
/** Every Port in at least one SecurityGroup: default-deny ingress applies to them. */
export const SECURED_PORTS_GROUP = 'photon_secured_ports';
/** Every Port whose SecurityGroups carry egress rules: egress is limited to what those rules allow. */
export const EGRESS_LIMITED_PORTS_GROUP = 'photon_egress_limited_ports';

/**
 * A stable, locally administered unicast MAC for an object (0a:xx:xx:xx:xx:xx, first octet 0x0a: the
 * locally-administered bit set, multicast bit clear), so addresses survive re-creation of OVN rows.
 */
export function macFor(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  return ['0a', ...[...digest.subarray(0, 5)].map((byte) => byte.toString(16).padStart(2, '0'))].join(':');
}
