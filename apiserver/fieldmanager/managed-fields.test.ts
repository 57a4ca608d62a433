import { describe, expect, it } from '@jest/globals';
import { FieldSet } from './fieldpath.ts';
import { ANCIENT_CHANGES_MANAGER, decodeManagedFields, encodeManagedFields, MAX_MANAGED_FIELDS_ENTRIES, MAX_UPDATE_MANAGERS, type ManagerFields } from './managed-fields.ts';

const update = (manager: string, second: number, field: string): ManagerFields => ({
  manager,
  operation: 'Update',
  apiVersion: 'v1',
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  set: FieldSet.fromFieldsV1({ [`f:${field}`]: {} }),
});

describe('managedFields bounds', () => {
  it(`keeps at most ${MAX_UPDATE_MANAGERS} Update entries, merging the oldest into ${ANCIENT_CHANGES_MANAGER}`, () => {
    const entries = Array.from({ length: 30 }, (_, index) => update(`writer-${index}`, index, `field${index}`));
    const apply: ManagerFields = { manager: 'applier', operation: 'Apply', apiVersion: 'v1', set: FieldSet.fromFieldsV1({ 'f:applied': {} }) };
    const encoded = encodeManagedFields([...entries, apply]);
    const updates = encoded.filter((entry) => entry.operation === 'Update');
    expect(updates).toHaveLength(MAX_UPDATE_MANAGERS);
    expect(encoded.filter((entry) => entry.operation === 'Apply')).toHaveLength(1);
    const ancient = updates.find((entry) => entry.manager === ANCIENT_CHANGES_MANAGER)!;
    // The 21 oldest writers' fields are still owned, by the merged entry.
    expect(Object.keys(ancient.fieldsV1 as object).sort()).toEqual(Array.from({ length: 21 }, (_, index) => `f:field${index}`).sort());
    expect(updates.map((entry) => entry.manager)).toContain('writer-29');
    // Capping again is stable: the merged entry absorbs the next overflow instead of adding one.
    const again = encodeManagedFields([...decodeManagedFields(encoded)!, update('writer-30', 30, 'field30')]);
    expect(again.filter((entry) => entry.operation === 'Update')).toHaveLength(MAX_UPDATE_MANAGERS);
    expect(again.filter((entry) => entry.manager === ANCIENT_CHANGES_MANAGER)).toHaveLength(1);
  });

  it('does not read an over-long managedFields list from a request, and reads long ones in linear time', () => {
    const entry = { manager: 'm', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:a': {} } };
    expect(decodeManagedFields(Array.from({ length: MAX_MANAGED_FIELDS_ENTRIES + 1 }, (_, index) => ({ ...entry, manager: `m${index}` })))).toBeUndefined();
    const started = performance.now();
    expect(decodeManagedFields(Array.from({ length: MAX_MANAGED_FIELDS_ENTRIES }, (_, index) => ({ ...entry, manager: `m${index}` })))).toHaveLength(MAX_MANAGED_FIELDS_ENTRIES);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
