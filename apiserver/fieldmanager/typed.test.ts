import { describe, expect, it } from '@jest/globals';
import type { JSONSchemaProps } from '../schema/structural-schema.ts';
import { FieldSet, fieldElement as f } from './fieldpath.ts';
import { compare, dropNonNullableNulls, ensureNamedFieldsAreMembers, merge, removeItems, toFieldSet } from './typed.ts';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        size: { type: 'integer' },
        dns: { type: 'array', items: { type: 'string' } },
        tags: { type: 'array', 'x-kubernetes-list-type': 'atomic', items: { type: 'string' } },
        cidrBlocks: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        disks: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: { type: 'string' }, size: { type: 'integer' }, bus: { type: 'string', default: 'virtio' } } },
        },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['port', 'protocol'],
          items: { type: 'object', properties: { port: { type: 'integer' }, protocol: { type: 'string', default: 'TCP' }, name: { type: 'string' } } },
        },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        selector: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
        network: { type: 'object', 'x-kubernetes-map-type': 'atomic', properties: { vpc: { type: 'string' }, subnet: { type: 'string' } } },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        note: { type: 'string', nullable: true },
      },
    },
  },
};

const fieldsV1 = (value: unknown) => JSON.stringify(toFieldSet(value, schema).toFieldsV1());

describe('toFieldSet', () => {
  it('struct fields are not members themselves; leaves are', () => {
    expect(fieldsV1({ spec: { size: 1 } })).toBe('{"f:spec":{"f:size":{}}}');
  });

  it('atomic lists (declared atomic or without a list type) are one leaf', () => {
    expect(fieldsV1({ spec: { dns: ['1.1.1.1'], tags: ['a', 'b'] } })).toBe('{"f:spec":{"f:dns":{},"f:tags":{}}}');
  });

  it('list-type=set items are v: members; list-type=map items are k: members with their fields', () => {
    expect(fieldsV1({ spec: { cidrBlocks: ['10.0.0.0/16', '10.1.0.0/16'] } })).toBe('{"f:spec":{"f:cidrBlocks":{"v:\\"10.0.0.0/16\\"":{},"v:\\"10.1.0.0/16\\"":{}}}}');
    expect(fieldsV1({ spec: { disks: [{ name: 'root', size: 10 }, { name: 'data' }] } })).toBe(
      '{"f:spec":{"f:disks":{"k:{\\"name\\":\\"data\\"}":{".":{},"f:name":{}},"k:{\\"name\\":\\"root\\"}":{".":{},"f:name":{},"f:size":{}}}}}',
    );
  });

  it('uses key defaults for items that omit a key field, and sorts multi-field keys', () => {
    expect(fieldsV1({ spec: { ports: [{ port: 80, name: 'http' }] } })).toBe('{"f:spec":{"f:ports":{"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:name":{},"f:port":{}}}}}');
  });

  it('granular maps own each key; atomic maps and atomic structs are one leaf', () => {
    expect(fieldsV1({ spec: { labels: { a: '1', b: '2' }, selector: { a: '1' }, network: { vpc: 'v' } } })).toBe(
      '{"f:spec":{"f:labels":{"f:a":{},"f:b":{}},"f:network":{},"f:selector":{}}}',
    );
  });

  it('undeclared objects are granular maps whose keys are members; undeclared lists are atomic', () => {
    expect(fieldsV1({ spec: { extra: { a: { b: 1 }, l: [1, 2] } } })).toBe('{"f:spec":{"f:extra":{"f:a":{".":{},"f:b":{}},"f:l":{}}}}');
  });

  it('empty maps and lists own nothing; null is a leaf', () => {
    expect(fieldsV1({ spec: { labels: {}, disks: [] } })).toBe('{}');
    expect(fieldsV1({ spec: { note: null } })).toBe('{"f:spec":{"f:note":{}}}');
  });

  it('a value of the wrong shape is a leaf', () => {
    expect(fieldsV1({ spec: { labels: 'oops', disks: { name: 'x' } } })).toBe('{"f:spec":{"f:disks":{},"f:labels":{}}}');
  });
});

