// Impersonation (`kubectl --as USER --as-group GROUP`, the Impersonate-* headers), as kube-apiserver does it:
// the caller must be allowed `impersonate` on each thing it asks to become — `users` NAME, `serviceaccounts`
// NAME in its namespace for `system:serviceaccount:NS:NAME`, `groups` NAME, `uids` (authentication.k8s.io) —
// and the request then runs as that identity: the given name, uid and groups plus system:authenticated (and a
// service account's own groups). As in Kubernetes, a User's Group memberships are not looked up: pass them
// with --as-group. Headers that are not understood are refused, never ignored: ignoring them would run the
// request as the caller while the caller believes otherwise.
import type { IncomingMessage } from 'node:http';
import type { UserInfo } from '../auth/authenticate.ts';
import { ApiError, badRequest } from '../errors.ts';
import { forbiddenRequest } from './attributes.ts';
import type { Authorizer, RequestAttributes } from './types.ts';

const SERVICE_ACCOUNT = /^system:serviceaccount:([^:]+):([^:]+)$/;
const MAX_GROUPS = 64;

function values(request: IncomingMessage, header: string): string[] {
  return (request.headersDistinct[header] ?? []).map((value) => value.trim()).filter((value) => value !== '');
}

function check(authorizer: Authorizer, attributes: RequestAttributes): void {
  if (!authorizer.authorize(attributes).allowed) throw forbiddenRequest(attributes);
}

/** The identity a request impersonates, checked; undefined when it impersonates nobody. */
export function impersonatedUser(request: IncomingMessage, caller: UserInfo, authorizer: Authorizer): UserInfo | undefined {
  const users = values(request, 'impersonate-user');
  const groups = values(request, 'impersonate-group');
  const uids = values(request, 'impersonate-uid');
  const extras = Object.keys(request.headers).filter((name) => name.startsWith('impersonate-extra-'));
  if (users.length === 0) {
    if (groups.length + uids.length + extras.length > 0) throw badRequest('impersonating groups, a uid or extra fields requires Impersonate-User');
    return undefined;
  }
  if (users.length > 1 || uids.length > 1) throw badRequest('at most one Impersonate-User and one Impersonate-Uid header may be sent');
  if (groups.length > MAX_GROUPS) throw badRequest(`at most ${MAX_GROUPS} Impersonate-Group headers may be sent`);
  if (extras.length > 0) throw new ApiError(403, 'Forbidden', 'impersonating extra user fields (Impersonate-Extra-*) is not supported');
  const name = users[0];
  const resource = (resource: string, objectName: string, namespace = '', apiGroup = ''): RequestAttributes => ({ user: caller, resourceRequest: true, verb: 'impersonate', apiGroup, apiVersion: 'v1', resource, subresource: '', namespace, name: objectName });
  const serviceAccount = SERVICE_ACCOUNT.exec(name);
  check(authorizer, serviceAccount ? resource('serviceaccounts', serviceAccount[2], serviceAccount[1]) : resource('users', name));
  for (const group of groups) check(authorizer, resource('groups', group));
  if (uids.length === 1) check(authorizer, resource('uids', uids[0], '', 'authentication.k8s.io'));
  const implied = serviceAccount ? ['system:serviceaccounts', `system:serviceaccounts:${serviceAccount[1]}`] : [];
  return { name, uid: uids[0] ?? '', groups: [...new Set([...groups, ...implied, 'system:authenticated'])] };
}
