// The diff on an in-memory replica: what one owner's desired rows turn into (the real database runs the
// result in test/network/).
import { describe, expect, it } from '@jest/globals';
import type { Operation, Row } from '../ovsdb/index.ts';
import { link, type DesiredRow } from './desired-state.ts';
import { planOwnerTransaction, UnresolvedLinkError, type ReplicaView } from './diff.ts';
import { ownerIds, type Owner } from './ownership.ts';
import type { NorthboundTable } from './schema.ts';

const vpc: Owner = { kind: 'Vpc', namespace: 'a', name: 'prod', uid: 'vpc-1' };
const subnet: Owner = { kind: 'Subnet', namespace: 'a', name: 'web', uid: 'sn-1' };

function replica(rows: Partial<Record<NorthboundTable, Row[]>>): ReplicaView {
  return { rows: (table) => new Map((rows[table] ?? []).map((row) => [row._uuid, row])) };
}

const owned = (owner: Owner, uuid: string, columns: Record<string, unknown>, role?: string): Row => ({ _uuid: uuid, ...columns, external_ids: { ...ownerIds(owner), ...(role ? { 'photoncloud.io/role': role } : {}) } }) as Row;
const kinds = (ops: Operation[]) => ops.map((operation) => `${operation.op} ${(operation as { table: string }).table}`);

const switchRows = (uid = subnet.uid): DesiredRow[] => [
  { table: 'Logical_Switch', columns: { name: `ls-${uid}` } },
  { table: 'Logical_Switch_Port', key: 'router', columns: { name: `ls-rtr-${uid}`, type: 'router' }, memberOf: [{ parent: { table: 'Logical_Switch', owner: uid }, column: 'ports' }] },
  { table: 'Logical_Router_Port', columns: { name: `lrp-${uid}`, networks: ['10.0.0.1/24'] }, memberOf: [{ parent: { table: 'Logical_Router', owner: vpc.uid }, column: 'ports' }] },
];

