// Hand-written, beside the generated types (hack/codegen checks only files carrying its banner): the network
// rules that admission (apiserver/admission/network.ts) and the controllers (controllers/network/) both apply,
// written once so the two can never disagree about what a valid Subnet, Vpc, SecurityGroup or static address is.
//
// Pure functions over objects the caller already has: nothing here looks anything up, so the caller decides
// what "the Vpc", "the siblings" and "the other Ports" are (admission: its lookup at write time; a
// controller: its informers). A reference to an object that does not exist is not a problem of the referring
// object's spec — order must not matter — so the functions take the referenced object as optional and check
// only what they are given. Each problem names the field, the value as written, a stable CamelCase reason (a
// controller can use it as its condition reason) and a message that completes "Invalid value: <value>: …".
import type { ObjectMeta } from '../../meta/types.ts';
import { cidrWithin, contains, formatCidr, inRanges, overlaps, parseCidr, parseIPv4, parseRange, parseRanges, subnetGateway, usableRange, type Cidr } from '../../net/ipv4.ts';
import type { PortSpec } from './port.ts';
import type { SecurityGroupPeer, SecurityGroupSpec } from './securitygroup.ts';
import type { SubnetSpec } from './subnet.ts';
import type { VpcSpec } from './vpc.ts';

export type NetworkProblemReason =
  /** A CIDR whose address is not its network address (10.0.5.7/24). */
  | 'CidrHostBitsSet'
  /** Subnet spec.gateway is not a usable address of spec.cidr. */
  | 'GatewayOutsideCidr'
  /** A Subnet spec.excludeIPs entry that is not an address or an ordered range. */
  | 'ExcludeMalformed'
  /** A Subnet spec.excludeIPs entry outside spec.cidr. */
  | 'ExcludeOutsideCidr'
  /** A Subnet CIDR inside none of its Vpc's cidrBlocks. */
  | 'CidrOutsideVpc'
  /** A Subnet CIDR overlapping another Subnet of the same Vpc. */
  | 'CidrOverlap'
  /** A Port's static address outside its Subnet's CIDR. */
  | 'AddressOutsideSubnet'
  /** A Port's static address is its Subnet's network or broadcast address. */
  | 'AddressReserved'
  /** A Port's static address is its Subnet's gateway. */
  | 'AddressIsGateway'
  /** A Port's static address is in its Subnet's excludeIPs. */
  | 'AddressExcluded'
  /** A Port's static address is already another Port's. */
  | 'AddressInUse';

export interface NetworkProblem {
  /** Path of the offending field: spec.cidr, spec.cidrBlocks[1], spec.ingress[0].from.cidr, … */
  field: string;
  /** The offending value, as written. */
  value: string;
  reason: NetworkProblemReason;
  /** What is wrong with the value, e.g. `overlaps Subnet web (10.0.1.0/24) in Vpc main`. */
  message: string;
}

/** The parts of an object these rules read (generated kinds and plain KubeObjects both fit). */
export interface Spec<S> {
  metadata: ObjectMeta;
  spec?: S;
}

const problem = (field: string, value: string, reason: NetworkProblemReason, message: string): NetworkProblem => ({ field, value, reason, message });

/** A CIDR in its network form (`10.0.5.7/24` → `10.0.5.0/24`); undefined when it is no IPv4 CIDR at all. */
export function normalizeCidr(text: string): string | undefined {
  const cidr = parseCidr(text);
  return cidr && formatCidr(cidr);
}

/**
 * A CIDR with host bits set is refused rather than silently truncated: `10.0.5.7/24` may be a typo for
 * `10.0.5.0/24` or for `10.0.5.7/32`, and only its author knows which. Malformed CIDRs are the schema's to report.
 */
export function cidrHostBitsProblem(field: string, text: string | undefined): NetworkProblem | undefined {
  if (text === undefined) return undefined;
  const normalized = normalizeCidr(text);
  if (normalized === undefined || normalized === text) return undefined;
  return problem(field, text, 'CidrHostBitsSet', `has host bits set; the network is ${normalized}`);
}

function present<T>(items: Array<T | undefined>): T[] {
  return items.filter((item): item is T => item !== undefined);
}

/** A Vpc's own spec: cidrBlocks and static route destinations are networks. */
export function vpcSpecProblems(spec: VpcSpec | undefined): NetworkProblem[] {
  return present([
    ...(spec?.cidrBlocks ?? []).map((block, index) => cidrHostBitsProblem(`spec.cidrBlocks[${index}]`, block)),
    ...(spec?.staticRoutes ?? []).map((route, index) => cidrHostBitsProblem(`spec.staticRoutes[${index}].destination`, route.destination)),
  ]);
}

/** A SecurityGroup's own spec: every rule's cidr peer is a network. */
export function securityGroupSpecProblems(spec: SecurityGroupSpec | undefined): NetworkProblem[] {
  const peer = (field: string, target: SecurityGroupPeer | undefined) => cidrHostBitsProblem(`${field}.cidr`, target?.cidr);
  return present([
    ...(spec?.ingress ?? []).map((rule, index) => peer(`spec.ingress[${index}].from`, rule.from)),
    ...(spec?.egress ?? []).map((rule, index) => peer(`spec.egress[${index}].to`, rule.to)),
  ]);
}

