// The replica's rows by owner UID and by name, kept current from the client's update stream, so planning one
// object's transaction reads that object's rows (and looks up a name) instead of scanning every managed table
// (which made each reconcile cost O(all rows): quadratic over a subnet filling up with ports).
import type { Row } from '../ovsdb/index.ts';
import type { NorthboundClient } from './connect.ts';
import { MANAGED_TABLES } from './diff.ts';
import { LABEL_UID } from './ownership.ts';
import type { NorthboundTable } from './schema.ts';

export interface OwnedRow {
  table: NorthboundTable;
  row: Row;
}

const managed = new Set<string>(MANAGED_TABLES);
const uidOf = (row: Row | undefined) => (row as { external_ids?: Record<string, string> } | undefined)?.external_ids?.[LABEL_UID];

export class OwnerIndex {
  private readonly byOwner = new Map<string, Map<string, OwnedRow>>();
  /** `table\0name` → the rows of that name (names are unique in most tables, not all). */
  private readonly byName = new Map<string, Map<string, Row>>();
  /** Stops following the client. */
  readonly close: () => void;

  /** Indexes the client's replica as it is and follows its updates (a resync after a reconnect included). */
  constructor(nb: NorthboundClient) {
    for (const table of MANAGED_TABLES) for (const row of nb.rows(table).values()) this.add(table, row);
    this.close = nb.onUpdate((table, uuid, oldRow, newRow) => {
      if (!managed.has(table)) return;
      const before = uidOf(oldRow);
      if (before !== undefined) this.remove(before, uuid);
      const oldName = nameOf(oldRow);
      if (oldName !== undefined) removeFrom(this.byName, `${table}\0${oldName}`, uuid);
      if (newRow) this.add(table as NorthboundTable, newRow);
    });
  }

  ownedBy(uid: string): Iterable<OwnedRow> {
    return this.byOwner.get(uid)?.values() ?? [];
  }

  /** The rows of `table` whose name column is `name`. */
  named(table: NorthboundTable, name: string): Iterable<Row> {
    return this.byName.get(`${table}\0${name}`)?.values() ?? [];
  }

  private add(table: NorthboundTable, row: Row): void {
    const name = nameOf(row);
    if (name !== undefined) addTo(this.byName, `${table}\0${name}`, row._uuid, row);
    const uid = uidOf(row);
    if (uid !== undefined) addTo(this.byOwner, uid, row._uuid, { table, row });
  }

  private remove(uid: string, uuid: string): void {
    removeFrom(this.byOwner, uid, uuid);
  }
}

const nameOf = (row: Row | undefined) => {
  const name = (row as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
};

function addTo<V>(index: Map<string, Map<string, V>>, key: string, uuid: string, value: V): void {
  let rows = index.get(key);
  if (!rows) index.set(key, (rows = new Map()));
  rows.set(uuid, value);
}

function removeFrom<V>(index: Map<string, Map<string, V>>, key: string, uuid: string): void {
  const rows = index.get(key);
  rows?.delete(uuid);
  if (rows?.size === 0) index.delete(key);
}
