// The OVSDB client and the NB driver against a real OVN 23.03 northbound ovsdb-server (test/env/ovn.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runChecked } from '../../agents/ovn-local/commands.ts';
import {
  addPortGroupPorts,
  addRouterPorts,
  connectNorthbound,
  LABEL_UID,
  orphanedRows,
  ownerIds,
  ownerOf,
  removePortGroupPorts,
  removeRouterPorts,
  rowsOwnedBy,
  setMapKeys,
  type LogicalSwitch,
  type NorthboundClient,
} from '../../agents/ovn-nb/index.ts';
import {
  byName,
  byUuid,
  namedUuid,
  op,
  OvsdbClient,
  OvsdbConnectionError,
  OvsdbTransactionError,
  type ConnectionState,
  type Row,
} from '../../agents/ovsdb/index.ts';
import { startOvnCentral, type OvnCentral } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';

let central: OvnCentral;
let nb: NorthboundClient;
const states: ConnectionState[] = [];

beforeAll(async () => {
  central = await startOvnCentral();
  nb = await connectNorthbound({ endpoint: central.nbEndpoint, maxBackoffMs: 400 });
  nb.onStateChange((state) => states.push(state));
});

afterAll(async () => {
  await nb?.close();
  await central?.stop();
});

const owner = (name: string, uid: string) => ({ kind: 'Subnet', namespace: 'acme-web', name, uid });

/** Switch names as ovn-nbctl sees them (the server's truth, not our replica). */
async function nbctlSwitchNames(): Promise<string[]> {
  const out = await central.nbctl('--bare', '--columns=name', 'list', 'Logical_Switch');
  return out.split('\n').map((line) => line.trim()).filter(Boolean).sort();
}

const replicaSwitchNames = (client: NorthboundClient) => [...client.rows('Logical_Switch').values()].map((row) => row.name).sort();

