// The diff between what one owner wants (desired-state.ts) and what the replica holds, as one OVSDB
// transaction's operations. Pure: it reads a replica view and returns operations, so it is tested without a
// database (diff.test.ts) and the driver only sends what it returns.
//
//   - a wanted row that is missing is inserted, guarded by a `wait` that no row with its owner and key exists
//     yet — a retry after a lost reply (or a second writer) fails instead of duplicating it; a row with the
//     same name that no one owns (created before rows carried owners) is adopted instead;
//   - a wanted row that differs gets the changed columns only;
//   - memberships are exact: added where missing, removed from other PhotonCloud-owned sets;
//   - an owned row nobody wants goes: root rows are deleted, child rows are taken out of every set holding
//     them (OVSDB then removes them with their last strong reference).
import { jsonEqual } from '../../apis/meta/equality.ts';
import { byUuid, namedUuid, op, type NamedUuid, type Operation, type Row } from '../ovsdb/index.ts';
import { LinkValue, LABEL_ROLE, describeLink, type DesiredRow, type RowLink } from './desired-state.ts';
import { addToSet, removeFromSet } from './mutations.ts';
import { LABEL_UID, ownedByCondition, ownerIds, type Owner } from './ownership.ts';
import type { NorthboundTable } from './schema.ts';

/** What the diff reads: a replica of the tables it manages. */
export interface ReplicaView {
  rows(table: NorthboundTable): ReadonlyMap<string, Row>;
  /** The rows owned by a UID, when the replica keeps an index (owner-index.ts); otherwise tables are scanned. */
  ownedBy?(uid: string): Iterable<{ table: NorthboundTable; row: Row }>;
  /** The rows of a table with a name, when the replica keeps an index; otherwise the table is scanned. */
  named?(table: NorthboundTable, name: string): Iterable<Row>;
}

/** The rows of `table` named `name`. */
function namedRows(replica: ReplicaView, table: NorthboundTable, name: string): Row[] {
  if (replica.named) return [...replica.named(table, name)];
  return [...replica.rows(table).values()].filter((row) => (row as { name?: unknown }).name === name);
}

/** Every row owned by `uid`, by table. */
export function ownedRows(replica: ReplicaView, uid: string): Array<{ table: NorthboundTable; row: Row }> {
  if (replica.ownedBy) return [...replica.ownedBy(uid)];
  return MANAGED_TABLES.flatMap((table) => [...replica.rows(table).values()].filter((row) => labelsOf(row)[LABEL_UID] === uid).map((row) => ({ table, row })));
}

/** Tables whose rows exist on their own; rows of the others live only while a set references them. */
export const ROOT_TABLES: ReadonlySet<NorthboundTable> = new Set(['Logical_Router', 'Logical_Switch', 'DHCP_Options', 'Port_Group', 'Address_Set', 'Load_Balancer', 'DNS']);

/** For each table, the set columns of other tables that hold its rows (from the OVN_Northbound schema). */
export const REFERRERS: Partial<Record<NorthboundTable, ReadonlyArray<{ table: NorthboundTable; column: string }>>> = {
  Logical_Switch_Port: [{ table: 'Logical_Switch', column: 'ports' }, { table: 'Port_Group', column: 'ports' }],
  Logical_Router_Port: [{ table: 'Logical_Router', column: 'ports' }],
  Logical_Router_Static_Route: [{ table: 'Logical_Router', column: 'static_routes' }],
  ACL: [{ table: 'Port_Group', column: 'acls' }, { table: 'Logical_Switch', column: 'acls' }],
  Load_Balancer: [{ table: 'Logical_Switch', column: 'load_balancer' }, { table: 'Logical_Router', column: 'load_balancer' }],
  Load_Balancer_Health_Check: [{ table: 'Load_Balancer', column: 'health_check' }],
  DNS: [{ table: 'Logical_Switch', column: 'dns_records' }],
};

