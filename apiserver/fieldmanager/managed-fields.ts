// metadata.managedFields: decoding the stored entries into field sets, encoding them back, and the order
// Kubernetes keeps them in.
import type { ManagedFieldsEntry } from '../../apis/meta/types.ts';
import { FieldSet, compareCodePoints } from './fieldpath.ts';

export type Operation = 'Apply' | 'Update';

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
  if (!Array.isArray(entries)) return undefined;
  const out: ManagerFields[] = [];
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
      const existing = out.find((entry) => sameIdentity(entry, decoded));
      if (!existing) {
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
  const kept = entries.filter((entry) => !entry.set.isEmpty());
  return kept.sort(compareEntries).map((entry) => {
    const encoded: ManagedFieldsEntry = { manager: entry.manager, operation: entry.operation, apiVersion: entry.apiVersion };
    if (entry.time !== undefined) encoded.time = entry.time;
    encoded.fieldsType = 'FieldsV1';
    encoded.fieldsV1 = entry.set.toFieldsV1();
    if (entry.subresource) encoded.subresource = entry.subresource;
    return encoded;
  });
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
