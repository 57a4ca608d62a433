// UserPassword: a User's spec.password is write-only. It is declared in the CRD (so schema pruning keeps it
// and its length is validated like any field), and this plugin, which runs after that validation and before
// anything is stored, replaces it with spec.passwordHash (scrypt, auth/password.ts). The plaintext is
// therefore never stored, never in a response or watch event, and never in managedFields (recorded after
// admission). A plugin rather than a strategy hook because hashing is slow and asynchronous, and the chain
// already awaits its plugins (strategies are synchronous).
//
// spec.passwordHash is the server's: a client may send back the stored value (read-modify-write), anything
// else is refused; an update that leaves it out keeps it (a `kubectl replace` of a manifest without it must
// not silently remove the password).
import type { KubeObject } from '../../apis/meta/types.ts';
import { hashPassword, verifyPassword } from '../auth/password.ts';
import type { FieldError } from '../errors.ts';
import type { AdmissionPlugin } from './chain.ts';

/** kubectl's client-side apply keeps the whole applied manifest here, password included. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

interface UserSpec {
  password?: string;
  passwordHash?: string;
}

/** Drops spec.password from kubectl's last-applied copy of the manifest (otherwise the plaintext is stored). */
function scrubLastApplied(object: KubeObject): void {
  const annotations = object.metadata.annotations;
  const text = annotations?.[LAST_APPLIED];
  if (!annotations || text === undefined || !text.includes('password')) return;
  try {
    const applied = JSON.parse(text) as { spec?: UserSpec };
    if (applied.spec?.password === undefined) return;
    delete applied.spec.password;
    annotations[LAST_APPLIED] = JSON.stringify(applied) + '\n';
  } catch {
    // Not JSON: not written by kubectl, and never parsed by it either; drop it rather than keep a secret.
    delete annotations[LAST_APPLIED];
  }
}

export const userPassword: AdmissionPlugin = {
  name: 'UserPassword',
  operations: ['CREATE', 'UPDATE'],
  kinds: [{ group: 'iam.photoncloud.io', kind: 'User' }],
  async admit({ object, old }): Promise<FieldError[]> {
    const spec = (object.spec ?? {}) as UserSpec;
    const storedHash = (old?.spec as UserSpec | undefined)?.passwordHash;
    if (spec.passwordHash !== undefined && spec.passwordHash !== storedHash) {
      // The value is not echoed: it may be a hash copied from elsewhere.
      return [{ field: 'spec.passwordHash', reason: 'FieldValueForbidden', message: 'Forbidden: set by the API server only; send the new password in spec.password' }];
    }
    const password = spec.password;
    delete spec.password;
    scrubLastApplied(object);
    if (password !== undefined) {
      // The same password sent again (kubectl apply re-sends it each time) keeps the hash: no new write.
      spec.passwordHash = storedHash !== undefined && (await verifyPassword(password, storedHash)) ? storedHash : await hashPassword(password);
    } else if (storedHash !== undefined) {
      spec.passwordHash = storedHash;
    }
    if (Object.keys(spec).length > 0 || object.spec !== undefined) object.spec = spec;
    return [];
  },
};
