// The controllers against an OVN Northbound database that goes away or changes behind their back:
//   - rows removed by hand (a Port's switch port, a Vpc's router) come back, with the same names and addresses;
//   - while the NB server is down, a new Port reports Ready=False OVNUnavailable with the reason, and is
//     programmed once the server is back;
//   - the NB database replaced by an empty one (a lost disk, a restore from before these objects existed):
//     everything is programmed again after the reconnect.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import { createDatabase, OVN_NB_SCHEMA } from '../../agents/ovn-local/commands.ts';
import { waitFor } from '../env/process.ts';
import { create, namespace, portAddress, readyCondition, startNetworkEnv, waitReady, waitReason, type NetworkEnv } from './harness.ts';

const NS = 'drift';

describe('OVN outages and drift', () => {
  let env: NetworkEnv;

  /** The NB rows of `table` owned by the object with this UID, as "name|addresses" strings. */
  const ownedRows = async (table: string, uid: string, columns = 'name,addresses') =>
    (await env.ovn.nbctl('--format=csv', '--data=bare', '--no-headings', `--columns=${columns}`, 'find', table, `external_ids:"photoncloud.io/uid"="${uid}"`))
      .trim().split('\n').filter(Boolean).map((line) => line.replace(/,/g, '|'));

  /** Where a Port's packets go: its switch port's name and addresses, and the router's port for its subnet. */
  const programmed = async (uids: { vpc: string; subnet: string; port: string }) => ({
    router: await ownedRows('Logical_Router', uids.vpc, 'name'),
    routerPort: await ownedRows('Logical_Router_Port', uids.subnet, 'name,networks'),
    switchPort: await ownedRows('Logical_Switch_Port', uids.port),
  });

  beforeAll(async () => {
    env = await startNetworkEnv();
    await namespace(env, NS);
  });
  afterAll(async () => {
    await env?.stop();
  });

  let uids: { vpc: string; subnet: string; port: string };
  let before: Awaited<ReturnType<typeof programmed>>;

  beforeAll(async () => {
    await create(env, 'Vpc', NS, 'main', { cidrBlocks: ['10.30.0.0/16'] });
    await create(env, 'Subnet', NS, 'a', { vpcRef: 'main', cidr: '10.30.1.0/24' });
    await create(env, 'Port', NS, 'p1', { subnetRef: 'a' });
    const [vpc, subnet, port] = await Promise.all([waitReady(env, 'Vpc', NS, 'main'), waitReady(env, 'Subnet', NS, 'a'), waitReady(env, 'Port', NS, 'p1')]);
    uids = { vpc: vpc.metadata.uid!, subnet: subnet.metadata.uid!, port: port.metadata.uid! };
    before = await programmed(uids);
    expect(before.router).toHaveLength(1);
    expect(before.routerPort).toEqual([expect.stringMatching(/\|10\.30\.1\.1\/24$/)]);
    expect(before.switchPort).toEqual([expect.stringContaining(portAddress(port).ip)]);
  });

  it('puts back rows removed by hand', async () => {
    const [switchPortName] = before.switchPort[0].split('|');
    const [routerName] = before.router;
    const uuidsBefore = [...(await ownedRows('Logical_Switch_Port', uids.port, '_uuid')), ...(await ownedRows('Logical_Router', uids.vpc, '_uuid'))];
    await env.ovn.nbctl('lsp-del', switchPortName);
    await env.ovn.nbctl('lr-del', routerName); // takes the Subnet's router port with it

    const after = await waitFor('the removed rows to be back', async () => {
      const now = await programmed(uids);
      return now.router.length && now.routerPort.length && now.switchPort.length ? now : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    // New rows (the repair may beat any check in between), with the same names and addresses: nothing that
    // points at them (DHCP leases, peers' ACLs) has to change.
    const uuidsAfter = [...(await ownedRows('Logical_Switch_Port', uids.port, '_uuid')), ...(await ownedRows('Logical_Router', uids.vpc, '_uuid'))];
    expect(uuidsAfter).toHaveLength(2);
    for (const uuid of uuidsAfter) expect(uuidsBefore).not.toContain(uuid);
    expect(after).toEqual(before);
    const [subnetSwitch] = await ownedRows('Logical_Switch', uids.subnet, 'name');
    expect(await env.ovn.nbctl('lsp-get-ls', switchPortName)).toContain(`(${subnetSwitch})`);
    const port = await waitReady(env, 'Port', NS, 'p1');
    expect(portAddress(port).uid).toBe(uids.port);
  });

  it('reports OVNUnavailable while the NB server is down and programs the Port once it is back', async () => {
    let waiting: ReturnType<typeof readyCondition>;
    await env.ovn.restartNorthbound({
      crash: true,
      whileDown: async () => {
        await create(env, 'Port', NS, 'during-outage', { subnetRef: 'a' });
        const port = await waitReason(env, 'Port', NS, 'during-outage', 'OVNUnavailable', 30_000);
        waiting = readyCondition(port);
      },
    });
    expect(waiting?.message).toMatch(/cannot reach the OVN northbound database at unix:.*nb\.sock: the connection was lost; reconnecting/);
    const port = await waitReady(env, 'Port', NS, 'during-outage', 30_000);
    expect(await ownedRows('Logical_Switch_Port', port.metadata.uid!)).toEqual([expect.stringContaining(portAddress(port).ip)]);
    // Objects programmed before the outage were left alone (their rows survived in the database file).
    expect(await programmed(uids)).toEqual(before);
  });

  it('programs everything again when the NB database comes back empty', async () => {
    await env.ovn.restartNorthbound({
      whileDown: async () => {
        await fs.rm(env.ovn.nbDatabase);
        await createDatabase(env.ovn.nbDatabase, OVN_NB_SCHEMA);
      },
    });
    const restored = await waitFor('every object programmed again', async () => {
      const now = await programmed(uids);
      return now.router.length && now.routerPort.length && now.switchPort.length ? now : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(restored).toEqual(before);
    const outagePort = await waitReady(env, 'Port', NS, 'during-outage');
    await waitFor('the Port created during the outage programmed again', async () => (await ownedRows('Logical_Switch_Port', outagePort.metadata.uid!)).length === 1, { timeoutMs: 60_000, intervalMs: 250 });
    // Exactly one switch port per Port, plus the Subnet's router-type port: nothing duplicated by the repair.
    const switchPorts = (await env.ovn.nbctl('--format=csv', '--data=bare', '--no-headings', '--columns=name', 'list', 'Logical_Switch_Port')).trim().split('\n').filter(Boolean);
    expect(switchPorts).toHaveLength(3);
    expect(new Set(switchPorts).size).toBe(3);
  });
});
