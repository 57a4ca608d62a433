// A Zone's record sets as plain data, from the Zone and the project's objects alone (no I/O): the records
// written by hand, automatic A records for the project's VirtualMachines, LoadBalancers and Ports, NS records at
// delegations, and — in a private zone — PTR records for the named addresses of the VPC's subnets. Each set says
// where it comes from, so status can list it and a record made for an object goes with the object.
//
// Precedence when two sources want the same name and type: spec, VirtualMachine, LoadBalancer, Port (then
// object name). A CNAME by hand takes its name alone: automatic records at that name are dropped.
import type { Zone } from '../../apis/dns/v1alpha1/index.ts';
import { absoluteName } from '../../apis/dns/v1alpha1/validation.ts';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import type { Port, Subnet } from '../../apis/network/v1alpha1/index.ts';
import { contains, parseCidr, parseIPv4 } from '../../apis/net/ipv4.ts';
import { canonicalContent } from '../../agents/pdns/rrsets.ts';
import { specOrDeletionChanged } from '../runtime/predicates.ts';

export interface RecordSet {
  /** Fully qualified, lower case, trailing dot. */
  name: string;
  type: string;
  ttl: number;
  /** Presentation format as PowerDNS serves it (TXT quoted). */
  values: string[];
  /** "spec", "zone", "delegation", "VirtualMachine/<name>", "LoadBalancer/<name>", "Port/<name>" or "Subnet/<name>". */
  source: string;
}

/** What a Zone's records are computed from: objects of the Zone's namespace. */
export interface ZoneView {
  zone: Zone;
  virtualMachines: readonly VirtualMachine[];
  loadBalancers: readonly LoadBalancer[];
  ports: readonly Port[];
  subnets: readonly Subnet[];
  /** The zone's nameservers (NS records at delegations point there). */
  nameservers: readonly string[];
}

const SOURCE_RANK = ['spec', 'delegation', 'VirtualMachine', 'LoadBalancer', 'Port'];
const rank = (source: string) => SOURCE_RANK.indexOf(source.split('/')[0]!);

