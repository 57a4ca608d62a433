// Parses a request path into what it addresses, following Kubernetes' RequestInfoFactory:
//   /api/v1/namespaces/{ns}/{resource}/{name}/{subresource}
//   /apis/{group}/{version}/namespaces/{ns}/{resource}/{name}/{subresource}
//   /apis/{group}/{version}/{resource}/{name}/{subresource}   (cluster-scoped, or all namespaces)
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRequest {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  verb: Verb;
}

export type ParsedPath =
  | { type: 'resource'; request: ResourceRequest }
  | { type: 'apiRoot' } // /api
  | { type: 'apisRoot' } // /apis
  | { type: 'group'; group: string } // /apis/{group}
  | { type: 'groupVersion'; group: string; version: string } // /api/v1, /apis/{group}/{version}
  | { type: 'other'; path: string };

/** Subresources of a namespace that are addressed as /namespaces/{name}/{sub} rather than a resource. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function parsePath(pathname: string, method: string, watchParam: boolean): ParsedPath {
  const parts = pathname.split('/').filter((part) => part !== '');
  let decoded: string[];
  try {
    decoded = parts.map((part) => decodeURIComponent(part));
  } catch {
    return { type: 'other', path: pathname };
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (decoded[0] === 'api') {
    if (decoded.length === 1) return { type: 'apiRoot' };
    group = '';
    version = decoded[1];
    rest = decoded.slice(2);
  } else if (decoded[0] === 'apis') {
    if (decoded.length === 1) return { type: 'apisRoot' };
    if (decoded.length === 2) return { type: 'group', group: decoded[1] };
    group = decoded[1];
    version = decoded[2];
    rest = decoded.slice(3);
  } else {
    return { type: 'other', path: pathname };
  }
  if (rest.length === 0) return { type: 'groupVersion', group, version };

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2])) rest = rest.slice(2);
    else namespace = undefined; // the request is about the namespace object itself
  }
  const [resource, name, subresource, ...extra] = rest;
  if (extra.length > 0) return { type: 'other', path: pathname };
  const verb = verbFor(method, name !== undefined, watchParam);
  return { type: 'resource', request: { group, version, namespace, resource, name, subresource, verb } };
}

function verbFor(method: string, hasName: boolean, watch: boolean): Verb {
  switch (method) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      if (watch) return 'watch';
      return hasName ? 'get' : 'list';
  }
}
