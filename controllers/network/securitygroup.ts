// SecurityGroup → an OVN port group (pg_<uid>) with its rules as stateful ACLs, and an address set
// (as_<uid>_ip4) of its members' addresses for rules in other groups that name it as a peer. Membership
// follows the Ports that reference the group (declared by the Port controller). The shared default-deny
// groups (acls.ts) are ensured here too. A SecurityGroup still referenced by Ports waits (Ready=False InUse).
import type { DesiredRow, Owner } from '../../agents/ovn-nb/index.ts';
import { SecurityGroupResource } from '../../apis/network/v1alpha1/index.ts';
import { fewNames } from '../../lib/few-names.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import { securityGroupAcls, sharedGroupAcls, type AclSpec } from './acls.ts';
import { OVN_FINALIZER, ownerOfObject, withOvn, type NetworkDeps, type NetworkInformers, type SecurityGroupObject } from './deps.ts';
import { addressSetName, portGroupName } from './names.ts';

/** The shared port groups belong to no object: this owner keeps them (orphan cleanup never lists its kind). */
export const SHARED_GROUPS_OWNER: Owner = { kind: 'SharedPortGroups', name: 'photon-shared-port-groups', uid: 'photoncloud-shared-port-groups' };

const aclKey = (acl: AclSpec) => `acl:${acl.direction}|${acl.priority}|${acl.action}|${acl.match}`;

/** A port group's ACLs as rows of its owner, keyed by what they match (a changed rule is a new row). */
function aclRows(acls: AclSpec[], group: DesiredRow, owner: string, prefix = ''): DesiredRow[] {
  return acls.map((acl) => ({ table: 'ACL', key: prefix + aclKey(acl), columns: { ...acl }, memberOf: [{ parent: { table: 'Port_Group', owner, key: group.key }, column: 'acls' }] }));
}

/** The three shared groups with their default ACLs. */
export function sharedGroupRows(): DesiredRow[] {
  return Object.entries(sharedGroupAcls()).flatMap(([name, acls]) => {
    const group: DesiredRow = { table: 'Port_Group', key: name, columns: { name, external_ids: { 'photoncloud.io/shared': 'true' } } };
    return [group, ...aclRows(acls, group, SHARED_GROUPS_OWNER.uid, `${name}/`)];
  });
}

/** The rows a SecurityGroup owns: its address set (members' addresses), its port group and rule ACLs. */
export function securityGroupRows(group: SecurityGroupObject, memberAddresses: string[], acls: AclSpec[]): DesiredRow[] {
  const uid = group.metadata.uid!;
  const portGroup: DesiredRow = { table: 'Port_Group', columns: { name: portGroupName(uid) } };
  return [{ table: 'Address_Set', columns: { name: addressSetName(uid), addresses: memberAddresses } }, portGroup, ...aclRows(acls, portGroup, uid)];
}

export function securityGroupReconciler(deps: NetworkDeps, informers: NetworkInformers): LifecycleReconciler<SecurityGroupObject> {
  const membersOf = (group: SecurityGroupObject) => informers.ports.list(group.metadata.namespace).filter((port) => (port.spec.securityGroupRefs ?? []).includes(group.metadata.name!) && !port.metadata.deletionTimestamp);
  return new LifecycleReconciler<SecurityGroupObject>({
    client: deps.client,
    resource: SecurityGroupResource,
    informer: informers.securityGroups,
    finalizer: OVN_FINALIZER,
    fieldManager: 'securitygroup-controller',
    apply: (group) => {
      const members = membersOf(group);
      const status = { portCount: members.length };
      return withOvn(deps.ovn, async (): Promise<Outcome> => {
        await deps.ovn.apply(SHARED_GROUPS_OWNER, sharedGroupRows());
        const uid = group.metadata.uid!;
        const addresses = members.map((port) => port.status?.ipAddress).filter((ip): ip is string => Boolean(ip)).sort();
        const peerUid = (name: string) => informers.securityGroups.get(name, group.metadata.namespace)?.metadata.uid;
        const { acls, missingPeers } = securityGroupAcls(portGroupName(uid), group.spec ?? {}, peerUid);
        await deps.ovn.apply(ownerOfObject(group), securityGroupRows(group, addresses, acls));
        const readiness = missingPeers.length > 0
          ? notReady('PeerNotFound', `rules naming these SecurityGroups are not in effect until they exist: ${missingPeers.join(', ')}`)
          : ready('Programmed', `port group ${portGroupName(uid)} has ${acls.length} rule ACLs`);
        return { readiness, status };
      }, status);
    },
    cleanup: async (group) => {
      const members = membersOf(group);
      if (members.length > 0) return { readiness: notReady('InUse', `referenced by Ports: ${fewNames(members.map((port) => port.metadata.name!).sort())}`), status: { portCount: members.length } };
      // Its ACLs go with the port group.
      return withOvn(deps.ovn, async () => (await deps.ovn.apply(ownerOfObject(group), []), 'done' as const));
    },
  });
}
