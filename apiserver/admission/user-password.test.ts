import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { verifyPassword } from '../auth/password.ts';
import { ApiError } from '../errors.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { AdmissionChain, type AdmissionAttributes } from './chain.ts';
import { userPassword } from './user-password.ts';

const USERS = { group: 'iam.photoncloud.io', version: 'v1alpha1', kind: 'User', plural: 'users', namespaced: false } as ResourceInfo;
const chain = new AdmissionChain([userPassword], { get: async () => undefined, list: async () => [], cached: () => undefined });
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

const user = (spec: Record<string, unknown>, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'iam.photoncloud.io/v1alpha1',
  kind: 'User',
  metadata: { name: 'alice', ...(annotations ? { annotations } : {}) },
  spec,
});

async function admit(operation: 'CREATE' | 'UPDATE', object: KubeObject, old?: KubeObject): Promise<KubeObject> {
  const attributes: AdmissionAttributes = { operation, resource: USERS, object, old, dryRun: false };
  await chain.admit(attributes);
  return attributes.object;
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('admitted');
}

describe('UserPassword admission', () => {
  it('replaces spec.password with its scrypt hash, keeping no plaintext anywhere (kubectl last-applied included)', async () => {
    const manifest = JSON.stringify({ apiVersion: 'iam.photoncloud.io/v1alpha1', kind: 'User', metadata: { name: 'alice' }, spec: { password: 'hunter2-hunter2' } });
    const stored = await admit('CREATE', user({ displayName: 'Alice', password: 'hunter2-hunter2' }, { [LAST_APPLIED]: manifest }));
    expect(stored.spec).toEqual({ displayName: 'Alice', passwordHash: expect.stringMatching(/^scrypt\$/) });
    expect(JSON.stringify(stored)).not.toContain('hunter2');
    expect(JSON.parse(stored.metadata.annotations![LAST_APPLIED]!).spec).toEqual({});
    await expect(verifyPassword('hunter2-hunter2', (stored.spec as { passwordHash: string }).passwordHash)).resolves.toBe(true);
  });

  it('refuses a passwordHash from a client (422, value not echoed) unless it is the stored one', async () => {
    const error = await refusal(admit('CREATE', user({ passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==' })));
    expect(error.code).toBe(422);
    expect(error.message).toContain('spec.passwordHash');
    expect(error.message).not.toContain('aGFzaA==');
    const stored = await admit('CREATE', user({ password: 'first-password' }));
    const hash = (stored.spec as { passwordHash: string }).passwordHash;
    await expect(admit('UPDATE', user({ passwordHash: hash, disabled: true }), stored)).resolves.toMatchObject({ spec: { passwordHash: hash, disabled: true } });
    expect((await refusal(admit('UPDATE', user({ passwordHash: hash.replace(/.$/, 'x') }), stored))).code).toBe(422);
  });

  it('keeps the hash through updates that leave it out or re-send the same password; a new password rehashes', async () => {
    const stored = await admit('CREATE', user({ password: 'first-password' }));
    const hash = (stored.spec as { passwordHash: string }).passwordHash;
    await expect(admit('UPDATE', user({ displayName: 'A' }), stored)).resolves.toMatchObject({ spec: { passwordHash: hash } });
    await expect(admit('UPDATE', { ...user({}), spec: undefined }, stored)).resolves.toMatchObject({ spec: { passwordHash: hash } });
    await expect(admit('UPDATE', user({ password: 'first-password' }), stored)).resolves.toMatchObject({ spec: { passwordHash: hash } });
    const changed = await admit('UPDATE', user({ password: 'second-password' }), stored);
    const newHash = (changed.spec as { passwordHash: string }).passwordHash;
    expect(newHash).not.toBe(hash);
    await expect(verifyPassword('second-password', newHash)).resolves.toBe(true);
    expect(changed.spec).not.toHaveProperty('password');
  });

  it('leaves a User without password alone', async () => {
    await expect(admit('CREATE', user({ email: 'a@example.com' }))).resolves.toMatchObject({ spec: { email: 'a@example.com' } });
    const bare = await admit('CREATE', { ...user({}), spec: undefined });
    expect(bare.spec).toBeUndefined();
  });
});
