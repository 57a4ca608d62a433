// The ClusterRoles and ClusterRoleBindings every PhotonCloud cluster starts with, Kubernetes' defaults where
// Kubernetes has them (cluster-admin, admin, edit, view, system:basic-user, system:discovery,
// system:public-info-viewer) and `organization-admin` for PhotonCloud's tenancy. admin/edit/view aggregate
// (aggregation.ts) the `photoncloud:aggregate-to-*` roles, which list every namespaced PhotonCloud kind the
// server serves, computed from the registry at start so a new kind can never be missing from them.
import type { KubeObject } from '../../apis/meta/types.ts';
import { RBAC_GROUP } from '../registry/builtins/rbac.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import type { PolicyRule } from './types.ts';

export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';
const BOOTSTRAP_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
export const AGGREGATE_TO = (role: string) => `rbac.authorization.k8s.io/aggregate-to-${role}`;
export const AGGREGATE_TO_ORGANIZATION_ADMIN = 'iam.photoncloud.io/aggregate-to-organization-admin';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'patch', 'delete', 'deletecollection'];
const PHOTON_GROUP_SUFFIX = '.photoncloud.io';

function clusterRole(name: string, rules: PolicyRule[], labels: Record<string, string> = {}, aggregateFrom?: string[]): KubeObject {
  const role: KubeObject = {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...BOOTSTRAP_LABELS, ...labels }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    rules,
  };
  if (aggregateFrom) role.aggregationRule = { clusterRoleSelectors: aggregateFrom.map((label) => ({ matchLabels: { [label]: 'true' } })) };
  return role;
}

function clusterRoleBinding(name: string, role: string, groups: string[]): KubeObject {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...BOOTSTRAP_LABELS }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
    subjects: groups.map((group) => ({ kind: 'Group', apiGroup: RBAC_GROUP, name: group })),
  };
}

/** Tenant kinds: every namespaced PhotonCloud kind, grouped by API group, with the subresources it serves. */
function tenantKinds(resources: readonly ResourceInfo[]): Map<string, ResourceInfo[]> {
  const byGroup = new Map<string, ResourceInfo[]>();
  for (const resource of resources) {
    if (!resource.namespaced || !resource.group.endsWith(PHOTON_GROUP_SUFFIX)) continue;
    byGroup.set(resource.group, [...(byGroup.get(resource.group) ?? []), resource]);
  }
  return byGroup;
}

function tenantRules(resources: readonly ResourceInfo[], verbs: string[], withStatus: boolean): PolicyRule[] {
  return [...tenantKinds(resources)].map(([group, kinds]) => ({
    apiGroups: [group],
    // Read-only subresources (a VM's console) go with reading, as pods/log is in Kubernetes' view role.
    resources: kinds.flatMap((kind) => (withStatus ? [kind.plural, ...(kind.hasStatus ? [`${kind.plural}/status`] : []), ...(kind.readSubresources ?? []).map((name) => `${kind.plural}/${name}`)] : [kind.plural])).sort(),
    verbs,
  }));
}

/** The bootstrap ClusterRoles and ClusterRoleBindings for the kinds the registry serves. */
export function bootstrapPolicy(resources: readonly ResourceInfo[]): KubeObject[] {
  const view = [
    { apiGroups: [''], resources: ['configmaps', 'events', 'serviceaccounts', 'resourcequotas', 'resourcequotas/status', 'namespaces', 'namespaces/status'], verbs: READ },
    { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: READ },
    ...tenantRules(resources, READ, true),
  ];
  const edit = [
    { apiGroups: [''], resources: ['configmaps', 'secrets', 'serviceaccounts'], verbs: WRITE },
    { apiGroups: [''], resources: ['secrets'], verbs: READ },
    { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: [...READ, ...WRITE] },
    ...tenantRules(resources, WRITE, false),
  ];
  const admin = [
    { apiGroups: [RBAC_GROUP], resources: ['roles', 'rolebindings'], verbs: [...READ, ...WRITE] },
    { apiGroups: ['authorization.k8s.io'], resources: ['localsubjectaccessreviews'], verbs: ['create'] },
  ];
  const organizationAdmin = [
    { apiGroups: ['iam.photoncloud.io'], resources: ['projects'], verbs: [...READ, ...WRITE] },
    { apiGroups: ['iam.photoncloud.io'], resources: ['projects/status', 'organizations'], verbs: ['get'] },
  ];
  return [
    clusterRole('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    clusterRoleBinding('cluster-admin', 'cluster-admin', ['system:masters']),
    // Aggregated: the rules are written by the aggregation loop from the labelled roles below.
    clusterRole('admin', [], {}, [AGGREGATE_TO('admin')]),
    clusterRole('edit', [], { [AGGREGATE_TO('admin')]: 'true' }, [AGGREGATE_TO('edit')]),
    clusterRole('view', [], { [AGGREGATE_TO('admin')]: 'true', [AGGREGATE_TO('edit')]: 'true' }, [AGGREGATE_TO('view')]),
    clusterRole('organization-admin', [], {}, [AGGREGATE_TO('admin'), AGGREGATE_TO_ORGANIZATION_ADMIN]),
    clusterRole('photoncloud:aggregate-to-admin', admin, { [AGGREGATE_TO('admin')]: 'true' }),
    clusterRole('photoncloud:aggregate-to-edit', edit, { [AGGREGATE_TO('edit')]: 'true' }),
    clusterRole('photoncloud:aggregate-to-view', view, { [AGGREGATE_TO('view')]: 'true' }),
    clusterRole('photoncloud:aggregate-to-organization-admin', organizationAdmin, { [AGGREGATE_TO_ORGANIZATION_ADMIN]: 'true' }),
    clusterRole('system:basic-user', [
      { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
      { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
    ]),
    clusterRoleBinding('system:basic-user', 'system:basic-user', ['system:authenticated']),
    clusterRole('system:discovery', [{ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/openapi', '/openapi/*', '/version', '/version/', '/healthz', '/livez', '/readyz'], verbs: ['get'] }]),
    clusterRoleBinding('system:discovery', 'system:discovery', ['system:authenticated']),
    clusterRole('system:public-info-viewer', [{ nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
    clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', ['system:authenticated', 'system:unauthenticated']),
  ];
}
