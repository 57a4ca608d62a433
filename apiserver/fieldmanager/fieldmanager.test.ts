import { describe, expect, it } from '@jest/globals';
import type { KubeObject, ManagedFieldsEntry } from '../../apis/meta/types.ts';
import type { JSONSchemaProps } from '../schema/structural-schema.ts';
import { ApplyConflictError, apply, applyConflictStatus, conflictStatusMessage, recordUpdate, type FieldManagerContext } from './index.ts';

const API_VERSION = 'network.photoncloud.io/v1alpha1';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      properties: {
        cidrBlocks: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        dns: { type: 'array', items: { type: 'string' } },
        size: { type: 'integer' },
        description: { type: 'string' },
        disks: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: { type: 'string' }, size: { type: 'integer' }, bus: { type: 'string' } } },
        },
        selector: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
      },
    },
    status: {
      type: 'object',
      properties: {
        phase: { type: 'string' },
        conditions: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
          items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' } } },
        },
      },
    },
  },
};

const T0 = '2024-01-01T00:00:00Z';
const T1 = '2024-01-01T00:01:00Z';
const T2 = '2024-01-01T00:02:00Z';
const T3 = '2024-01-01T00:03:00Z';

function ctx(now: string, extra: Partial<FieldManagerContext> = {}): FieldManagerContext {
  return { schema, apiVersion: API_VERSION, now, ignoreStatus: true, ...extra };
}

function vpc(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: API_VERSION, kind: 'Vpc', metadata: { name: 'v', namespace: 'ns', ...metadata }, spec };
}

/** What the storage layer adds on create. */
function stored(object: KubeObject): KubeObject {
  return { ...object, metadata: { ...object.metadata, uid: 'u-1', resourceVersion: '1', generation: 1, creationTimestamp: T0 } };
}

function entry(object: KubeObject, manager: string, operation: 'Apply' | 'Update' = 'Apply'): ManagedFieldsEntry | undefined {
  return object.metadata.managedFields?.find((item) => item.manager === manager && item.operation === operation);
}

function fields(object: KubeObject, manager: string, operation: 'Apply' | 'Update' = 'Apply'): string {
  return JSON.stringify(entry(object, manager, operation)?.fieldsV1);
}

function conflictOf(run: () => unknown): ApplyConflictError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApplyConflictError) return error;
    throw error;
  }
  throw new Error('expected an ApplyConflictError');
}

describe('apply: create', () => {
  it('creates the object and records only the Apply entry, in FieldsV1 form', () => {
    const config = vpc({ cidrBlocks: ['10.0.0.0/16'], disks: [{ name: 'root', size: 10 }] }, { labels: { app: 'web' } });
    const created = apply(undefined, config, 'alice', { force: false }, ctx(T0));
    expect(created).toEqual({
      apiVersion: API_VERSION,
      kind: 'Vpc',
      metadata: {
        name: 'v',
        namespace: 'ns',
        labels: { app: 'web' },
        managedFields: [{
          manager: 'alice',
          operation: 'Apply',
          apiVersion: API_VERSION,
          time: T0,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:labels': { 'f:app': {} } },
            'f:spec': { 'f:cidrBlocks': { 'v:"10.0.0.0/16"': {} }, 'f:disks': { 'k:{"name":"root"}': { '.': {}, 'f:name': {}, 'f:size': {} } } },
          },
        }],
      },
      spec: { cidrBlocks: ['10.0.0.0/16'], disks: [{ name: 'root', size: 10 }] },
    });
    expect(Object.keys(created.metadata.managedFields![0])).toEqual(['manager', 'operation', 'apiVersion', 'time', 'fieldsType', 'fieldsV1']);
  });

  it('ignores status on a main-resource apply of a kind with a status subresource', () => {
    const created = apply(undefined, { ...vpc({ size: 1 }), status: { phase: 'Ready' } }, 'alice', { force: false }, ctx(T0));
    expect(created.status).toBeUndefined();
    expect(fields(created, 'alice')).toBe('{"f:spec":{"f:size":{}}}');
  });

  it('does not modify the configuration', () => {
    const config = vpc({ disks: [{ name: 'a', size: 1 }] });
    const before = structuredClone(config);
    const created = apply(undefined, config, 'alice', { force: false }, ctx(T0));
    (created.spec as { disks: Array<{ size: number }> }).disks[0].size = 5;
    expect(config).toEqual(before);
  });
});

