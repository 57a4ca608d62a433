// The embedded backend: one SQLite file through better-sqlite3, with etcd's revision/watch/compaction
// semantics (the design k3s's kine uses):
//
//   log      every write ever made (until compacted), keyed by the store-wide revision. A delete is a row with
//            a NULL value (a tombstone); prev_revision points at the row it replaced (0 for creates), which
//            is how watch events get their prevValue.
//   current  the latest value of every live key, so gets, lists and counts at the current revision never
//            scan history.
//   meta     the compacted revision.
//
// Each write is one SQLite transaction writing both log and current, so the two never disagree.
// better-sqlite3 is synchronous: every method does its work on the calling thread before returning, and the
// promise only carries the result. That is also what makes writes strictly ordered without any locking.
//
// Watches are served in-process (SQLite has no change feed; see embedded-watch.ts): after a write commits,
// the event is queued for every live watcher whose prefix covers it. That only sees writes made through this
// Store object, so the file must have exactly one writer: openEmbeddedStore holds SQLite's exclusive lock for
// as long as the store is open (see openEmbeddedStore).
import Database from 'better-sqlite3';
import {
  directoryOf,
  StorageError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type WatchEvent,
  type WatchHandle,
  type WatchHandler,
} from './types.ts';
import { EmbeddedWatch, WatchHub } from './embedded-watch.ts';

