// The review kinds: authorization.k8s.io/v1 (Self|Local)SubjectAccessReview and SelfSubjectRulesReview,
// authentication.k8s.io SelfSubjectReview (v1, and v1beta1 which kubectl 1.27's `auth whoami` asks for).
// Create-only and computed (ResourceInfo.virtual; the computations are in authz/reviews.ts): discovery lists
// them with verbs [create] so kubectl finds them; nothing is stored.
import type { JSONSchemaProps } from '../../schema/structural-schema.ts';
import { localSubjectAccessReview, selfSubjectAccessReview, selfSubjectReview, selfSubjectRulesReview, subjectAccessReview } from '../../authz/reviews.ts';
import type { ResourceInfo } from '../resource.ts';
import type { VirtualCreate } from '../virtual.ts';
import { bool, builtinResource, str } from './define.ts';

const stringList = (description: string): JSONSchemaProps => ({ type: 'array', description, items: { type: 'string' } });

const resourceAttributes: JSONSchemaProps = {
  type: 'object',
  description: 'The request a resource access review asks about.',
  properties: {
    namespace: str('The namespace of the action ("" for cluster-scoped resources or all namespaces).'),
    verb: str('A Kubernetes resource API verb: get, list, watch, create, update, delete, proxy; "*" means all.'),
    group: str('The API group of the resource ("*" means all).'),
    version: str('The API version of the resource ("*" means all).'),
    resource: str('One of the existing resource types ("*" means all).'),
    subresource: str('One of the existing subresources ("" means none).'),
    name: str('The name of the resource being requested ("" means all).'),
  },
};

const nonResourceAttributes: JSONSchemaProps = {
  type: 'object',
  description: 'The non-resource request an access review asks about.',
  properties: { path: str('The URL path of the request.'), verb: str('The standard HTTP verb.') },
};

const accessStatus: JSONSchemaProps = {
  type: 'object',
  description: 'Filled in by the server: whether the request is allowed.',
  properties: {
    allowed: bool('Whether the action would be allowed.'),
    denied: bool('Whether the action was explicitly denied.'),
    reason: str('Why the action was allowed (which binding), if known.'),
    evaluationError: str('An indication that some error occurred during the authorization check.'),
  },
};

const userFields: Record<string, JSONSchemaProps> = {
  user: str('The user to test for.'),
  groups: stringList('The groups to test for.'),
  uid: str('Information about the requesting user.'),
  extra: { type: 'object', description: 'Extra attributes of the user (not used by RBAC).', additionalProperties: stringList('Values.') },
};

interface ReviewDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  description: string;
  properties: Record<string, JSONSchemaProps>;
  virtual: VirtualCreate;
}

function reviewResource(definition: ReviewDefinition): ResourceInfo {
  const { virtual, ...rest } = definition;
  return { ...builtinResource(rest), verbs: ['create'], virtual };
}

function accessReview(kind: string, plural: string, namespaced: boolean, description: string, virtual: VirtualCreate, withUser: boolean): ResourceInfo {
  return reviewResource({
    group: 'authorization.k8s.io',
    version: 'v1',
    kind,
    plural,
    namespaced,
    description,
    properties: {
      spec: { type: 'object', description: 'The request being evaluated.', properties: { resourceAttributes, nonResourceAttributes, ...(withUser ? userFields : {}) } },
      status: accessStatus,
    },
    virtual,
  });
}

function selfSubjectReviewResource(version: string): ResourceInfo {
  return reviewResource({
    group: 'authentication.k8s.io',
    version,
    kind: 'SelfSubjectReview',
    plural: 'selfsubjectreviews',
    namespaced: false,
    description: 'SelfSubjectReview contains the user information the API server has about the user making this request.',
    properties: {
      status: {
        type: 'object',
        description: 'Filled in by the server with the user attributes.',
        properties: {
          userInfo: { type: 'object', description: 'The authenticated user.', properties: { username: str('The name of the user.'), uid: str('A unique value for the user.'), groups: stringList('The groups of the user.') } },
        },
      },
    },
    virtual: selfSubjectReview,
  });
}

export function reviewResources(): ResourceInfo[] {
  return [
    accessReview('SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, 'SelfSubjectAccessReview checks whether the current user can perform an action.', selfSubjectAccessReview, false),
    accessReview('SubjectAccessReview', 'subjectaccessreviews', false, 'SubjectAccessReview checks whether a user or group can perform an action.', subjectAccessReview, true),
    accessReview('LocalSubjectAccessReview', 'localsubjectaccessreviews', true, 'LocalSubjectAccessReview checks whether a user or group can perform an action in a given namespace.', localSubjectAccessReview, true),
    reviewResource({
      group: 'authorization.k8s.io',
      version: 'v1',
      kind: 'SelfSubjectRulesReview',
      plural: 'selfsubjectrulesreviews',
      namespaced: false,
      description: 'SelfSubjectRulesReview enumerates the set of actions the current user can perform within a namespace.',
      properties: {
        spec: { type: 'object', description: 'The namespace to evaluate rules for.', properties: { namespace: str('The namespace to evaluate rules for. Required.') } },
        status: {
          type: 'object',
          description: 'The rules the user has in the namespace.',
          properties: {
            resourceRules: { type: 'array', description: 'What the user may do with resources.', items: { type: 'object', properties: { verbs: stringList('Verbs.'), apiGroups: stringList('API groups.'), resources: stringList('Resources.'), resourceNames: stringList('Resource names.') } } },
            nonResourceRules: { type: 'array', description: 'What the user may do with non-resource URLs.', items: { type: 'object', properties: { verbs: stringList('Verbs.'), nonResourceURLs: stringList('URL paths.') } } },
            incomplete: bool('Whether the list is incomplete (a rule source could not be read).'),
            evaluationError: str('Why the list is incomplete.'),
          },
        },
      },
      virtual: selfSubjectRulesReview,
    }),
    selfSubjectReviewResource('v1'),
    selfSubjectReviewResource('v1beta1'),
  ];
}