describe('apply: one manager', () => {
  it('re-applying without a field removes it from the object and from the set', () => {
    const live = stored(apply(undefined, vpc({ size: 1, description: 'x', dns: ['1.1.1.1'] }, { labels: { a: '1', b: '2' } }), 'alice', { force: false }, ctx(T0)));
    const next = apply(live, vpc({ size: 1 }, { labels: { a: '1' } }), 'alice', { force: false }, ctx(T1));
    expect(next.spec).toEqual({ size: 1 });
    expect(next.metadata.labels).toEqual({ a: '1' });
    expect(fields(next, 'alice')).toBe('{"f:metadata":{"f:labels":{"f:a":{}}},"f:spec":{"f:size":{}}}');
    expect(entry(next, 'alice')!.time).toBe(T1);
    // Server metadata comes from the live object.
    expect(next.metadata).toMatchObject({ uid: 'u-1', resourceVersion: '1', generation: 1, creationTimestamp: T0 });
  });

  it('an identical re-apply changes nothing, not even the entry time', () => {
    const live = stored(apply(undefined, vpc({ size: 1 }), 'alice', { force: false }, ctx(T0)));
    const again = apply(live, vpc({ size: 1 }), 'alice', { force: false }, ctx(T1));
    expect(again).toEqual(live);
  });

  it('dropping everything under spec removes spec itself once nobody owns anything in it', () => {
    const live = stored(apply(undefined, vpc({ size: 1, disks: [{ name: 'a', size: 1 }] }), 'alice', { force: false }, ctx(T0)));
    // `spec: {}` owns nothing (as in Kubernetes), so the released struct goes as a whole.
    const next = apply(live, vpc({}), 'alice', { force: false }, ctx(T1));
    expect(next.spec).toBeUndefined();
    expect(next.metadata.managedFields).toBeUndefined();
  });

  it('a field set to null is removed, and its owner keeps claiming it', () => {
    const live = stored(apply(undefined, vpc({ size: 1, description: 'x' }), 'alice', { force: false }, ctx(T0)));
    const next = apply(live, vpc({ size: 1, description: null }), 'alice', { force: false }, ctx(T1));
    expect(next.spec).toEqual({ size: 1 });
    expect(fields(next, 'alice')).toBe('{"f:spec":{"f:description":{},"f:size":{}}}');
  });

  it('keeps a resourceVersion from the configuration as the caller\'s precondition', () => {
    const live = stored(apply(undefined, vpc({ size: 1 }), 'alice', { force: false }, ctx(T0)));
    const next = apply(live, vpc({ size: 2 }, { resourceVersion: '0' }), 'alice', { force: false }, ctx(T1));
    expect(next.metadata.resourceVersion).toBe('0');
  });
});

