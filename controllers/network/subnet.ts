// Subnet → one OVN logical switch (ls-<uid>) attached to its VPC's router by a router port (lrp-<uid>,
// the gateway address) and a router-type switch port, plus OVN native DHCP options (gateway, lease time,
// DNS servers, MTU). Checks what admission may not have known (VPC missing or not ready, CIDR outside the
// VPC, overlap with an older sibling) and reports it as Ready=False. A Subnet being deleted waits for its
// Ports, then removes its rows. Status: gateway, usedIPs, availableIPs.
import { byUuid, op } from '../../agents/ovsdb/index.ts';
import { addRouterPorts, addSwitchPorts, ownerIds, removeRouterPorts, type NorthboundClient } from '../../agents/ovn-nb/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { cidrWithin, formatCidr, overlaps, parseCidr, type Cidr } from '../../apis/net/ipv4.ts';
import { SubnetResource, type Subnet, type Vpc } from '../../apis/network/v1alpha1/index.ts';
import { ensureFinalizer, removeFinalizer } from '../runtime/finalizers.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { OVN_FINALIZER, ownerOfObject, type NetworkDeps, type NetworkInformers } from './deps.ts';
import { SubnetAllocator } from './ipam.ts';
import { macFor, routerName, routerPortName, switchName, switchRouterPortName } from './names.ts';
import { labels, ownedRow, upsertOwnedRow } from './rows.ts';
import { notReady, ready, StatusReporter, type Readiness } from './status.ts';

const FIELD_MANAGER = 'subnet-controller';
const RETRY_MS = 2000;
/** Geneve adds 58 bytes: 1500-byte underlay → 1442 inside. Guests learn it through DHCP. */
export const OVERLAY_MTU = 1442;

type SubnetObject = Subnet & KubeObject;

export class SubnetReconciler implements Reconciler {
  private readonly status: StatusReporter;

  constructor(
    private readonly deps: NetworkDeps,
    private readonly informers: NetworkInformers,
  ) {
    this.status = new StatusReporter(deps, SubnetResource, FIELD_MANAGER);
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const cached = this.informers.subnets.get(request.name, request.namespace);
    if (!cached) return {};
    const subnet = structuredClone(cached) as SubnetObject;
    const ports = this.informers.ports.list(subnet.metadata.namespace).filter((port) => port.spec.subnetRef === subnet.metadata.name);
    const nb = this.deps.northbound.current;

    if (subnet.metadata.deletionTimestamp) {
      if (ports.length > 0) {
        await this.status.report(subnet, notReady('PortsRemaining', `waiting for Ports to be deleted: ${ports.map((port) => port.metadata.name).sort().join(', ')}`), {}, context);
        return {};
      }
      if (!nb) return this.status.unavailable(subnet);
      await this.removeRows(nb, subnet);
      await removeFinalizer(this.deps.client, SubnetResource, subnet, OVN_FINALIZER, { fieldManager: FIELD_MANAGER });
      return {};
    }
    if (await ensureFinalizer(this.deps.client, SubnetResource, subnet, OVN_FINALIZER, { fieldManager: FIELD_MANAGER })) return {};

    const allocator = new SubnetAllocator(subnet.spec);
    const { cidr } = allocator;
    const fields = { gateway: allocator.gatewayAddress, ...this.usage(allocator, ports) };
    const checked = this.validate(subnet, cidr);
    if ('problem' in checked) {
      await this.status.report(subnet, checked.problem, fields, context);
      return { requeueAfterMs: RETRY_MS };
    }
    if (!nb) return this.status.unavailable(subnet);
    const { vpc } = checked;
    const router = ownedRow(nb, 'Logical_Router', vpc.metadata.uid!);
    if (!router) {
      await this.status.report(subnet, notReady('VpcNotReady', `Vpc ${vpc.metadata.name}'s router is not programmed yet`), fields, context);
      return { requeueAfterMs: RETRY_MS };
    }
    await this.program(nb, subnet, cidr, allocator.gatewayAddress, router._uuid);
    await this.status.report(subnet, ready('Programmed', `logical switch ${switchName(subnet.metadata.uid!)} is attached to ${routerName(vpc.metadata.uid!)}`), fields, context);
    return {};
  }

