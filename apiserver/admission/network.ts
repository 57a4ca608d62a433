// Cross-object admission for the network kinds: what can be known wrong when the object arrives.
//   Subnet: gateway and excludeIPs inside its CIDR; CIDR inside its VPC's blocks; no overlap with a sibling.
//   Port:   a static address inside its Subnet, usable, not reserved, not taken; security groups exist.
import type { KubeObject } from '../../apis/meta/types.ts';
import { cidrWithin, contains, formatCidr, inRanges, overlaps, parseCidr, parseIPv4, parseRange, parseRanges, subnetGateway, usableRange, type Cidr } from '../../apis/net/ipv4.ts';
import type { FieldError } from '../errors.ts';
import type { AdmissionLookup, CrossObjectAdmission } from './cross-object.ts';

const GROUP = 'network.photoncloud.io';

interface SubnetSpec {
  vpcRef?: string;
  cidr?: string;
  gateway?: string;
  excludeIPs?: string[];
}

const invalid = (field: string, value: unknown, detail: string): FieldError => ({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });

function live(objects: KubeObject[], except: KubeObject): KubeObject[] {
  return objects.filter((object) => object.metadata.name !== except.metadata.name && !object.metadata.deletionTimestamp);
}

function checkSubnet(object: KubeObject, old: KubeObject | undefined, lookup: AdmissionLookup): FieldError[] {
  const spec = (object.spec ?? {}) as SubnetSpec;
  const cidr = spec.cidr ? parseCidr(spec.cidr) : undefined;
  if (!cidr) return []; // the schema reports malformed CIDRs
  const errors: FieldError[] = [];
  if (spec.gateway !== undefined) {
    const gateway = parseIPv4(spec.gateway);
    const usable = usableRange(cidr);
    if (gateway !== undefined && (gateway < usable.first || gateway > usable.last)) errors.push(invalid('spec.gateway', spec.gateway, `must be a usable address inside spec.cidr ${formatCidr(cidr)}`));
  }
  (spec.excludeIPs ?? []).forEach((entry, index) => {
    const range = parseRange(entry);
    if (!range) errors.push(invalid(`spec.excludeIPs[${index}]`, entry, 'must be an IPv4 address or a range "a..b" with a <= b'));
    else if (!contains(cidr, range.first) || !contains(cidr, range.last)) errors.push(invalid(`spec.excludeIPs[${index}]`, entry, `must be inside spec.cidr ${formatCidr(cidr)}`));
  });
  // Immutable CIDR and VPC: on updates, what was admitted stays admitted.
  if (old && (old.spec as SubnetSpec | undefined)?.cidr === spec.cidr && (old.spec as SubnetSpec | undefined)?.vpcRef === spec.vpcRef) return errors;
  const namespace = object.metadata.namespace;
  const vpc = spec.vpcRef ? lookup.get(GROUP, 'vpcs', namespace, spec.vpcRef) : undefined;
  if (vpc && !vpc.metadata.deletionTimestamp) {
    const blocks = ((vpc.spec as { cidrBlocks?: string[] } | undefined)?.cidrBlocks ?? []).map((block) => parseCidr(block)).filter((block): block is Cidr => block !== undefined);
    if (!blocks.some((block) => cidrWithin(cidr, block))) errors.push(invalid('spec.cidr', spec.cidr, `must be inside one of Vpc ${spec.vpcRef}'s cidrBlocks [${blocks.map(formatCidr).join(', ')}]`));
  }
  for (const sibling of live(lookup.list(GROUP, 'subnets', namespace), object)) {
    const siblingSpec = (sibling.spec ?? {}) as SubnetSpec;
    if (siblingSpec.vpcRef !== spec.vpcRef) continue;
    const other = siblingSpec.cidr ? parseCidr(siblingSpec.cidr) : undefined;
    if (other && overlaps(cidr, other)) errors.push(invalid('spec.cidr', spec.cidr, `overlaps Subnet ${sibling.metadata.name} (${siblingSpec.cidr}) in Vpc ${spec.vpcRef}`));
  }
  return errors;
}

interface PortSpec {
  subnetRef?: string;
  ipAddress?: string;
  securityGroupRefs?: string[];
}

function checkPort(object: KubeObject, old: KubeObject | undefined, lookup: AdmissionLookup): FieldError[] {
  const spec = (object.spec ?? {}) as PortSpec;
  const namespace = object.metadata.namespace;
  const errors: FieldError[] = [];
  const oldRefs = new Set(((old?.spec as PortSpec | undefined)?.securityGroupRefs) ?? []);
  (spec.securityGroupRefs ?? []).forEach((name, index) => {
    if (oldRefs.has(name)) return;
    const group = lookup.get(GROUP, 'securitygroups', namespace, name);
    if (!group || group.metadata.deletionTimestamp) errors.push({ field: `spec.securityGroupRefs[${index}]`, reason: 'FieldValueNotFound', message: `Not found: ${JSON.stringify(name)}` });
  });
  if (!spec.ipAddress || (old && (old.spec as PortSpec | undefined)?.ipAddress === spec.ipAddress)) return errors;
  const address = parseIPv4(spec.ipAddress);
  const subnet = spec.subnetRef ? lookup.get(GROUP, 'subnets', namespace, spec.subnetRef) : undefined;
  const subnetSpec = (subnet?.spec ?? {}) as SubnetSpec;
  const cidr = subnetSpec.cidr ? parseCidr(subnetSpec.cidr) : undefined;
  if (address === undefined || !cidr) return errors;
  const usable = usableRange(cidr);
  if (!contains(cidr, address)) errors.push(invalid('spec.ipAddress', spec.ipAddress, `must be inside Subnet ${spec.subnetRef}'s cidr ${formatCidr(cidr)}`));
  else if (address < usable.first || address > usable.last) errors.push(invalid('spec.ipAddress', spec.ipAddress, 'is the network or broadcast address'));
  else if (address === subnetGateway(cidr, subnetSpec.gateway)) errors.push(invalid('spec.ipAddress', spec.ipAddress, `is Subnet ${spec.subnetRef}'s gateway`));
  else if (inRanges(address, parseRanges(subnetSpec.excludeIPs))) errors.push(invalid('spec.ipAddress', spec.ipAddress, `is excluded from allocation by Subnet ${spec.subnetRef} (excludeIPs)`));
  else {
    const taken = live(lookup.list(GROUP, 'ports', namespace), object).find((port) => {
      const other = port.spec as PortSpec | undefined;
      return other?.subnetRef === spec.subnetRef && (other?.ipAddress === spec.ipAddress || (port.status as { ipAddress?: string } | undefined)?.ipAddress === spec.ipAddress);
    });
    if (taken) errors.push({ field: 'spec.ipAddress', reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(spec.ipAddress)}: already used by Port ${taken.metadata.name}` });
  }
  return errors;
}

export function registerNetworkAdmission(admission: CrossObjectAdmission): void {
  admission.register(GROUP, 'Subnet', checkSubnet).register(GROUP, 'Port', checkPort);
}
