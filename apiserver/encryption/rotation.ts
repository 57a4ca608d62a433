// Key rotation without downtime: the API server follows its key file. When the file changes (a key added
// with `photon encryption add-key`, an old one removed with `remove-key`), the new key set takes effect for
// every later read and write at once, and every Secret not yet encrypted with the current write key is
// re-encrypted in the background (compare-and-swap, so concurrent writes are never lost). The same pass runs
// at start-up, which also encrypts Secrets written before encryption existed.
import fs from 'node:fs';
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/logging.ts';
import type { Store } from '../storage/types.ts';
import { SecretEnvelope } from './envelope.ts';
import { loadEncryptionKeys, loadOrCreateEncryptionKeys } from './keys.ts';
import { encryptingStore, rewriteWithCurrentKey } from './store.ts';

/** Storage prefix of Secrets: the only values encrypted at rest. */
export const SECRETS_PREFIX = '/registry/core/secrets/';

/** An envelope whose key set can be swapped while stores keep using it. */
class SwappableEnvelope {
  constructor(public current: SecretEnvelope) {}
  encrypt(plaintext: Buffer, context: string): Buffer {
    return this.current.encrypt(plaintext, context);
  }
  decrypt(stored: Buffer, context: string): Buffer {
    return this.current.decrypt(stored, context);
  }
  needsRewrite(stored: Buffer): boolean {
    return this.current.needsRewrite(stored);
  }
  get writeKeyName(): string {
    return this.current.writeKeyName;
  }
  get keyNames(): string[] {
    return this.current.keyNames;
  }
}

export interface SecretEncryption {
  /** The store to use: Secrets encrypted on the way in, decrypted on the way out. */
  store: Store;
  /** Resolves when the current re-encryption pass (if any) has finished. */
  settled(): Promise<void>;
  stop(): void;
}

export function encryptSecrets(inner: Store, keyFile: string, log: Logger, pollMs = 2000): SecretEncryption {
  const envelope = new SwappableEnvelope(new SecretEnvelope(loadOrCreateEncryptionKeys(keyFile)));
  const store = encryptingStore(inner, envelope, (key) => key.startsWith(SECRETS_PREFIX));
  let pass: Promise<void> = Promise.resolve();
  let stopped = false;
  const rewrite = () => {
    pass = pass.then(async () => {
      if (stopped) return;
      try {
        const { rewritten } = await rewriteWithCurrentKey(store, SECRETS_PREFIX, envelope);
        if (rewritten > 0) log.info('re-encrypted Secrets with the current key', { key: envelope.writeKeyName, rewritten });
      } catch (error) {
        log.warn('re-encrypting Secrets failed; will retry on the next key change or restart', { error: errorMessage(error) });
      }
    });
  };
  const reload = () => {
    try {
      const next = new SecretEnvelope(loadEncryptionKeys(keyFile));
      if (next.keyNames.join() === envelope.keyNames.join()) return; // same keys, same write key (the first)
      envelope.current = next;
      log.info('encryption keys reloaded', { writeKey: next.writeKeyName, keys: next.keyNames });
      rewrite();
    } catch (error) {
      // A half-edited or unreadable file keeps the keys in use: nothing becomes unreadable.
      log.error('encryption key file could not be loaded; keeping the current keys', { file: keyFile, error: errorMessage(error) });
    }
  };
  fs.watchFile(keyFile, { interval: pollMs, persistent: false }, reload);
  rewrite();
  return {
    store,
    settled: () => pass,
    stop() {
      stopped = true;
      fs.unwatchFile(keyFile, reload);
    },
  };
}
