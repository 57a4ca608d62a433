// The northbound driver's index of the replica (by owner and by name) against a real OVN NB: it follows
// rows made, renamed and deleted by another client, and planning adopts an unlabelled row by its name.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectNorthbound, type NorthboundClient } from '../../agents/ovn-nb/index.ts';
import { planOwnerTransaction, type ReplicaView } from '../../agents/ovn-nb/diff.ts';
import { OwnerIndex } from '../../agents/ovn-nb/owner-index.ts';
import { startOvnCentral, type OvnCentral } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';

let central: OvnCentral;
let nb: NorthboundClient;
let index: OwnerIndex;

beforeAll(async () => {
  central = await startOvnCentral();
  nb = await connectNorthbound({ endpoint: central.nbEndpoint });
  index = new OwnerIndex(nb);
});

afterAll(async () => {
  index?.close();
  await nb?.close();
  await central?.stop();
});

const names = (name: string) => [...index.named('Port_Group', name)].map((row) => row._uuid);

describe('OwnerIndex on a real northbound database', () => {
  it('finds rows by name as they are made, renamed and deleted, and planning adopts an unlabelled one', async () => {
    await central.nbctl('pg-add', 'pg_adopt');
    await waitFor('pg_adopt indexed', () => names('pg_adopt').length === 1);
    const [uuid] = names('pg_adopt');
    const view: ReplicaView = { rows: (table) => nb.rows(table), ownedBy: (uid) => index.ownedBy(uid), named: (table, name) => index.named(table, name) };
    const owner = { kind: 'SecurityGroup', namespace: 'acme', name: 'web', uid: 'sg-uid-1' };
    const ops = planOwnerTransaction(view, owner, [{ table: 'Port_Group', columns: { name: 'pg_adopt' } }]);
    expect(ops.map((operation) => `${operation.op} ${(operation as { table?: string }).table}`)).toEqual(['update Port_Group']);
    await nb.transact(ops);
    expect([...index.ownedBy('sg-uid-1')].map(({ row }) => row._uuid)).toEqual([uuid]);
    // Planned again: nothing to do (owned now, found through the owner index).
    expect(planOwnerTransaction(view, owner, [{ table: 'Port_Group', columns: { name: 'pg_adopt' } }])).toEqual([]);

    await central.nbctl('set', 'Port_Group', 'pg_adopt', 'name=pg_renamed');
    await waitFor('the rename indexed', () => names('pg_renamed').length === 1);
    expect(names('pg_adopt')).toEqual([]);
    expect(names('pg_renamed')).toEqual([uuid]);
    await central.nbctl('pg-del', 'pg_renamed');
    await waitFor('the deletion indexed', () => names('pg_renamed').length === 0);
    expect([...index.ownedBy('sg-uid-1')]).toEqual([]);
  });
});
