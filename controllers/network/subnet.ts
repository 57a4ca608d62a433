// Subnet → one OVN logical switch (ls-<uid>) attached to its VPC's router by a router port (lrp-<uid>,
// the gateway address) and a router-type switch port, plus OVN native DHCP options (gateway, lease time,
// DNS servers, MTU). Checks what admission may not have known (VPC missing, deleting or not ready, CIDR
// outside the VPC, overlap with an older sibling): a missing or unready VPC is reported and settles when the
// VPC changes (the Vpc watch brings the Subnet back); a CIDR that does not fit is Stalled until a spec
// changes. A Subnet being deleted waits for its Ports and the LoadBalancers holding its addresses, then
// removes its rows.
// Status: gateway, usedIPs (Ports' addresses and LoadBalancers' VIPs and health-check sources), availableIPs.
import type { DesiredRow } from '../../agents/ovn-nb/index.ts';
import { formatCidr, type Cidr } from '../../apis/net/ipv4.ts';
import { SubnetResource } from '../../apis/network/v1alpha1/index.ts';
import { subnetPlacementProblems } from '../../apis/network/v1alpha1/validation.ts';
import { fewNames } from '../../lib/few-names.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import { TerminalError } from '../runtime/reconciler.ts';
import { OVN_FINALIZER, ownerOfObject, withOvn, type NetworkDeps, type NetworkInformers, type SubnetObject, type VpcObject } from './deps.ts';
import { SubnetAllocator } from './ipam.ts';
import { lbAddresses } from './lb-addresses.ts';
import { SubnetPortIndex } from './subnet-ports.ts';
import { macFor, routerName, routerPortName, switchName, switchRouterPortName } from './names.ts';
import type { RowWaiters } from './row-waiters.ts';

/** Geneve adds 58 bytes: 1500-byte underlay → 1442 inside. Guests learn it through DHCP. */
export const OVERLAY_MTU = 1442;

/** The rows a Subnet owns, attached to the router of the Vpc with UID vpcUid. */
export function subnetRows(subnet: SubnetObject, vpcUid: string, cidr: Cidr, gateway: string): DesiredRow[] {
  const uid = subnet.metadata.uid!;
  const routerMac = macFor(`${uid}/router-port`);
  const rows: DesiredRow[] = [
    { table: 'Logical_Switch', columns: { name: switchName(uid) } },
    {
      table: 'Logical_Router_Port',
      columns: { name: routerPortName(uid), mac: routerMac, networks: [`${gateway}/${cidr.prefix}`] },
      memberOf: [{ parent: { table: 'Logical_Router', owner: vpcUid }, column: 'ports' }],
    },
    {
      table: 'Logical_Switch_Port',
      key: 'router',
      columns: { name: switchRouterPortName(uid), type: 'router', addresses: ['router'], options: { 'router-port': routerPortName(uid) } },
      memberOf: [{ parent: { table: 'Logical_Switch', owner: uid }, column: 'ports' }],
    },
  ];
  const dhcp = subnet.spec.dhcp ?? {};
  if (dhcp.enabled === false) return rows;
  const options: Record<string, string> = { lease_time: String(dhcp.leaseSeconds ?? 3600), router: gateway, server_id: gateway, server_mac: routerMac, mtu: String(OVERLAY_MTU) };
  // No resolvers given: the gateway, where OVN answers the names of the VPC's private Zones (it answers any
  // DNS query sent off the subnet: controllers/dns/ovn-dns.ts).
  options.dns_server = `{${(dhcp.dnsServers?.length ? dhcp.dnsServers : [gateway]).join(', ')}}`;
  rows.push({ table: 'DHCP_Options', columns: { cidr: formatCidr(cidr), options } });
  return rows;
}

