// Port → one OVN logical switch port named by the Port's UID (the iface-id a hypervisor binds), with
// "MAC IP" addresses and port security, OVN DHCP, and membership of its SecurityGroups' port groups.
// Addresses: a requested static one, or the lowest free one of the subnet (see ipam.ts); the allocation is
// committed by writing status.ipAddress before anything is programmed, so a crash at any line leaves either
// no address (retried) or a recorded one (reused) — never a leaked or duplicated one.
import { byUuid, op, type Operation } from '../../agents/ovsdb/index.ts';
import { addPortGroupPorts, addSwitchPorts, LABEL_KIND, ownerIds, removePortGroupPorts, removeSwitchPorts, type NorthboundClient } from '../../agents/ovn-nb/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { PortResource, type Port, type Subnet } from '../../apis/network/v1alpha1/index.ts';
import { ensureFinalizer, removeFinalizer } from '../runtime/finalizers.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { sharedGroupsFor } from './acls.ts';
import { OVN_FINALIZER, ownerOfObject, type NetworkDeps, type NetworkInformers } from './deps.ts';
import { SubnetAllocator } from './ipam.ts';
import { logicalSwitchPortName, macFor, portGroupName } from './names.ts';
import { labels, ownedRow, upsertOwnedRow } from './rows.ts';
import { notReady, ready, reportStatus, StatusReporter, type Readiness } from './status.ts';

const FIELD_MANAGER = 'port-controller';
const RETRY_MS = 2000;

type PortObject = Port & KubeObject;
type SubnetObject = Subnet & KubeObject;

/**
 * One allocator per subnet (by UID), built from every Port's recorded address the first time the subnet is
 * used, then kept by this process alone. Allocation is synchronous (no await between finding a free
 * address and taking it), so concurrent reconciles of different Ports never hand out one address twice.
 */
export class Allocators {
  private readonly bySubnet = new Map<string, { allocator: SubnetAllocator; spec: string }>();

  constructor(private readonly informers: NetworkInformers) {}

  /** The subnet's allocator (rebuilt when the subnet's addressing changed). */
  allocatorFor(subnet: SubnetObject): SubnetAllocator {
    const uid = subnet.metadata.uid!;
    const spec = JSON.stringify([subnet.spec.cidr, subnet.spec.gateway, subnet.spec.excludeIPs]);
    const existing = this.bySubnet.get(uid);
    if (existing && existing.spec === spec) return existing.allocator;
    const allocator = new SubnetAllocator(subnet.spec);
    // Oldest first: if two Ports ever recorded the same address, the older keeps it.
    const ports = this.informers.ports
      .list(subnet.metadata.namespace)
      .filter((port) => port.spec.subnetRef === subnet.metadata.name && port.status?.ipAddress && !port.metadata.deletionTimestamp)
      .sort((a, b) => `${a.metadata.creationTimestamp}/${a.metadata.name}`.localeCompare(`${b.metadata.creationTimestamp}/${b.metadata.name}`));
    for (const port of ports) allocator.reserve(port.status!.ipAddress!, port.metadata.uid!);
    this.bySubnet.set(uid, { allocator, spec });
    return allocator;
  }

  /** A Port is gone: its address is free again. */
  release(portUid: string): void {
    for (const { allocator } of this.bySubnet.values()) allocator.release(portUid);
  }
}

export class PortReconciler implements Reconciler {
  private readonly status: StatusReporter;

