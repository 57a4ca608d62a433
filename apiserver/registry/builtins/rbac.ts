// rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding and ClusterRoleBinding, validated as Kubernetes
// validates them (k8s.io/kubernetes pkg/apis/rbac/validation). What a rule or binding may grant is decided at
// admission (escalation prevention, admission/rbac-escalation.ts); what it does grant, by the authorizer.
import type { KubeObject } from '../../../apis/meta/types.ts';
import type { FieldError } from '../../errors.ts';
import type { JSONSchemaProps } from '../../schema/structural-schema.ts';
import type { PrinterColumn, ResourceInfo } from '../resource.ts';
import { AGE_COLUMN, builtinResource, str } from './define.ts';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

const strings = (description: string): JSONSchemaProps => ({ type: 'array', description, items: { type: 'string' } });

const policyRule: JSONSchemaProps = {
  type: 'object',
  description: 'PolicyRule holds information that describes a policy rule, but does not contain information about who the rule applies to or which namespace the rule applies to.',
  required: ['verbs'],
  properties: {
    verbs: strings("Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule. '*' represents all verbs."),
    apiGroups: strings('APIGroups is the name of the APIGroup that contains the resources. "" represents the core API group and "*" represents all API groups.'),
    resources: strings("Resources is a list of resources this rule applies to. '*' represents all resources; 'pods/log' a subresource."),
    resourceNames: strings('ResourceNames is an optional white list of names that the rule applies to. An empty set means that everything is allowed.'),
    nonResourceURLs: strings('NonResourceURLs is a set of partial urls that a user should have access to. *s are allowed, but only as the full, final step in the path.'),
  },
};

const labelSelector: JSONSchemaProps = {
  type: 'object',
  description: 'A label query over a set of resources.',
  'x-kubernetes-map-type': 'atomic',
  properties: {
    matchLabels: { type: 'object', description: 'matchLabels is a map of {key,value} pairs.', additionalProperties: { type: 'string' } },
    matchExpressions: {
      type: 'array',
      description: 'matchExpressions is a list of label selector requirements. The requirements are ANDed.',
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: { key: str('The label key that the selector applies to.'), operator: str('In, NotIn, Exists or DoesNotExist.'), values: strings('An array of string values.') },
      },
    },
  },
};

const roleRef: JSONSchemaProps = {
  type: 'object',
  description: 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. It is immutable.',
  required: ['apiGroup', 'kind', 'name'],
  'x-kubernetes-map-type': 'atomic',
  properties: { apiGroup: str('APIGroup is the group for the resource being referenced.'), kind: str('Kind is the type of resource being referenced.'), name: str('Name is the name of resource being referenced.') },
};

export const subjects: JSONSchemaProps = {
  type: 'array',
  description: 'Subjects holds references to the objects the role applies to.',
  items: {
    type: 'object',
    description: 'Subject contains a reference to the object or user identities a role binding applies to.',
    required: ['kind', 'name'],
    'x-kubernetes-map-type': 'atomic',
    properties: {
      kind: str('Kind of object being referenced: "User", "Group" or "ServiceAccount".'),
      apiGroup: str('APIGroup holds the API group of the referenced subject: "" for ServiceAccount, "rbac.authorization.k8s.io" for User and Group.'),
      name: str('Name of the object being referenced.'),
      namespace: str('Namespace of the referenced ServiceAccount.'),
    },
  },
};

function ruleErrors(rules: unknown, field: string, namespaced: boolean): FieldError[] {
  if (!Array.isArray(rules)) return [];
  const errors: FieldError[] = [];
  rules.forEach((rule: Record<string, string[] | undefined>, index) => {
    const at = `${field}[${index}]`;
    if (!rule.verbs?.length) errors.push({ field: `${at}.verbs`, reason: 'FieldValueRequired', message: 'Required value: verbs must contain at least one value' });
    const hasResources = (rule.resources?.length ?? 0) > 0;
    const hasUrls = (rule.nonResourceURLs?.length ?? 0) > 0;
    if (hasUrls && namespaced) errors.push({ field: `${at}.nonResourceURLs`, reason: 'FieldValueInvalid', message: 'Invalid value: namespaced rules cannot apply to non-resource URLs' });
    if (hasUrls && hasResources) errors.push({ field: `${at}.nonResourceURLs`, reason: 'FieldValueInvalid', message: 'Invalid value: rules cannot apply to both regular resources and non-resource URLs' });
    if (!hasUrls && !hasResources) errors.push({ field: `${at}.resources`, reason: 'FieldValueRequired', message: 'Required value: resource rules must supply at least one resource' });
    if (hasResources && !rule.apiGroups?.length) errors.push({ field: `${at}.apiGroups`, reason: 'FieldValueRequired', message: 'Required value: resource rules must supply at least one api group' });
    (rule.nonResourceURLs ?? []).forEach((url, urlIndex) => {
      if (!url.startsWith('/') && url !== '*') errors.push({ field: `${at}.nonResourceURLs[${urlIndex}]`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(url)}: must start with /` });
      const star = url.indexOf('*');
      if (star >= 0 && star !== url.length - 1) errors.push({ field: `${at}.nonResourceURLs[${urlIndex}]`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(url)}: * is allowed only as the final step of the path` });
    });
  });
  return errors;
}

