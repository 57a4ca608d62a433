// A LoadBalancer as OVN Northbound rows, as plain data (the Northbound driver applies the difference):
//   one Load_Balancer per transport protocol in use ("tcp", "udp"), its vips "VIP:port" → "backend:targetPort,…";
//   one Load_Balancer_Health_Check per VIP:port when checks are on, and ip_port_mappings "backend" →
//     "<its logical switch port>:<source address in its subnet>" (OVN leaves a backend without a mapping out
//     of the VIP entirely once the VIP has a check);
//   membership of the Vpc's router and of every switch of the Vpc: the switch of the client does the DNAT
//     (and undoes it on replies), the router answers ARP for the VIP for clients on the VIP's own subnet
//     (measured on OVN 23.03: switches alone leave same-subnet clients unanswered; the router alone — a
//     distributed router without gateway — returns replies untranslated).
// HTTP listeners are a TCP VIP:port in front of the LoadBalancer's HAProxy (the proxy address), which does
// the layer-7 routing; OVN checks the proxy, the proxy checks the HTTP backends.
import type { DesiredRow, Membership } from '../../agents/ovn-nb/index.ts';
import type { LoadBalancerHealthCheck, LoadBalancerListener } from '../../apis/lb/v1alpha1/index.ts';

export type OvnProtocol = 'tcp' | 'udp';

/** One OVN VIP:port and where it goes. */
export interface VipTarget {
  protocol: OvnProtocol;
  port: number;
  /** Backend addresses with their port, in a stable order. */
  targets: Array<{ address: string; port: number; portUid: string; subnetRef: string }>;
}

export interface LoadBalancerRowsInput {
  uid: string;
  vip: string;
  vips: VipTarget[];
  healthCheck: Required<Pick<LoadBalancerHealthCheck, 'enabled' | 'intervalSeconds' | 'timeoutSeconds' | 'successThreshold' | 'failureThreshold'>>;
  /** Health checks' source address per subnet name. */
  healthCheckSources: ReadonlyMap<string, string>;
  sessionAffinity: 'None' | 'ClientIP';
  vpcUid: string;
  /** UIDs of every Subnet of the Vpc that is programmed (has its switch). */
  subnetUids: readonly string[];
}

export const ovnProtocolOf = (listener: LoadBalancerListener): OvnProtocol => (listener.protocol === 'UDP' ? 'udp' : 'tcp');
export const loadBalancerRowName = (uid: string, protocol: OvnProtocol) => `lb-${uid}-${protocol}`;

export function loadBalancerRows(input: LoadBalancerRowsInput): DesiredRow[] {
  const rows: DesiredRow[] = [];
  const memberOf: Membership[] = [
    { parent: { table: 'Logical_Router', owner: input.vpcUid }, column: 'load_balancer' },
    ...input.subnetUids.map((uid): Membership => ({ parent: { table: 'Logical_Switch', owner: uid }, column: 'load_balancer' })),
  ];
  for (const protocol of ['tcp', 'udp'] as const) {
    const vips = input.vips.filter((vip) => vip.protocol === protocol);
    if (vips.length === 0) continue;
    const ipPortMappings: Record<string, string> = {};
    const checked = input.healthCheck.enabled;
    const vipColumn: Record<string, string> = {};
    for (const vip of vips) {
      // A target without a source address in its subnet could not be checked; OVN would drop it anyway.
      const targets = checked ? vip.targets.filter((target) => input.healthCheckSources.has(target.subnetRef)) : vip.targets;
      vipColumn[`${input.vip}:${vip.port}`] = targets.map((target) => `${target.address}:${target.port}`).join(',');
      if (checked) for (const target of targets) ipPortMappings[target.address] = `${target.portUid}:${input.healthCheckSources.get(target.subnetRef)}`;
    }
    rows.push({
      table: 'Load_Balancer',
      key: protocol,
      columns: {
        name: loadBalancerRowName(input.uid, protocol),
        protocol,
        vips: vipColumn,
        ip_port_mappings: ipPortMappings,
        selection_fields: input.sessionAffinity === 'ClientIP' ? ['ip_src'] : [],
        // No backend (or none healthy): refuse at once (TCP RST / ICMP) instead of a silent drop.
        options: { reject: 'true' },
      },
      memberOf,
    });
    if (!checked) continue;
    for (const vip of vips) {
      rows.push({
        table: 'Load_Balancer_Health_Check',
        key: `${protocol}-${vip.port}`,
        columns: {
          vip: `${input.vip}:${vip.port}`,
          options: {
            interval: String(input.healthCheck.intervalSeconds),
            timeout: String(input.healthCheck.timeoutSeconds),
            success_count: String(input.healthCheck.successThreshold),
            failure_count: String(input.healthCheck.failureThreshold),
          },
        },
        memberOf: [{ parent: { table: 'Load_Balancer', owner: input.uid, key: protocol }, column: 'health_check' }],
      });
    }
  }
  return rows;
}
