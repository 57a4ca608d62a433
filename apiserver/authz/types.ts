// What an authorization decision is made about, and the one interface every authorizer implements. The
// attributes are Kubernetes' (k8s.io/apiserver authorizer.Attributes): a resource request names its verb,
// group, resource, subresource, namespace and name; a non-resource request its path and lower-case HTTP verb.
import type { UserInfo } from '../auth/authenticate.ts';

export interface ResourceAttributes {
  /** get, list, watch, create, update, patch, delete, deletecollection; bind, escalate, impersonate for checks. */
  verb: string;
  apiGroup: string;
  apiVersion: string;
  /** The plural, e.g. `virtualmachines`; '' only when unknown. */
  resource: string;
  /** '' for the object itself; `status`, `token`, `finalize`, … */
  subresource: string;
  /** '' for cluster-scoped objects and for requests across all namespaces. */
  namespace: string;
  /** '' for collection requests (create, list, watch, deletecollection). */
  name: string;
  /**
   * For list/watch: the name a `metadata.name=` field selector pins the request to (Kubernetes counts such a
   * list as a request for that name, so resourceNames rules allow `kubectl get x NAME -w`).
   */
  fieldSelectorName?: string;
  /** For list/watch: the `status.nodeName=` field selector (VirtualMachines), which node identities must send. */
  fieldSelectorNodeName?: string;
  /** The node a list or watch of LoadBalancers is pinned to by `status.proxy.node=` (the node authorizer requires it). */
  fieldSelectorProxyNode?: string;
  /** The node a list or watch of Volumes is pinned to by `status.backend.node=` (local Volumes' node). */
  fieldSelectorBackendNode?: string;
  /** The node a list or watch of VolumeSnapshots is pinned to by `status.node=`. */
  fieldSelectorStatusNode?: string;
}

export interface NonResourceAttributes {
  /** Lower-case HTTP verb: get, post, put, patch, delete, head. */
  verb: string;
  path: string;
}

export type RequestAttributes =
  | ({ user: UserInfo; resourceRequest: true } & ResourceAttributes)
  | ({ user: UserInfo; resourceRequest: false } & NonResourceAttributes);

export interface Decision {
  allowed: boolean;
  /**
   * Why (for reviews): the binding that allowed it, or nothing. Never the reason another tenant's object was
   * refused — denials say only what was asked.
   */
  reason: string;
}

export interface Authorizer {
  authorize(attributes: RequestAttributes): Decision;
}

/** One RBAC PolicyRule (rbac.authorization.k8s.io/v1). */
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** The rules that apply to a user in a namespace ('' = cluster-wide only), for SelfSubjectRulesReview and escalation checks. */
export interface RuleResolver {
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; incomplete: boolean };
}