  constructor(
    private readonly deps: NetworkDeps,
    private readonly informers: NetworkInformers,
    private readonly allocators: Allocators,
  ) {
    this.status = new StatusReporter(deps, PortResource, FIELD_MANAGER);
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const cached = this.informers.ports.get(request.name, request.namespace);
    if (!cached) return {};
    const port = structuredClone(cached) as PortObject;
    const nb = this.deps.northbound.current;

    if (port.metadata.deletionTimestamp) {
      if (!nb) return this.status.unavailable(port);
      await this.removeRows(nb, port);
      this.allocators.release(port.metadata.uid!);
      await removeFinalizer(this.deps.client, PortResource, port, OVN_FINALIZER, { fieldManager: FIELD_MANAGER });
      return {};
    }
    if (await ensureFinalizer(this.deps.client, PortResource, port, OVN_FINALIZER, { fieldManager: FIELD_MANAGER })) return {};

    const subnet = this.informers.subnets.get(port.spec.subnetRef, port.metadata.namespace) as SubnetObject | undefined;
    if (!subnet || subnet.metadata.deletionTimestamp) return this.wait(port, notReady('SubnetNotFound', `Subnet ${port.spec.subnetRef} does not exist`), context);
    const missingGroups = (port.spec.securityGroupRefs ?? []).filter((name) => !this.informers.securityGroups.get(name, port.metadata.namespace));
    if (missingGroups.length > 0) return this.wait(port, notReady('SecurityGroupNotFound', `SecurityGroups not found: ${missingGroups.join(', ')}`), context);

    // 1. Address: committed in status before anything is programmed.
    const addressing = this.assignAddress(port, this.allocators.allocatorFor(subnet));
    if ('problem' in addressing) return this.wait(port, addressing.problem, context, addressing.retry);
    const { ip, mac } = addressing;
    let current = port;
    if (port.status?.ipAddress !== ip || port.status?.macAddress !== mac) {
      current = await reportStatus(this.deps.client, PortResource, port, notReady('Programming', `address ${ip} assigned; programming OVN`), { ipAddress: ip, macAddress: mac }, FIELD_MANAGER);
    }

    // 2. OVN.
    if (!nb) return this.status.unavailable(current);
    const logicalSwitch = ownedRow(nb, 'Logical_Switch', subnet.metadata.uid!);
    if (!logicalSwitch) return this.wait(current, notReady('SubnetNotReady', `Subnet ${subnet.metadata.name} is not programmed yet`), context, RETRY_MS);
    const dhcp = ownedRow(nb, 'DHCP_Options', subnet.metadata.uid!);
    const uid = port.metadata.uid!;
    const owner = ownerIds(ownerOfObject(port));
    const address = `${mac} ${ip}`;
    const lsp = await upsertOwnedRow(nb, 'Logical_Switch_Port', uid, {
      name: logicalSwitchPortName(uid),
      addresses: [address],
      port_security: [address],
      ...(dhcp ? { dhcpv4_options: dhcp._uuid } : {}),
      external_ids: labels(owner, undefined, { 'photoncloud.io/subnet-uid': subnet.metadata.uid! }),
    }, { attach: (ref) => [addSwitchPorts(logicalSwitch._uuid, ref)] });
    await this.syncGroups(nb, port, lsp.uuid);

    await this.status.report(current, ready('Programmed', `logical switch port ${logicalSwitchPortName(uid)} has ${ip}`), { ipAddress: ip, macAddress: mac }, context);
    return {};
  }

  private assignAddress(port: PortObject, allocator: SubnetAllocator): { ip: string; mac: string } | { problem: Readiness; retry?: number } {
    const uid = port.metadata.uid!;
    const mac = port.spec.macAddress ?? port.status?.macAddress ?? macFor(uid);
    const wanted = port.spec.ipAddress ?? port.status?.ipAddress;
    if (wanted) {
      const result = allocator.reserve(wanted, uid);
      if (result.ok) return { ip: wanted, mac };
      if (result.reason === 'InUse') {
        const holder = this.informers.ports.list(port.metadata.namespace).find((other) => other.metadata.uid === result.holder);
        return { problem: notReady('IPAddressConflict', `${wanted} is already used by Port ${holder?.metadata.name ?? result.holder}`), retry: RETRY_MS };
      }
      if (port.spec.ipAddress) return { problem: notReady('InvalidIPAddress', `${wanted} cannot be used in Subnet ${port.spec.subnetRef} (${result.reason === 'Reserved' ? 'gateway or excluded' : 'outside the subnet'})`) };
      // A recorded address that no longer fits (the subnet changed): take a new one.
    }
    const ip = allocator.allocate(uid);
    if (!ip) return { problem: notReady('SubnetExhausted', `Subnet ${port.spec.subnetRef} has no free address left`), retry: RETRY_MS };
    return { ip, mac };
  }

  /** Membership: the port groups of its SecurityGroups and the shared default groups, exactly. */
  private async syncGroups(nb: NorthboundClient, port: PortObject, lsp: string): Promise<void> {
    const groups = (port.spec.securityGroupRefs ?? []).map((name) => this.informers.securityGroups.get(name, port.metadata.namespace)!).filter(Boolean);
    const egressLimited = groups.some((group) => (group.spec?.egress?.length ?? 0) > 0);
    const wanted = new Set([...groups.map((group) => portGroupName(group.metadata.uid!)), ...sharedGroupsFor(groups.length > 0, egressLimited)]);
    const ops: Operation[] = [];
    for (const group of nb.find('Port_Group', (row) => row.ports.includes(lsp) || wanted.has(row.name))) {
      const member = group.ports.includes(lsp);
      const ours = group.external_ids[LABEL_KIND] === 'SecurityGroup' || group.name.startsWith('photon_');
      if (wanted.has(group.name) && !member) ops.push(addPortGroupPorts(group._uuid, lsp));
      if (!wanted.has(group.name) && member && ours) ops.push(removePortGroupPorts(group._uuid, lsp));
    }
    if (ops.length > 0) await nb.transact(ops);
  }

  private async removeRows(nb: NorthboundClient, port: PortObject): Promise<void> {
    const lsp = ownedRow(nb, 'Logical_Switch_Port', port.metadata.uid!);
    if (!lsp) return;
    const parent = nb.find('Logical_Switch', (row) => row.ports.includes(lsp._uuid))[0];
    // Port groups hold weak references: they forget the port with it.
    await nb.transact(parent ? [removeSwitchPorts(parent._uuid, lsp._uuid)] : [op.delete('Logical_Switch_Port', byUuid(lsp._uuid))]);
  }

  private async wait(port: PortObject, readiness: Readiness, context: ReconcileContext, retryMs?: number): Promise<Result> {
    await this.status.report(port, readiness, {}, context);
    return retryMs ? { requeueAfterMs: retryMs } : {};
  }
}
