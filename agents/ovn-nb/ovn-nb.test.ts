import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { encodeOperations, namedUuid, parseSchema } from '../ovsdb/index.ts';
import {
  addPortGroupAcls,
  addRouterPorts,
  LABEL_KIND,
  LABEL_NAME,
  LABEL_NAMESPACE,
  LABEL_UID,
  NORTHBOUND_TABLES,
  ownedByCondition,
  ownerIds,
  ownerOf,
  removeMapKeys,
  removeSwitchPorts,
  setMapKeys,
} from './index.ts';

const U1 = '8d3c7b0e-6ad0-4c70-9d2c-2b7f0b1d5c0e';
const U2 = '0b7a0a52-1111-4c70-9d2c-2b7f0b1d5c0f';

describe('ownership labels', () => {
  it('labels namespaced and cluster-scoped owners', () => {
    expect(ownerIds({ kind: 'Subnet', namespace: 'acme-web', name: 'web', uid: 'u-1' })).toEqual({
      [LABEL_KIND]: 'Subnet',
      [LABEL_NAMESPACE]: 'acme-web',
      [LABEL_NAME]: 'web',
      [LABEL_UID]: 'u-1',
    });
    expect(ownerIds({ kind: 'Node', name: 'n1', uid: 'u-2' })).toEqual({ [LABEL_KIND]: 'Node', [LABEL_NAME]: 'n1', [LABEL_UID]: 'u-2' });
  });

  it('reads the owner back, and nothing from rows that are not ours', () => {
    const owner = { kind: 'Vpc', namespace: 'acme', name: 'main', uid: 'u-3' };
    expect(ownerOf({ _uuid: U1, external_ids: { ...ownerIds(owner), other: 'x' } })).toEqual(owner);
    expect(ownerOf({ _uuid: U1, external_ids: { 'neutron:network': 'x' } })).toBeUndefined();
    expect(ownerOf({ _uuid: U1 })).toBeUndefined();
    expect(ownerOf({ _uuid: U1, external_ids: { [LABEL_KIND]: 'Vpc', [LABEL_NAME]: 'main' } })).toBeUndefined(); // no uid
  });

  it('builds an OVSDB condition on the owner uid', () => {
    expect(ownedByCondition('u-4')).toEqual(['external_ids', 'includes', { [LABEL_UID]: 'u-4' }]);
  });
});

const NB_SCHEMA_FILE = '/usr/share/ovn/ovn-nb.ovsschema';
const describeWithSchema = fs.existsSync(NB_SCHEMA_FILE) ? describe : describe.skip;

describeWithSchema('mutation builders (encoded with the OVN 23.03 NB schema)', () => {
  const schema = parseSchema(JSON.parse(fs.readFileSync(NB_SCHEMA_FILE, 'utf8')));

  it('covers every replicated table with the columns the typed rows name', () => {
    for (const table of NORTHBOUND_TABLES) expect(schema.tables[table]?.columns.external_ids).toBeDefined();
  });

  it('are server-side set/map mutations', () => {
    expect(
      encodeOperations(schema, [
        addRouterPorts(U1, [namedUuid('lrp'), U2]),
        removeSwitchPorts([['name', '==', 'ls-a']], U2),
        addPortGroupAcls(U1, namedUuid('acl1')),
        setMapKeys('Logical_Switch', U1, 'other_config', { subnet: '10.0.0.0/24' }),
        removeMapKeys('Logical_Switch', U1, 'other_config', ['exclude_ips']),
      ]),
    ).toEqual([
      { op: 'mutate', table: 'Logical_Router', where: [['_uuid', '==', ['uuid', U1]]], mutations: [['ports', 'insert', ['set', [['named-uuid', 'lrp'], ['uuid', U2]]]]] },
      { op: 'mutate', table: 'Logical_Switch', where: [['name', '==', 'ls-a']], mutations: [['ports', 'delete', ['set', [['uuid', U2]]]]] },
      { op: 'mutate', table: 'Port_Group', where: [['_uuid', '==', ['uuid', U1]]], mutations: [['acls', 'insert', ['set', [['named-uuid', 'acl1']]]]] },
      {
        op: 'mutate',
        table: 'Logical_Switch',
        where: [['_uuid', '==', ['uuid', U1]]],
        mutations: [
          ['other_config', 'delete', ['set', ['subnet']]],
          ['other_config', 'insert', ['map', [['subnet', '10.0.0.0/24']]]],
        ],
      },
      { op: 'mutate', table: 'Logical_Switch', where: [['_uuid', '==', ['uuid', U1]]], mutations: [['other_config', 'delete', ['set', ['exclude_ips']]]] },
    ]);
  });
});
