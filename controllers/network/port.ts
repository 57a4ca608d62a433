// Port → one OVN logical switch port named by the Port's UID (the iface-id a hypervisor binds), with
// "MAC IP" addresses and port security, OVN DHCP, and membership of its SecurityGroups' port groups.
// Addresses: a requested static one, or the lowest free one of the subnet (see ipam.ts). An allocation is
// recorded before it is used: in status.ipAddress, or — when OVN can be programmed at once — in the logical
// switch port itself, with status written once afterwards (one API write fewer per Port). Allocators are
// rebuilt from both records (built only while OVN is connected), so a crash at any line leaves either no
// address (retried) or a recorded one (reused) — never a leaked or duplicated one. A Subnet or
// SecurityGroup that does not exist yet (or is not programmed yet) is reported; its watch brings the Port
// back when it changes.
import { link, OvnUnavailableError, type DesiredRow, type NorthboundDriver, type RowLink } from '../../agents/ovn-nb/index.ts';
import { PortResource } from '../../apis/network/v1alpha1/index.ts';
import { LifecycleReconciler, notReady, ready, type Outcome, type Readiness } from '../runtime/lifecycle.ts';
import { TerminalError, type ReconcileRequest } from '../runtime/reconciler.ts';
import { sharedGroupsFor } from './acls.ts';
import { lbAddresses } from './lb-addresses.ts';
import { OVN_FINALIZER, ownerOfObject, withOvn, type LoadBalancerObject, type NetworkDeps, type NetworkInformers, type PortObject, type SecurityGroupObject, type SubnetObject } from './deps.ts';
import { SubnetAllocator } from './ipam.ts';
import { logicalSwitchPortName, macFor } from './names.ts';
import type { RowWaiters } from './row-waiters.ts';

/**
 * One allocator per subnet (by UID), built from every address recorded in the API the first time the subnet
 * is used — Ports' status.ipAddress, LoadBalancers' VIPs and health-check sources — then kept by this
 * process alone. Port and LoadBalancer controllers share it (one per manager), so a VIP is an address no
 * Port can take and the other way round. Allocation is synchronous (no await between finding a free address
 * and taking it), so concurrent reconciles never hand out one address twice.
 */
export class Allocators {
  private readonly bySubnet = new Map<string, { allocator: SubnetAllocator; spec: string }>();

  constructor(
    private readonly informers: NetworkInformers,
    private readonly ovn: NorthboundDriver,
  ) {}

  /**
   * The subnet's allocator (rebuilt when the subnet's addressing changed). Building one needs OVN, where a
   * Port's address may be recorded before its status is (OvnUnavailableError until it is connected).
   */
  allocatorFor(subnet: SubnetObject): SubnetAllocator {
    const uid = subnet.metadata.uid!;
    const spec = JSON.stringify([subnet.spec.cidr, subnet.spec.gateway, subnet.spec.excludeIPs]);
    const existing = this.bySubnet.get(uid);
    if (existing && existing.spec === spec) return existing.allocator;
    if (this.ovn.unavailableReason) throw new OvnUnavailableError(this.ovn.unavailableReason);
    const allocator = new SubnetAllocator(subnet.spec);
    // Oldest first: if two holders ever recorded the same address, the older keeps it.
    for (const { address, owner } of recordedAddresses(this.informers, subnet, (port) => this.programmedAddress(port, subnet))) allocator.reserve(address, owner);
    this.bySubnet.set(uid, { allocator, spec });
    return allocator;
  }

  /** A Port or LoadBalancer is gone (or moved its address): what `owner` held is free again. */
  release(owner: string): void {
    for (const { allocator } of this.bySubnet.values()) allocator.release(owner);
  }

  /**
   * Ports and LoadBalancers that found no address (SubnetExhausted, an address held by another), by UID, with
   * the subnets they wait in: the ones a freed address may settle. Kept here, where the decision is made, so an
   * event that frees an address looks them up instead of scanning every object of the namespace (which made
   * 1,000 Ports in one namespace cost ~10⁶ checks). After a restart the initial sync reconciles every object,
   * which fills it again.
   */
  private readonly waiting = new Map<string, { kind: AddressHolderKind; namespace: string | undefined; name: string; subnetRefs: readonly string[] }>();

  /** Records the subnets `object` waits for an address in (none: it is not waiting). */
  setWaiting(kind: AddressHolderKind, object: PortObject | LoadBalancerObject, subnetRefs: readonly string[]): void {
    if (subnetRefs.length > 0) this.waiting.set(object.metadata.uid!, { kind, namespace: object.metadata.namespace, name: object.metadata.name!, subnetRefs });
    else this.waiting.delete(object.metadata.uid!);
  }

  /** Requests for the objects of `kind` in the namespace waiting for an address (in subnetRef, when given). */
  waitingFor(kind: AddressHolderKind, namespace: string | undefined, subnetRef?: string): ReconcileRequest[] {
    const requests: ReconcileRequest[] = [];
    const informer = kind === 'Port' ? this.informers.ports : this.informers.loadBalancers;
    for (const [uid, waiter] of this.waiting) {
      if (waiter.kind !== kind || waiter.namespace !== namespace || (subnetRef !== undefined && !waiter.subnetRefs.includes(subnetRef))) continue;
      // One that went without its cleanup (its finalizer removed by hand) is forgotten here.
      if (informer.get(waiter.name, namespace)?.metadata.uid !== uid) this.waiting.delete(uid);
      else requests.push({ namespace, name: waiter.name });
    }
    return requests;
  }

