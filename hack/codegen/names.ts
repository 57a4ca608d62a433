// Names of generated TypeScript types where the default rule reads badly.
//
// Default rule (render.ts): spec → <Kind>Spec, status → <Kind>Status, any other object property p →
// <Kind><P>, the items of an array property ps → <Kind><P> (singular). These overrides are keyed by kind
// and by the field's path in the schema ("[]" marks array items). Two paths may share a name only when
// their schemas are the same apart from descriptions; the generator checks that and emits one interface.
// The names live here rather than in the CRDs because a real API server rejects unknown schema keywords.

export interface TypeNameOverride {
  name: string;
  /** Documentation for the shared interface when several fields with different descriptions use it. */
  doc?: string;
}

const PEER = {
  name: 'SecurityGroupPeer',
  doc: 'The other end of a security group rule: exactly one of cidr or securityGroupRef.',
};
const NODE_RESOURCES = { name: 'NodeResources', doc: 'Amounts of CPU, memory and disk of a Node.' };

export const TYPE_NAME_OVERRIDES: Readonly<Record<string, Readonly<Record<string, TypeNameOverride>>>> = {
  SecurityGroup: {
    'spec.ingress[]': { name: 'SecurityGroupIngressRule' },
    'spec.egress[]': { name: 'SecurityGroupEgressRule' },
    'spec.ingress[].from': PEER,
    'spec.egress[].to': PEER,
  },
  Node: {
    'status.capacity': NODE_RESOURCES,
    'status.allocatable': NODE_RESOURCES,
  },
  LoadBalancer: {
    // spec.backends (selector + portRefs) is LoadBalancerBackends; keep the observed list apart.
    'status.backends[]': { name: 'LoadBalancerBackendStatus' },
  },
};
