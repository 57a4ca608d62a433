import { describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KubeObject } from '../../../apis/meta/types.ts';
import { SignedTokenAuthenticator, type SubjectDirectory } from './authenticator.ts';
import { JwtTokenIssuer, MAX_LIFETIME_SECONDS } from './issuer.ts';
import { keyIdOf, type SigningKey } from './keys.ts';
import type { TokenSubject } from './types.ts';

const NOW = 1_900_000_000;
const at = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function signingKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKey = createPublicKey(privateKey);
  return { kid: keyIdOf(publicKey), privateKey, publicKey, modifiedAt: new Date(), file: '' };
}

const key = signingKey();

function user(name: string, spec: Record<string, unknown> = {}, created = NOW - 100, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'User', metadata: { name, uid: `uid-${name}-${created}`, creationTimestamp: at(created), ...extra }, spec };
}
const group = (name: string, members: string[]): KubeObject => ({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'Group', metadata: { name, uid: `g-${name}` }, spec: { members } });
const account = (namespace: string, name: string, uid: string): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { namespace, name, uid } });

/** A mutable world standing in for the watch cache. */
function world() {
  const users = new Map<string, KubeObject>();
  const groups: KubeObject[] = [];
  const accounts = new Map<string, KubeObject>();
  const directory: SubjectDirectory = {
    user: (name) => users.get(name),
    groups: () => groups,
    serviceAccount: (namespace, name) => accounts.get(`${namespace}/${name}`),
  };
  return { users, groups, accounts, authenticator: new SignedTokenAuthenticator({ publicKey: (kid) => (kid === key.kid ? key.publicKey : undefined) }, directory, { now: () => NOW }) };
}

const issue = (subject: TokenSubject, issuedAt = NOW, lifetime = 3600) => new JwtTokenIssuer(() => key, { now: () => issuedAt }).issue(subject, lifetime).token;

describe('signed token authentication', () => {
  it('a live user: its name and uid, the Groups listing it and system:authenticated, never system:masters', () => {
    const { users, groups, authenticator } = world();
    users.set('alice', user('alice'));
    groups.push(group('ops', ['bob', 'alice']), group('dev', ['bob']), group('admins', ['alice']), group('system:masters', ['alice']));
    expect(authenticator.authenticate(issue({ kind: 'user', name: 'alice' }))).toEqual({
      name: 'alice',
      uid: users.get('alice')!.metadata.uid,
      groups: ['admins', 'ops', 'system:authenticated'],
    });
  });

  it('refuses a user that is missing, disabled, being deleted, or was re-created after the token was issued', () => {
    const { users, authenticator } = world();
    const token = issue({ kind: 'user', name: 'alice' });
    expect(authenticator.authenticate(token)).toBeUndefined();
    users.set('alice', user('alice', { disabled: true }));
    expect(authenticator.authenticate(token)).toBeUndefined();
    users.set('alice', user('alice', { disabled: false }));
    expect(authenticator.authenticate(token)?.name).toBe('alice');
    users.set('alice', user('alice', {}, NOW - 100, { deletionTimestamp: at(NOW) }));
    expect(authenticator.authenticate(token)).toBeUndefined();
    users.set('alice', user('alice', {}, NOW + 1));
    expect(authenticator.authenticate(token)).toBeUndefined();
    // Created in the token's second: still the same User (creationTimestamp has whole seconds, like iat).
    users.set('alice', user('alice', {}, NOW));
    expect(authenticator.authenticate(token)?.name).toBe('alice');
  });

  it('a service account with the same uid: system:serviceaccount:NS:NAME and its groups; another uid is refused', () => {
    const { accounts, authenticator } = world();
    const token = issue({ kind: 'serviceaccount', namespace: 'acme', name: 'ci', uid: 'sa-1' });
    expect(authenticator.authenticate(token)).toBeUndefined();
    accounts.set('acme/ci', account('acme', 'ci', 'sa-1'));
    expect(authenticator.authenticate(token)).toEqual({
      name: 'system:serviceaccount:acme:ci',
      uid: 'sa-1',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:acme', 'system:authenticated'],
    });
    accounts.set('acme/ci', account('acme', 'ci', 'sa-2'));
    expect(authenticator.authenticate(token)).toBeUndefined();
  });

  it('a node: system:node:NAME in system:nodes, with no Node object required', () => {
    const { authenticator } = world();
    expect(authenticator.authenticate(issue({ kind: 'node', name: 'hv-a-01' }))).toEqual({ name: 'system:node:hv-a-01', uid: '', groups: ['system:nodes', 'system:authenticated'] });
  });

  it('refuses expired tokens and tokens from keys it does not hold', () => {
    const { users, authenticator } = world();
    users.set('alice', user('alice', {}, NOW - 10_000));
    expect(authenticator.authenticate(issue({ kind: 'user', name: 'alice' }, NOW - 7200, 3600))).toBeUndefined();
    const foreign = new JwtTokenIssuer(signingKey, { now: () => NOW }).issue({ kind: 'user', name: 'alice' }, 3600).token;
    expect(authenticator.authenticate(foreign)).toBeUndefined();
  });

  it('the issuer bounds lifetimes per kind and refuses nonsense', () => {
    const issuer = new JwtTokenIssuer(() => key, { now: () => NOW });
    const expiresIn = (subject: TokenSubject, seconds: number) => issuer.issue(subject, seconds).expiresAt.getTime() / 1000 - NOW;
    expect(expiresIn({ kind: 'user', name: 'a' }, 10 * 365 * 86400)).toBe(MAX_LIFETIME_SECONDS.user);
    expect(expiresIn({ kind: 'serviceaccount', namespace: 'n', name: 'a', uid: 'u' }, 7 * 86400)).toBe(48 * 3600);
    expect(expiresIn({ kind: 'node', name: 'a' }, 600)).toBe(600);
    expect(() => issuer.issue({ kind: 'user', name: 'a' }, 0)).toThrow(RangeError);
    expect(() => issuer.issue({ kind: 'user', name: 'a' }, 1.5)).toThrow(RangeError);
  });
});