  /** The address the Port's logical switch port in this subnet's switch has in OVN, if it has one. */
  programmedAddress(port: PortObject, subnet: SubnetObject): { ip: string; mac: string } | undefined {
    for (const { table, row } of this.ovn.ownedRows(port.metadata.uid!)) {
      const lsp = row as { addresses?: string[]; external_ids?: Record<string, string> };
      if (table !== 'Logical_Switch_Port' || lsp.external_ids?.[SUBNET_UID_LABEL] !== subnet.metadata.uid) continue;
      const [mac, ip] = (lsp.addresses?.[0] ?? '').split(' ');
      if (mac && ip) return { ip, mac };
    }
    return undefined;
  }

  /** Who holds an address, for messages: "Port web-1" or "LoadBalancer web (VIP)". */
  describeHolder(namespace: string | undefined, owner: string): string {
    const port = this.informers.ports.list(namespace).find((other) => other.metadata.uid === owner);
    if (port) return `Port ${port.metadata.name}`;
    const [lbUid, role] = owner.split('/');
    const lb = this.informers.loadBalancers.list(namespace).find((other) => other.metadata.uid === lbUid);
    if (lb) return `LoadBalancer ${lb.metadata.name} (${role === HEALTH_CHECK_SOURCE ? 'health-check source' : 'VIP'})`;
    return owner;
  }
}

/** What holds addresses of a subnet (see Allocators). */
export type AddressHolderKind = 'Port' | 'LoadBalancer';

/** On a Port's logical switch port: the Subnet whose switch it was made in. */
const SUBNET_UID_LABEL = 'photoncloud.io/subnet-uid';

/** The allocator owner of a LoadBalancer's health-check source address in one subnet (its VIP's owner is its UID). */
export const HEALTH_CHECK_SOURCE = 'health-check-source';
export const healthCheckSourceOwner = (lbUid: string): string => `${lbUid}/${HEALTH_CHECK_SOURCE}`;

/**
 * Every address recorded for a subnet, with its owner, oldest holder first: in the API, and for a Port whose
 * status has none yet, in its logical switch port (programmed, the status write lost to a crash).
 */
function recordedAddresses(informers: NetworkInformers, subnet: SubnetObject, programmed: (port: PortObject) => { ip: string } | undefined): Array<{ address: string; owner: string }> {
  const namespace = subnet.metadata.namespace;
  const name = subnet.metadata.name;
  const held: Array<{ address: string; owner: string; since: string }> = [];
  const since = (object: { metadata: { creationTimestamp?: string; name?: string } }) => `${object.metadata.creationTimestamp}/${object.metadata.name}`;
  for (const port of informers.ports.list(namespace)) {
    if (port.spec.subnetRef !== name || port.metadata.deletionTimestamp) continue;
    const address = port.status?.ipAddress ?? programmed(port)?.ip;
    if (address) held.push({ address, owner: port.metadata.uid!, since: since(port) });
  }
  // A LoadBalancer being deleted keeps its addresses until its cleanup releases them (OVN may still use them).
  for (const lb of informers.loadBalancers.list(namespace)) {
    for (const { subnetRef, address, role } of lbAddresses(lb)) {
      if (subnetRef === name) held.push({ address, owner: role === 'vip' ? lb.metadata.uid! : healthCheckSourceOwner(lb.metadata.uid!), since: since(lb) });
    }
  }
  return held.sort((a, b) => a.since.localeCompare(b.since));
}

/** The row a Port owns: its logical switch port, in its subnet's switch and its groups' port groups. */
export function portRows(port: PortObject, subnet: SubnetObject, groups: SecurityGroupObject[], address: { ip: string; mac: string }, withDhcp: boolean): DesiredRow[] {
  const uid = port.metadata.uid!;
  const macIp = `${address.mac} ${address.ip}`;
  const egressLimited = groups.some((group) => (group.spec?.egress?.length ?? 0) > 0);
  const portGroups: RowLink[] = [
    ...groups.map((group): RowLink => ({ table: 'Port_Group', owner: group.metadata.uid! })),
    ...sharedGroupsFor(groups.length > 0, egressLimited).map((name): RowLink => ({ table: 'Port_Group', name })),
  ];
  return [
    {
      table: 'Logical_Switch_Port',
      columns: {
        name: logicalSwitchPortName(uid),
        addresses: [macIp],
        port_security: [macIp],
        ...(withDhcp ? { dhcpv4_options: link({ table: 'DHCP_Options', owner: subnet.metadata.uid! }) } : {}),
        external_ids: { [SUBNET_UID_LABEL]: subnet.metadata.uid! },
      },
      memberOf: [{ parent: { table: 'Logical_Switch', owner: subnet.metadata.uid! }, column: 'ports' }, ...portGroups.map((parent) => ({ parent, column: 'ports' }))],
    },
  ];
}

