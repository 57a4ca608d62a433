// Typed rows of the OVN Northbound database (schema 7.0.0, OVN 23.03: /usr/share/ovn/ovn-nb.ovsschema), for
// the tables and columns PhotonCloud uses. Shapes follow agents/ovsdb/codec.ts: multi-valued columns are
// arrays, optional (min 0, max 1) columns are `T | undefined` (absent when empty), maps are records, uuid
// references are strings. Column names are the schema's (snake_case) so rows go to transact() unchanged.
import type { Row } from '../ovsdb/index.ts';

export type StringMap = Record<string, string>;

export interface NbGlobal extends Row {
  name: string;
  nb_cfg: number;
  sb_cfg: number;
  hv_cfg: number;
  external_ids: StringMap;
  options: StringMap;
  connections: string[];
  ipsec: boolean;
}

export interface LogicalRouter extends Row {
  name: string;
  ports: string[];
  static_routes: string[];
  policies: string[];
  enabled?: boolean;
  nat: string[];
  load_balancer: string[];
  load_balancer_group: string[];
  options: StringMap;
  external_ids: StringMap;
}

export interface LogicalRouterPort extends Row {
  name: string;
  /** At least one "IP/prefix". */
  networks: string[];
  mac: string;
  peer?: string;
  enabled?: boolean;
  gateway_chassis: string[];
  ha_chassis_group?: string;
  options: StringMap;
  ipv6_ra_configs: StringMap;
  ipv6_prefix: string[];
  external_ids: StringMap;
}

export interface LogicalRouterStaticRoute extends Row {
  ip_prefix: string;
  nexthop: string;
  output_port?: string;
  policy?: 'src-ip' | 'dst-ip';
  route_table: string;
  bfd?: string;
  options: StringMap;
  external_ids: StringMap;
}

export interface LogicalSwitch extends Row {
  name: string;
  ports: string[];
  acls: string[];
  qos_rules: string[];
  load_balancer: string[];
  load_balancer_group: string[];
  dns_records: string[];
  other_config: StringMap;
  external_ids: StringMap;
}

/** DNS records ovn-controller answers on the switches that list the row in dns_records (a root table). */
export interface Dns extends Row {
  /** Query name (no trailing dot) → addresses, space separated; reverse names → one host name. */
  records: StringMap;
  external_ids: StringMap;
}

export interface LogicalSwitchPort extends Row {
  name: string;
  /** "" (a VIF), "router", "localnet", "localport", "virtual", … */
  type: string;
  options: StringMap;
  /** "MAC IP…", "router", "dynamic", "unknown". */
  addresses: string[];
  dynamic_addresses?: string;
  port_security: string[];
  /** Set by ovn-northd when a chassis has bound the port. */
  up?: boolean;
  enabled?: boolean;
  dhcpv4_options?: string;
  dhcpv6_options?: string;
  parent_name?: string;
  tag_request?: number;
  tag?: number;
  ha_chassis_group?: string;
  external_ids: StringMap;
}

export interface DhcpOptions extends Row {
  cidr: string;
  options: StringMap;
  external_ids: StringMap;
}

export interface PortGroup extends Row {
  /** An identifier: ACL matches refer to it as @name (and to its addresses as $name_ip4). */
  name: string;
  /** Logical_Switch_Port UUIDs (weak references). */
  ports: string[];
  acls: string[];
  external_ids: StringMap;
}

export interface AddressSet extends Row {
  name: string;
  addresses: string[];
  external_ids: StringMap;
}

export interface Acl extends Row {
  name?: string;
  priority: number;
  direction: 'from-lport' | 'to-lport';
  match: string;
  action: 'allow' | 'allow-related' | 'allow-stateless' | 'drop' | 'reject';
  log: boolean;
  severity?: 'alert' | 'warning' | 'notice' | 'info' | 'debug';
  meter?: string;
  label: number;
  options: StringMap;
  external_ids: StringMap;
}

export interface LoadBalancer extends Row {
  name: string;
  /** "VIP:port" → "backend:port,backend:port". */
  vips: StringMap;
  protocol?: 'tcp' | 'udp' | 'sctp';
  health_check: string[];
  /** "backend IP" → "logical_port:source_ip" (for health checks). */
  ip_port_mappings: StringMap;
  selection_fields: string[];
  options: StringMap;
  external_ids: StringMap;
}

export interface LoadBalancerHealthCheck extends Row {
  vip: string;
  options: StringMap;
  external_ids: StringMap;
}

export interface NorthboundTables {
  [table: string]: Row;
  NB_Global: NbGlobal;
  Logical_Router: LogicalRouter;
  Logical_Router_Port: LogicalRouterPort;
  Logical_Router_Static_Route: LogicalRouterStaticRoute;
  Logical_Switch: LogicalSwitch;
  Logical_Switch_Port: LogicalSwitchPort;
  DHCP_Options: DhcpOptions;
  Port_Group: PortGroup;
  Address_Set: AddressSet;
  ACL: Acl;
  Load_Balancer: LoadBalancer;
  Load_Balancer_Health_Check: LoadBalancerHealthCheck;
  DNS: Dns;
}

export type NorthboundTable =
  | 'NB_Global'
  | 'Logical_Router'
  | 'Logical_Router_Port'
  | 'Logical_Router_Static_Route'
  | 'Logical_Switch'
  | 'Logical_Switch_Port'
  | 'DHCP_Options'
  | 'Port_Group'
  | 'Address_Set'
  | 'ACL'
  | 'Load_Balancer'
  | 'Load_Balancer_Health_Check'
  | 'DNS';

export const NORTHBOUND_DATABASE = 'OVN_Northbound';

/** The tables the driver replicates (every column). */
export const NORTHBOUND_TABLES: readonly NorthboundTable[] = [
  'NB_Global',
  'Logical_Router',
  'Logical_Router_Port',
  'Logical_Router_Static_Route',
  'Logical_Switch',
  'Logical_Switch_Port',
  'DHCP_Options',
  'Port_Group',
  'Address_Set',
  'ACL',
  'Load_Balancer',
  'Load_Balancer_Health_Check',
  'DNS',
];
