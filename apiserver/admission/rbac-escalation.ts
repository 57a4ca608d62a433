// Escalation prevention, as Kubernetes' RBAC storage enforces it: nobody creates or changes a role with
// permissions they do not hold themselves, nor binds a role whose permissions they do not hold — unless they
// were granted `escalate` on that role (roles) or `bind` on it (bindings). The comparison is per scope: a
// RoleBinding is checked against what the caller holds in its namespace, a ClusterRole(Binding) against what
// they hold cluster-wide, an OrganizationRoleBinding against what they hold in every Project of the
// organization (cluster-wide grants and that organization's bindings). Members of system:masters hold all.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import { MASTERS_GROUP, type RbacAuthorizer } from '../authz/rbac/authorizer.ts';
import type { RoleRef } from '../authz/rbac/policy-index.ts';
import { describeRule, uncoveredRules } from '../authz/rbac/rules.ts';
import type { PolicyRule } from '../authz/types.ts';
import { ApiError } from '../errors.ts';
import { RBAC_GROUP } from '../registry/builtins/rbac.ts';
import { groupResource } from '../registry/resource.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './chain.ts';

const IAM_GROUP = 'iam.photoncloud.io';
const EVERYTHING: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

function refused(attributes: AdmissionAttributes, user: UserInfo, why: string): ApiError {
  const { resource, object } = attributes;
  return new ApiError(403, 'Forbidden', `${groupResource(resource)} ${JSON.stringify(object.metadata.name)} is forbidden: user ${JSON.stringify(user.name)} (groups=${JSON.stringify(user.groups)}) ${why}`, {
    name: object.metadata.name,
    group: resource.group || undefined,
    kind: resource.plural,
  });
}

function notHeld(missing: PolicyRule[]): string {
  const shown = missing.slice(0, 20).map(describeRule);
  const more = missing.length > shown.length ? `\n… and ${missing.length - shown.length} more` : '';
  return `is attempting to grant RBAC permissions not currently held:\n${shown.join('\n')}${more}`;
}

function granted(authorizer: RbacAuthorizer, user: UserInfo, verb: 'bind' | 'escalate', plural: 'roles' | 'clusterroles', namespace: string, name: string): boolean {
  return authorizer.authorize({ user, resourceRequest: true, verb, apiGroup: RBAC_GROUP, apiVersion: 'v1', resource: plural, subresource: '', namespace, name }).allowed;
}

function checkRole(authorizer: RbacAuthorizer, attributes: AdmissionAttributes, user: UserInfo): void {
  const { object } = attributes;
  const namespaced = attributes.resource.kind === 'Role';
  const namespace = namespaced ? object.metadata.namespace! : '';
  if (granted(authorizer, user, 'escalate', namespaced ? 'roles' : 'clusterroles', namespace, object.metadata.name!)) return;
  const held = authorizer.rulesFor(user, namespace).rules;
  // An aggregating role's rules follow whatever roles later match its selectors: only someone who holds
  // everything can promise that.
  const requested = object.aggregationRule ? EVERYTHING : ((object.rules as PolicyRule[] | undefined) ?? []);
  const missing = uncoveredRules(held, requested);
  if (missing.length > 0) throw refused(attributes, user, notHeld(missing));
}

function checkBinding(authorizer: RbacAuthorizer, attributes: AdmissionAttributes, user: UserInfo): void {
  const { object, resource } = attributes;
  const organizationBinding = resource.group === IAM_GROUP;
  const roleRef = (organizationBinding ? (object.spec as { roleRef?: RoleRef } | undefined)?.roleRef : (object.roleRef as RoleRef | undefined))!;
  const namespace = resource.kind === 'RoleBinding' ? object.metadata.namespace! : '';
  const rolePlural = roleRef.kind === 'Role' ? 'roles' : 'clusterroles';
  if (granted(authorizer, user, 'bind', rolePlural, roleRef.kind === 'Role' ? namespace : '', roleRef.name)) return;
  const rules = authorizer.roleRules(roleRef, namespace || undefined);
  if (!rules) throw refused(attributes, user, `cannot bind ${roleRef.kind} ${JSON.stringify(roleRef.name)}: it does not exist, and without permission to bind it, a binding may only grant permissions its creator holds`);
  const organization = organizationBinding ? (object.spec as { organizationRef?: { name?: string } }).organizationRef?.name ?? '' : undefined;
  const held = organization !== undefined ? authorizer.rulesInOrganization(user, organization).rules : authorizer.rulesFor(user, namespace).rules;
  const missing = uncoveredRules(held, rules);
  if (missing.length > 0) throw refused(attributes, user, notHeld(missing));
}

export function rbacEscalation(authorizer: RbacAuthorizer): AdmissionPlugin {
  return {
    name: 'RBACEscalation',
    operations: ['CREATE', 'UPDATE'],
    kinds: [
      { group: RBAC_GROUP, kind: 'Role' },
      { group: RBAC_GROUP, kind: 'ClusterRole' },
      { group: RBAC_GROUP, kind: 'RoleBinding' },
      { group: RBAC_GROUP, kind: 'ClusterRoleBinding' },
      { group: IAM_GROUP, kind: 'OrganizationRoleBinding' },
    ],
    async admit(attributes) {
      const { user } = attributes;
      // The server's own writes (bootstrap policy, aggregation) and system:masters are not limited.
      if (!user || user.groups.includes(MASTERS_GROUP)) return [];
      // An update that leaves the grant as it was (labels, annotations) grants nothing new.
      if (attributes.old && sameGrant(attributes.object, attributes.old)) return [];
      if (attributes.resource.kind === 'Role' || attributes.resource.kind === 'ClusterRole') checkRole(authorizer, attributes, user);
      else checkBinding(authorizer, attributes, user);
      return [];
    },
  };
}

function sameGrant(object: KubeObject, old: KubeObject): boolean {
  const grant = (candidate: KubeObject) => JSON.stringify([candidate.rules, candidate.aggregationRule, candidate.roleRef, candidate.subjects, candidate.spec]);
  return grant(object) === grant(old);
}

/**
 * A Project may be created by whoever may create Projects cluster-wide, or by an organization's admins in
 * that organization only (the authorizer let them through without knowing which organization the body names).
 */
export function projectOrganization(authorizer: RbacAuthorizer): AdmissionPlugin {
  return {
    name: 'ProjectOrganization',
    operations: ['CREATE'],
    kinds: [{ group: IAM_GROUP, kind: 'Project' }],
    async admit(attributes) {
      const { user, object } = attributes;
      if (!user) return [];
      const request = { user, resourceRequest: true as const, verb: 'create', apiGroup: IAM_GROUP, apiVersion: 'v1alpha1', resource: 'projects', subresource: '', namespace: '', name: '' };
      if (authorizer.authorizeClusterWide(request).allowed) return [];
      const ref = (object.spec as { organizationRef?: string | { name?: string } } | undefined)?.organizationRef;
      const organization = typeof ref === 'string' ? ref : (ref?.name ?? '');
      if (authorizer.organizationGrants(user, request).includes(organization)) return [];
      throw new ApiError(403, 'Forbidden', `projects.${IAM_GROUP} ${JSON.stringify(object.metadata.name)} is forbidden: User ${JSON.stringify(user.name)} cannot create projects in organization ${JSON.stringify(organization)}`, {
        name: object.metadata.name,
        group: IAM_GROUP,
        kind: 'projects',
      });
    },
  };
}
