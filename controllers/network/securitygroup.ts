// SecurityGroup → an OVN port group (pg_<uid>) with its rules as stateful ACLs, and an address set
// (as_<uid>_ip4) of its members' addresses for rules in other groups that name it as a peer. Membership
// follows the Ports that reference the group (kept by the Port controller). The shared default-deny groups
// (acls.ts) are ensured here too. A SecurityGroup still referenced by Ports waits (Ready=False InUse).
import { byUuid, namedUuid, op, type Operation } from '../../agents/ovsdb/index.ts';
import { addPortGroupAcls, ownerIds, removePortGroupAcls, type NorthboundClient } from '../../agents/ovn-nb/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { SecurityGroupResource, type SecurityGroup } from '../../apis/network/v1alpha1/index.ts';
import { ensureFinalizer, removeFinalizer } from '../runtime/finalizers.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { securityGroupAcls, sharedGroupAcls, type AclSpec } from './acls.ts';
import { OVN_FINALIZER, ownerOfObject, type NetworkDeps, type NetworkInformers } from './deps.ts';
import { addressSetName, portGroupName } from './names.ts';
import { labels, ownedRow, upsertOwnedRow } from './rows.ts';
import { notReady, ready, StatusReporter } from './status.ts';

const FIELD_MANAGER = 'securitygroup-controller';

type GroupObject = SecurityGroup & KubeObject;

const aclKey = (acl: { direction: string; priority: number; match: string; action: string }) => `${acl.direction}|${acl.priority}|${acl.action}|${acl.match}`;

/** Makes a port group's ACLs exactly `wanted` (compared by direction, priority, action and match). */
export async function syncAcls(nb: NorthboundClient, group: string, wanted: AclSpec[], externalIds: Record<string, string>): Promise<number> {
  const row = nb.rows('Port_Group').get(group);
  const existing = (row?.acls ?? []).map((uuid) => nb.rows('ACL').get(uuid)).filter((acl) => acl !== undefined);
  const want = new Map(wanted.map((acl) => [aclKey(acl), acl]));
  const have = new Set(existing.map((acl) => aclKey(acl)));
  const ops: Operation[] = [];
  const stale = existing.filter((acl) => !want.has(aclKey(acl))).map((acl) => acl._uuid);
  if (stale.length > 0) ops.push(removePortGroupAcls(group, stale));
  [...want.entries()].filter(([key]) => !have.has(key)).forEach(([, acl], index) => {
    ops.push(op.insert('ACL', { ...acl, external_ids: externalIds }, `acl_${index}`));
    ops.push(addPortGroupAcls(group, namedUuid(`acl_${index}`)));
  });
  if (ops.length > 0) await nb.transact(ops);
  return ops.length > 0 ? 1 : 0;
}

/** The three shared groups exist, by name, with their default ACLs. */
export async function ensureSharedGroups(nb: NorthboundClient): Promise<void> {
  for (const [name, acls] of Object.entries(sharedGroupAcls())) {
    let row = nb.find('Port_Group', (group) => group.name === name)[0];
    if (!row) {
      try {
        await nb.transact([op.wait('Port_Group', [['name', '==', name]], { rows: [], columns: ['name'] }), op.insert('Port_Group', { name, external_ids: { 'photoncloud.io/shared': 'true' } })]);
      } catch {
        // Another writer created it first: fine.
      }
      row = nb.find('Port_Group', (group) => group.name === name)[0];
      if (!row) continue;
    }
    await syncAcls(nb, row._uuid, acls, { 'photoncloud.io/shared': 'true' });
  }
}

export class SecurityGroupReconciler implements Reconciler {
  private readonly status: StatusReporter;

  constructor(
    private readonly deps: NetworkDeps,
    private readonly informers: NetworkInformers,
  ) {
    this.status = new StatusReporter(deps, SecurityGroupResource, FIELD_MANAGER);
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const cached = this.informers.securityGroups.get(request.name, request.namespace);
    if (!cached) return {};
    const group = structuredClone(cached) as GroupObject;
    const namespace = group.metadata.namespace;
    const members = this.informers.ports.list(namespace).filter((port) => (port.spec.securityGroupRefs ?? []).includes(group.metadata.name!) && !port.metadata.deletionTimestamp);
    const nb = this.deps.northbound.current;

    if (group.metadata.deletionTimestamp) {
      if (members.length > 0) {
        await this.status.report(group, notReady('InUse', `referenced by Ports: ${members.map((port) => port.metadata.name).sort().join(', ')}`), { portCount: members.length }, context);
        return {};
      }
      if (!nb) return this.status.unavailable(group);
      const uid = group.metadata.uid!;
      const ops: Operation[] = [];
      const portGroup = ownedRow(nb, 'Port_Group', uid);
      if (portGroup) ops.push(op.delete('Port_Group', byUuid(portGroup._uuid))); // its ACLs go with it
      const addressSet = ownedRow(nb, 'Address_Set', uid);
      if (addressSet) ops.push(op.delete('Address_Set', byUuid(addressSet._uuid)));
      if (ops.length > 0) await nb.transact(ops);
      await removeFinalizer(this.deps.client, SecurityGroupResource, group, OVN_FINALIZER, { fieldManager: FIELD_MANAGER });
      return {};
    }
    if (await ensureFinalizer(this.deps.client, SecurityGroupResource, group, OVN_FINALIZER, { fieldManager: FIELD_MANAGER })) return {};
    if (!nb) return this.status.unavailable(group);

    await ensureSharedGroups(nb);
    const uid = group.metadata.uid!;
    const owner = labels(ownerIds(ownerOfObject(group)));
    const addresses = members.map((port) => port.status?.ipAddress).filter((ip): ip is string => Boolean(ip)).sort();
    await upsertOwnedRow(nb, 'Address_Set', uid, { name: addressSetName(uid), addresses, external_ids: owner });
    const portGroup = await upsertOwnedRow(nb, 'Port_Group', uid, { name: portGroupName(uid), external_ids: owner });
    const groupUid = (name: string) => this.informers.securityGroups.get(name, namespace)?.metadata.uid;
    const { acls, missingPeers } = securityGroupAcls(portGroupName(uid), group.spec ?? {}, groupUid);
    await syncAcls(nb, portGroup.uuid, acls, owner);
    const readiness = missingPeers.length > 0
      ? notReady('PeerNotFound', `rules naming these SecurityGroups are not in effect until they exist: ${missingPeers.join(', ')}`)
      : ready('Programmed', `port group ${portGroupName(uid)} has ${acls.length} rule ACLs`);
    await this.status.report(group, readiness, { portCount: members.length }, context);
    return {};
  }
}