describe('apply: several managers', () => {
  it('two appliers setting the same value share the field; one letting go leaves it in place', () => {
    const live = stored(apply(undefined, vpc({ size: 1, description: 'a' }), 'alice', { force: false }, ctx(T0)));
    const shared = apply(live, vpc({ size: 1 }), 'bob', { force: false }, ctx(T1));
    expect(fields(shared, 'alice')).toBe('{"f:spec":{"f:description":{},"f:size":{}}}');
    expect(fields(shared, 'bob')).toBe('{"f:spec":{"f:size":{}}}');
    expect(shared.spec).toEqual(live.spec);

    const released = apply(shared, vpc({ description: 'a' }), 'alice', { force: false }, ctx(T2));
    expect(released.spec).toEqual({ size: 1, description: 'a' });
    expect(fields(released, 'alice')).toBe('{"f:spec":{"f:description":{}}}');
    expect(fields(released, 'bob')).toBe('{"f:spec":{"f:size":{}}}');
  });

  it('two appliers wanting different values conflict, with the exact paths and Kubernetes wording', () => {
    const live = stored(apply(undefined, vpc({ size: 1, dns: ['a'], disks: [{ name: 'root', size: 10 }] }), 'alice', { force: false }, ctx(T0)));
    const error = conflictOf(() => apply(live, vpc({ size: 2, dns: ['a'], disks: [{ name: 'root', size: 20 }] }), 'bob', { force: false }, ctx(T1)));
    expect(error.conflicts).toEqual([
      { manager: 'alice', field: '.spec.size', operation: 'Apply', apiVersion: API_VERSION },
      { manager: 'alice', field: '.spec.disks[name="root"].size', operation: 'Apply', apiVersion: API_VERSION },
    ]);
    expect(error.message).toBe('Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.size\n- .spec.disks[name="root"].size');
  });

  it('force moves the conflicting fields; the losing entry shrinks, and disappears when empty', () => {
    const live = stored(apply(undefined, vpc({ size: 1, description: 'a' }), 'alice', { force: false }, ctx(T0)));
    const forced = apply(live, vpc({ size: 2 }), 'bob', { force: true }, ctx(T1));
    expect(forced.spec).toEqual({ size: 2, description: 'a' });
    expect(fields(forced, 'alice')).toBe('{"f:spec":{"f:description":{}}}');
    expect(entry(forced, 'alice')!.time).toBe(T0);
    expect(fields(forced, 'bob')).toBe('{"f:spec":{"f:size":{}}}');

    const all = apply(forced, vpc({ size: 3, description: 'b' }), 'bob', { force: true }, ctx(T2));
    expect(entry(all, 'alice')).toBeUndefined();
    expect(all.metadata.managedFields!.map((item) => item.manager)).toEqual(['bob']);
    // Alice now re-applying her old configuration conflicts with bob.
    const error = conflictOf(() => apply(all, vpc({ description: 'a' }), 'alice', { force: false }, ctx(T3)));
    expect(error.conflicts.map((conflict) => conflict.field)).toEqual(['.spec.description']);
  });

  it('an Update manager\'s fields conflict with an applier that wants another value', () => {
    const created = vpc({ cidrBlocks: ['10.0.0.0/16'], size: 1 });
    const live = stored({ ...created, metadata: { ...created.metadata, managedFields: recordUpdate(undefined, created, 'kubectl-client-side-apply', ctx(T0)) } });
    expect(fields(live, 'kubectl-client-side-apply', 'Update')).toBe('{"f:spec":{".":{},"f:cidrBlocks":{".":{},"v:\\"10.0.0.0/16\\"":{}},"f:size":{}}}');

    // Same value: shared, no conflict.
    const same = apply(live, vpc({ size: 1 }), 'kubectl', { force: false }, ctx(T1));
    expect(fields(same, 'kubectl')).toBe('{"f:spec":{"f:size":{}}}');
    expect(fields(same, 'kubectl-client-side-apply', 'Update')).toBe(fields(live, 'kubectl-client-side-apply', 'Update'));

    const error = conflictOf(() => apply(live, vpc({ size: 2 }), 'kubectl', { force: false }, ctx(T1)));
    expect(error.message).toBe(`Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using ${API_VERSION}: .spec.size`);
    expect(error.toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using ${API_VERSION}: .spec.size`,
      reason: 'Conflict',
      details: { causes: [{ reason: 'FieldManagerConflict', message: `conflict with "kubectl-client-side-apply" using ${API_VERSION}`, field: '.spec.size' }] },
      code: 409,
    });

    // Adding to a set owned item by item is no conflict: the items are different fields.
    const added = apply(live, vpc({ cidrBlocks: ['10.1.0.0/16'] }), 'kubectl', { force: false }, ctx(T1));
    expect(added.spec).toEqual({ cidrBlocks: ['10.0.0.0/16', '10.1.0.0/16'], size: 1 });
  });

  it('a controller owning status through Update never conflicts with a spec applier; force against an Update manager shrinks it', () => {
    const created = vpc({ size: 1, description: 'x' });
    let live = stored({ ...created, metadata: { ...created.metadata, managedFields: recordUpdate(undefined, created, 'kubectl-create', ctx(T0)) } });
    const withStatus = { ...live, status: { phase: 'Ready' } };
    live = { ...withStatus, metadata: { ...live.metadata, managedFields: recordUpdate(live, withStatus, 'vpc-controller', ctx(T1, { subresource: 'status', ignoreStatus: false })) } };
    const before = structuredClone(live);

    const applied = apply(live, vpc({ size: 2 }), 'kubectl', { force: true }, ctx(T2));
    expect(live).toEqual(before);
    expect(applied.status).toEqual({ phase: 'Ready' });
    expect(applied.spec).toEqual({ size: 2, description: 'x' });
    expect(applied.metadata.managedFields!.map((item) => [item.manager, item.operation, item.subresource, JSON.stringify(item.fieldsV1)])).toEqual([
      ['kubectl', 'Apply', undefined, '{"f:spec":{"f:size":{}}}'],
      ['kubectl-create', 'Update', undefined, '{"f:spec":{".":{},"f:description":{}}}'],
      ['vpc-controller', 'Update', 'status', '{"f:status":{".":{},"f:phase":{}}}'],
    ]);
  });

  it('a released field still owned by another manager stays, with only the ownership dropped', () => {
    const live = stored(apply(undefined, vpc({ size: 1, description: 'x' }), 'alice', { force: false }, ctx(T0)));
    const withController = { ...live, spec: { ...(live.spec as object), description: 'x' } };
    const updated = { ...withController, metadata: { ...live.metadata, managedFields: recordUpdate(live, withController, 'controller', ctx(T1)) } };
    // The controller's write changed nothing, so it owns nothing and has no entry.
    expect(entry(updated, 'controller', 'Update')).toBeUndefined();

    const bob = apply(updated, vpc({ description: 'x' }), 'bob', { force: false }, ctx(T1));
    const released = apply(bob, vpc({ size: 1 }), 'alice', { force: false }, ctx(T2));
    expect(released.spec).toEqual({ size: 1, description: 'x' });
    expect(fields(released, 'alice')).toBe('{"f:spec":{"f:size":{}}}');
    expect(fields(released, 'bob')).toBe('{"f:spec":{"f:description":{}}}');
  });

  it('list-type=map items are owned per key: one manager removing its item leaves the other\'s', () => {
    const live = stored(apply(undefined, vpc({ disks: [{ name: 'root', size: 10 }] }), 'alice', { force: false }, ctx(T0)));
    const both = apply(live, vpc({ disks: [{ name: 'data', size: 100 }] }), 'bob', { force: false }, ctx(T1));
    expect(both.spec).toEqual({ disks: [{ name: 'root', size: 10 }, { name: 'data', size: 100 }] });
    expect(fields(both, 'alice')).toBe('{"f:spec":{"f:disks":{"k:{\\"name\\":\\"root\\"}":{".":{},"f:name":{},"f:size":{}}}}}');
    expect(fields(both, 'bob')).toBe('{"f:spec":{"f:disks":{"k:{\\"name\\":\\"data\\"}":{".":{},"f:name":{},"f:size":{}}}}}');

    const bobLeaves = apply(both, vpc({}), 'bob', { force: false }, ctx(T2));
    expect(bobLeaves.spec).toEqual({ disks: [{ name: 'root', size: 10 }] });
    expect(entry(bobLeaves, 'bob')).toBeUndefined();

    // A field added inside another manager's item is owned separately, and goes with its owner's item.
    const bus = apply(both, vpc({ disks: [{ name: 'root', bus: 'scsi' }] }), 'carol', { force: false }, ctx(T2));
    expect(fields(bus, 'carol')).toBe('{"f:spec":{"f:disks":{"k:{\\"name\\":\\"root\\"}":{".":{},"f:bus":{},"f:name":{}}}}}');
    const aliceLeaves = apply(bus, vpc({}), 'alice', { force: false }, ctx(T3));
    expect(aliceLeaves.spec).toEqual({ disks: [{ name: 'root', bus: 'scsi' }, { name: 'data', size: 100 }] });
  });

  it('labels and annotations are granular maps', () => {
    const live = stored(apply(undefined, vpc({}, { labels: { app: 'web' }, annotations: { a: '1' } }), 'alice', { force: false }, ctx(T0)));
    const bob = apply(live, vpc({}, { labels: { tier: 'db' } }), 'bob', { force: false }, ctx(T1));
    expect(bob.metadata.labels).toEqual({ app: 'web', tier: 'db' });
    const error = conflictOf(() => apply(bob, vpc({}, { labels: { app: 'api' } }), 'bob', { force: false }, ctx(T2)));
    expect(error.conflicts.map((conflict) => conflict.field)).toEqual(['.metadata.labels.app']);
    const dropped = apply(bob, vpc({}, { annotations: { a: '1' } }), 'alice', { force: false }, ctx(T2));
    expect(dropped.metadata.labels).toEqual({ tier: 'db' });
  });

  it('atomic lists and maps are owned and replaced whole', () => {
    const live = stored(apply(undefined, vpc({ dns: ['a', 'b'], selector: { a: '1' } }), 'alice', { force: false }, ctx(T0)));
    expect(fields(live, 'alice')).toBe('{"f:spec":{"f:dns":{},"f:selector":{}}}');
    const error = conflictOf(() => apply(live, vpc({ dns: ['a'] }), 'bob', { force: false }, ctx(T1)));
    expect(error.conflicts.map((conflict) => conflict.field)).toEqual(['.spec.dns']);
    const forced = apply(live, vpc({ dns: ['c'], selector: { b: '2' } }), 'bob', { force: true }, ctx(T1));
    expect(forced.spec).toEqual({ dns: ['c'], selector: { b: '2' } });
    expect(entry(forced, 'alice')).toBeUndefined();
  });

  it('an object without managedFields: its fields belong to before-first-apply', () => {
    const live = stored(vpc({ size: 1, description: 'x' }));
    const error = conflictOf(() => apply(live, vpc({ size: 2 }), 'alice', { force: false }, ctx(T1)));
    expect(error.message).toBe(`Apply failed with 1 conflict: conflict with "before-first-apply" using ${API_VERSION}: .spec.size`);
    const same = apply(live, vpc({ size: 1 }), 'alice', { force: false }, ctx(T1));
    expect(same.metadata.managedFields!.map((item) => [item.manager, item.operation])).toEqual([['alice', 'Apply'], ['before-first-apply', 'Update']]);
  });
});

describe('recordUpdate', () => {
  it('a create owns every field it set, with the "." marker on maps, lists and items it created', () => {
    const object = { ...vpc({ cidrBlocks: ['10.0.0.0/16'], disks: [{ name: 'root', size: 10 }] }, { labels: { app: 'web' } }), status: { phase: 'x' } };
    expect(recordUpdate(undefined, object, 'kubectl-create', ctx(T0))).toEqual([{
      manager: 'kubectl-create',
      operation: 'Update',
      apiVersion: API_VERSION,
      time: T0,
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
        'f:spec': { '.': {}, 'f:cidrBlocks': { '.': {}, 'v:"10.0.0.0/16"': {} }, 'f:disks': { '.': {}, 'k:{"name":"root"}': { '.': {}, 'f:name': {}, 'f:size': {} } } },
      },
    }]);
  });

  it('an update takes the fields it changed from other managers, keeps the rest, and drops removed fields', () => {
    const live = stored(apply(undefined, vpc({ size: 1, description: 'a', dns: ['x'] }), 'alice', { force: false }, ctx(T0)));
    const next = { ...live, spec: { size: 2, description: 'a' } };
    const managedFields = recordUpdate(live, next, 'kubectl-edit', ctx(T1));
    expect(managedFields.map((item) => [item.manager, item.operation, item.time, JSON.stringify(item.fieldsV1)])).toEqual([
      ['alice', 'Apply', T0, '{"f:spec":{"f:description":{}}}'],
      ['kubectl-edit', 'Update', T1, '{"f:spec":{"f:size":{}}}'],
    ]);
  });

  it('an update that changes nothing leaves managedFields as they were', () => {
    const live = stored(apply(undefined, vpc({ size: 1 }), 'alice', { force: false }, ctx(T0)));
    expect(recordUpdate(live, structuredClone(live), 'kubectl-edit', ctx(T1))).toEqual(live.metadata.managedFields);
  });

  it('status writes record the subresource and own only status; main writes never touch status ownership', () => {
    const live = stored(apply(undefined, vpc({ size: 1 }), 'alice', { force: false }, ctx(T0)));
    const withStatus = { ...live, status: { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] }, spec: { size: 9 } };
    const statusFields = recordUpdate(live, withStatus, 'vpc-controller', ctx(T1, { subresource: 'status', ignoreStatus: false }));
    expect(statusFields.find((item) => item.manager === 'vpc-controller')).toEqual({
      manager: 'vpc-controller',
      operation: 'Update',
      apiVersion: API_VERSION,
      time: T1,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { '.': {}, 'f:conditions': { '.': {}, 'k:{"type":"Ready"}': { '.': {}, 'f:status': {}, 'f:type': {} } }, 'f:phase': {} } },
      subresource: 'status',
    });
    const afterStatus = { ...live, status: withStatus.status, metadata: { ...live.metadata, managedFields: statusFields } };

    // A main-resource update without status (the caller restores it) leaves the controller's ownership alone.
    const specOnly = { ...afterStatus, spec: { size: 2 } };
    delete (specOnly as Record<string, unknown>).status;
    const mainFields = recordUpdate(afterStatus, specOnly, 'kubectl-edit', ctx(T2));
    expect(mainFields.find((item) => item.manager === 'vpc-controller')!.fieldsV1).toEqual(statusFields.find((item) => item.manager === 'vpc-controller')!.fieldsV1);
    expect(mainFields.find((item) => item.manager === 'kubectl-edit')!.fieldsV1).toEqual({ 'f:spec': { 'f:size': {} } });
  });

  it('status applies are entries of their own and merge only status', () => {
    const live = stored(apply(undefined, vpc({ size: 1 }), 'alice', { force: false }, ctx(T0)));
    const statusCtx = ctx(T1, { subresource: 'status', ignoreStatus: false });
    const applied = apply(live, { ...vpc({ size: 5 }), status: { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] } }, 'ctrl', { force: false }, statusCtx);
    expect(applied.spec).toEqual({ size: 1 });
    expect(applied.status).toEqual({ phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] });
    expect(entry(applied, 'ctrl')).toMatchObject({ subresource: 'status', fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:status': {}, 'f:type': {} } }, 'f:phase': {} } } });

    // Dropping a condition from the status configuration removes it; the main applier is untouched.
    const next = apply(applied, { ...vpc({}), status: { phase: 'Ready' } }, 'ctrl', { force: false }, ctx(T2, { subresource: 'status', ignoreStatus: false }));
    expect(next.status).toEqual({ phase: 'Ready' });
    expect(next.spec).toEqual({ size: 1 });
    expect(fields(next, 'alice')).toBe('{"f:spec":{"f:size":{}}}');

    // A main-resource apply keeps the stored status whatever the configuration says.
    const main = apply(next, { ...vpc({ size: 1 }), status: { phase: 'Broken' } }, 'alice', { force: false }, ctx(T3));
    expect(main.status).toEqual({ phase: 'Ready' });
  });

  it('drops entries whose field set becomes empty', () => {
    const live = stored(apply(undefined, vpc({ size: 1 }), 'alice', { force: false }, ctx(T0)));
    const managedFields = recordUpdate(live, { ...live, spec: { size: 2 } }, 'kubectl-edit', ctx(T1));
    expect(managedFields.map((item) => item.manager)).toEqual(['kubectl-edit']);
  });

  it('honours managedFields the request sets, clears them on [] or [{}], and does not start tracking an untracked object', () => {
    const live = stored(apply(undefined, vpc({ size: 1 }), 'alice', { force: false }, ctx(T0)));
    const handedOver: ManagedFieldsEntry[] = [{ manager: 'bob', operation: 'Apply', apiVersion: API_VERSION, time: T0, fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:size': {} } } }];
    const transferred = recordUpdate(live, { ...live, metadata: { ...live.metadata, managedFields: handedOver } }, 'kubectl-edit', ctx(T1));
    expect(transferred).toEqual(handedOver);

    expect(recordUpdate(live, { ...live, metadata: { ...live.metadata, managedFields: [{}] } }, 'kubectl-edit', ctx(T1))).toEqual([]);
    expect(recordUpdate(live, { ...live, metadata: { ...live.metadata, managedFields: [] }, spec: { size: 3 } }, 'kubectl-edit', ctx(T1))).toEqual([]);

    const untracked = stored(vpc({ size: 1 }));
    expect(recordUpdate(untracked, { ...untracked, spec: { size: 2 } }, 'kubectl-edit', ctx(T1))).toEqual([]);
  });

  it('keeps entries sorted as Kubernetes does: Apply first, then by time, manager', () => {
    let live = stored(apply(undefined, vpc({ size: 1 }), 'zed', { force: false }, ctx(T2)));
    live = apply(live, vpc({ description: 'd' }), 'amy', { force: false }, ctx(T3));
    const next = { ...live, spec: { ...(live.spec as object), dns: ['x'] } };
    live = { ...next, metadata: { ...next.metadata, managedFields: recordUpdate(live, next, 'editor', ctx(T0)) } };
    expect(live.metadata.managedFields!.map((item) => item.manager)).toEqual(['zed', 'amy', 'editor']);
  });
});

describe('conflictStatusMessage', () => {
  it('groups several conflicts by manager, managers sorted, in Kubernetes\' wording', () => {
    const message = conflictStatusMessage([
      { manager: 'zeta', field: '.spec.a', operation: 'Apply' },
      { manager: 'alpha', field: '.spec.b' },
      { manager: 'zeta', field: '.spec.c', operation: 'Apply' },
      { manager: 'ctrl', field: '.status.phase', subresource: 'status', apiVersion: 'x/v1' },
    ], API_VERSION);
    expect(message).toBe([
      'Apply failed with 4 conflicts: conflicts with "alpha" using network.photoncloud.io/v1alpha1:',
      '- .spec.b',
      'conflicts with "ctrl" with subresource "status" using x/v1:',
      '- .status.phase',
      'conflicts with "zeta":',
      '- .spec.a',
      '- .spec.c',
    ].join('\n'));
  });

  it('builds the 409 Status with one FieldManagerConflict cause per field', () => {
    const status = applyConflictStatus([{ manager: 'kubectl-client-side-apply', field: '.spec.cidrBlocks' }], API_VERSION);
    expect(status.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using network.photoncloud.io/v1alpha1: .spec.cidrBlocks');
    expect(status.details!.causes).toEqual([{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using network.photoncloud.io/v1alpha1', field: '.spec.cidrBlocks' }]);
  });
});
