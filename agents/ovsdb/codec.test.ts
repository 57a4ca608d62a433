import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import {
  applyDatumDiff,
  decodeDatum,
  decodeRow,
  decodeValue,
  encodeDatum,
  encodeRow,
  encodeValue,
  namedUuid,
  normaliseType,
  parseSchema,
  raw,
  uuid,
  type ColumnType,
} from './codec.ts';
import { decodeResults, encodeOperations, op } from './operations.ts';

const U1 = '8d3c7b0e-6ad0-4c70-9d2c-2b7f0b1d5c0e';
const U2 = '0b7a0a52-1111-4c70-9d2c-2b7f0b1d5c0f';

const t = (type: unknown): ColumnType => normaliseType(type);
const uuidSet = t({ key: { type: 'uuid', refTable: 'Logical_Switch_Port' }, min: 0, max: 'unlimited' });
const stringSet = t({ key: 'string', min: 0, max: 'unlimited' });
const optionalString = t({ key: 'string', min: 0, max: 1 });
const optionalBool = t({ key: 'boolean', min: 0, max: 1 });
const stringMap = t({ key: 'string', value: 'string', min: 0, max: 'unlimited' });
const intMap = t({ key: 'integer', value: 'string', min: 0, max: 'unlimited' });

// A schema in the shape get_schema returns (the OVN NB schema shipped by the Debian package, when present).
const NB_SCHEMA_FILE = '/usr/share/ovn/ovn-nb.ovsschema';
const nbSchema = fs.existsSync(NB_SCHEMA_FILE)
  ? parseSchema(JSON.parse(fs.readFileSync(NB_SCHEMA_FILE, 'utf8')))
  : parseSchema({
      name: 'OVN_Northbound',
      version: '7.0.0',
      tables: {
        Logical_Switch: {
          columns: {
            name: { type: 'string' },
            ports: { type: { key: { type: 'uuid', refTable: 'Logical_Switch_Port', refType: 'strong' }, min: 0, max: 'unlimited' } },
            external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
          },
          isRoot: true,
        },
        Logical_Switch_Port: {
          columns: {
            name: { type: 'string' },
            addresses: { type: { key: 'string', min: 0, max: 'unlimited' } },
            up: { type: { key: 'boolean', min: 0, max: 1 } },
            tag: { type: { key: { type: 'integer', minInteger: 1, maxInteger: 4095 }, min: 0, max: 1 } },
            external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
          },
        },
      },
    });

describe('decoding', () => {
  it('decodes atoms, uuids, sets and maps without a schema', () => {
    expect(decodeValue('x')).toBe('x');
    expect(decodeValue(42)).toBe(42);
    expect(decodeValue(false)).toBe(false);
    expect(decodeValue(['uuid', U1])).toBe(U1);
    expect(decodeValue(['named-uuid', 'row1'])).toBe('row1');
    expect(decodeValue(['set', []])).toEqual([]);
    expect(decodeValue(['set', [['uuid', U1], ['uuid', U2]]])).toEqual([U1, U2]);
    expect(decodeValue(['map', [['a', '1'], ['b', ['uuid', U1]]]])).toEqual({ a: '1', b: U1 });
    expect(() => decodeValue({ not: 'ovsdb' })).toThrow(/not an OVSDB atom/);
  });

  it('decodes set columns to arrays, also when a single element is sent bare', () => {
    expect(decodeDatum(['set', []], uuidSet)).toEqual([]);
    expect(decodeDatum(['uuid', U1], uuidSet)).toEqual([U1]);
    expect(decodeDatum(['set', [['uuid', U1], ['uuid', U2]]], uuidSet)).toEqual([U1, U2]);
    expect(decodeDatum('10.0.0.1', stringSet)).toEqual(['10.0.0.1']);
  });

  it('decodes optional columns to the value or undefined', () => {
    expect(decodeDatum(['set', []], optionalString)).toBeUndefined();
    expect(decodeDatum('peer-port', optionalString)).toBe('peer-port');
    expect(decodeDatum(['set', ['peer-port']], optionalString)).toBe('peer-port');
    expect(decodeDatum(true, optionalBool)).toBe(true);
    expect(decodeDatum(false, optionalBool)).toBe(false);
  });

  it('decodes maps to records, integer keys as strings', () => {
    expect(decodeDatum(['map', []], stringMap)).toEqual({});
    expect(decodeDatum(['map', [['photoncloud.io/uid', 'u-1']]], stringMap)).toEqual({ 'photoncloud.io/uid': 'u-1' });
    expect(decodeDatum(['map', [[10, 'ten']]], intMap)).toEqual({ '10': 'ten' });
  });

  it('decodes a row with _uuid, leaving out empty optional columns', () => {
    const lsp = nbSchema.tables.Logical_Switch_Port!;
    const row = decodeRow(lsp, U1, {
      name: 'p1',
      addresses: '0a:00:00:00:00:01 10.0.0.1',
      up: ['set', []],
      tag: ['set', [7]],
      external_ids: ['map', [['k', 'v']]],
    });
    expect(row).toEqual({ _uuid: U1, name: 'p1', addresses: ['0a:00:00:00:00:01 10.0.0.1'], tag: 7, external_ids: { k: 'v' } });
    expect('up' in row).toBe(false);
  });
});

