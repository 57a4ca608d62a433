// The authorization and authentication reviews (kube-apiserver's pkg/registry/authorization and
// selfsubjectreview): computed per request from the server's Authorizer and RuleResolver, never stored.
// `kubectl auth can-i` sends a SelfSubjectAccessReview, `can-i --list` a SelfSubjectRulesReview,
// `kubectl auth whoami` a SelfSubjectReview; admins ask about others with (Local)SubjectAccessReviews (RBAC
// gives `create subjectaccessreviews` to cluster admins only; the router has checked it before we run).
// Validation messages follow kube-apiserver's.
import type { KubeObject, ObjectMeta } from '../../apis/meta/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import { badRequest, invalid, type FieldError } from '../errors.ts';
import type { VirtualContext } from '../registry/virtual.ts';
import { isPlainObject } from '../schema/structural-schema.ts';
import type { Decision, PolicyRule, RequestAttributes } from './types.ts';

const AUTHORIZATION = 'authorization.k8s.io';
type Fields = Record<string, unknown>;

/** An optional object field: undefined when absent or null, 400 naming it when not an object. */
function objectField(parent: Fields, key: string, path: string): Fields | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw badRequest(`${path}: must be an object`);
  return value;
}

/** An optional string field ('' when absent), 400 naming it when not a string. */
function stringField(parent: Fields, key: string, path: string): string {
  const value = parent[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw badRequest(`${path}: must be a string`);
  return value;
}

function stringList(parent: Fields, key: string, path: string): string[] {
  const value = parent[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw badRequest(`${path}: must be a list of strings`);
  return value as string[];
}

/**
 * What the client may see of its own metadata in the answer: the names and labels it sent. Server-set fields
 * are dropped (protobuf bodies carry a zero creationTimestamp, which would read as 1970).
 */
function echoMetadata(metadata: ObjectMeta): ObjectMeta {
  const echoed: ObjectMeta = {};
  if (metadata.name) echoed.name = metadata.name;
  if (metadata.generateName) echoed.generateName = metadata.generateName;
  if (metadata.namespace) echoed.namespace = metadata.namespace;
  if (metadata.labels) echoed.labels = metadata.labels;
  if (metadata.annotations) echoed.annotations = metadata.annotations;
  return echoed;
}

/** A review's spec object (an absent spec reads as empty, so the missing attributes are what gets reported). */
function specOf(body: KubeObject): Fields {
  return objectField(body, 'spec', 'spec') ?? {};
}

/** The attributes a (Self)SubjectAccessReview spec asks about, for `user`; 422 unless exactly one kind is given. */
function attributesOf(spec: Fields, user: UserInfo, kind: string, name: string): { attributes: RequestAttributes; echo: Fields } {
  const resource = objectField(spec, 'resourceAttributes', 'spec.resourceAttributes');
  const nonResource = objectField(spec, 'nonResourceAttributes', 'spec.nonResourceAttributes');
  if (!resource && !nonResource) {
    throw invalid(kind, AUTHORIZATION, name, [{ field: 'spec.resourceAttributes', reason: 'FieldValueRequired', message: 'Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified' }]);
  }
  if (resource && nonResource) {
    throw invalid(kind, AUTHORIZATION, name, [{ field: 'spec.nonResourceAttributes', reason: 'FieldValueInvalid', message: 'Invalid value: cannot be specified in combination with resourceAttributes' }]);
  }
  if (nonResource) {
    const path = stringField(nonResource, 'path', 'spec.nonResourceAttributes.path');
    const verb = stringField(nonResource, 'verb', 'spec.nonResourceAttributes.verb');
    return { attributes: { user, resourceRequest: false, path, verb }, echo: { nonResourceAttributes: { path, verb } } };
  }
  const read = (key: string) => stringField(resource!, key, `spec.resourceAttributes.${key}`);
  const asked = { namespace: read('namespace'), verb: read('verb'), group: read('group'), version: read('version'), resource: read('resource'), subresource: read('subresource'), name: read('name') };
  const attributes: RequestAttributes = {
    user,
    resourceRequest: true,
    verb: asked.verb,
    apiGroup: asked.group,
    apiVersion: asked.version,
    resource: asked.resource,
    subresource: asked.subresource,
    namespace: asked.namespace,
    name: asked.name,
  };
  // Echo what was asked without empty strings, as kube-apiserver's JSON (omitempty) does.
  const echo = Object.fromEntries(Object.entries(asked).filter(([, value]) => value !== ''));
  return { attributes, echo: { resourceAttributes: echo } };
}

function accessStatus(decision: Decision): Fields {
  const status: Fields = { allowed: decision.allowed };
  if (decision.reason) status.reason = decision.reason;
  return status;
}

/** SelfSubjectAccessReview: may the requesting user do this? */
export function selfSubjectAccessReview(body: KubeObject, context: VirtualContext): KubeObject {
  const { attributes, echo } = attributesOf(specOf(body), context.user, 'SelfSubjectAccessReview', body.metadata.name ?? '');
  return { metadata: echoMetadata(body.metadata), spec: echo, status: accessStatus(context.authorizer.authorize(attributes)) };
}

/** The user a SubjectAccessReview asks about: spec.user, spec.groups, spec.uid; 422 when neither user nor group is given. */
function reviewedUser(spec: Fields, kind: string, name: string): { user: UserInfo; echo: Fields } {
  const user: UserInfo = { name: stringField(spec, 'user', 'spec.user'), uid: stringField(spec, 'uid', 'spec.uid'), groups: stringList(spec, 'groups', 'spec.groups') };
  if (!user.name && user.groups.length === 0) {
    throw invalid(kind, AUTHORIZATION, name, [{ field: 'spec.user', reason: 'FieldValueInvalid', message: 'Invalid value: "": at least one of user or group must be specified' }]);
  }
  const echo: Fields = {};
  if (user.name) echo.user = user.name;
  if (user.groups.length > 0) echo.groups = user.groups;
  if (user.uid) echo.uid = user.uid;
  // extra is echoed but not used: UserInfo carries no extra attributes, and RBAC never reads them.
  const extra = objectField(spec, 'extra', 'spec.extra');
  if (extra) echo.extra = extra;
  return { user, echo };
}

/** SubjectAccessReview: may spec.user (with spec.groups) do this? */
export function subjectAccessReview(body: KubeObject, context: VirtualContext): KubeObject {
  const spec = specOf(body);
  const name = body.metadata.name ?? '';
  const subject = reviewedUser(spec, 'SubjectAccessReview', name);
  const { attributes, echo } = attributesOf(spec, subject.user, 'SubjectAccessReview', name);
  return { metadata: echoMetadata(body.metadata), spec: { ...echo, ...subject.echo }, status: accessStatus(context.authorizer.authorize(attributes)) };
}

/**
 * LocalSubjectAccessReview: a SubjectAccessReview confined to the namespace on the URL (so namespace admins
 * may be allowed it): resource attributes only, and in that namespace.
 */
export function localSubjectAccessReview(body: KubeObject, context: VirtualContext): KubeObject {
  const namespace = context.namespace ?? '';
  if (!namespace) throw badRequest('namespace is required on this type: LocalSubjectAccessReview');
  const metadataNamespace = body.metadata.namespace ?? namespace;
  if (metadataNamespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  const spec = specOf(body);
  const name = body.metadata.name ?? '';
  const errors: FieldError[] = [];
  if (objectField(spec, 'nonResourceAttributes', 'spec.nonResourceAttributes')) errors.push({ field: 'spec.nonResourceAttributes', reason: 'FieldValueInvalid', message: 'Invalid value: disallowed on this kind of request' });
  const resource = objectField(spec, 'resourceAttributes', 'spec.resourceAttributes');
  const askedNamespace = resource ? stringField(resource, 'namespace', 'spec.resourceAttributes.namespace') : '';
  if (resource && askedNamespace !== namespace) errors.push({ field: 'spec.resourceAttributes.namespace', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(askedNamespace)}: must match metadata.namespace` });
  if (errors.length > 0) throw invalid('LocalSubjectAccessReview', AUTHORIZATION, name, errors);
  const subject = reviewedUser(spec, 'LocalSubjectAccessReview', name);
  const { attributes, echo } = attributesOf(spec, subject.user, 'LocalSubjectAccessReview', name);
  return { metadata: { ...echoMetadata(body.metadata), namespace }, spec: { ...echo, ...subject.echo }, status: accessStatus(context.authorizer.authorize(attributes)) };
}

/** PolicyRules as a SelfSubjectRulesReview reports them: resource rules and non-resource rules apart. */
export function reviewRules(rules: PolicyRule[]): { resourceRules: Fields[]; nonResourceRules: Fields[] } {
  const resourceRules: Fields[] = [];
  const nonResourceRules: Fields[] = [];
  for (const rule of rules) {
    if (rule.resources?.length) {
      const entry: Fields = { verbs: rule.verbs, apiGroups: rule.apiGroups ?? [], resources: rule.resources };
      if (rule.resourceNames?.length) entry.resourceNames = rule.resourceNames;
      resourceRules.push(entry);
    }
    if (rule.nonResourceURLs?.length) nonResourceRules.push({ verbs: rule.verbs, nonResourceURLs: rule.nonResourceURLs });
  }
  return { resourceRules, nonResourceRules };
}

/** SelfSubjectRulesReview: everything the requesting user may do in spec.namespace (what `can-i --list` prints). */
export function selfSubjectRulesReview(body: KubeObject, context: VirtualContext): KubeObject {
  const spec = specOf(body);
  const namespace = stringField(spec, 'namespace', 'spec.namespace');
  // kube-apiserver's words: the rules of a namespace are asked for one namespace at a time.
  if (!namespace) throw badRequest('no namespace on request');
  const { rules, incomplete } = context.rules.rulesFor(context.user, namespace);
  return { metadata: echoMetadata(body.metadata), spec: { namespace }, status: { ...reviewRules(rules), incomplete } };
}

/** SelfSubjectReview (authentication.k8s.io): who the server takes the caller for (`kubectl auth whoami`). */
export function selfSubjectReview(body: KubeObject, context: VirtualContext): KubeObject {
  const { user } = context;
  const userInfo: Fields = { username: user.name, groups: user.groups };
  if (user.uid) userInfo.uid = user.uid;
  return { metadata: echoMetadata(body.metadata), status: { userInfo } };
}
