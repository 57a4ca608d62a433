// metadata.managedFields: decoding the stored entries into field sets, encoding them back, and the order
// Kubernetes keeps them in.
import type { ManagedFieldsEntry } from '../../apis/meta/types.ts';
import { FieldSet, compareCodePoints } from './fieldpath.ts';

export type Operation = 'Apply' | 'Update';

/** Update entries kept per object; older ones are merged into one (Kubernetes' limit and name). */
export const MAX_UPDATE_MANAGERS = 10;
export const ANCIENT_CHANGES_MANAGER = 'ancient-changes';
/** A request's managedFields longer than this are not read (the stored ones stay), like unreadable ones. */
export const MAX_MANAGED_FIELDS_ENTRIES = 256;

/** One manager's ownership: an entry is identified by (manager, operation, subresource). */
export interface ManagerFields {
  manager: string;
  operation: Operation;
  subresource?: string;
  apiVersion: string;
  time?: string;
  set: FieldSet;
}

export function sameIdentity(a: Pick<ManagerFields, 'manager' | 'operation' | 'subresource'>, b: Pick<ManagerFields, 'manager' | 'operation' | 'subresource'>): boolean {
  return a.manager === b.manager && a.operation === b.operation && (a.subresource ?? '') === (b.subresource ?? '');
}

/**
 * The stored entries as field sets, or undefined when they cannot be read (Kubernetes then treats the object
 * as having none). Two entries with the same identity (e.g. an Update under two apiVersions) are united.
 */
export function decodeManagedFields(entries: unknown): ManagerFields[] | undefined {
  if (entries === undefined || entries === null) return [];
  if (!Array.isArray(entries) || entries.length > MAX_MANAGED_FIELDS_ENTRIES) return undefined;
  const out: ManagerFields[] = [];
  const byIdentity = new Map<string, ManagerFields>();
  try {
    for (const raw of entries as ManagedFieldsEntry[]) {
      if (typeof raw !== 'object' || raw === null) return undefined;
      if (raw.operation !== 'Apply' && raw.operation !== 'Update') return undefined;
      if (raw.fieldsType !== 'FieldsV1') return undefined;
      const decoded: ManagerFields = {
        manager: typeof raw.manager === 'string' ? raw.manager : '',
        operation: raw.operation,
        apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : '',
        set: raw.fieldsV1 === undefined ? new FieldSet() : FieldSet.fromFieldsV1(raw.fieldsV1),
      };
      if (typeof raw.time === 'string') decoded.time = raw.time;
      if (typeof raw.subresource === 'string' && raw.subresource !== '') decoded.subresource = raw.subresource;
      const identity = JSON.stringify([decoded.manager, decoded.operation, decoded.subresource ?? '']);
      const existing = byIdentity.get(identity);
      if (!existing) {
        byIdentity.set(identity, decoded);
        out.push(decoded);
        continue;
      }
      existing.set = existing.set.union(decoded.set);
      if (seconds(decoded.time) >= seconds(existing.time)) {
        existing.apiVersion = decoded.apiVersion;
        if (decoded.time !== undefined) existing.time = decoded.time;
      }
    }
  } catch {
    return undefined;
  }
  return out;
}

/** `[]` or `[{}]` in a request: the client asks for managedFields to be cleared. */
export function isResetManagedFields(entries: unknown): boolean {
  if (!Array.isArray(entries)) return false;
  if (entries.length === 0) return true;
  return entries.length === 1 && typeof entries[0] === 'object' && entries[0] !== null && !Array.isArray(entries[0]) && Object.keys(entries[0]).length === 0;
}

/**
 * The entries to store: empty sets dropped, sorted as Kubernetes sorts them (Apply before Update, then by
 * time in seconds, manager, apiVersion, subresource). The sort is stable, so ties keep their order.
 */
export function encodeManagedFields(entries: readonly ManagerFields[]): ManagedFieldsEntry[] {
  const kept = capUpdateManagers(entries.filter((entry) => !entry.set.isEmpty()));
  return kept.sort(compareEntries).map((entry) => {
    const encoded: ManagedFieldsEntry = { manager: entry.manager, operation: entry.operation, apiVersion: entry.apiVersion };
    if (entry.time !== undefined) encoded.time = entry.time;
    encoded.fieldsType = 'FieldsV1';
    encoded.fieldsV1 = entry.set.toFieldsV1();
    if (entry.subresource) encoded.subresource = entry.subresource;
    return encoded;
  });
}

/**
 * At most MAX_UPDATE_MANAGERS Update entries: when there are more (every distinct user agent or
 * fieldManager that writes adds one), the oldest are merged into one `ancient-changes` entry, as
 * Kubernetes does, so the list cannot grow with the number of writers.
 */
function capUpdateManagers(entries: ManagerFields[]): ManagerFields[] {
  const updates = entries.filter((entry) => entry.operation === 'Update');
  if (updates.length <= MAX_UPDATE_MANAGERS) return entries;
  const newestFirst = [...updates].sort((p, q) => seconds(q.time) - seconds(p.time));
  const merged = new Set(newestFirst.slice(MAX_UPDATE_MANAGERS - 1));
  const ancient = newestFirst.find((entry) => entry.manager === ANCIENT_CHANGES_MANAGER && !entry.subresource);
  if (ancient) merged.add(ancient);
  let set = new FieldSet();
  let newest: ManagerFields | undefined;
  for (const entry of merged) {
    set = set.union(entry.set);
    if (!newest || seconds(entry.time) > seconds(newest.time)) newest = entry;
  }
  const combined: ManagerFields = { manager: ANCIENT_CHANGES_MANAGER, operation: 'Update', apiVersion: newest!.apiVersion, set };
  if (newest!.time !== undefined) combined.time = newest!.time;
  return [...entries.filter((entry) => !merged.has(entry)), combined];
}

function compareEntries(p: ManagerFields, q: ManagerFields): number {
  if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
  const ps = seconds(p.time);
  const qs = seconds(q.time);
  if (ps !== qs) return ps < qs ? -1 : 1;
  return compareCodePoints(p.manager, q.manager) || compareCodePoints(p.apiVersion, q.apiVersion) || compareCodePoints(p.subresource ?? '', q.subresource ?? '');
}

function seconds(time: string | undefined): number {
  if (time === undefined) return 0;
  const millis = Date.parse(time);
  return Number.isNaN(millis) ? 0 : Math.floor(millis / 1000);
}
