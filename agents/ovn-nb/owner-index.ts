// The replica's rows by owner UID, kept current from the client's update stream, so planning one object's
// transaction reads that object's rows instead of scanning every managed table (which made each reconcile
// cost O(all rows): quadratic over a subnet filling up with ports).
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
  /** Stops following the client. */
  readonly close: () => void;

  /** Indexes the client's replica as it is and follows its updates (a resync after a reconnect included). */
  constructor(nb: NorthboundClient) {
    for (const table of MANAGED_TABLES) for (const row of nb.rows(table).values()) this.add(table, row);
    this.close = nb.onUpdate((table, uuid, oldRow, newRow) => {
      if (!managed.has(table)) return;
      const before = uidOf(oldRow);
      if (before !== undefined) this.remove(before, uuid);
      if (newRow) this.add(table as NorthboundTable, newRow);
    });
  }

  ownedBy(uid: string): Iterable<OwnedRow> {
    return this.byOwner.get(uid)?.values() ?? [];
  }

  private add(table: NorthboundTable, row: Row): void {
    const uid = uidOf(row);
    if (uid === undefined) return;
    let rows = this.byOwner.get(uid);
    if (!rows) this.byOwner.set(uid, (rows = new Map()));
    rows.set(row._uuid, { table, row });
  }

  private remove(uid: string, uuid: string): void {
    const rows = this.byOwner.get(uid);
    rows?.delete(uuid);
    if (rows?.size === 0) this.byOwner.delete(uid);
  }
}
