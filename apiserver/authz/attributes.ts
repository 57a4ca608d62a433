// From a parsed request to the attributes authorizers decide on, and the 403 a denial becomes. The message
// follows kube-apiserver's word for word (kubectl users read it) and names only what the caller asked for:
// never whether the object exists, nor anything about who may access it.
import type { UserInfo } from '../auth/authenticate.ts';
import { ApiError } from '../errors.ts';
import type { ParsedPath } from '../http/request-info.ts';
import type { RequestAttributes } from './types.ts';

/** The value a field selector pins `field` to (`a=b`, `a==b`), if it does. */
function selectedValue(fieldSelector: string | null, field: string): string | undefined {
  if (!fieldSelector) return undefined;
  for (const term of fieldSelector.split(',')) {
    const match = /^\s*([^!=\s]+)\s*==?\s*([^=\s]*)\s*$/.exec(term);
    if (match && match[1] === field) return match[2];
  }
  return undefined;
}

export function requestAttributes(user: UserInfo, method: string, path: string, parsed: ParsedPath, query: URLSearchParams): RequestAttributes {
  if (parsed.type !== 'resource') {
    // HEAD is a get without the body, as Kubernetes counts it.
    const verb = method === 'HEAD' ? 'get' : method.toLowerCase();
    return { user, resourceRequest: false, verb, path };
  }
  const request = parsed.request;
  const collectionRead = request.verb === 'list' || request.verb === 'watch';
  const fieldSelector = collectionRead ? query.get('fieldSelector') : null;
  return {
    user,
    resourceRequest: true,
    verb: request.verb,
    apiGroup: request.group,
    apiVersion: request.version,
    resource: request.resource,
    subresource: request.subresource ?? '',
    // A namespace is addressed as itself (kube-apiserver's RequestInfo does the same): a RoleBinding in "a"
    // that grants `get namespaces` lets its subjects read namespace "a" and no other.
    namespace: request.namespace ?? (request.group === '' && request.resource === 'namespaces' && request.name ? request.name : ''),
    // Kubernetes counts a list or watch pinned to one name by field selector as a request for that name.
    name: request.name ?? selectedValue(fieldSelector, 'metadata.name') ?? '',
    fieldSelectorName: selectedValue(fieldSelector, 'metadata.name'),
    fieldSelectorNodeName: selectedValue(fieldSelector, 'status.nodeName'),
    fieldSelectorProxyNode: selectedValue(fieldSelector, 'status.proxy.node'),
    fieldSelectorBackendNode: selectedValue(fieldSelector, 'status.backend.node'),
    fieldSelectorStatusNode: selectedValue(fieldSelector, 'status.node'),
  };
}

/** `resource "pods/log" in API group "" in the namespace "a"`: the phrase both 403s and reviews use. */
export function describeAttributes(attributes: RequestAttributes): string {
  if (!attributes.resourceRequest) return `${attributes.verb} path ${JSON.stringify(attributes.path)}`;
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  const scope = attributes.namespace ? `in the namespace ${JSON.stringify(attributes.namespace)}` : 'at the cluster scope';
  return `${attributes.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attributes.apiGroup)} ${scope}`;
}

/** The 403 for a denied request, as kube-apiserver words it. */
export function forbiddenRequest(attributes: RequestAttributes): ApiError {
  const who = `User ${JSON.stringify(attributes.user.name)} cannot ${describeAttributes(attributes)}`;
  if (!attributes.resourceRequest) return new ApiError(403, 'Forbidden', `forbidden: ${who}`);
  const qualified = attributes.apiGroup ? `${attributes.resource}.${attributes.apiGroup}` : attributes.resource;
  const subject = attributes.name ? `${qualified} ${JSON.stringify(attributes.name)}` : qualified;
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${who}`, { name: attributes.name || undefined, group: attributes.apiGroup || undefined, kind: attributes.resource });
}