  /** Problems only visible now (admission checked what it could when the Subnet arrived); else its Vpc. */
  private validate(subnet: SubnetObject, cidr: Cidr): { problem: Readiness } | { vpc: Vpc & KubeObject } {
    const problem = (readiness: Readiness) => ({ problem: readiness });
    const vpc = this.informers.vpcs.get(subnet.spec.vpcRef, subnet.metadata.namespace);
    if (!vpc || vpc.metadata.deletionTimestamp) return problem(notReady('VpcNotFound', `Vpc ${subnet.spec.vpcRef} does not exist`));
    const blocks = vpc.spec.cidrBlocks.map((block) => parseCidr(block)!).filter(Boolean);
    if (!blocks.some((block) => cidrWithin(cidr, block))) return problem(notReady('CidrOutsideVpc', `${subnet.spec.cidr} is not inside Vpc ${vpc.metadata.name}'s cidrBlocks ${vpc.spec.cidrBlocks.join(', ')}`));
    // Of two overlapping siblings the older keeps working; ties go to the name.
    const older = this.informers.subnets.list(subnet.metadata.namespace).find((sibling) => {
      if (sibling.metadata.uid === subnet.metadata.uid || sibling.spec.vpcRef !== subnet.spec.vpcRef || sibling.metadata.deletionTimestamp) return false;
      const other = parseCidr(sibling.spec.cidr);
      if (!other || !overlaps(cidr, other)) return false;
      const mine = `${subnet.metadata.creationTimestamp}/${subnet.metadata.name}`;
      return `${sibling.metadata.creationTimestamp}/${sibling.metadata.name}` < mine;
    });
    if (older) return problem(notReady('CidrOverlap', `${subnet.spec.cidr} overlaps Subnet ${older.metadata.name} (${older.spec.cidr}) in Vpc ${vpc.metadata.name}`));
    return { vpc };
  }

  private usage(allocator: SubnetAllocator, ports: Array<{ status?: { ipAddress?: string } }>) {
    const usedIPs = ports.filter((port) => port.status?.ipAddress).length;
    return { usedIPs, availableIPs: Math.max(0, allocator.capacity - usedIPs) };
  }

  private async program(nb: NorthboundClient, subnet: SubnetObject, cidr: Cidr, gateway: string, router: string): Promise<void> {
    const uid = subnet.metadata.uid!;
    const owner = ownerIds(ownerOfObject(subnet));
    const routerMac = macFor(`${uid}/router-port`);
    const logicalSwitch = await upsertOwnedRow(nb, 'Logical_Switch', uid, { name: switchName(uid), external_ids: labels(owner) });
    await upsertOwnedRow(nb, 'Logical_Router_Port', uid, { name: routerPortName(uid), mac: routerMac, networks: [`${gateway}/${cidr.prefix}`], external_ids: labels(owner) }, {
      attach: (ref) => [addRouterPorts(router, ref)],
    });
    await upsertOwnedRow(nb, 'Logical_Switch_Port', uid, { name: switchRouterPortName(uid), type: 'router', addresses: ['router'], options: { 'router-port': routerPortName(uid) }, external_ids: labels(owner, 'router') }, {
      role: 'router',
      attach: (ref) => [addSwitchPorts(logicalSwitch.uuid, ref)],
    });
    const dhcp = subnet.spec.dhcp ?? {};
    if (dhcp.enabled === false) {
      const existing = ownedRow(nb, 'DHCP_Options', uid);
      if (existing) await nb.transact([op.delete('DHCP_Options', byUuid(existing._uuid))]);
      return;
    }
    const options: Record<string, string> = {
      lease_time: String(dhcp.leaseSeconds ?? 3600),
      router: gateway,
      server_id: gateway,
      server_mac: routerMac,
      mtu: String(OVERLAY_MTU),
    };
    if (dhcp.dnsServers?.length) options.dns_server = `{${dhcp.dnsServers.join(', ')}}`;
    await upsertOwnedRow(nb, 'DHCP_Options', uid, { cidr: formatCidr(cidr), options, external_ids: labels(owner) });
  }

  private async removeRows(nb: NorthboundClient, subnet: SubnetObject): Promise<void> {
    const uid = subnet.metadata.uid!;
    const ops = [];
    const routerPort = ownedRow(nb, 'Logical_Router_Port', uid);
    if (routerPort) {
      const router = nb.find('Logical_Router', (row) => row.ports.includes(routerPort._uuid))[0];
      if (router) ops.push(removeRouterPorts(router._uuid, routerPort._uuid));
    }
    const logicalSwitch = ownedRow(nb, 'Logical_Switch', uid);
    if (logicalSwitch) ops.push(op.delete('Logical_Switch', byUuid(logicalSwitch._uuid))); // its ports go with it
    const dhcp = ownedRow(nb, 'DHCP_Options', uid);
    if (dhcp) ops.push(op.delete('DHCP_Options', byUuid(dhcp._uuid)));
    if (ops.length > 0) await nb.transact(ops);
  }
}