/** The tables an owner's rows may live in. */
export const MANAGED_TABLES: readonly NorthboundTable[] = ['Logical_Router', 'Logical_Router_Port', 'Logical_Router_Static_Route', 'Logical_Switch', 'Logical_Switch_Port', 'DHCP_Options', 'Port_Group', 'Address_Set', 'ACL', 'Load_Balancer', 'Load_Balancer_Health_Check', 'DNS'];

/** A link that names no row yet: the controller should wait for whatever creates it. */
export class UnresolvedLinkError extends Error {
  constructor(readonly target: RowLink) {
    super(`${describeLink(target)} does not exist yet`);
    this.name = 'UnresolvedLinkError';
  }
}

type Ref = string | NamedUuid;

const labelsOf = (row: Row) => ((row as { external_ids?: Record<string, string> }).external_ids ?? {});
const roleOf = (row: Row) => labelsOf(row)[LABEL_ROLE] ?? '';
const slot = (table: string, key: string | undefined) => `${table}\0${key ?? ''}`;
const isOurs = (row: Row) => typeof labelsOf(row)[LABEL_UID] === 'string';
const emptyLike = (value: unknown) => (Array.isArray(value) ? [] : value !== null && typeof value === 'object' ? {} : undefined);

/** The replica's row for a link, or undefined. */
export function findLinked(replica: ReplicaView, target: RowLink): Row | undefined {
  if (!('name' in target)) return ownedRows(replica, target.owner).find(({ table, row }) => table === target.table && roleOf(row) === (target.key ?? ''))?.row;
  return namedRows(replica, target.table, target.name)[0];
}

