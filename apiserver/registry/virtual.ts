// Resources that are computed, never stored (SubjectAccessReview and friends, kube-apiserver's "create-only"
// REST storage): a POST runs the resource's `virtual` hook on the decoded body and answers 201 with what it
// returns. Nothing reaches admission, the object store or the watch cache, so no list, get or watch exists.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import type { Authorizer, RuleResolver } from '../authz/types.ts';
import { badRequest } from '../errors.ts';
import { isPlainObject } from '../schema/structural-schema.ts';
import { apiVersionOf, type ResourceInfo } from './resource.ts';

/** What a computed resource may consult: who asked, where, and the server's authorizer and rules. */
export interface VirtualContext {
  user: UserInfo;
  /** The namespace on the URL (namespaced resources only). */
  namespace?: string;
  authorizer: Authorizer;
  rules: RuleResolver;
}

/** Computes the response object from the request body; throws ApiErrors (400/422) for bad input. */
export type VirtualCreate = (body: KubeObject, context: VirtualContext) => KubeObject;

/**
 * The body as the resource's object: a JSON object whose apiVersion and kind, when given, are this
 * resource's (kube-apiserver refuses a body of another kind the same way, 400).
 */
export function virtualBody(resource: ResourceInfo, body: unknown): KubeObject {
  if (!isPlainObject(body)) throw badRequest(`the request body must be a ${resource.kind} object`);
  const apiVersion = apiVersionOf(resource);
  if (body.kind !== undefined && body.kind !== resource.kind) throw badRequest(`the kind in the data (${JSON.stringify(body.kind)}) does not match the expected kind ${JSON.stringify(resource.kind)}`);
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) throw badRequest(`the API version in the data (${JSON.stringify(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
  if (body.metadata !== undefined && body.metadata !== null && !isPlainObject(body.metadata)) throw badRequest('metadata must be an object');
  return { ...body, apiVersion, kind: resource.kind, metadata: (body.metadata ?? {}) as KubeObject['metadata'] };
}

/** Runs a computed resource's create: the body checked, the hook's result returned with this resource's type. */
export function createVirtual(resource: ResourceInfo, body: unknown, context: VirtualContext): KubeObject {
  const result = resource.virtual!(virtualBody(resource, body), context);
  return { ...result, apiVersion: apiVersionOf(resource), kind: resource.kind };
}
