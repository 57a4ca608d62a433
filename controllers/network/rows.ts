// Idempotent row operations the network controllers share. Each object owns at most one row per table here
// (a Subnet: one Logical_Switch, one Logical_Router_Port, one router-facing Logical_Switch_Port, one
// DHCP_Options), found by its UID in external_ids. Creation is guarded by an OVSDB `wait` that no such row
// exists yet, so a retry after a lost reply (or a second writer) can never create a duplicate: the
// transaction fails instead, and the next reconcile finds the row.
import { jsonEqual } from '../../apis/meta/equality.ts';
import { namedUuid, op, byUuid, type Operation, type Row } from '../../agents/ovsdb/index.ts';
import { ownedByCondition, rowsOwnedBy, type NorthboundClient, type NorthboundTables, type RowRef } from '../../agents/ovn-nb/index.ts';

type Table = keyof NorthboundTables & string;

/** The one row of `table` owned by `uid` for this role (rows of one owner in one table differ by role). */
export function ownedRow<K extends Table>(nb: NorthboundClient, table: K, uid: string, role?: string): NorthboundTables[K] | undefined {
  return rowsOwnedBy(nb, table, uid).find((row) => role === undefined || (row as Row & { external_ids?: Record<string, string> }).external_ids?.['photoncloud.io/role'] === role);
}

/**
 * Makes the row of `table` owned by `uid` (and `role`) carry `desired`, creating it when missing. `attach`
 * adds operations referencing the new row in the same transaction (e.g. add it to its parent's set).
 * Returns the row's UUID and how many transactions it took (0 when nothing changed).
 */
export async function upsertOwnedRow<K extends Table>(
  nb: NorthboundClient,
  table: K,
  uid: string,
  desired: Record<string, unknown>,
  options: { role?: string; attach?: (ref: RowRef) => Operation[] } = {},
): Promise<{ uuid: string; transactions: number }> {
  const existing = ownedRow(nb, table, uid, options.role);
  if (existing) {
    const changed = Object.fromEntries(Object.entries(desired).filter(([column, value]) => !jsonEqual((existing as Row)[column] ?? emptyLike(value), value)));
    if (Object.keys(changed).length === 0) return { uuid: existing._uuid, transactions: 0 };
    await nb.transact([op.update(table, byUuid(existing._uuid), changed)]);
    return { uuid: existing._uuid, transactions: 1 };
  }
  const name = `new_${table.toLowerCase()}`;
  const guard = options.role
    ? [ownedByCondition(uid), ['external_ids', 'includes', { 'photoncloud.io/role': options.role }] as const]
    : [ownedByCondition(uid)];
  const results = await nb.transact([
    op.wait(table, guard, { rows: [], columns: ['external_ids'], until: '==' }),
    op.insert(table, desired, name),
    ...(options.attach ? options.attach(namedUuid(name)) : []),
  ]);
  return { uuid: results[1].uuid!, transactions: 1 };
}

/** Absent optional columns read as undefined; compare them as the empty value of the desired shape. */
function emptyLike(value: unknown): unknown {
  if (Array.isArray(value)) return [];
  if (value !== null && typeof value === 'object') return {};
  return undefined;
}

/** Labels for a row: the owner's, plus a role when an owner has several rows in one table. */
export function labels(owner: Record<string, string>, role?: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...owner, ...(role ? { 'photoncloud.io/role': role } : {}), ...extra };
}

