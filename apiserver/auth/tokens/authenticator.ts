// Authentication of signed tokens: the signature and claims (jwt.ts), then whether the subject is still
// alive, read synchronously from the watch cache on every request, so disabling or deleting a User (or a
// ServiceAccount) refuses its tokens as soon as the cache has the change, without any revocation list.
import type { KubeObject } from '../../../apis/meta/types.ts';
import type { Logger } from '../../../lib/logging.ts';
import type { UserInfo } from '../authenticate.ts';
import type { ResourceRegistry } from '../../registry/registry.ts';
import { listPrefix, objectKey } from '../../registry/resource.ts';
import type { WatchCache } from '../../watch/cache.ts';
import { API_AUDIENCE, subjectName, TOKEN_ISSUER } from './issuer.ts';
import { JwtError, SUBJECT_CLAIM, verifyJwt, type JwtClaims } from './jwt.ts';

export const IAM_GROUP = 'iam.photoncloud.io';

/** The objects a token's subject must match, read synchronously (the request path cannot wait). */
export interface SubjectDirectory {
  user(name: string): KubeObject | undefined;
  /** Every Group object (membership is computed from them). */
  groups(): KubeObject[];
  serviceAccount(namespace: string, name: string): KubeObject | undefined;
}

/**
 * The directory on the API server's watch cache. A kind that is not served (the IAM CRDs not installed yet)
 * has no objects: its tokens are refused rather than trusted.
 */
export function watchCacheDirectory(registry: ResourceRegistry, cache: WatchCache): SubjectDirectory {
  const get = (group: string, plural: string, namespace: string | undefined, name: string) => {
    const resource = registry.byGroupResource(group, plural);
    return resource ? cache.get(objectKey(resource, namespace, name))?.object : undefined;
  };
  return {
    user: (name) => get(IAM_GROUP, 'users', undefined, name),
    groups: () => {
      const resource = registry.byGroupResource(IAM_GROUP, 'groups');
      return resource ? cache.list(listPrefix(resource)).map((entry) => entry.object) : [];
    },
    serviceAccount: (namespace, name) => get('', 'serviceaccounts', namespace, name),
  };
}

/** Names as the API stores them: nothing that could reach another key (no '/') and not empty. */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function alive(object: KubeObject | undefined): object is KubeObject {
  // An object being deleted (waiting on finalizers) is on its way out: its tokens are refused already.
  return object !== undefined && !object.metadata.deletionTimestamp;
}

export interface SignedTokenAuthenticatorOptions {
  /** Seconds since the epoch (tests). */
  now?: () => number;
  log?: Logger;
}

export class SignedTokenAuthenticator {
  constructor(
    private readonly keys: { publicKey(kid: string): import('node:crypto').KeyObject | undefined },
    private readonly directory: SubjectDirectory,
    private readonly options: SignedTokenAuthenticatorOptions = {},
  ) {}

  /** The identity of a valid token whose subject is alive; undefined otherwise (the request gets 401). */
  authenticate(token: string): UserInfo | undefined {
    let claims: JwtClaims;
    try {
      claims = verifyJwt(token, { keyFor: (kid) => this.keys.publicKey(kid), audience: API_AUDIENCE, issuer: TOKEN_ISSUER, now: this.options.now?.() });
    } catch (error) {
      if (!(error instanceof JwtError)) throw error;
      this.refused(error.reason, error.message);
      return undefined;
    }
    return this.identity(claims);
  }

  private identity(claims: JwtClaims): UserInfo | undefined {
    const subject = claims[SUBJECT_CLAIM];
    if (!OBJECT_NAME.test(subject.name)) return this.refused('claims', 'the subject name is not an object name');
    if (claims.sub !== subjectName(subject)) return this.refused('claims', 'sub does not match the subject claim');
    switch (subject.kind) {
      case 'user': {
        const user = this.directory.user(subject.name);
        if (!alive(user)) return this.refused('subject', `user ${subject.name} does not exist`);
        if ((user.spec as { disabled?: boolean } | undefined)?.disabled === true) return this.refused('subject', `user ${subject.name} is disabled`);
        // A User deleted and re-created under the same name is someone else: only tokens issued after the
        // current User was created count. (creationTimestamp has whole seconds, as iat does.)
        const created = Date.parse(user.metadata.creationTimestamp ?? '') / 1000;
        if (!(created <= claims.iat)) return this.refused('subject', `user ${subject.name} was created after the token was issued`);
        return { name: subject.name, uid: user.metadata.uid ?? '', groups: [...this.groupsOf(subject.name), 'system:authenticated'] };
      }
      case 'serviceaccount': {
        const namespace = subject.namespace ?? '';
        if (!OBJECT_NAME.test(namespace)) return this.refused('claims', 'the service account namespace is not a name');
        const account = this.directory.serviceAccount(namespace, subject.name);
        if (!alive(account) || !subject.uid || account.metadata.uid !== subject.uid) return this.refused('subject', `service account ${namespace}/${subject.name} does not exist (with this uid)`);
        return {
          name: subjectName(subject),
          uid: subject.uid,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
        };
      }
      case 'node':
        // No Node object is required: a node agent registers its Node with this very token.
        return { name: subjectName(subject), uid: '', groups: ['system:nodes', 'system:authenticated'] };
      default:
        return this.refused('claims', 'unknown subject kind');
    }
  }

  /**
   * The Groups listing user. Group names are DNS-1123 labels (the CRD), so none can be system:masters or any
   * system: group; the filter says so again here, where it matters, in case a name format ever loosens.
   */
  private groupsOf(user: string): string[] {
    return this.directory
      .groups()
      .filter((group) => alive(group) && ((group.spec as { members?: unknown } | undefined)?.members as unknown[] | undefined)?.includes(user))
      .map((group) => group.metadata.name!)
      .filter((name) => !name.startsWith('system:'))
      .sort();
  }

  private refused(reason: string, message: string): undefined {
    // Debug only: a flood of bad tokens must not flood the log; the token itself is never logged.
    if (this.options.log?.isLevelEnabled('debug')) this.options.log.debug('signed token refused', { reason, message });
    return undefined;
  }
}