/** The operations that make `owner`'s rows exactly `desired` (none when they already are). */
export function planOwnerTransaction(replica: ReplicaView, owner: Owner, desired: readonly DesiredRow[]): Operation[] {
  const existing = new Map<string, Row[]>();
  for (const { table, row } of ownedRows(replica, owner.uid)) {
    const key = slot(table, roleOf(row) || undefined);
    existing.set(key, [...(existing.get(key) ?? []), row]);
  }
  const wanted = new Map(desired.map((row) => [slot(row.table, row.key), row]));
  if (wanted.size !== desired.length) throw new Error(`two desired rows of ${owner.kind} ${owner.name} share a table and key`);

  // Every row in a slot nobody wants goes, and all but the first of duplicates in a wanted one.
  const unwanted = [...existing].flatMap(([key, rows]) => (wanted.has(key) ? rows.slice(1) : rows).map((row) => ({ table: key.split('\0')[0] as NorthboundTable, row })));
  const deleted = new Set(unwanted.filter(({ table }) => ROOT_TABLES.has(table)).map(({ row }) => row._uuid));
  const ops: Operation[] = [];
  for (const { table, row } of unwanted) {
    if (ROOT_TABLES.has(table)) {
      ops.push(op.delete(table, byUuid(row._uuid)));
      continue;
    }
    for (const { table: parentTable, column } of REFERRERS[table] ?? []) {
      for (const parent of replica.rows(parentTable).values()) {
        // Children of a root deleted here go with it: no mutation on a row this transaction deletes.
        if (!deleted.has(parent._uuid) && ((parent as Record<string, unknown>)[column] as string[] | undefined)?.includes(row._uuid)) ops.push(removeFromSet(parentTable, parent._uuid, column, row._uuid));
      }
    }
  }

  // Refs of every wanted row: existing UUIDs, or named UUIDs for the ones inserted below.
  const refs = new Map<string, Ref>();
  const adopted = new Map<string, Row>();
  desired.forEach((row, index) => {
    const current = existing.get(slot(row.table, row.key))?.[0];
    if (current) return void refs.set(slot(row.table, row.key), current._uuid);
    const unowned = typeof row.columns.name === 'string' ? namedRows(replica, row.table, row.columns.name).find((candidate) => !isOurs(candidate)) : undefined;
    if (unowned) {
      adopted.set(slot(row.table, row.key), unowned);
      return void refs.set(slot(row.table, row.key), unowned._uuid);
    }
    refs.set(slot(row.table, row.key), namedUuid(`row${index}`));
  });
  const resolve = (target: RowLink): Ref => {
    if (!('name' in target) && target.owner === owner.uid) {
      const ref = refs.get(slot(target.table, target.key));
      if (ref !== undefined) return ref;
    }
    if ('name' in target) {
      const index = desired.findIndex((row) => row.table === target.table && row.columns.name === target.name);
      if (index >= 0) return refs.get(slot(desired[index].table, desired[index].key))!;
    }
    const found = findLinked(replica, target);
    if (!found || deleted.has(found._uuid)) throw new UnresolvedLinkError(target);
    return found._uuid;
  };

  for (const row of desired) {
    const key = slot(row.table, row.key);
    const ref = refs.get(key)!;
    const columns: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(row.columns)) columns[column] = value instanceof LinkValue ? resolve(value.link) : value;
    columns.external_ids = { ...((row.columns.external_ids as Record<string, string> | undefined) ?? {}), ...ownerIds(owner), ...(row.key ? { [LABEL_ROLE]: row.key } : {}) };
    const current = existing.get(key)?.[0] ?? adopted.get(key);
    if (typeof ref !== 'string') {
      const guard = [ownedByCondition(owner.uid), ...(row.key ? [['external_ids', 'includes', { [LABEL_ROLE]: row.key }] as const] : [])];
      // Without a key the guard matches all the owner's rows of the table: only usable when it has none.
      const guarded = row.key !== undefined || ![...existing.keys()].some((other) => other.startsWith(`${row.table}\0`));
      if (guarded) ops.push(op.wait(row.table, guard, { rows: [], columns: ['external_ids'], until: '==' }));
      ops.push(op.insert(row.table, columns, ref.name));
    } else if (current) {
      const changed = Object.fromEntries(Object.entries(columns).filter(([column, value]) => !jsonEqual((current as Record<string, unknown>)[column] ?? emptyLike(value), value)));
      if (Object.keys(changed).length > 0) ops.push(op.update(row.table, byUuid(ref), changed));
    }
    ops.push(...membershipOps(replica, row, ref, current, resolve));
  }
  return ops;
}

/** Adds the row to each wanted set it is missing from; takes it out of other PhotonCloud-owned sets of the same kind. */
function membershipOps(replica: ReplicaView, row: DesiredRow, ref: Ref, current: Row | undefined, resolve: (target: RowLink) => Ref): Operation[] {
  const ops: Operation[] = [];
  const wantedParents = new Set<string>();
  for (const { parent, column } of row.memberOf ?? []) {
    const parentRef = resolve(parent);
    if (typeof parentRef === 'string') wantedParents.add(`${parent.table}\0${column}\0${parentRef}`);
    const holds = typeof parentRef === 'string' && typeof ref === 'string' && ((replica.rows(parent.table).get(parentRef) as Record<string, unknown> | undefined)?.[column] as string[] | undefined)?.includes(ref);
    if (!holds) ops.push(addToSet(parent.table, typeof parentRef === 'string' ? parentRef : [['_uuid', '==', parentRef]], column, ref));
  }
  if (!current) return ops;
  // Memberships in PhotonCloud's rows are all declared: any other is stale (a group the port left).
  for (const { table, column } of REFERRERS[row.table] ?? []) {
    for (const parent of replica.rows(table).values()) {
      const members = (parent as Record<string, unknown>)[column] as string[] | undefined;
      if (members?.includes(current._uuid) && !wantedParents.has(`${table}\0${column}\0${parent._uuid}`) && isOurs(parent)) ops.push(removeFromSet(table, parent._uuid, column, current._uuid));
    }
  }
  return ops;
}