describe('compare', () => {
  it('reports leaves, and maps, granular lists and items that appear or disappear as a whole', () => {
    const result = compare({}, { spec: { size: 1, cidrBlocks: ['a'], labels: { x: 'y' } } }, schema);
    expect(JSON.stringify(result.added.toFieldsV1())).toBe('{"f:spec":{".":{},"f:cidrBlocks":{".":{},"v:\\"a\\"":{}},"f:labels":{".":{},"f:x":{}},"f:size":{}}}');
    expect(result.removed.isEmpty() && result.modified.isEmpty()).toBe(true);
  });

  it('finds modified leaves, removed items and untouched fields', () => {
    const live = { spec: { size: 1, dns: ['a'], disks: [{ name: 'a', size: 1 }, { name: 'b', size: 2 }] } };
    const next = { spec: { size: 2, dns: ['a'], disks: [{ name: 'a', size: 1 }] } };
    const result = compare(live, next, schema);
    expect(result.modified.paths()).toEqual([[f('spec'), f('size')]]);
    expect(result.removed.paths()).toEqual([
      [f('spec'), f('disks'), 'k:{"name":"b"}'],
      [f('spec'), f('disks'), 'k:{"name":"b"}', f('name')],
      [f('spec'), f('disks'), 'k:{"name":"b"}', f('size')],
    ]);
    expect(result.added.isEmpty()).toBe(true);
  });

  it('treats atomic lists and maps as single leaves', () => {
    const result = compare({ spec: { tags: ['a'], selector: { a: '1' } } }, { spec: { tags: ['b'], selector: { a: '2' } } }, schema);
    expect(result.modified.paths()).toEqual([[f('spec'), f('selector')], [f('spec'), f('tags')]]);
  });

  it('a container replaced by a scalar: the path is modified and what was below it removed', () => {
    const result = compare({ spec: { labels: { a: '1' } } }, { spec: { labels: 'x' } }, schema);
    expect(result.modified.paths()).toEqual([[f('spec'), f('labels')]]);
    expect(result.removed.paths()).toEqual([[f('spec'), f('labels'), f('a')]]);
  });
});

describe('merge', () => {
  it('merges maps by key, list-type=map items by key, sets by value; replaces atomic values', () => {
    const live = { spec: { size: 1, tags: ['a'], cidrBlocks: ['x'], labels: { a: '1' }, selector: { a: '1' }, disks: [{ name: 'a', size: 1, bus: 'scsi' }] } };
    const applied = { spec: { tags: ['b'], cidrBlocks: ['y'], labels: { b: '2' }, selector: { b: '2' }, disks: [{ name: 'a', size: 5 }, { name: 'c', size: 3 }] } };
    expect(merge(live, applied, schema)).toEqual({
      spec: { size: 1, tags: ['b'], cidrBlocks: ['x', 'y'], labels: { a: '1', b: '2' }, selector: { b: '2' }, disks: [{ name: 'a', size: 5, bus: 'scsi' }, { name: 'c', size: 3 }] },
    });
  });

  it('keeps the live order when the configuration does not reorder, and follows the configuration when it does', () => {
    const live = { spec: { cidrBlocks: ['a', 'b', 'c'] } };
    expect(merge(live, { spec: { cidrBlocks: ['a', 'c'] } }, schema)).toEqual({ spec: { cidrBlocks: ['a', 'b', 'c'] } });
    expect(merge(live, { spec: { cidrBlocks: ['c', 'a'] } }, schema)).toEqual({ spec: { cidrBlocks: ['c', 'a', 'b'] } });
    expect(merge(live, { spec: { cidrBlocks: ['d', 'b'] } }, schema)).toEqual({ spec: { cidrBlocks: ['a', 'd', 'b', 'c'] } });
  });

  it('does not modify or alias its inputs', () => {
    const live = { spec: { disks: [{ name: 'a', size: 1 }] } };
    const applied = { spec: { disks: [{ name: 'b', size: 2 }] } };
    const out = merge(live, applied, schema) as typeof live;
    out.spec.disks[0].size = 99;
    out.spec.disks[1].size = 99;
    expect(live.spec.disks[0].size).toBe(1);
    expect(applied.spec.disks[0].size).toBe(2);
  });
});

describe('removeItems and ensureNamedFieldsAreMembers', () => {
  it('removes members with their subtrees and keeps emptied containers', () => {
    const value = { spec: { size: 1, labels: { a: '1', b: '2' }, disks: [{ name: 'a', size: 1 }, { name: 'b', size: 2 }] } };
    const set = FieldSet.of([f('spec'), f('labels'), f('a')], [f('spec'), f('labels'), f('b')], [f('spec'), f('disks'), 'k:{"name":"a"}'], [f('spec'), f('disks'), 'k:{"name":"b"}', f('size')]);
    expect(removeItems(value, set, schema)).toEqual({ spec: { size: 1, labels: {}, disks: [{ name: 'b' }] } });
  });

  it('makes declared struct fields above owned paths members, but not map keys or list items', () => {
    const set = FieldSet.of([f('spec'), f('labels'), f('a')], [f('spec'), f('disks'), 'k:{"name":"a"}', f('size')]);
    const ensured = ensureNamedFieldsAreMembers(set, schema);
    expect(ensured.has([f('spec')])).toBe(true);
    expect(ensured.has([f('spec'), f('labels')])).toBe(true);
    expect(ensured.has([f('spec'), f('disks')])).toBe(true);
    expect(ensured.has([f('spec'), f('disks'), 'k:{"name":"a"}'])).toBe(false);
    expect(ensured.has([f('spec'), f('disks'), 'k:{"name":"a"}', f('size')])).toBe(true);
  });

  it('drops nulls only where the schema does not allow them', () => {
    expect(dropNonNullableNulls({ spec: { size: null, note: null, extra: { x: null } } }, schema)).toEqual({ spec: { note: null, extra: { x: null } } });
  });
});
