// OVN rows whose owner object no longer exists (deleted while the controller manager was down, or left by
// a crash between steps) are removed. Runs once the informers have synced — never before, or rows of
// objects not yet listed would look orphaned — and then periodically.
import { byUuid, op, type Operation } from '../../agents/ovsdb/index.ts';
import { orphanedRows, removeRouterPorts, removeSwitchPorts, type NorthboundClient } from '../../agents/ovn-nb/index.ts';
import type { Logger } from '../../lib/logging.ts';
import type { NetworkInformers } from './deps.ts';

const uids = (objects: Array<{ metadata: { uid?: string } }>) => new Set(objects.map((object) => object.metadata.uid!).filter(Boolean));

export function orphanOperations(nb: NorthboundClient, informers: NetworkInformers): Operation[] {
  const vpcs = uids(informers.vpcs.list());
  const subnets = uids(informers.subnets.list());
  const ports = uids(informers.ports.list());
  const groups = uids(informers.securityGroups.list());
  const ops: Operation[] = [];
  for (const row of orphanedRows(nb, 'Logical_Router', vpcs, 'Vpc')) ops.push(op.delete('Logical_Router', byUuid(row._uuid)));
  for (const row of orphanedRows(nb, 'Logical_Switch', subnets, 'Subnet')) ops.push(op.delete('Logical_Switch', byUuid(row._uuid)));
  for (const row of orphanedRows(nb, 'DHCP_Options', subnets, 'Subnet')) ops.push(op.delete('DHCP_Options', byUuid(row._uuid)));
  for (const row of orphanedRows(nb, 'Logical_Router_Port', subnets, 'Subnet')) {
    for (const router of nb.find('Logical_Router', (candidate) => candidate.ports.includes(row._uuid))) ops.push(removeRouterPorts(router._uuid, row._uuid));
  }
  for (const row of orphanedRows(nb, 'Logical_Switch_Port', new Set([...ports, ...subnets]))) {
    for (const parent of nb.find('Logical_Switch', (candidate) => candidate.ports.includes(row._uuid))) ops.push(removeSwitchPorts(parent._uuid, row._uuid));
  }
  for (const row of orphanedRows(nb, 'Port_Group', groups, 'SecurityGroup')) ops.push(op.delete('Port_Group', byUuid(row._uuid)));
  for (const row of orphanedRows(nb, 'Address_Set', groups, 'SecurityGroup')) ops.push(op.delete('Address_Set', byUuid(row._uuid)));
  return ops;
}

export async function removeOrphans(nb: NorthboundClient, informers: NetworkInformers, log: Logger): Promise<number> {
  const ops = orphanOperations(nb, informers);
  if (ops.length === 0) return 0;
  await nb.transact(ops);
  log.info('removed OVN rows whose objects no longer exist', { operations: ops.length });
  return ops.length;
}
