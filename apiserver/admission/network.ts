// Admission plugins 3 (chain.ts) for the network kinds: what is knowably wrong when the object arrives and can
// never become right by waiting — the rules themselves live once in apis/network/v1alpha1/validation.ts,
// shared with the controllers.
//   Vpc, SecurityGroup: CIDRs are networks (no host bits).
//   Subnet: its CIDR is a network; gateway and excludeIPs inside it; inside its Vpc's blocks (when the Vpc
//           exists); no overlap with a sibling already admitted.
//   Port:   a static address inside its Subnet (when the Subnet exists), usable, not reserved, not taken.
// Never refused: references to objects that do not exist yet (a Port's security groups, a Subnet's Vpc, a
// Port's Subnet): order must not matter, the controllers report them until they appear. On updates a problem
// the stored object already had (same rule, same value) is not refused again: what was admitted stays
// admissible, even when a rule was added later.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { PortSpec } from '../../apis/network/v1alpha1/port.ts';
import type { SecurityGroupSpec } from '../../apis/network/v1alpha1/securitygroup.ts';
import type { SubnetSpec } from '../../apis/network/v1alpha1/subnet.ts';
import {
  securityGroupSpecProblems,
  staticAddressProblems,
  subnetPlacementProblems,
  subnetSpecProblems,
  vpcSpecProblems,
  type NetworkProblem,
  type PortAddressing,
  type Spec,
} from '../../apis/network/v1alpha1/validation.ts';
import type { VpcSpec } from '../../apis/network/v1alpha1/vpc.ts';
import type { FieldError } from '../errors.ts';
import type { AdmissionAttributes, AdmissionLookup, AdmissionPlugin } from './chain.ts';
import type { ParentReference } from './parent-lifecycle.ts';

const GROUP = 'network.photoncloud.io';
const VPCS = { group: GROUP, plural: 'vpcs' };
const SUBNETS = { group: GROUP, plural: 'subnets' };
const PORTS = { group: GROUP, plural: 'ports' };

/** Children refused while their parent is being deleted (parent-lifecycle.ts). */
export const NETWORK_PARENTS: ParentReference[] = [
  { child: { group: GROUP, kind: 'Subnet' }, field: 'spec.vpcRef', parent: { ...VPCS, kind: 'Vpc' } },
  { child: { group: GROUP, kind: 'Port' }, field: 'spec.subnetRef', parent: { ...SUBNETS, kind: 'Subnet' } },
];

export function toFieldError(problem: NetworkProblem): FieldError {
  const value = JSON.stringify(problem.value);
  if (problem.reason === 'AddressInUse') return { field: problem.field, reason: 'FieldValueDuplicate', message: `Duplicate value: ${value}: ${problem.message}` };
  return { field: problem.field, reason: 'FieldValueInvalid', message: `Invalid value: ${value}: ${problem.message}` };
}

/** The problems of `object` under `rule`, less those the stored object already had. */
function newProblems<T>(rule: (object: T) => NetworkProblem[], object: T, old: T | undefined): NetworkProblem[] {
  const problems = rule(object);
  if (!old || problems.length === 0) return problems;
  const before = new Set(rule(old).map((problem) => `${problem.reason} ${problem.value}`));
  return problems.filter((problem) => !before.has(`${problem.reason} ${problem.value}`));
}

const specOf = <S>(object: KubeObject | undefined) => object && (object as unknown as Spec<S>);

function plugin(kind: string, check: (attributes: AdmissionAttributes, lookup: AdmissionLookup) => Promise<NetworkProblem[]>): AdmissionPlugin {
  return {
    name: `${kind}Validation`,
    operations: ['CREATE', 'UPDATE'],
    kinds: [{ group: GROUP, kind }],
    async admit(attributes, lookup) {
      return (await check(attributes, lookup)).map(toFieldError);
    },
  };
}

const vpcValidation = plugin('Vpc', async ({ object, old }) => newProblems((vpc) => vpcSpecProblems(vpc?.spec), specOf<VpcSpec>(object), specOf<VpcSpec>(old)));

const securityGroupValidation = plugin('SecurityGroup', async ({ object, old }) =>
  newProblems((group) => securityGroupSpecProblems(group?.spec), specOf<SecurityGroupSpec>(object), specOf<SecurityGroupSpec>(old)),
);

const subnetValidation = plugin('Subnet', async ({ object, old }, lookup) => {
  const subnet = specOf<SubnetSpec>(object)!;
  const previous = specOf<SubnetSpec>(old);
  const problems = newProblems((candidate) => subnetSpecProblems(candidate?.spec), subnet, previous);
  // CIDR and Vpc are immutable: once placed, a Subnet stays placed.
  if (previous && previous.spec?.cidr === subnet.spec?.cidr && previous.spec?.vpcRef === subnet.spec?.vpcRef) return problems;
  const namespace = object.metadata.namespace;
  const vpcRef = subnet.spec?.vpcRef;
  const vpc = vpcRef ? await lookup.get(VPCS, namespace, vpcRef) : undefined;
  const siblings = await lookup.list(SUBNETS, namespace);
  return [...problems, ...subnetPlacementProblems(subnet, specOf<VpcSpec>(vpc), siblings.map((sibling) => specOf<SubnetSpec>(sibling)!))];
});

const portValidation = plugin('Port', async ({ object, old }, lookup) => {
  const port = specOf<PortSpec>(object) as PortAddressing;
  const { ipAddress, subnetRef } = port.spec ?? {};
  // The address is immutable: once admitted, it stays the Port's.
  if (!ipAddress || !subnetRef || (old && specOf<PortSpec>(old)?.spec?.ipAddress === ipAddress)) return [];
  const subnet = await lookup.get(SUBNETS, object.metadata.namespace, subnetRef);
  if (!subnet) return [];
  const ports = await lookup.list(PORTS, object.metadata.namespace);
  return staticAddressProblems(port, specOf<SubnetSpec>(subnet), ports as unknown as PortAddressing[]);
});

/** The network kinds' plugins, in chain order (independent of each other: each admits one kind). */
export const networkAdmission: readonly AdmissionPlugin[] = [vpcValidation, subnetValidation, securityGroupValidation, portValidation];