/** TXT data as PowerDNS takes it: quoted, `"` and `\` escaped, split into strings of at most 255 characters. */
export function quoteTxt(text: string): string {
  const chunks = text.match(/[\s\S]{1,255}/g) ?? [''];
  return chunks.map((chunk) => `"${chunk.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(' ');
}

/**
 * Whether a VM's update can change the records zoneRecordSets makes of it: its spec or deletion, whether it runs,
 * its interfaces' addresses. Not the other status writes on its way to Running (the zone controller's watch).
 */
export function vmRecordsChanged(old: VirtualMachine, vm: VirtualMachine): boolean {
  return specOrDeletionChanged(old, vm) || old.status?.printableStatus !== vm.status?.printableStatus || addressesOf(old) !== addressesOf(vm);
}
const addressesOf = (vm: VirtualMachine) => (vm.status?.interfaces ?? []).map((nic) => `${nic.portName}=${nic.ipAddress}`).join();

/** The zone's record sets (apex SOA/NS of public zones excepted: the driver adds them), in a stable order. */
export function zoneRecordSets(view: ZoneView): RecordSet[] {
  const { zone } = view;
  const domain = zone.spec.domain;
  const ttl = zone.spec.ttlSeconds ?? 300;
  const auto = zone.spec.autoRecords ?? {};
  const vpc = zone.spec.vpcRef;
  const live = <T extends { metadata: { deletionTimestamp?: string } }>(objects: readonly T[]) => objects.filter((object) => !object.metadata.deletionTimestamp);
  const subnetOfPort = new Map(view.ports.map((port) => [port.metadata.name!, port.spec.subnetRef]));
  const vpcSubnets = view.subnets.filter((subnet) => subnet.spec.vpcRef === vpc);
  const inScope = (subnetRef: string | undefined) => vpc === undefined || (subnetRef !== undefined && vpcSubnets.some((subnet) => subnet.metadata.name === subnetRef));

  const candidates: RecordSet[] = [];
  for (const record of zone.spec.records ?? []) {
    candidates.push({ name: absoluteName(record.name, domain), type: record.type, ttl: record.ttlSeconds ?? ttl, values: record.values.map((value) => servedValue(record.type, value)), source: 'spec' });
  }
  for (const delegation of vpc === undefined ? (zone.spec.delegations ?? []) : []) {
    candidates.push({ name: absoluteName(delegation.name, domain), type: 'NS', ttl, values: [...view.nameservers], source: 'delegation' });
  }
  const addressRecord = (name: string, addresses: Array<string | undefined>, source: string) => {
    const values = [...new Set(addresses.filter((address): address is string => !!address))].sort();
    // An object whose name would make too long a domain name gets no record (rather than failing the zone).
    if (values.length > 0 && name.length <= 63 && name.length + domain.length + 1 <= 254) candidates.push({ name: `${name}.${domain}`, type: 'A', ttl, values, source });
  };
  if (auto.virtualMachines) {
    for (const vm of live(view.virtualMachines)) {
      if (vm.status?.printableStatus !== 'Running') continue;
      addressRecord(vm.metadata.name!, (vm.status.interfaces ?? []).filter((nic) => inScope(nic.portName && subnetOfPort.get(nic.portName))).map((nic) => nic.ipAddress), `VirtualMachine/${vm.metadata.name}`);
    }
  }
  if (auto.loadBalancers) {
    for (const lb of live(view.loadBalancers)) if (inScope(lb.spec.subnetRef)) addressRecord(lb.metadata.name!, [lb.status?.vipAddress], `LoadBalancer/${lb.metadata.name}`);
  }
  if (auto.ports) {
    for (const port of live(view.ports)) if (inScope(port.spec.subnetRef)) addressRecord(port.metadata.name!, [port.status?.ipAddress], `Port/${port.metadata.name}`);
  }

  // One set per name and type, the best source winning; a CNAME by hand is alone at its name.
  candidates.sort((a, b) => rank(a.source) - rank(b.source) || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  const chosen = new Map<string, RecordSet>();
  const cnames = new Set(candidates.filter((set) => set.type === 'CNAME' && set.source === 'spec').map((set) => set.name));
  const delegated = (zone.spec.delegations ?? []).map((delegation) => absoluteName(delegation.name, domain));
  for (const set of candidates) {
    const key = `${set.name}\0${set.type}`;
    if (chosen.has(key) || (cnames.has(set.name) && set.type !== 'CNAME')) continue;
    // At or below a delegated name only the delegation's NS remains: that name is another project's.
    if (vpc === undefined && set.source !== 'delegation' && delegated.some((cut) => set.name === cut || set.name.endsWith(`.${cut}`))) continue;
    chosen.set(key, set);
  }
  const sets = [...chosen.values()];
  if (vpc !== undefined) sets.push(...reverseRecords(sets, vpcSubnets, ttl));
  return sets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/** PTR records for the addresses A records name inside the VPC's subnets (the first name of an address wins). */
function reverseRecords(sets: readonly RecordSet[], subnets: readonly Subnet[], ttl: number): RecordSet[] {
  const cidrs = subnets.map((subnet) => ({ name: subnet.metadata.name!, cidr: parseCidr(subnet.spec.cidr) }));
  const reverse = new Map<string, RecordSet>();
  for (const set of sets) {
    if (set.type !== 'A' || set.name.startsWith('*')) continue;
    for (const address of set.values) {
      const value = parseIPv4(address);
      const subnet = value === undefined ? undefined : cidrs.find((entry) => entry.cidr && contains(entry.cidr, value));
      const name = `${address.split('.').reverse().join('.')}.in-addr.arpa.`;
      if (subnet && !reverse.has(name)) reverse.set(name, { name, type: 'PTR', ttl, values: [set.name], source: `Subnet/${subnet.name}` });
    }
  }
  return [...reverse.values()];
}

function servedValue(type: string, value: string): string {
  return type === 'TXT' ? quoteTxt(value) : canonicalContent(type, value);
}