function roleRefErrors(object: KubeObject, old: KubeObject | undefined, kinds: string[]): FieldError[] {
  const ref = object.roleRef as Record<string, string> | undefined;
  const errors: FieldError[] = [];
  if (!ref) return [{ field: 'roleRef', reason: 'FieldValueRequired', message: 'Required value' }];
  if (ref.apiGroup !== RBAC_GROUP) errors.push({ field: 'roleRef.apiGroup', reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(ref.apiGroup)}: supported values: "${RBAC_GROUP}"` });
  if (!kinds.includes(ref.kind)) errors.push({ field: 'roleRef.kind', reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(ref.kind)}: supported values: ${kinds.map((kind) => `"${kind}"`).join(', ')}` });
  if (!ref.name) errors.push({ field: 'roleRef.name', reason: 'FieldValueRequired', message: 'Required value' });
  if (old && JSON.stringify(old.roleRef) !== JSON.stringify(object.roleRef)) errors.push({ field: 'roleRef', reason: 'FieldValueInvalid', message: 'Invalid value: cannot change roleRef' });
  return errors;
}

export function subjectErrors(list: unknown, field: string, namespaced: boolean): FieldError[] {
  if (!Array.isArray(list)) return [];
  const errors: FieldError[] = [];
  list.forEach((subject: Record<string, string | undefined>, index) => {
    const at = `${field}[${index}]`;
    if (subject.kind === 'ServiceAccount') {
      if (subject.apiGroup) errors.push({ field: `${at}.apiGroup`, reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(subject.apiGroup)}: supported values: ""` });
      if (!namespaced && !subject.namespace) errors.push({ field: `${at}.namespace`, reason: 'FieldValueRequired', message: 'Required value' });
    } else if (subject.kind === 'User' || subject.kind === 'Group') {
      if (subject.apiGroup !== RBAC_GROUP) errors.push({ field: `${at}.apiGroup`, reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(subject.apiGroup)}: supported values: "${RBAC_GROUP}"` });
    } else {
      errors.push({ field: `${at}.kind`, reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(subject.kind)}: supported values: "ServiceAccount", "User", "Group"` });
    }
    if (!subject.name) errors.push({ field: `${at}.name`, reason: 'FieldValueRequired', message: 'Required value' });
  });
  return errors;
}

/** A User or Group subject without apiGroup means RBAC's (kubectl always sends it; hand-written YAML often omits it). */
function defaultSubjectGroups(object: KubeObject): void {
  if (!Array.isArray(object.subjects)) return;
  for (const subject of object.subjects as Array<Record<string, string>>) {
    if ((subject.kind === 'User' || subject.kind === 'Group') && !subject.apiGroup) subject.apiGroup = RBAC_GROUP;
  }
}

const bindingStrategy = (kinds: string[], namespaced: boolean) => ({
  prepareForCreate: defaultSubjectGroups,
  prepareForUpdate: defaultSubjectGroups,
  validate: (object: KubeObject, old?: KubeObject) => [...roleRefErrors(object, old, kinds), ...subjectErrors(object.subjects, 'subjects', namespaced)],
});

const roleColumns: PrinterColumn[] = [{ name: 'Created At', type: 'string', jsonPath: '.metadata.creationTimestamp', description: 'When the role was created.' }];

export function roleResource(): ResourceInfo {
  return builtinResource({
    group: RBAC_GROUP,
    version: 'v1',
    kind: 'Role',
    plural: 'roles',
    namespaced: true,
    description: 'Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.',
    properties: { rules: { type: 'array', description: 'Rules holds all the PolicyRules for this Role.', items: policyRule } },
    printerColumns: roleColumns,
    nameFormat: 'path-segment',
    strategy: { validate: (object) => ruleErrors(object.rules, 'rules', true) },
  });
}

export function clusterRoleResource(): ResourceInfo {
  return builtinResource({
    group: RBAC_GROUP,
    version: 'v1',
    kind: 'ClusterRole',
    plural: 'clusterroles',
    namespaced: false,
    description: 'ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.',
    properties: {
      rules: { type: 'array', description: 'Rules holds all the PolicyRules for this ClusterRole.', items: policyRule },
      aggregationRule: {
        type: 'object',
        description: 'AggregationRule is an optional field that describes how to build the Rules for this ClusterRole. If set, the rules are controller managed.',
        properties: { clusterRoleSelectors: { type: 'array', description: 'A list of selectors which will be used to find ClusterRoles and create the rules.', items: labelSelector } },
      },
    },
    printerColumns: roleColumns,
    nameFormat: 'path-segment',
    strategy: { validate: (object) => ruleErrors(object.rules, 'rules', false) },
  });
}

const bindingColumns = (): PrinterColumn[] => [
  { name: 'Role', type: 'string', jsonPath: '.roleRef', description: 'The role bound.', value: (object: KubeObject) => `${(object.roleRef as { kind?: string })?.kind}/${(object.roleRef as { name?: string })?.name}` },
  AGE_COLUMN,
];

export function roleBindingResource(): ResourceInfo {
  return builtinResource({
    group: RBAC_GROUP,
    version: 'v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
    namespaced: true,
    description: 'RoleBinding references a role, but does not contain it. It can reference a Role in the same namespace or a ClusterRole in the global namespace. It adds who information via Subjects and namespace information by which namespace it exists in.',
    required: ['roleRef'],
    properties: { subjects, roleRef },
    printerColumns: bindingColumns(),
    nameFormat: 'path-segment',
    strategy: bindingStrategy(['Role', 'ClusterRole'], true),
  });
}

export function clusterRoleBindingResource(): ResourceInfo {
  return builtinResource({
    group: RBAC_GROUP,
    version: 'v1',
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    namespaced: false,
    description: 'ClusterRoleBinding references a ClusterRole, but not contain it. It can reference a ClusterRole in the global namespace, and adds who information via Subject.',
    required: ['roleRef'],
    properties: { subjects, roleRef },
    printerColumns: bindingColumns(),
    nameFormat: 'path-segment',
    strategy: bindingStrategy(['ClusterRole'], false),
  });
}

export function rbacResources(): ResourceInfo[] {
  return [roleResource(), clusterRoleResource(), roleBindingResource(), clusterRoleBindingResource()];
}