/** A Subnet's own spec: cidr is a network; gateway and excludeIPs lie inside it. */
export function subnetSpecProblems(spec: SubnetSpec | undefined): NetworkProblem[] {
  const cidr = spec?.cidr ? parseCidr(spec.cidr) : undefined;
  if (!spec || !cidr) return []; // the schema reports a missing or malformed CIDR
  const problems = present([cidrHostBitsProblem('spec.cidr', spec.cidr)]);
  if (spec.gateway !== undefined) {
    const gateway = parseIPv4(spec.gateway);
    const usable = usableRange(cidr);
    if (gateway !== undefined && (gateway < usable.first || gateway > usable.last)) {
      problems.push(problem('spec.gateway', spec.gateway, 'GatewayOutsideCidr', `must be a usable address inside spec.cidr ${formatCidr(cidr)}`));
    }
  }
  (spec.excludeIPs ?? []).forEach((entry, index) => {
    const range = parseRange(entry);
    const field = `spec.excludeIPs[${index}]`;
    if (!range) problems.push(problem(field, entry, 'ExcludeMalformed', 'must be an IPv4 address or a range "a..b" with a <= b'));
    else if (!contains(cidr, range.first) || !contains(cidr, range.last)) problems.push(problem(field, entry, 'ExcludeOutsideCidr', `must be inside spec.cidr ${formatCidr(cidr)}`));
  });
  return problems;
}

/** Whether `object` is a live other member of `self`'s namespace (not itself, not being deleted). */
function isLiveSibling(object: Spec<unknown>, self: Spec<unknown>): boolean {
  return object.metadata.namespace === self.metadata.namespace && object.metadata.name !== self.metadata.name && !object.metadata.deletionTimestamp;
}

/**
 * Where a Subnet sits: its CIDR inside one of its Vpc's cidrBlocks (when `vpc` is given: a Vpc that does not
 * exist yet is no problem of the Subnet's), and overlapping no live Subnet of the same Vpc among `siblings`.
 * The caller picks the siblings: admission passes every Subnet of the namespace; a controller that lets the
 * older of two overlapping Subnets keep working passes only the older ones.
 */
export function subnetPlacementProblems(subnet: Spec<SubnetSpec>, vpc: Spec<VpcSpec> | undefined, siblings: ReadonlyArray<Spec<SubnetSpec>>): NetworkProblem[] {
  const spec = subnet.spec;
  const cidr = spec?.cidr ? parseCidr(spec.cidr) : undefined;
  if (!spec || !cidr) return [];
  const problems: NetworkProblem[] = [];
  if (vpc) {
    const blocks = present((vpc.spec?.cidrBlocks ?? []).map((block) => parseCidr(block)));
    if (!blocks.some((block) => cidrWithin(cidr, block))) {
      problems.push(problem('spec.cidr', spec.cidr, 'CidrOutsideVpc', `must be inside one of Vpc ${spec.vpcRef}'s cidrBlocks [${blocks.map(formatCidr).join(', ')}]`));
    }
  }
  for (const sibling of siblings) {
    if (!isLiveSibling(sibling, subnet) || sibling.spec?.vpcRef !== spec.vpcRef) continue;
    const other: Cidr | undefined = sibling.spec.cidr ? parseCidr(sibling.spec.cidr) : undefined;
    if (other && overlaps(cidr, other)) problems.push(problem('spec.cidr', spec.cidr, 'CidrOverlap', `overlaps Subnet ${sibling.metadata.name} (${sibling.spec.cidr}) in Vpc ${spec.vpcRef}`));
  }
  return problems;
}

/** The parts of a Port the address rules read: its spec and the address IPAM committed. */
export interface PortAddressing extends Spec<PortSpec> {
  status?: { ipAddress?: string };
}

/**
 * A Port's static spec.ipAddress against its Subnet: inside the CIDR, not the network or broadcast address,
 * not the gateway, not excluded, and not already held (as a static or an allocated address) by another live
 * Port of the Subnet among `ports`. Without a static address, or without a well-formed Subnet, nothing to check.
 */
export function staticAddressProblems(port: PortAddressing, subnet: Spec<SubnetSpec> | undefined, ports: readonly PortAddressing[]): NetworkProblem[] {
  const spec = port.spec;
  const address = spec?.ipAddress ? parseIPv4(spec.ipAddress) : undefined;
  const subnetSpec = subnet?.spec;
  const cidr = subnetSpec?.cidr ? parseCidr(subnetSpec.cidr) : undefined;
  if (!spec?.ipAddress || address === undefined || !subnetSpec || !cidr) return [];
  const fail = (reason: NetworkProblemReason, message: string) => [problem('spec.ipAddress', spec.ipAddress!, reason, message)];
  const usable = usableRange(cidr);
  if (!contains(cidr, address)) return fail('AddressOutsideSubnet', `must be inside Subnet ${spec.subnetRef}'s cidr ${formatCidr(cidr)}`);
  if (address < usable.first || address > usable.last) return fail('AddressReserved', 'is the network or broadcast address');
  if (address === subnetGateway(cidr, subnetSpec.gateway)) return fail('AddressIsGateway', `is Subnet ${spec.subnetRef}'s gateway`);
  if (inRanges(address, parseRanges(subnetSpec.excludeIPs))) return fail('AddressExcluded', `is excluded from allocation by Subnet ${spec.subnetRef} (excludeIPs)`);
  const holder = ports.find((other) => isLiveSibling(other, port) && other.spec?.subnetRef === spec.subnetRef && (other.spec?.ipAddress === spec.ipAddress || other.status?.ipAddress === spec.ipAddress));
  return holder ? fail('AddressInUse', `already used by Port ${holder.metadata.name}`) : [];
}