describe('update2 diffs of set columns', () => {
  const many = Array.from({ length: 20 }, (_, index) => `p${index}`);

  it('adds the elements a diff names that the set lacks and removes those it has, keeping the order', () => {
    expect(applyDatumDiff(['a', 'b', 'c'], ['set', ['d']], stringSet)).toEqual(['a', 'b', 'c', 'd']);
    expect(applyDatumDiff(['a', 'b', 'c'], 'b', stringSet)).toEqual(['a', 'c']);
    expect(applyDatumDiff(['a', 'b', 'c'], ['set', ['a', 'x', 'c']], stringSet)).toEqual(['b', 'x']);
    expect(applyDatumDiff(undefined, ['set', [['uuid', U1], ['uuid', U2]]], uuidSet)).toEqual([U1, U2]);
    expect(applyDatumDiff([U1, U2], ['uuid', U1], uuidSet)).toEqual([U2]);
  });

  it('gives the same answer for diffs too large to scan for (a membership set is built then)', () => {
    const diff = ['set', [...many.slice(0, 10), 'new-1', 'new-2']];
    expect(applyDatumDiff(many, diff, stringSet)).toEqual([...many.slice(10), 'new-1', 'new-2']);
  });

  it('returns a new array and leaves the old one (the previous row) as it was', () => {
    const old = [...many];
    for (const diff of [['set', []], 'p3', 'p99', ['set', many.slice(0, 12)]]) {
      const result = applyDatumDiff(old, diff, stringSet);
      expect(result).not.toBe(old);
      expect(old).toEqual(many);
    }
  });

  it('applies map diffs by key: new keys added, equal pairs removed, other values replaced', () => {
    expect(applyDatumDiff({ a: '1', b: '2' }, ['map', [['a', '1'], ['b', '3'], ['c', '4']]], stringMap)).toEqual({ b: '3', c: '4' });
  });
});

describe('encoding', () => {
  it('encodes by column type', () => {
    expect(encodeDatum([U1, U2], uuidSet)).toEqual(['set', [['uuid', U1], ['uuid', U2]]]);
    expect(encodeDatum(U1, uuidSet)).toEqual(['set', [['uuid', U1]]]);
    expect(encodeDatum([namedUuid('new_port')], uuidSet)).toEqual(['set', [['named-uuid', 'new_port']]]);
    expect(encodeDatum(undefined, optionalString)).toEqual(['set', []]);
    expect(encodeDatum('x', optionalString)).toEqual(['set', ['x']]);
    expect(encodeDatum({ a: '1', b: '2' }, stringMap)).toEqual(['map', [['a', '1'], ['b', '2']]]);
    expect(encodeDatum(new Map([['a', '1']]), stringMap)).toEqual(['map', [['a', '1']]]);
    expect(encodeDatum({ '10': 'ten' }, intMap)).toEqual(['map', [[10, 'ten']]]);
    expect(encodeDatum(raw(['set', ['as-is']]), stringSet)).toEqual(['set', ['as-is']]);
    expect(() => encodeDatum([{ nested: true }], stringSet)).toThrow(/not an OVSDB atom/);
  });

  it('encodes without a schema by shape', () => {
    expect(encodeValue('s')).toBe('s');
    expect(encodeValue(uuid(U1))).toEqual(['uuid', U1]);
    expect(encodeValue(namedUuid('x'))).toEqual(['named-uuid', 'x']);
    expect(encodeValue(['a', 'b'])).toEqual(['set', ['a', 'b']]);
    expect(encodeValue({ k: 'v' })).toEqual(['map', [['k', 'v']]]);
  });

  it('round-trips rows through the schema', () => {
    const table = nbSchema.tables.Logical_Switch!;
    const row = { name: 'ls-a', ports: [U1, U2], external_ids: { 'photoncloud.io/uid': 'u-1' } };
    const wire = encodeRow(table, 'Logical_Switch', row);
    expect(wire).toEqual({
      name: 'ls-a',
      ports: ['set', [['uuid', U1], ['uuid', U2]]],
      external_ids: ['map', [['photoncloud.io/uid', 'u-1']]],
    });
    expect(decodeRow(table, U2, wire)).toEqual({ _uuid: U2, ...row });
    expect(() => encodeRow(table, 'Logical_Switch', { nope: 1 })).toThrow(/has no column nope/);
  });

  it('rejects invalid uuid-names', () => {
    expect(() => namedUuid('not-an-id')).toThrow(/invalid uuid-name/);
  });
});

