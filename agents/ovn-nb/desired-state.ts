// Desired OVN state as plain data. A controller describes every Northbound row one API object should own —
// which table, a key that tells its rows apart, the columns, and the sets of other rows it must belong to —
// and hands the list to the driver (driver.ts), which diffs it against the replica and applies the
// difference in one transaction. Controllers never build OVSDB operations themselves.
//
// Rows refer to other rows with links, not UUIDs (a UUID is only known once a row exists, possibly in the
// same transaction): a link names the owner UID and key of a PhotonCloud row, or the `name` of any row.
import type { NorthboundTable } from './schema.ts';

/** A row of `table` owned by the object with UID `owner` under `key`, or the row of `table` with this `name`. */
export type RowLink = { table: NorthboundTable; owner: string; key?: string } | { table: NorthboundTable; name: string };

/** A link in a column value: resolved to the row's UUID when the transaction is built. */
export class LinkValue {
  constructor(readonly link: RowLink) {}
}

export const link = (target: RowLink): LinkValue => new LinkValue(target);

export interface Membership {
  /** The row holding the set. */
  parent: RowLink;
  /** Its set column that must contain this row (e.g. Logical_Switch.ports). */
  column: string;
}

export interface DesiredRow {
  table: NorthboundTable;
  /**
   * Tells one owner's rows of one table apart (stored in external_ids as photoncloud.io/role). Omit it when an
   * owner has a single row in the table.
   */
  key?: string;
  /** Column values; reference columns may hold link(…) values. external_ids gets the owner labels added. */
  columns: Record<string, unknown>;
  /**
   * Every PhotonCloud-owned set this row belongs to: it is added where missing and taken out of any other
   * PhotonCloud-owned set that can hold its table (a port that left a security group leaves its port group).
   * Sets of rows PhotonCloud does not own are never touched.
   */
  memberOf?: Membership[];
}

/** The external_ids key holding a row's key within its owner. */
export const LABEL_ROLE = 'photoncloud.io/role';

export function describeLink(target: RowLink): string {
  return 'name' in target ? `${target.table} ${target.name}` : `${target.table} of ${target.owner}${target.key ? ` (${target.key})` : ''}`;
}
