// Ownership labels on OVN rows. Every row PhotonCloud creates carries, in external_ids, the kind, namespace
// (namespaced kinds only), name and UID of the API object it realises. Controllers find their rows by UID
// (names can be reused after delete + create; UIDs cannot), and the garbage pass removes rows whose owner UID
// no longer exists.
import { type Condition, type OvsdbClient, type Row, type TableRows } from '../ovsdb/index.ts';

export const LABEL_KIND = 'photoncloud.io/kind';
export const LABEL_NAMESPACE = 'photoncloud.io/namespace';
export const LABEL_NAME = 'photoncloud.io/name';
export const LABEL_UID = 'photoncloud.io/uid';

export interface Owner {
  kind: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
  uid: string;
}

/** The external_ids entries that mark a row as owned by `owner`. */
export function ownerIds(owner: Owner): Record<string, string> {
  return {
    [LABEL_KIND]: owner.kind,
    ...(owner.namespace ? { [LABEL_NAMESPACE]: owner.namespace } : {}),
    [LABEL_NAME]: owner.name,
    [LABEL_UID]: owner.uid,
  };
}

/** The owner recorded on a row, or undefined when the row is not PhotonCloud's (no kind/name/uid). */
export function ownerOf(row: Row | { external_ids?: Record<string, unknown> }): Owner | undefined {
  const ids = (row as { external_ids?: Record<string, unknown> }).external_ids;
  if (!ids) return undefined;
  const kind = ids[LABEL_KIND];
  const name = ids[LABEL_NAME];
  const uid = ids[LABEL_UID];
  if (typeof kind !== 'string' || typeof name !== 'string' || typeof uid !== 'string') return undefined;
  const namespace = ids[LABEL_NAMESPACE];
  return { kind, ...(typeof namespace === 'string' ? { namespace } : {}), name, uid };
}

/** Replicated rows of `table` owned by the object with this UID. */
export function rowsOwnedBy<T extends TableRows, K extends keyof T & string>(client: OvsdbClient<T>, table: K, uid: string): T[K][] {
  return client.find(table, (row) => (row as { external_ids?: Record<string, unknown> }).external_ids?.[LABEL_UID] === uid);
}

/**
 * Garbage: replicated rows of `table` that PhotonCloud created (optionally only for `kind`) whose owner UID
 * is not in `liveUids`. Rows without our labels are never garbage (other tools share the database).
 */
export function orphanedRows<T extends TableRows, K extends keyof T & string>(
  client: OvsdbClient<T>,
  table: K,
  liveUids: ReadonlySet<string>,
  kind?: string,
): T[K][] {
  return client.find(table, (row) => {
    const owner = ownerOf(row);
    return owner !== undefined && (kind === undefined || owner.kind === kind) && !liveUids.has(owner.uid);
  });
}

/** An OVSDB condition matching rows owned by `uid` (for update/delete/wait without reading the replica). */
export function ownedByCondition(uid: string): Condition {
  return ['external_ids', 'includes', { [LABEL_UID]: uid }];
}
