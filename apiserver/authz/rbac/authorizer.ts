// Kubernetes RBAC over the policy index, plus PhotonCloud's one addition: an OrganizationRoleBinding grants its
// ClusterRole in the namespace of every Project of its organization (present and future: the Project is looked
// up per decision), and on those Projects and that Organization themselves. Deny by default; members of
// system:masters are allowed everything, as in Kubernetes.
import type { UserInfo } from '../../auth/authenticate.ts';
import type { Authorizer, Decision, PolicyRule, RequestAttributes, RuleResolver } from '../types.ts';
import { IAM_GROUP, type Binding, type PolicyIndex, type RoleRef, type Subject } from './policy-index.ts';
import { rulesAllow } from './rules.ts';

export const MASTERS_GROUP = 'system:masters';
const EVERYTHING: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

export function subjectMatches(subject: Subject, user: UserInfo, bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === user.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const namespace = subject.namespace || bindingNamespace;
      return namespace !== undefined && user.name === `system:serviceaccount:${namespace}:${subject.name}`;
    }
    default:
      return false;
  }
}

function describeBinding(binding: Binding): string {
  const where = binding.namespace ? ` of ${binding.roleRef.kind} ${JSON.stringify(binding.roleRef.name)} in namespace ${JSON.stringify(binding.namespace)}` : ` of ${binding.roleRef.kind} ${JSON.stringify(binding.roleRef.name)}`;
  return `RBAC: allowed by ${binding.kind} ${JSON.stringify(binding.name)}${where}`;
}

export class RbacAuthorizer implements Authorizer, RuleResolver {
  constructor(private readonly policy: PolicyIndex) {}

  /** The bindings that apply to user for a request in namespace ('' = cluster scope) or on a Project/Organization. */
  private applicableBindings(user: UserInfo, namespace: string, organization: string | undefined): Binding[] {
    const bindings: Binding[] = [];
    for (const binding of this.policy.clusterRoleBindings()) if (binding.subjects.some((subject) => subjectMatches(subject, user, undefined))) bindings.push(binding);
    if (namespace) {
      for (const binding of this.policy.roleBindings(namespace)) if (binding.subjects.some((subject) => subjectMatches(subject, user, namespace))) bindings.push(binding);
    }
    if (organization) {
      for (const binding of this.policy.organizationBindings(organization)) if (binding.subjects.some((subject) => subjectMatches(subject, user, undefined))) bindings.push(binding);
    }
    return bindings;
  }

  /** The organization a request is scoped to: its namespace's Project's, or the Project/Organization it names. */
  private organizationOf(attributes: RequestAttributes): string | undefined {
    if (!attributes.resourceRequest) return undefined;
    if (attributes.namespace) return this.policy.organizationOfNamespace(attributes.namespace);
    if (attributes.apiGroup !== IAM_GROUP || !attributes.name) return undefined;
    if (attributes.resource === 'projects') return this.policy.organizationOfProject(attributes.name);
    if (attributes.resource === 'organizations') return attributes.name;
    return undefined;
  }

  authorize(attributes: RequestAttributes): Decision {
    const { user } = attributes;
    if (user.groups.includes(MASTERS_GROUP)) return { allowed: true, reason: `allowed: member of ${MASTERS_GROUP}` };
    const namespace = attributes.resourceRequest ? attributes.namespace : '';
    const decision = this.decide(attributes, this.applicableBindings(user, namespace, this.organizationOf(attributes)));
    if (decision.allowed) return decision;
    // Creating a Project: an organization's admins may, in that organization only. Which organization the
    // new Project names is in its body, so the ProjectOrganization admission plugin checks that part.
    if (attributes.resourceRequest && attributes.apiGroup === IAM_GROUP && attributes.resource === 'projects' && !attributes.subresource) {
      // Reading a Project that does not exist yet (kubectl apply looks before it creates): an organization's
      // admins get the 404. That a name is free is no secret: Project names are cluster-wide, and creating a
      // taken one answers 409 to anyone allowed to create.
      const unknownProject = attributes.verb === 'get' && attributes.name !== '' && this.policy.organizationOfProject(attributes.name) === undefined;
      if (attributes.verb === 'create' || unknownProject) {
        const organizations = this.organizationGrants(user, attributes);
        if (organizations.length > 0) return { allowed: true, reason: `RBAC: allowed by OrganizationRoleBinding in organization(s) ${organizations.join(', ')} (the Project must belong to one of them)` };
      }
    }
    return decision;
  }

  /** The decision from cluster-wide grants only (ClusterRoleBindings), whatever the request's scope. */
  authorizeClusterWide(attributes: RequestAttributes): Decision {
    if (attributes.user.groups.includes(MASTERS_GROUP)) return { allowed: true, reason: `allowed: member of ${MASTERS_GROUP}` };
    return this.decide(attributes, this.applicableBindings(attributes.user, '', undefined));
  }

  private decide(attributes: RequestAttributes, bindings: Binding[]): Decision {
    for (const binding of bindings) {
      const rules = this.policy.rulesOfRef(binding.roleRef, binding.kind === 'RoleBinding' ? binding.namespace : undefined);
      if (rules && rulesAllow(rules, attributes)) return { allowed: true, reason: describeBinding(binding) };
    }
    return { allowed: false, reason: '' };
  }

  /** The rules a role reference grants; undefined while the role does not exist. */
  roleRules(ref: RoleRef, namespace: string | undefined): PolicyRule[] | undefined {
    return this.policy.rulesOfRef(ref, namespace);
  }

  /** What user may do in namespace ('' = only what applies cluster-wide), for reviews and escalation checks. */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; incomplete: boolean } {
    if (user.groups.includes(MASTERS_GROUP)) return { rules: EVERYTHING, incomplete: false };
    return this.rulesOfBindings(this.applicableBindings(user, namespace, namespace ? this.policy.organizationOfNamespace(namespace) : undefined));
  }

  /** What user holds in every Project of organization: cluster-wide grants and that organization's bindings. */
  rulesInOrganization(user: UserInfo, organization: string): { rules: PolicyRule[]; incomplete: boolean } {
    if (user.groups.includes(MASTERS_GROUP)) return { rules: EVERYTHING, incomplete: false };
    return this.rulesOfBindings(this.applicableBindings(user, '', organization));
  }

  /** Whether any of user's OrganizationRoleBindings (in any organization) grants the request. */
  organizationGrants(user: UserInfo, attributes: RequestAttributes): string[] {
    const organizations: string[] = [];
    for (const [organization, bindings] of this.policy.allOrganizationBindings()) {
      for (const binding of bindings) {
        if (!binding.subjects.some((subject) => subjectMatches(subject, user, undefined))) continue;
        const rules = this.policy.rulesOfRef(binding.roleRef, undefined);
        if (rules && rulesAllow(rules, attributes)) {
          organizations.push(organization);
          break;
        }
      }
    }
    return organizations;
  }

  private rulesOfBindings(bindings: Binding[]): { rules: PolicyRule[]; incomplete: boolean } {
    const rules: PolicyRule[] = [];
    let incomplete = false;
    for (const binding of bindings) {
      const granted = this.policy.rulesOfRef(binding.roleRef, binding.kind === 'RoleBinding' ? binding.namespace : undefined);
      // A binding to a role that does not exist grants nothing yet; reviews say the list may be incomplete.
      if (granted) rules.push(...granted);
      else incomplete = true;
    }
    return { rules, incomplete };
  }
}