export interface EmbeddedStoreOptions {
  /** Database file (created when missing), or ':memory:' for a throw-away store. */
  path: string;
  /**
   * SQLite's synchronous setting. NORMAL (default): in WAL mode a commit is not fsynced until the next
   * checkpoint, so a power loss or kernel crash can lose the last transactions (the file stays consistent,
   * but the store may come back at an older revision than clients saw). A crash of this process loses
   * nothing. FULL fsyncs every commit (etcd-like durability, much slower writes).
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long to wait for the file lock before refusing to open (default 5000 ms). */
  busyTimeoutMs?: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS log (
    -- AUTOINCREMENT (not just INTEGER PRIMARY KEY) keeps sqlite_sequence, the highest revision ever
    -- issued, even after compaction deleted the newest row (e.g. a tombstone): revisions are never reused.
    revision        INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT    NOT NULL,
    value           BLOB,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
  CREATE TABLE IF NOT EXISTS current (
    key             TEXT    PRIMARY KEY,
    value           BLOB    NOT NULL,
    create_revision INTEGER NOT NULL,
    mod_revision    INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS meta (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

interface CurrentRow {
  key: string;
  value: Buffer;
  create_revision: number;
  mod_revision: number;
}

interface HistoryRow {
  revision: number;
  key: string;
  value: Buffer | null;
  create_revision: number;
  prev_revision: number;
  prev_value: Buffer | null;
}

/**
 * Opens (creating when needed) the store in options.path. Throws StorageError('Unavailable') when another
 * open store — in this process or another one — holds the file.
 *
 * Single-writer enforcement uses SQLite's locking_mode=EXCLUSIVE rather than a lock file: in WAL mode it
 * takes an exclusive OS lock on the database file as soon as the WAL is opened and keeps it until close.
 * The kernel drops that lock when the process dies, so a crash never leaves a stale lock behind (a PID lock
 * file would, and PIDs are reused — every container's main process is PID 1). Side effect: nothing else,
 * not even the sqlite3 shell, can read the file while the store is open.
 */
export function openEmbeddedStore(options: EmbeddedStoreOptions): Store {
  const synchronous = options.synchronous ?? 'NORMAL';
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  // Both end up in PRAGMA text, which takes no bound parameters.
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new TypeError(`invalid synchronous setting ${String(synchronous)}`);
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new TypeError(`invalid busyTimeoutMs ${busyTimeoutMs}`);
  const db = new Database(options.path);
  try {
    // Order matters: EXCLUSIVE must be set before WAL is entered, so SQLite keeps the WAL index in heap
    // memory (no -shm file other processes could use) and locks the file when it opens the WAL.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    // A write transaction (schema creation) makes sure the lock is held from now on, even for an existing
    // file whose tables already exist.
    db.transaction(() => db.exec(SCHEMA)).immediate();
    // Reading the revision is part of opening: under contention SQLite may let the schema step through and
    // refuse here instead, and that too means another store holds the file.
    return new EmbeddedStore(db);
  } catch (error) {
    db.close();
    // SQLITE_BUSY and its extended codes (…_RECOVERY, …_SNAPSHOT) and SQLITE_LOCKED all mean: held elsewhere.
    // Duck-typed on purpose: better-sqlite3 builds its errors in Node's own realm, which under a test runner's
    // VM context is not this module's `Error`.
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    if (/^SQLITE_(BUSY|LOCKED)/.test(String(code))) {
      throw new StorageError('Unavailable', `embedded store ${options.path} is already open in another store or process`);
    }
    throw error;
  }
}

class EmbeddedStore implements Store {
  readonly backend = 'embedded' as const;
  /** The revision of the last committed write. This object is the file's only writer, so memory is authoritative. */
  private revision: number;
  private compacted: number;
  private closed = false;
  // The hub reads the revision only when it delivers, long after the constructor has set it.
  private readonly hub = new WatchHub(() => this.revision);
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    const sequence = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'log'`).get() as { seq: number } | undefined;
    this.revision = sequence?.seq ?? 0;
    const compacted = db.prepare(`SELECT value FROM meta WHERE name = 'compacted_revision'`).get() as { value: number } | undefined;
    this.compacted = compacted?.value ?? 0;
  }

  async get(key: string): Promise<KeyValue | null> {
    this.assertOpen();
    const row = this.currentRow(key);
    return row ? toKeyValue(row) : null;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    const revision = options.revision !== undefined && options.revision > 0 ? options.revision : this.revision;
    this.assertReadable(revision);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0;
    const range = keyRange(prefix, options.startAfter);
    const where = range.sql('key');
    // One extra row tells whether more follow.
    const sqlLimit = limit > 0 ? limit + 1 : -1;
    const rows =
      revision === this.revision
        ? (this.stmt(`SELECT key, value, create_revision, mod_revision FROM current WHERE ${where} ORDER BY key LIMIT ?`).all(
            ...range.params,
            sqlLimit,
          ) as CurrentRow[])
        : // The state at an older revision: per key, the newest log row at or below it, unless that is a tombstone.
          (this.stmt(
            `SELECT key, value, create_revision, revision AS mod_revision FROM log AS l
             WHERE ${range.sql('l.key')} AND revision <= ? AND value IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM log AS newer
                               WHERE newer.key = l.key AND newer.revision > l.revision AND newer.revision <= ?)
             ORDER BY key LIMIT ?`,
          ).all(...range.params, revision, revision, sqlLimit) as CurrentRow[]);
    const more = limit > 0 && rows.length > limit;
    return { items: (more ? rows.slice(0, limit) : rows).map(toKeyValue), revision, more };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    const range = keyRange(prefix);
    const row = this.stmt(`SELECT count(*) AS n FROM current WHERE ${range.sql('key')}`).get(...range.params) as { n: number };
    return row.n;
  }

  async create(key: string, value: Buffer): Promise<KeyValue> {
    return this.write(() => {
      if (this.currentRow(key)) throw new StorageError('AlreadyExists', `key ${key} already exists`);
      const revision = this.revision + 1;
      const stored = Buffer.from(value);
      this.appendLog(revision, key, stored, revision, 0);
      this.stmt(`INSERT INTO current (key, value, create_revision, mod_revision) VALUES (?, ?, ?, ?)`).run(key, stored, revision, revision);
      return {
        result: { key, value: stored, createRevision: revision, modRevision: revision },
        event: { type: 'put', key, modRevision: revision, value: stored, createRevision: revision },
      };
    });
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue> {
    return this.write(() => {
      const row = this.existingRow(key, expectedModRevision);
      const revision = this.revision + 1;
      const stored = Buffer.from(value);
      this.appendLog(revision, key, stored, row.create_revision, row.mod_revision);
      this.stmt(`UPDATE current SET value = ?, mod_revision = ? WHERE key = ?`).run(stored, revision, key);
      return {
        result: { key, value: stored, createRevision: row.create_revision, modRevision: revision },
        event: {
          type: 'put',
          key,
          modRevision: revision,
          value: stored,
          createRevision: row.create_revision,
          prevValue: row.value,
          prevModRevision: row.mod_revision,
        },
      };
    });
  }

  async delete(key: string, expectedModRevision?: number): Promise<{ revision: number; deleted: KeyValue }> {
    return this.write(() => {
      const row = this.existingRow(key, expectedModRevision);
      const revision = this.revision + 1;
      this.appendLog(revision, key, null, row.create_revision, row.mod_revision);
      this.stmt(`DELETE FROM current WHERE key = ?`).run(key);
      return {
        result: { revision, deleted: toKeyValue(row) },
        event: { type: 'delete', key, modRevision: revision, prevValue: row.value, prevModRevision: row.mod_revision },
      };
    });
  }

  watch(prefix: string, afterRevision: number, handler: WatchHandler): WatchHandle {
    this.assertOpen();
    const watcher = new EmbeddedWatch(this.hub, prefix, afterRevision, handler);
    if (afterRevision < this.compacted) {
      this.hub.fail(watcher, compactedError(afterRevision, this.compacted));
      return watcher;
    }
    // No gap, no duplicate: the history query and the registration run in the same synchronous turn, and
    // every write is synchronous on this same thread, so no write can commit in between. The history holds
    // exactly the revisions (afterRevision, this.revision]; live events start at this.revision + 1.
    this.hub.add(watcher, afterRevision < this.revision ? this.history(prefix, afterRevision) : []);
    return watcher;
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    return this.revision;
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    if (revision > this.revision) throw new RangeError(`cannot compact revision ${revision}: the current revision is ${this.revision}`);
    if (revision <= this.compacted) return;
    this.db.transaction(() => {
      // Keep, for every key, its newest row at or below the revision (the state there stays readable) unless
      // that row is a tombstone; drop everything older. Rows above the revision are untouched, and the row an
      // event above it replaced (its prevValue) is by construction such a newest row, so it survives too.
      this.stmt(
        `DELETE FROM log WHERE revision <= ? AND (value IS NULL OR EXISTS (
           SELECT 1 FROM log AS newer WHERE newer.key = log.key AND newer.revision > log.revision AND newer.revision <= ?))`,
      ).run(revision, revision);
      this.stmt(`INSERT INTO meta (name, value) VALUES ('compacted_revision', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`).run(
        revision,
      );
    }).immediate();
    this.compacted = revision;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.closeAll();
    // Checkpoints the WAL and releases the exclusive lock.
    this.db.close();
  }

  /** Runs body in one immediate transaction; after it commits, advances the revision and notifies watchers. */
  private write<T>(body: () => { result: T; event: WatchEvent }): T {
    this.assertOpen();
    const { result, event } = this.db.transaction(body).immediate();
    this.revision = event.modRevision;
    this.hub.publish(event);
    return result;
  }

  private appendLog(revision: number, key: string, value: Buffer | null, createRevision: number, prevRevision: number): void {
    this.stmt(`INSERT INTO log (revision, key, value, create_revision, prev_revision) VALUES (?, ?, ?, ?, ?)`).run(
      revision,
      key,
      value,
      createRevision,
      prevRevision,
    );
  }

  private currentRow(key: string): CurrentRow | undefined {
    return this.stmt(`SELECT key, value, create_revision, mod_revision FROM current WHERE key = ?`).get(key) as CurrentRow | undefined;
  }

  /** The key's current row, or NotFound / Conflict (with the current modRevision) when the write must fail. */
  private existingRow(key: string, expectedModRevision: number | undefined): CurrentRow {
    const row = this.currentRow(key);
    if (!row) throw new StorageError('NotFound', `key ${key} not found`);
    if (expectedModRevision !== undefined && row.mod_revision !== expectedModRevision) {
      throw new StorageError(
        'Conflict',
        `key ${key} is at modRevision ${row.mod_revision}, not ${expectedModRevision}`,
        row.mod_revision,
      );
    }
    return row;
  }

  private history(prefix: string, afterRevision: number): WatchEvent[] {
    const range = keyRange(prefix);
    const rows = this.stmt(
      `SELECT l.revision, l.key, l.value, l.create_revision, l.prev_revision, p.value AS prev_value
       FROM log AS l LEFT JOIN log AS p ON p.revision = l.prev_revision
       WHERE l.revision > ? AND ${range.sql('l.key')} ORDER BY l.revision`,
    ).all(afterRevision, ...range.params) as HistoryRow[];
    return rows.map(historyEvent);
  }

  private assertReadable(revision: number): void {
    if (revision < this.compacted) throw compactedError(revision, this.compacted);
    if (revision > this.revision) throw new RangeError(`revision ${revision} is in the future (current: ${this.revision})`);
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('Unavailable', 'the embedded store is closed');
  }

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

function toKeyValue(row: CurrentRow): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.create_revision, modRevision: row.mod_revision };
}

function historyEvent(row: HistoryRow): WatchEvent {
  const previous =
    row.prev_revision > 0 && row.prev_value !== null ? { prevValue: row.prev_value, prevModRevision: row.prev_revision } : {};
  return row.value === null
    ? { type: 'delete', key: row.key, modRevision: row.revision, ...previous }
    : { type: 'put', key: row.key, modRevision: row.revision, value: row.value, createRevision: row.create_revision, ...previous };
}

function compactedError(revision: number, compacted: number): StorageError {
  return new StorageError('Compacted', `revision ${revision} has been compacted (compacted revision: ${compacted})`, compacted);
}

/**
 * The keys a prefix covers. A prefix is a directory: '/a/b' covers '/a/b/x' but neither '/a/bc' nor '/a/b'
 * itself (a trailing '/' is implied); '' covers every key. As SQL: key >= dir AND key < dir-with-its-last-'/'
 * -replaced-by-'0' (the next byte), which SQLite answers from the primary-key index. SQLite compares TEXT
 * bytewise (UTF-8), the same order etcd uses, so both backends sort and page identically.
 */
function keyRange(prefix: string, startAfter?: string) {
  const dir = directoryOf(prefix);
  const conditions: string[] = [];
  const params: string[] = [];
  const after = startAfter !== undefined && Buffer.compare(Buffer.from(startAfter), Buffer.from(dir)) >= 0;
  conditions.push(after ? '> ?' : '>= ?');
  params.push(after ? startAfter! : dir);
  if (dir !== '') {
    conditions.push('< ?');
    params.push(`${dir.slice(0, -1)}0`);
  }
  return {
    params,
    sql: (column: string) => conditions.map((condition) => `${column} ${condition}`).join(' AND '),
  };
}
