// Encryption at rest for Secrets: the key file, the value envelope, and the Store decorator. See README.md.
export {
  AESGCM_PREFIX,
  DecryptionError,
  ENCRYPTED_PREFIX,
  encryptionKeyNameOf,
  isEncryptedValue,
  SecretEnvelope,
  type EncryptionKey,
} from './envelope.ts';
export { addKey, createKeyFile, loadEncryptionKeys, loadOrCreateEncryptionKeys, removeKey } from './keys.ts';
export { encryptingStore, rewriteWithCurrentKey } from './store.ts';