export function subnetReconciler(deps: NetworkDeps, informers: NetworkInformers, rows: RowWaiters): LifecycleReconciler<SubnetObject> {
  const portsOf = SubnetPortIndex.for(informers.ports);

  /** The Subnet's Vpc, or why it cannot be attached yet; throws TerminalError for a CIDR that does not fit. */
  const placement = (subnet: SubnetObject): VpcObject | Outcome['readiness'] => {
    const vpc = informers.vpcs.get(subnet.spec.vpcRef, subnet.metadata.namespace);
    if (!vpc) return notReady('VpcNotFound', `Vpc ${subnet.spec.vpcRef} does not exist yet`);
    if (vpc.metadata.deletionTimestamp) return notReady('VpcDeleting', `Vpc ${vpc.metadata.name} is being deleted`);
    // The rules admission applies, on today's view; of two overlapping siblings the older keeps working.
    const mine = `${subnet.metadata.creationTimestamp}/${subnet.metadata.name}`;
    const older = informers.subnets.list(subnet.metadata.namespace).filter((sibling) => `${sibling.metadata.creationTimestamp}/${sibling.metadata.name}` < mine);
    const [problem] = subnetPlacementProblems(subnet, vpc, older);
    if (problem) throw new TerminalError(problem.reason, `${subnet.spec.cidr} ${problem.message}`);
    return vpc;
  };

  /** Per address LoadBalancers hold in the Subnet (VIPs, health-check sources), its holder's name. A namespace has few LoadBalancers. */
  const lbHoldersPerAddress = (subnet: SubnetObject) =>
    informers.loadBalancers.list(subnet.metadata.namespace).flatMap((lb) => lbAddresses(lb).filter((held) => held.subnetRef === subnet.metadata.name).map(() => lb.metadata.name!));

  return new LifecycleReconciler<SubnetObject>({
    client: deps.client,
    resource: SubnetResource,
    informer: informers.subnets,
    finalizer: OVN_FINALIZER,
    fieldManager: 'subnet-controller',
    apply: async (subnet) => {
      const allocator = new SubnetAllocator(subnet.spec);
      const usedIPs = portsOf.addressedCount(subnet.metadata.namespace, subnet.metadata.name!) + lbHoldersPerAddress(subnet).length;
      const status = { gateway: allocator.gatewayAddress, usedIPs, availableIPs: Math.max(0, allocator.capacity - usedIPs) };
      const vpc = placement(subnet);
      if (!('metadata' in vpc)) return { readiness: vpc, status };
      return withOvn(deps.ovn, async (): Promise<Outcome> => {
        if (!rows.has({ table: 'Logical_Router', owner: vpc.metadata.uid! }, subnet)) return { readiness: notReady('VpcNotReady', `Vpc ${vpc.metadata.name}'s router is not programmed yet`), status };
        await deps.ovn.apply(ownerOfObject(subnet), subnetRows(subnet, vpc.metadata.uid!, allocator.cidr, allocator.gatewayAddress));
        return { readiness: ready('Programmed', `logical switch ${switchName(subnet.metadata.uid!)} is attached to ${routerName(vpc.metadata.uid!)}`), status };
      }, status);
    },
    cleanup: async (subnet) => {
      const ports = portsOf.portsOf(subnet.metadata.namespace, subnet.metadata.name!).sort();
      if (ports.length > 0) return { readiness: notReady('PortsRemaining', `waiting for Ports to be deleted: ${fewNames(ports)}`) };
      // A VIP is served on the switch: its LoadBalancer goes (or moves) first. One checking backends here gives
      // its health-check source back by itself (it stops checking in a Subnet being deleted).
      const holders = [...new Set(lbHoldersPerAddress(subnet))].sort();
      if (holders.length > 0) return { readiness: notReady('LoadBalancersRemaining', `waiting for LoadBalancers to give back their addresses in it: ${fewNames(holders)}`) };
      // The switch's ports go with it; the router port leaves the Vpc's router.
      return withOvn(deps.ovn, async () => (await deps.ovn.apply(ownerOfObject(subnet), []), 'done' as const));
    },
  });
}