describe('planOwnerTransaction', () => {
  it('inserts missing rows guarded by a wait, linking new rows by named UUID', () => {
    const view = replica({ Logical_Router: [owned(vpc, 'r1', { name: 'lr-vpc-1', ports: [] })] });
    const ops = planOwnerTransaction(view, subnet, switchRows());
    expect(kinds(ops)).toEqual(['wait Logical_Switch', 'insert Logical_Switch', 'wait Logical_Switch_Port', 'insert Logical_Switch_Port', 'mutate Logical_Switch', 'wait Logical_Router_Port', 'insert Logical_Router_Port', 'mutate Logical_Router']);
    const insertPort = ops[3] as { row: Record<string, unknown> };
    expect(insertPort.row.external_ids).toMatchObject({ 'photoncloud.io/uid': 'sn-1', 'photoncloud.io/role': 'router' });
  });

  it('sends nothing when the replica already matches', () => {
    const view = replica({
      Logical_Router: [owned(vpc, 'r1', { name: 'lr-vpc-1', ports: ['lrp1'] })],
      Logical_Switch: [owned(subnet, 'ls1', { name: 'ls-sn-1', ports: ['lsp1'] })],
      Logical_Switch_Port: [owned(subnet, 'lsp1', { name: 'ls-rtr-sn-1', type: 'router' }, 'router')],
      Logical_Router_Port: [owned(subnet, 'lrp1', { name: 'lrp-sn-1', networks: ['10.0.0.1/24'] })],
    });
    expect(planOwnerTransaction(view, subnet, switchRows())).toEqual([]);
  });

  it('updates only changed columns and removes unwanted rows: roots deleted, children taken out of their sets', () => {
    const view = replica({
      Logical_Router: [owned(vpc, 'r1', { name: 'lr-vpc-1', ports: ['lrp1'], static_routes: ['sr1'] })],
      Logical_Router_Static_Route: [owned(vpc, 'sr1', { ip_prefix: '0.0.0.0/0', nexthop: '10.0.0.254' }, 'route:old')],
      DHCP_Options: [owned(vpc, 'd1', { cidr: '10.0.0.0/24' })],
    });
    const ops = planOwnerTransaction(view, vpc, [{ table: 'Logical_Router', columns: { name: 'lr-vpc-1', options: { foo: 'bar' } } }]);
    expect(kinds(ops).sort()).toEqual(['delete DHCP_Options', 'mutate Logical_Router', 'update Logical_Router']);
    expect(ops.find((operation) => operation.op === 'update')).toMatchObject({ row: { options: { foo: 'bar' } } });
  });

  it('removing everything deletes the root and does not mutate it', () => {
    const view = replica({
      Logical_Router: [owned(vpc, 'r1', { name: 'lr-vpc-1', ports: [], static_routes: ['sr1'] })],
      Logical_Router_Static_Route: [owned(vpc, 'sr1', { ip_prefix: '0.0.0.0/0', nexthop: '10.0.0.254' }, 'route:x')],
    });
    expect(kinds(planOwnerTransaction(view, vpc, []))).toEqual(['delete Logical_Router']);
  });

  it('keeps memberships exact in PhotonCloud-owned sets and never touches foreign ones', () => {
    const group: Owner = { kind: 'SecurityGroup', namespace: 'a', name: 'web', uid: 'sg-1' };
    const port: Owner = { kind: 'Port', namespace: 'a', name: 'p', uid: 'p-1' };
    const view = replica({
      Logical_Switch: [owned(subnet, 'ls1', { name: 'ls-sn-1', ports: ['lsp1'] })],
      Logical_Switch_Port: [owned(port, 'lsp1', { name: 'p-1' })],
      Port_Group: [owned(group, 'pg-old', { name: 'pg_old', ports: ['lsp1'] }), { _uuid: 'pg-foreign', name: 'theirs', ports: ['lsp1'], external_ids: {} } as Row, owned(group, 'pg-new', { name: 'pg_new', ports: [] }, 'new')],
    });
    const ops = planOwnerTransaction(view, port, [
      { table: 'Logical_Switch_Port', columns: { name: 'p-1' }, memberOf: [{ parent: { table: 'Logical_Switch', owner: subnet.uid }, column: 'ports' }, { parent: { table: 'Port_Group', owner: group.uid, key: 'new' }, column: 'ports' }] },
    ]);
    expect(ops).toEqual([
      expect.objectContaining({ op: 'mutate', table: 'Port_Group', mutations: [['ports', 'insert', ['lsp1']]] }),
      expect.objectContaining({ op: 'mutate', table: 'Port_Group', mutations: [['ports', 'delete', ['lsp1']]] }),
    ]);
    expect(JSON.stringify(ops)).not.toContain('pg-foreign');
  });

  it('resolves links in columns and refuses links to rows that do not exist', () => {
    const port: Owner = { kind: 'Port', namespace: 'a', name: 'p', uid: 'p-1' };
    const desired: DesiredRow[] = [{ table: 'Logical_Switch_Port', columns: { name: 'p-1', dhcpv4_options: link({ table: 'DHCP_Options', owner: subnet.uid }) }, memberOf: [{ parent: { table: 'Logical_Switch', owner: subnet.uid }, column: 'ports' }] }];
    expect(() => planOwnerTransaction(replica({}), port, desired)).toThrow(UnresolvedLinkError);
    const view = replica({ Logical_Switch: [owned(subnet, 'ls1', { name: 'ls', ports: [] })], DHCP_Options: [owned(subnet, 'd1', { cidr: '10.0.0.0/24' })] });
    const insert = planOwnerTransaction(view, port, desired).find((operation) => operation.op === 'insert') as { row: Record<string, unknown> };
    expect(insert.row.dhcpv4_options).toBe('d1');
  });

  it('adopts an unowned row of the same name instead of inserting a duplicate', () => {
    const shared: Owner = { kind: 'SharedPortGroups', name: 'shared', uid: 'shared' };
    const view = replica({ Port_Group: [{ _uuid: 'pg1', name: 'photon_secured_ports', ports: [], acls: [], external_ids: { 'photoncloud.io/shared': 'true' } } as Row] });
    const ops = planOwnerTransaction(view, shared, [{ table: 'Port_Group', key: 'photon_secured_ports', columns: { name: 'photon_secured_ports' } }]);
    expect(kinds(ops)).toEqual(['update Port_Group']);
    expect(ops[0]).toMatchObject({ row: { external_ids: { 'photoncloud.io/uid': 'shared', 'photoncloud.io/role': 'photon_secured_ports' } } });
  });

  it('plans the same with an owner index as by scanning every table', () => {
    const rows = {
      Logical_Router: [owned(vpc, 'r1', { name: 'lr-vpc-1', ports: [], static_routes: ['sr1'] })],
      Logical_Router_Static_Route: [owned(vpc, 'sr1', { ip_prefix: '0.0.0.0/0', nexthop: '10.0.0.254' }, 'route:x')],
      Logical_Switch: [owned(subnet, 'ls1', { name: 'ls-sn-1', ports: [] })],
    };
    const scanned = replica(rows);
    const indexed: ReplicaView = {
      ...scanned,
      ownedBy: (uid) => Object.entries(rows).flatMap(([table, list]) => list.filter((row) => (row as unknown as { external_ids: Record<string, string> }).external_ids['photoncloud.io/uid'] === uid).map((row) => ({ table: table as NorthboundTable, row }))),
    };
    for (const [owner, desired] of [[vpc, [{ table: 'Logical_Router', columns: { name: 'lr-vpc-1' } }]], [subnet, switchRows()]] as const) {
      expect(planOwnerTransaction(indexed, owner, desired as DesiredRow[])).toEqual(planOwnerTransaction(scanned, owner, desired as DesiredRow[]));
    }
  });

  it('refuses two desired rows with the same table and key', () => {
    expect(() => planOwnerTransaction(replica({}), vpc, [{ table: 'Logical_Router', columns: {} }, { table: 'Logical_Router', columns: {} }])).toThrow(/share a table and key/);
  });
});