describe('operations', () => {
  it('encodes conditions, mutations and wait rows through the schema', () => {
    const wire = encodeOperations(nbSchema, [
      op.insert('Logical_Switch_Port', { name: 'p1', addresses: ['0a:00:00:00:00:01 10.0.0.1'] }, 'lsp'),
      op.mutate('Logical_Switch', [['_uuid', '==', uuid(U1)]], [['ports', 'insert', [namedUuid('lsp')]]]),
      op.mutate('Logical_Switch', [['name', '==', 'ls-a']], [
        ['external_ids', 'delete', ['a', 'b']],
        ['external_ids', 'insert', { a: '2' }],
      ]),
      op.wait('Logical_Switch', [['external_ids', 'includes', { k: 'v' }]], { rows: [], columns: ['name'], timeout: 0 }),
      op.select('Logical_Switch_Port', [['_uuid', '==', U2]], ['name', 'up']),
      op.delete('Logical_Switch', [['ports', 'includes', U1]]),
      op.comment('photon'),
    ]);
    expect(wire).toEqual([
      { op: 'insert', table: 'Logical_Switch_Port', row: { name: 'p1', addresses: ['set', ['0a:00:00:00:00:01 10.0.0.1']] }, 'uuid-name': 'lsp' },
      { op: 'mutate', table: 'Logical_Switch', where: [['_uuid', '==', ['uuid', U1]]], mutations: [['ports', 'insert', ['set', [['named-uuid', 'lsp']]]]] },
      {
        op: 'mutate',
        table: 'Logical_Switch',
        where: [['name', '==', 'ls-a']],
        mutations: [
          ['external_ids', 'delete', ['set', ['a', 'b']]],
          ['external_ids', 'insert', ['map', [['a', '2']]]],
        ],
      },
      { op: 'wait', table: 'Logical_Switch', where: [['external_ids', 'includes', ['map', [['k', 'v']]]]], columns: ['name'], until: '==', rows: [], timeout: 0 },
      { op: 'select', table: 'Logical_Switch_Port', where: [['_uuid', '==', ['uuid', U2]]], columns: ['name', 'up'] },
      { op: 'delete', table: 'Logical_Switch', where: [['ports', 'includes', ['set', [['uuid', U1]]]]] },
      { op: 'comment', comment: 'photon' },
    ]);
    expect(() => encodeOperations(nbSchema, [op.delete('No_Such_Table', [])])).toThrow(/no table No_Such_Table/);
    expect(() => encodeOperations(nbSchema, [op.delete('Logical_Switch', [['nope', '==', 1]])])).toThrow(/no column nope/);
  });

  it('decodes results: uuids, counts, select rows and errors', () => {
    const operations = [op.insert('Logical_Switch', { name: 'a' }), op.select('Logical_Switch_Port', []), op.delete('ACL', [])];
    const results = decodeResults(nbSchema, operations, [
      { uuid: ['uuid', U1] },
      { rows: [{ _uuid: ['uuid', U2], name: 'p1', up: true, addresses: ['set', []] }] },
      { count: 3 },
      { error: 'constraint violation', details: 'bad' },
    ]);
    expect(results).toEqual([
      { uuid: U1 },
      { rows: [{ _uuid: U2, name: 'p1', up: true, addresses: [] }] },
      { count: 3 },
      { error: 'constraint violation', details: 'bad' },
    ]);
  });
});
