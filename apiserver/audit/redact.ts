// What the audit log must never contain, whatever the policy says: the objects of requests about credentials
// (Secrets, service account tokens, token reviews, logins) are left out entirely, and in every other object
// a User's password and password hash, TokenRequest tokens and kubectl's last-applied copy of a manifest that
// carried a password are replaced by a marker. Request headers are never part of an event at all.
import type { RequestAttributes } from '../authz/types.ts';

export const REDACTED = '<redacted>';

/** Why a request's objects are omitted, or undefined when they may be logged (after scrub()); `path` for requests without attributes. */
export function omittedBecause(attributes: RequestAttributes | undefined, path: string): string | undefined {
  if (!attributes || !attributes.resourceRequest) {
    // Non-resource requests carry no objects today; a login endpoint would answer with a token.
    return /(^|\/)(login|token|oauth)(\/|$)/i.test(attributes?.path ?? path) ? 'login or token endpoint' : undefined;
  }
  const { apiGroup, resource, subresource } = attributes;
  if (apiGroup === '' && resource === 'secrets') return 'Secret';
  if (subresource === 'token' || resource === 'tokenrequests' || resource === 'tokenreviews') return 'token request';
  if (subresource === 'login' || resource === 'logins') return 'login';
  return undefined;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const SECRET_FIELDS = new Set(['password', 'passwordHash']);

/**
 * A copy of value with credentials replaced, sharing every untouched subtree (objects come from the watch
 * cache and must not be mutated). Defence in depth: a Secret or TokenRequest nested anywhere (a List, say)
 * keeps only its identity.
 */
export function scrub(value: unknown): unknown {
  if (Array.isArray(value)) {
    let changed = false;
    const items = value.map((item) => {
      const next = scrub(item);
      if (next !== item) changed = true;
      return next;
    });
    return changed ? items : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  const object = value as Record<string, unknown>;
  if ((object.kind === 'Secret' && object.apiVersion === 'v1') || object.kind === 'TokenRequest' || object.kind === 'TokenReview') {
    const metadata = object.metadata as Record<string, unknown> | undefined;
    return { kind: object.kind, apiVersion: object.apiVersion, metadata: { name: metadata?.name, namespace: metadata?.namespace } };
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(object)) {
    let next: unknown;
    if (SECRET_FIELDS.has(key) && field !== undefined && field !== null) next = REDACTED;
    else if (key === LAST_APPLIED && typeof field === 'string' && /password|token/i.test(field)) next = REDACTED;
    else next = scrub(field);
    if (next !== field) {
      copy ??= { ...object };
      copy[key] = next;
    }
  }
  return copy ?? value;
}
