// TokenRequest: POST /api/v1/namespaces/NS/serviceaccounts/NAME/token (`kubectl create token NAME -n NS`).
// The ServiceAccount must exist; the token speaks for it by uid, so deleting and re-creating the account
// revokes every token issued before (the authenticator checks the uid). Bound tokens (spec.boundObjectRef)
// are not supported. Validation messages follow kube-apiserver's where it has them.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { TokenIssuer } from '../auth/tokens/types.ts';
import { badRequest, invalid, type FieldError } from '../errors.ts';
import { isPlainObject } from '../schema/structural-schema.ts';

const GROUP = 'authentication.k8s.io';
const API_VERSION = `${GROUP}/v1`;
/** The one audience this server's authenticator accepts (auth/tokens/issuer.ts API_AUDIENCE). */
export const SERVER_AUDIENCE = 'photoncloud';
export const DEFAULT_EXPIRATION_SECONDS = 3600;
/** Kubernetes' floor: shorter tokens would expire before clients refresh them. */
export const MIN_EXPIRATION_SECONDS = 600;
/** The issuer's bound for service accounts; refused above rather than silently shortened, so callers know. */
export const MAX_EXPIRATION_SECONDS = 48 * 3600;

export interface TokenRequestSpec {
  audiences: string[];
  expirationSeconds: number;
}

/** The request's spec, defaulted and checked: 400 for a malformed body, 422 naming the field otherwise. */
export function tokenRequestSpec(body: unknown, serviceAccount: string): TokenRequestSpec {
  if (!isPlainObject(body)) throw badRequest('the request body must be a TokenRequest object');
  if (body.kind !== undefined && body.kind !== 'TokenRequest') throw badRequest(`the kind in the data (${JSON.stringify(body.kind)}) does not match the expected kind "TokenRequest"`);
  if (body.apiVersion !== undefined && body.apiVersion !== API_VERSION) throw badRequest(`the API version in the data (${JSON.stringify(body.apiVersion)}) does not match the expected API version (${API_VERSION})`);
  const spec = body.spec ?? {};
  if (!isPlainObject(spec)) throw badRequest('spec: must be an object');
  const audiences = spec.audiences ?? [];
  if (!Array.isArray(audiences) || audiences.some((audience) => typeof audience !== 'string')) throw badRequest('spec.audiences: must be a list of strings');
  const expiration = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
  if (typeof expiration !== 'number' || !Number.isInteger(expiration)) throw badRequest('spec.expirationSeconds: must be a whole number of seconds');

  const errors: FieldError[] = [];
  if (expiration < MIN_EXPIRATION_SECONDS) errors.push({ field: 'spec.expirationSeconds', reason: 'FieldValueInvalid', message: `Invalid value: ${expiration}: may not specify a duration less than 10 minutes` });
  if (expiration > MAX_EXPIRATION_SECONDS) errors.push({ field: 'spec.expirationSeconds', reason: 'FieldValueInvalid', message: `Invalid value: ${expiration}: may not specify a duration longer than 48 hours` });
  (audiences as string[]).forEach((audience, index) => {
    if (audience !== SERVER_AUDIENCE) errors.push({ field: `spec.audiences[${index}]`, reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(audience)}: supported values: "${SERVER_AUDIENCE}"` });
  });
  if (spec.boundObjectRef !== undefined && spec.boundObjectRef !== null) errors.push({ field: 'spec.boundObjectRef', reason: 'FieldValueForbidden', message: 'Forbidden: bound tokens are not supported' });
  if (errors.length > 0) throw invalid('TokenRequest', GROUP, serviceAccount, errors);
  return { audiences: audiences.length > 0 ? (audiences as string[]) : [SERVER_AUDIENCE], expirationSeconds: expiration };
}

/** Issues the token for an existing ServiceAccount and returns the TokenRequest with its status filled in. */
export function issueServiceAccountToken(issuer: TokenIssuer, serviceAccount: KubeObject, spec: TokenRequestSpec, now = new Date()): KubeObject {
  const { name, namespace, uid } = serviceAccount.metadata;
  const issued = issuer.issue({ kind: 'serviceaccount', namespace: namespace!, name: name!, uid: uid! }, spec.expirationSeconds, spec.audiences);
  return {
    apiVersion: API_VERSION,
    kind: 'TokenRequest',
    metadata: { name, namespace, creationTimestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    spec: { audiences: spec.audiences, expirationSeconds: spec.expirationSeconds },
    status: { token: issued.token, expirationTimestamp: issued.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  };
}