export function portReconciler(deps: NetworkDeps, informers: NetworkInformers, allocators: Allocators, rows: RowWaiters): LifecycleReconciler<PortObject> {
  /** The Port's address: its static or recorded one, else a free one; or why it has none. */
  const assignAddress = (port: PortObject, subnet: SubnetObject, allocator: SubnetAllocator): { ip: string; mac: string } | Readiness => {
    const uid = port.metadata.uid!;
    const programmed = port.status?.ipAddress ? undefined : allocators.programmedAddress(port, subnet);
    const mac = port.spec.macAddress ?? port.status?.macAddress ?? programmed?.mac ?? macFor(uid);
    const wanted = port.spec.ipAddress ?? port.status?.ipAddress ?? programmed?.ip;
    if (wanted) {
      const result = allocator.reserve(wanted, uid);
      if (result.ok) return { ip: wanted, mac };
      if (result.reason === 'InUse') {
        // Settles when the holder goes (the Port watch requeues Ports waiting for an address).
        return notReady('IPAddressConflict', `${wanted} is already used by ${allocators.describeHolder(port.metadata.namespace, result.holder!)}`);
      }
      if (port.spec.ipAddress) throw new TerminalError('InvalidIPAddress', `${wanted} cannot be used in Subnet ${port.spec.subnetRef} (${result.reason === 'Reserved' ? 'gateway or excluded' : 'outside the subnet'})`);
      // A recorded address that no longer fits (the subnet changed): take a new one.
    }
    const ip = allocator.allocate(uid);
    return ip ? { ip, mac } : notReady('SubnetExhausted', `Subnet ${port.spec.subnetRef} has no free address left`);
  };
  const addressOf = (port: PortObject, subnet: SubnetObject): { ip: string; mac: string } | Readiness => {
    const address = assignAddress(port, subnet, allocators.allocatorFor(subnet));
    allocators.setWaiting('Port', port, 'ip' in address ? [] : [port.spec.subnetRef]);
    return address;
  };

  return new LifecycleReconciler<PortObject>({
    client: deps.client,
    resource: PortResource,
    informer: informers.ports,
    finalizer: OVN_FINALIZER,
    fieldManager: 'port-controller',
    apply: async (port) => {
      const namespace = port.metadata.namespace;
      const subnet = informers.subnets.get(port.spec.subnetRef, namespace);
      if (!subnet) return { readiness: notReady('SubnetNotFound', `Subnet ${port.spec.subnetRef} does not exist yet`) };
      if (subnet.metadata.deletionTimestamp) return { readiness: notReady('SubnetDeleting', `Subnet ${subnet.metadata.name} is being deleted`) };
      const refs = port.spec.securityGroupRefs ?? [];
      const groups = refs.map((name) => informers.securityGroups.get(name, namespace)).filter((group): group is SecurityGroupObject => group !== undefined);
      const missing = refs.filter((name) => !informers.securityGroups.get(name, namespace));
      if (missing.length > 0) return { readiness: notReady('SecurityGroupNotFound', `SecurityGroups not found yet: ${missing.join(', ')}`) };

      return withOvn(deps.ovn, async (): Promise<Outcome> => {
        // 1. Address: recorded before it is used (see the file header). Allocators are built from OVN too.
        const address = addressOf(port, subnet);
        if (!('ip' in address)) return { readiness: address };
        const status = { ipAddress: address.ip, macAddress: address.mac };

        // 2. OVN, once what the port plugs into is there; until then the address is recorded in status.
        if (!rows.has({ table: 'Logical_Switch', owner: subnet.metadata.uid! }, port)) return { readiness: notReady('SubnetNotReady', `Subnet ${subnet.metadata.name} is not programmed yet`), status };
        const unprogrammed = groups.filter((group) => !rows.has({ table: 'Port_Group', owner: group.metadata.uid! }, port)).map((group) => group.metadata.name!);
        if (unprogrammed.length > 0) return { readiness: notReady('SecurityGroupNotReady', `SecurityGroups not programmed yet: ${unprogrammed.join(', ')}`), status };
        // Without its subnet's DHCP options (removed by hand) the Port is plugged in now and linked to them
        // once they are back.
        const withDhcp = subnet.spec.dhcp?.enabled !== false && rows.has({ table: 'DHCP_Options', owner: subnet.metadata.uid! }, port);
        // The logical switch port records the address (as "MAC IP"): status follows in the one write below.
        await deps.ovn.apply(ownerOfObject(port), portRows(port, subnet, groups, address, withDhcp));
        return { readiness: ready('Programmed', `logical switch port ${logicalSwitchPortName(port.metadata.uid!)} has ${address.ip}`), status };
      });
    },
    cleanup: (port) =>
      // Port groups hold weak references: they forget the port with it.
      withOvn(deps.ovn, async () => {
        await deps.ovn.apply(ownerOfObject(port), []);
        allocators.release(port.metadata.uid!);
        allocators.setWaiting('Port', port, []);
        return 'done' as const;
      }),
  });
}