describe('OvsdbClient against a real northbound database', () => {
  it('loads the snapshot on connect: NB_Global (created by ovn-northd) is in the replica', () => {
    expect(nb.connected).toBe(true);
    expect(nb.schema.name).toBe('OVN_Northbound');
    expect(nb.rows('NB_Global').size).toBe(1);
  });

  it('inserts a Logical_Switch with external_ids; the replica has it when transact resolves', async () => {
    const [result] = await nb.transact([
      op.insert('Logical_Switch', { name: 'ls-insert', external_ids: ownerIds(owner('web', 'uid-insert')), other_config: { subnet: '10.0.0.0/24' } }),
    ]);
    const row = nb.get('Logical_Switch', result!.uuid!);
    expect(row).toMatchObject({
      _uuid: result!.uuid,
      name: 'ls-insert',
      ports: [],
      other_config: { subnet: '10.0.0.0/24' },
      external_ids: { 'photoncloud.io/kind': 'Subnet', 'photoncloud.io/namespace': 'acme-web', 'photoncloud.io/name': 'web', [LABEL_UID]: 'uid-insert' },
    });
    expect(ownerOf(row!)).toEqual(owner('web', 'uid-insert'));
    expect(rowsOwnedBy(nb, 'Logical_Switch', 'uid-insert').map((r) => r._uuid)).toEqual([result!.uuid]);
    expect(orphanedRows(nb, 'Logical_Switch', new Set(['someone-else'])).map((r) => r.name)).toContain('ls-insert');
    expect(orphanedRows(nb, 'Logical_Switch', new Set(['uid-insert']))).toEqual([]);
    expect(await nbctlSwitchNames()).toContain('ls-insert');
  });

  it('the server sends the monitor update before the transact reply (no client-side barrier involved)', async () => {
    // call() is the raw JSON-RPC request: it resolves as soon as the reply is read, and updates are applied
    // synchronously as they are read, so the row is only there if the update preceded the reply.
    for (let i = 0; i < 20; i++) {
      const reply = (await nb.call('transact', ['OVN_Northbound', { op: 'insert', table: 'Logical_Switch', row: { name: `ls-order-${i}` } }])) as Array<{ uuid: [string, string] }>;
      expect(nb.get('Logical_Switch', reply[0]!.uuid[1])?.name).toBe(`ls-order-${i}`);
    }
    await nb.transact(Array.from({ length: 20 }, (_, i) => op.delete('Logical_Switch', byName(`ls-order-${i}`))));
    expect(replicaSwitchNames(nb).filter((name) => name.startsWith('ls-order-'))).toEqual([]);
  });

  it('a wait precondition that does not hold fails the whole transaction and writes nothing', async () => {
    await nb.transact([op.insert('Logical_Switch', { name: 'ls-exists' })]);
    const attempt = nb.transact([
      op.insert('Logical_Switch', { name: 'ls-must-not-appear' }),
      // "there is no switch named ls-exists" — false, so the transaction must fail at once (timeout 0).
      op.wait('Logical_Switch', byName('ls-exists'), { rows: [], columns: ['name'], until: '==', timeout: 0 }),
      op.insert('Logical_Switch', { name: 'ls-must-not-appear-either' }),
    ]);
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OvsdbTransactionError);
    const failure = error as OvsdbTransactionError;
    expect(failure.index).toBe(1);
    expect(failure.error).toBe('timed out');
    expect(failure.operation?.op).toBe('wait');
    expect(nb.find('Logical_Switch', (row) => row.name.startsWith('ls-must-not-appear'))).toEqual([]);
    expect(await nbctlSwitchNames()).not.toContain('ls-must-not-appear');

    // The same precondition with a matching expectation succeeds (optimistic concurrency on a row's state).
    const exists = nb.find('Logical_Switch', (row) => row.name === 'ls-exists')[0]!;
    await nb.transact([
      op.wait('Logical_Switch', byUuid(exists._uuid), { rows: [{ name: 'ls-exists', external_ids: {} }], until: '==', timeout: 0 }),
      op.update('Logical_Switch', byUuid(exists._uuid), { external_ids: { checked: 'yes' } }),
    ]);
    expect(nb.get('Logical_Switch', exists._uuid)?.external_ids).toEqual({ checked: 'yes' });
  });

  it('a wait with a timeout blocks until the condition holds', async () => {
    const waiting = nb.transact([
      op.wait('Logical_Switch', byName('ls-later'), { rows: [{ name: 'ls-later' }], until: '==', timeout: 10_000 }),
      op.update('Logical_Switch', byName('ls-later'), { external_ids: { seen: 'by-wait' } }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await central.nbctl('ls-add', 'ls-later');
    const results = await waiting;
    expect(results[1]!.count).toBe(1);
    expect(nb.find('Logical_Switch', (row) => row.name === 'ls-later')[0]?.external_ids).toEqual({ seen: 'by-wait' });
  });

  it('mutate adds and removes set members without clobbering concurrent writers', async () => {
    const [lrp1, router] = await nb.transact([
      op.insert('Logical_Router_Port', { name: 'lrp-1', mac: '0a:00:00:00:01:01', networks: ['10.1.0.1/24'] }, 'lrp1'),
      op.insert('Logical_Router', { name: 'lr-mutate', ports: [namedUuid('lrp1')], external_ids: ownerIds({ kind: 'Vpc', namespace: 'acme-web', name: 'vpc', uid: 'uid-vpc' }) }),
    ]);
    const routerUuid = router!.uuid!;
    // Two writers add a port each, concurrently: both land because each is a server-side set insert.
    const [a, b] = await Promise.all([
      nb.transact([op.insert('Logical_Router_Port', { name: 'lrp-2', mac: '0a:00:00:00:01:02', networks: ['10.2.0.1/24'] }, 'p'), addRouterPorts(routerUuid, namedUuid('p'))]),
      nb.transact([op.insert('Logical_Router_Port', { name: 'lrp-3', mac: '0a:00:00:00:01:03', networks: ['10.3.0.1/24'] }, 'p'), addRouterPorts(routerUuid, namedUuid('p'))]),
    ]);
    expect(new Set(nb.get('Logical_Router', routerUuid)!.ports)).toEqual(new Set([lrp1!.uuid, a![0]!.uuid, b![0]!.uuid]));
    expect(await central.nbctl('--bare', '--columns=name', 'list', 'Logical_Router_Port').then((out) => out.split('\n').filter(Boolean).sort())).toEqual(['lrp-1', 'lrp-2', 'lrp-3']);

    // Removing a port from the router's strong set garbage-collects the (non-root) port row.
    await nb.transact([removeRouterPorts(routerUuid, a![0]!.uuid!)]);
    expect(nb.get('Logical_Router', routerUuid)!.ports).not.toContain(a![0]!.uuid);
    expect(nb.get('Logical_Router_Port', a![0]!.uuid!)).toBeUndefined();

    // A map column: set one key, keep the others.
    await nb.transact([setMapKeys('Logical_Router', routerUuid, 'external_ids', { 'photoncloud.io/name': 'renamed', extra: '1' })]);
    expect(nb.get('Logical_Router', routerUuid)!.external_ids).toEqual({ ...ownerIds({ kind: 'Vpc', namespace: 'acme-web', name: 'renamed', uid: 'uid-vpc' }), extra: '1' });

    // Port groups hold weak references to switch ports.
    const [, lsp1, lsp2, group] = await nb.transact([
      op.insert('Logical_Switch', { name: 'ls-pg', ports: [namedUuid('a'), namedUuid('b')] }),
      op.insert('Logical_Switch_Port', { name: 'lsp-pg-a', addresses: ['0a:00:00:00:02:01 10.5.0.2'] }, 'a'),
      op.insert('Logical_Switch_Port', { name: 'lsp-pg-b', addresses: ['0a:00:00:00:02:02 10.5.0.3'] }, 'b'),
      op.insert('Port_Group', { name: 'pg_mutate' }),
    ]);
    await Promise.all([nb.transact([addPortGroupPorts(group!.uuid!, lsp1!.uuid!)]), nb.transact([addPortGroupPorts(group!.uuid!, [lsp2!.uuid!])])]);
    expect(new Set(nb.get('Port_Group', group!.uuid!)!.ports)).toEqual(new Set([lsp1!.uuid, lsp2!.uuid]));
    await nb.transact([removePortGroupPorts(group!.uuid!, lsp1!.uuid!)]);
    expect(nb.get('Port_Group', group!.uuid!)!.ports).toEqual([lsp2!.uuid]);
    expect(nb.get('Logical_Switch_Port', lsp1!.uuid!)?.name).toBe('lsp-pg-a'); // weak: the port itself stays
  });

  it('reports referential integrity and constraint violations at commit, writing nothing', async () => {
    const [port, router] = await nb.transact([
      op.insert('Logical_Router_Port', { name: 'lrp-ref', mac: '0a:00:00:00:03:01', networks: ['10.9.0.1/24'] }, 'p'),
      op.insert('Logical_Router', { name: 'lr-ref', ports: [namedUuid('p')] }),
    ]);
    // Deleting a port the router still references.
    const referenced = await nb.transact([op.delete('Logical_Router_Port', byUuid(port!.uuid!))]).catch((e: unknown) => e);
    expect(referenced).toBeInstanceOf(OvsdbTransactionError);
    expect((referenced as OvsdbTransactionError).error).toBe('referential integrity violation');
    expect((referenced as OvsdbTransactionError).index).toBe(1); // = operations.length: reported at commit
    expect((referenced as OvsdbTransactionError).operation).toBeUndefined();
    expect(nb.get('Logical_Router_Port', port!.uuid!)).toBeDefined();

    // Referring to a row that does not exist.
    const dangling = await nb
      .transact([op.mutate('Logical_Router', byUuid(router!.uuid!), [['ports', 'insert', ['00000000-0000-0000-0000-000000000001']]])])
      .catch((e: unknown) => e);
    expect((dangling as OvsdbTransactionError).error).toBe('referential integrity violation');

    // A unique index (Logical_Switch_Port.name).
    await nb.transact([op.insert('Logical_Switch', { name: 'ls-unique', ports: [namedUuid('p')] }), op.insert('Logical_Switch_Port', { name: 'lsp-unique' }, 'p')]);
    const duplicate = await nb
      .transact([op.mutate('Logical_Switch', byName('ls-unique'), [['ports', 'insert', [namedUuid('q')]]]), op.insert('Logical_Switch_Port', { name: 'lsp-unique' }, 'q')])
      .catch((e: unknown) => e);
    expect((duplicate as OvsdbTransactionError).error).toBe('constraint violation');
    expect(nb.find('Logical_Switch_Port', (row) => row.name === 'lsp-unique')).toHaveLength(1);

    // Deleting the router cascades to its ports (strong references, non-root rows).
    await nb.transact([op.delete('Logical_Router', byUuid(router!.uuid!))]);
    expect(nb.get('Logical_Router_Port', port!.uuid!)).toBeUndefined();
  });

  it('receives monitor updates for changes made by another client (ovn-nbctl)', async () => {
    const events: Array<[string, string | undefined, string | undefined]> = [];
    const off = nb.onUpdate((table, _uuid, oldRow, newRow) => {
      if (table === 'Logical_Switch') {
        const name = ((newRow ?? oldRow) as LogicalSwitch).name;
        if (name === 'ls-cli') events.push([oldRow ? 'old' : '-', newRow ? 'new' : '-', (newRow as LogicalSwitch | undefined)?.external_ids?.k]);
      }
    });
    await central.nbctl('ls-add', 'ls-cli');
    await waitFor('ls-cli in the replica', () => nb.find('Logical_Switch', (row) => row.name === 'ls-cli').length === 1);
    await central.nbctl('set', 'Logical_Switch', 'ls-cli', 'external_ids:k=v');
    await waitFor('ls-cli external_ids', () => nb.find('Logical_Switch', (row) => row.name === 'ls-cli')[0]?.external_ids.k === 'v');
    await central.nbctl('ls-del', 'ls-cli');
    await waitFor('ls-cli gone', () => nb.find('Logical_Switch', (row) => row.name === 'ls-cli').length === 0);
    off();
    expect(events).toEqual([
      ['-', 'new', undefined],
      ['old', 'new', 'v'],
      ['old', '-', undefined],
    ]);
  });

  it('keeps its replica equal to a fresh snapshot through set, map, optional and scalar changes (monitor_cond diffs)', async () => {
    await central.nbctl('ls-add', 'ls-diff');
    for (let index = 0; index < 40; index++) await central.nbctl('lsp-add', 'ls-diff', `lsp-diff-${index}`);
    await central.nbctl('set', 'Logical_Switch', 'ls-diff', 'external_ids:a=1', 'external_ids:b=2', 'other_config:mcast_snoop=true');
    await central.nbctl('lsp-del', 'lsp-diff-7');
    await central.nbctl('lsp-del', 'lsp-diff-30');
    await central.nbctl('set', 'Logical_Switch', 'ls-diff', 'external_ids:a=changed');
    await central.nbctl('remove', 'Logical_Switch', 'ls-diff', 'external_ids', 'b');
    await central.nbctl('set', 'Logical_Switch_Port', 'lsp-diff-1', 'addresses="00:00:00:00:00:01 10.0.0.1"', 'type=router', 'enabled=false', 'tag=7');
    await central.nbctl('set', 'Logical_Switch_Port', 'lsp-diff-1', 'tag=9', 'enabled=true');
    await central.nbctl('clear', 'Logical_Switch_Port', 'lsp-diff-1', 'tag');
    await central.nbctl('lsp-set-addresses', 'lsp-diff-2', 'dynamic', 'unknown');
    await central.nbctl('lsp-set-addresses', 'lsp-diff-2', 'unknown');
    await central.nbctl('ls-add', 'ls-diff-marker');
    await waitFor('the last change in the replica', () => nb.find('Logical_Switch', (row) => row.name === 'ls-diff-marker').length === 1);
    const fresh = await connectNorthbound({ endpoint: central.nbEndpoint });
    try {
      const sorted = (row: object) => JSON.parse(JSON.stringify(row, (_key, value) => (Array.isArray(value) ? [...value].sort() : value)));
      for (const table of ['Logical_Switch', 'Logical_Switch_Port'] as const) {
        const ours = new Map([...nb.rows(table)].map(([id, row]) => [id, sorted(row)]));
        const theirs = new Map([...fresh.rows(table)].map(([id, row]) => [id, sorted(row)]));
        expect(ours).toEqual(theirs);
      }
      const ls = nb.find('Logical_Switch', (row) => row.name === 'ls-diff')[0]!;
      expect(ls.ports).toHaveLength(38);
      expect(ls.external_ids).toEqual({ a: 'changed' });
      const port = nb.find('Logical_Switch_Port', (row) => row.name === 'lsp-diff-1')[0]!;
      expect(port).toMatchObject({ addresses: ['00:00:00:00:00:01 10.0.0.1'], type: 'router', enabled: true });
      expect('tag' in port).toBe(false);
    } finally {
      await fresh.close();
      await central.nbctl('ls-del', 'ls-diff');
      await central.nbctl('ls-del', 'ls-diff-marker');
    }
  });

  it('a client monitoring only some columns keeps just those', async () => {
    const narrow = await OvsdbClient.connect({ endpoint: central.nbTcp, database: 'OVN_Northbound', monitor: { Logical_Switch: ['name'] } });
    try {
      const row = narrow.find('Logical_Switch', (r) => r.name === 'ls-insert')[0];
      expect(row).toEqual({ _uuid: expect.any(String), name: 'ls-insert' });
      expect(() => narrow.rows('Logical_Router')).toThrow(/not monitored/);
    } finally {
      await narrow.close();
    }
  });

  it('reconnects after the NB server is killed and restarted, and the replica matches again', async () => {
    const events: Array<[string, string]> = [];
    const off = nb.onUpdate((table, _uuid, oldRow, newRow) => {
      if (table === 'Logical_Switch') events.push([oldRow ? 'changed-or-deleted' : 'added', ((newRow ?? oldRow) as LogicalSwitch).name]);
    });
    const before = states.length;
    await central.restartNorthbound({
      crash: true,
      // While the server is down the database changes behind the client's back.
      whileDown: async () => {
        await runChecked('ovsdb-tool', [
          'transact',
          central.nbDatabase,
          JSON.stringify([
            'OVN_Northbound',
            { op: 'insert', table: 'Logical_Switch', row: { name: 'ls-offline' } },
            { op: 'delete', table: 'Logical_Switch', where: [['name', '==', 'ls-exists']] },
          ]),
        ]);
      },
    });
    await waitFor('the client to reconnect', () => nb.connected && states.slice(before).includes('connected'), { timeoutMs: 10_000 });
    off();
    expect(states.slice(before)).toEqual(['disconnected', 'connected']);
    expect(replicaSwitchNames(nb)).toEqual(await nbctlSwitchNames());
    expect(events).toEqual(expect.arrayContaining([['added', 'ls-offline'], ['changed-or-deleted', 'ls-exists']]));
    // Only the differences were reported, not the whole snapshot again.
    expect(events.filter(([, name]) => name === 'ls-insert')).toEqual([]);
    // And it works as before.
    await nb.transact([op.insert('Logical_Switch', { name: 'ls-after-restart' })]);
    expect(replicaSwitchNames(nb)).toContain('ls-after-restart');
  });

  it('rejects a pending transact with OvsdbConnectionError when the server dies, and transact while down', async () => {
    // A wait that will not be satisfied keeps the transaction pending on the server.
    const pending = nb.transact([op.wait('Logical_Switch', byName('never'), { rows: [{ name: 'never' }], timeout: 30_000 })]);
    const outcome = pending.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const restarted = central.restartNorthbound({ crash: true, downMs: 600 });
    expect(await outcome).toBeInstanceOf(OvsdbConnectionError);
    await waitFor('the client to notice', () => !nb.connected);
    await expect(nb.transact([op.insert('Logical_Switch', { name: 'ls-while-down' })])).rejects.toBeInstanceOf(OvsdbConnectionError);
    await restarted;
    await waitFor('the client to reconnect', () => nb.connected, { timeoutMs: 10_000 });
    expect(replicaSwitchNames(nb)).toEqual(await nbctlSwitchNames());
    expect(replicaSwitchNames(nb)).not.toContain('ls-while-down');
  });

  it('connect rejects with OvsdbConnectionError when nothing listens, after connectTimeoutMs', async () => {
    const started = Date.now();
    const error = await OvsdbClient.connect({ endpoint: `unix:${central.dir}/nothing.sock`, database: 'OVN_Northbound', connectTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OvsdbConnectionError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('close() leaves no sockets or timers behind', async () => {
    const resources = () => process.getActiveResourcesInfo().filter((kind) => kind !== 'FSReqCallback').sort().join(',');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = resources();
    const client = await OvsdbClient.connect<Record<string, Row>>({ endpoint: central.nbTcp, database: 'OVN_Northbound', monitor: { Logical_Switch: 'all' }, probeIntervalMs: 200 });
    await client.transact([op.comment('hello')]);
    await new Promise((resolve) => setTimeout(resolve, 250)); // let a keepalive echo run
    await client.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(resources()).toEqual(before);
    await expect(client.transact([op.comment('closed')])).rejects.toBeInstanceOf(OvsdbConnectionError);
  });
});
