// The one storage interface the API server is written against. Two backends implement it with the same
// semantics (checked by one conformance suite, test/storage/conformance.ts):
//   - etcd      (production): revision = etcd mod_revision, CAS through txn compares.
//   - embedded  (zero-setup default): one SQLite file, the same revision/watch/compaction rules as etcd.
//
// Revisions are one store-wide, strictly increasing counter: every successful create, update and delete
// gets a new one, and a key's modRevision is the revision of its last write. Kubernetes' resourceVersion
// is this number rendered as a decimal string.

export interface KeyValue {
  key: string;
  value: Buffer;
  /** Revision of the write that created this key (unchanged by updates). */
  createRevision: number;
  /** Revision of the last write to this key. */
  modRevision: number;
}

export interface ListOptions {
  /** Return at most this many items (0 or absent: all). */
  limit?: number;
  /** Only keys strictly greater than this one (pagination: the last key of the previous page). */
  startAfter?: string;
  /** Read as of this revision (consistent pages). Older than the compacted revision → StorageError('Compacted'). */
  revision?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list was read at (the store's current revision when none was asked for). */
  revision: number;
  /** True when more keys under the prefix follow the last returned item (at the same revision). */
  more: boolean;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  /** Revision of this event (for deletes: the deletion's revision). */
  modRevision: number;
  /** New value for 'put'; absent for 'delete'. */
  value?: Buffer;
  createRevision?: number;
  /** The value before this event: the updated or deleted object's previous state, absent for creates. */
  prevValue?: Buffer;
  prevModRevision?: number;
}

export interface WatchHandler {
  /** Events in revision order, each event delivered exactly once per watch. */
  onEvents(events: WatchEvent[]): void;
  /**
   * The watch ended and will deliver nothing more: StorageError('Compacted') when the start revision is gone,
   * 'Unavailable' when the backend connection was lost for good. Never called after close().
   */
  onError(error: StorageError): void;
  /**
   * Progress: every change under the watched prefix at or below `revision` has been delivered (through
   * onEvents, before this call), even when none of the store's recent writes were under the prefix. Called in
   * answer to WatchHandle.requestProgress() and, on etcd, for its periodic progress notifications. Never
   * decreases within one watch; never called after close() or onError. Optional: handlers without it get none.
   */
  onProgress?(revision: number): void;
}

export interface WatchHandle {
  close(): void;
  /**
   * Asks for an onProgress soon, at a revision at least the store's current revision as of this call (on a
   * multi-member etcd: as of the member serving the watch, which may lag a linearizable read by a moment;
   * ask again when the answer is short of what you need). Calls made while an answer is pending are answered
   * too. No-op after close(). Both backends implement it; optional only so that existing hand-written
   * WatchHandle objects (wrappers, test fakes) stay valid: call it as handle.requestProgress?.().
   */
  requestProgress?(): void;
}

export interface Store {
  readonly backend: 'etcd' | 'embedded';
  get(key: string): Promise<KeyValue | null>;
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  count(prefix: string): Promise<number>;
  /** Fails with StorageError('AlreadyExists') when the key exists. */
  create(key: string, value: Buffer): Promise<KeyValue>;
  /** Compare-and-swap: fails with 'NotFound' when absent, 'Conflict' when modRevision differs. */
  update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue>;
  /**
   * Deletes the key; with expectedModRevision it is a compare-and-delete ('Conflict' on mismatch).
   * Fails with 'NotFound' when absent. Returns the deletion revision and the value that was deleted.
   */
  delete(key: string, expectedModRevision?: number): Promise<{ revision: number; deleted: KeyValue }>;
  /**
   * Streams every change under prefix with revision > afterRevision, first the history still retained
   * (afterRevision older than the compacted revision → onError(Compacted)), then live changes.
   */
  watch(prefix: string, afterRevision: number, handler: WatchHandler): WatchHandle;
  /** The store's current revision (the revision of the last write anywhere in the store). */
  currentRevision(): Promise<number>;
  /**
   * Discards history older than revision (etcd semantics): afterwards reads at a revision below it and
   * watches from below it fail with 'Compacted'; the state at `revision` itself stays readable.
   */
  compact(revision: number): Promise<void>;
  /** The highest revision compacted so far (0 when never). */
  compactedRevision(): Promise<number>;
  close(): Promise<void>;
}

export type StorageErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Compacted' | 'Unavailable';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    /** For 'Compacted': the compacted revision; for 'Conflict': the current modRevision when known. */
    readonly revision?: number,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}

/**
 * The directory a prefix stands for, in both backends: '/a/b' and '/a/b/' both mean '/a/b/' (covering
 * '/a/b/x' but neither '/a/bc' nor '/a/b' itself); '' means every key.
 */
export function directoryOf(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}
