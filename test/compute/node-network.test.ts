// The node network driver on a real chassis: ovsdb-server, ovs-vswitchd (userspace br-int inside its own
// network namespace) and ovn-controller against a real OVN central. Taps are created in the vswitchd's
// namespace and added to br-int; ovn-controller binds them to the logical switch ports named by iface-id.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { run } from '../../agents/ovn-local/commands.ts';
import { NodeNetworkUnavailableError, OvsTapDriver, tapName, type VmInterface } from '../../agents/node-network/index.ts';
import { startOvnCentral, startOvnChassis, type OvnCentral, type OvnChassis } from '../env/ovn.ts';
import { waitFor } from '../env/process.ts';

const VM = 'a3f0c6de-5b1a-4f7e-9c2d-0e1f2a3b4c5d';
const PORTS = ['7c9e6679-7425-40de-944b-e07fc1f90ae7', '2b1e4d3c-9f8a-4b7c-8d6e-5f4a3b2c1d0e', '0d8f7e6a-1b2c-4d3e-8f9a-0b1c2d3e4f5a'];
const nic = (n: number): VmInterface => ({ name: `nic${n}`, ifaceId: PORTS[n], mac: `0a:00:00:00:00:0${n + 1}` });

describe('OvsTapDriver on a real chassis', () => {
  let central: OvnCentral;
  let chassis: OvnChassis;
  let driver: OvsTapDriver;
  let db: string;

  const kernelTap = async (tap: string) => {
    const shown = await run('ip', ['-n', chassis.netns.name, '-j', '-d', 'link', 'show', 'dev', tap]);
    if (shown.code !== 0) return undefined;
    const [link] = JSON.parse(shown.stdout) as Array<{ flags: string[]; linkinfo?: { info_data?: { type?: string; persist?: boolean } } }>;
    return { up: link.flags.includes('UP'), type: link.linkinfo?.info_data?.type, persist: link.linkinfo?.info_data?.persist };
  };
  const bridgePorts = async () => (await chassis.vsctl('list-ports', 'br-int')).split('\n').filter(Boolean);
  const interfaceIds = async (tap: string) => (await chassis.vsctl('--if-exists', 'get', 'Interface', tap, 'external_ids')).trim();
  /** The SB Port_Binding's chassis name for a logical port ('' when unbound). */
  const bindingChassis = async (lsp: string) => {
    const uuid = (await central.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', `logical_port=${lsp}`)).trim();
    return uuid ? (await central.sbctl('--bare', '--columns=name', 'list', 'Chassis', uuid)).trim() : '';
  };
  const lspUp = async (lsp: string) => (await central.nbctl('--bare', '--columns=up', 'list', 'Logical_Switch_Port', lsp)).trim() === 'true';

  beforeAll(async () => {
    central = await startOvnCentral();
    chassis = await startOvnChassis(central, { name: 'node-a' });
    db = chassis.ovsdbEndpoint;
    await central.nbctl('ls-add', 'ls0');
    for (const [n, port] of PORTS.entries()) {
      await central.nbctl('lsp-add', 'ls0', port, '--', 'lsp-set-addresses', port, `0a:00:00:00:00:0${n + 1} 10.0.0.${n + 10}`);
    }
    driver = new OvsTapDriver({ db, netns: chassis.netns.name });
  }, 60_000);
  afterAll(async () => {
    await central?.stop(); // stops the chassis and deletes its namespace, and with it any tap left in it
  });

  it('creates a persistent, up tap per interface on br-int, labelled for ovn-controller, which binds it', async () => {
    const result = await driver.ensure(VM, [nic(0), nic(1)]);
    expect(result.taps).toEqual([tapName(VM, 0), tapName(VM, 1)]);
    expect(result.changes).toBeGreaterThan(0);
    for (const [n, tap] of result.taps.entries()) {
      expect(tap.length).toBeLessThanOrEqual(15);
      expect(await kernelTap(tap)).toEqual({ up: true, type: 'tap', persist: true });
      const ids = await interfaceIds(tap);
      expect(ids).toContain(`iface-id="${PORTS[n]}"`);
      expect(ids).toContain(`photoncloud-vm-uid="${VM}"`);
      expect(ids).toContain(`attached-mac="0a:00:00:00:00:0${n + 1}"`);
    }
    expect(await bridgePorts()).toEqual(expect.arrayContaining(result.taps));
    // Nothing in the root namespace: the taps live where vswitchd does.
    expect((await run('ip', ['link', 'show', 'dev', result.taps[0]])).code).not.toBe(0);

    // ovn-controller binds both (no QEMU holds the taps: they have no carrier, and that does not matter).
    for (const port of PORTS.slice(0, 2)) {
      await waitFor(`ovn-installed on ${port}`, () => driver.bound(port), { timeoutMs: 30_000, intervalMs: 100 });
      expect(await bindingChassis(port)).toBe('node-a');
      await waitFor(`NB up=true for ${port}`, () => lspUp(port), { timeoutMs: 30_000, intervalMs: 100 });
    }
    expect(await driver.bound(PORTS[2])).toBe(false); // no tap for it
    expect(await driver.chassisName()).toBe('node-a');
  });

  it('changes nothing when ensured again', async () => {
    const before = await chassis.vsctl('--format=json', '--columns=_uuid,name,external_ids', 'list', 'Interface');
    expect(await driver.ensure(VM, [nic(0), nic(1)])).toEqual({ taps: [tapName(VM, 0), tapName(VM, 1)], changes: 0 });
    expect(await chassis.vsctl('--format=json', '--columns=_uuid,name,external_ids', 'list', 'Interface')).toBe(before);
  });

  it('repairs drift: a tap deleted and a label changed by hand', async () => {
    const [t0, t1] = [tapName(VM, 0), tapName(VM, 1)];
    await chassis.vsctl('set', 'Interface', t0, 'external_ids:iface-id=wrong');
    expect((await run('ip', ['-n', chassis.netns.name, 'link', 'del', 'dev', t1])).code).toBe(0);
    const result = await driver.ensure(VM, [nic(0), nic(1)]);
    expect(result.changes).toBeGreaterThan(0);
    expect(await interfaceIds(t0)).toContain(`iface-id="${PORTS[0]}"`);
    expect(await kernelTap(t1)).toEqual({ up: true, type: 'tap', persist: true });
    await waitFor('both bound again', async () => (await driver.bound(PORTS[0])) && (await driver.bound(PORTS[1])), { timeoutMs: 30_000, intervalMs: 100 });
    expect((await driver.ensure(VM, [nic(0), nic(1)])).changes).toBe(0);
  });

  it('removes the tap and port of an interface no longer wanted, and rebinds a changed one', async () => {
    const [t0, t1] = [tapName(VM, 0), tapName(VM, 1)];
    // Interface 0 now carries port 2; interface 1 is gone.
    const result = await driver.ensure(VM, [nic(2)]);
    expect(result.taps).toEqual([t0]);
    expect(await kernelTap(t1)).toBeUndefined();
    expect(await bridgePorts()).not.toContain(t1);
    expect(await interfaceIds(t1)).toBe('');
    expect(await interfaceIds(t0)).toContain(`iface-id="${PORTS[2]}"`);
    await waitFor('port 2 bound on node-a', async () => (await driver.bound(PORTS[2])) && (await bindingChassis(PORTS[2])) === 'node-a', { timeoutMs: 30_000, intervalMs: 100 });
    await waitFor('ports 0 and 1 released', async () => (await bindingChassis(PORTS[0])) === '' && (await bindingChassis(PORTS[1])) === '', { timeoutMs: 30_000, intervalMs: 100 });
  });

  it('finds its VMs with a fresh driver instance (after an agent restart)', async () => {
    const other = 'b4e1d7ef-6c2b-4a8f-8d3e-1f2a3b4c5d6e';
    await driver.ensure(other, [nic(1)]);
    const restarted = new OvsTapDriver({ db, netns: chassis.netns.name });
    expect(await restarted.listOwned()).toEqual([VM, other].sort());
    // Cleanup after the restart: only the live VM keeps its taps.
    expect(await restarted.removeOrphans(new Set([VM]))).toBe(1);
    expect(await restarted.listOwned()).toEqual([VM]);
    expect(await kernelTap(tapName(other, 0))).toBeUndefined();
  });

  it('removes an unlabelled tap named like ours that a crash left behind, for a VM that is gone', async () => {
    const ghost = tapName('c0ffee00-dead-4bee-8f00-000000000000', 0);
    expect((await run('ip', ['-n', chassis.netns.name, 'tuntap', 'add', 'dev', ghost, 'mode', 'tap'])).code).toBe(0);
    expect(await driver.removeOrphans(new Set([VM]))).toBe(1);
    expect(await kernelTap(ghost)).toBeUndefined();
    expect(await kernelTap(tapName(VM, 0))).toBeDefined();
  });

  it('remove() leaves no tap and no OVS port of the VM', async () => {
    const tap = tapName(VM, 0);
    expect(await driver.remove(VM)).toBeGreaterThan(0);
    expect(await kernelTap(tap)).toBeUndefined();
    expect(await bridgePorts()).toEqual([]);
    expect(await chassis.vsctl('--bare', '--columns=name', 'find', 'Interface', `external_ids:photoncloud-vm-uid="${VM}"`)).toBe('');
    expect(await driver.listOwned()).toEqual([]);
    expect(await driver.remove(VM)).toBe(0);
    await waitFor('port 2 released', async () => (await bindingChassis(PORTS[2])) === '', { timeoutMs: 30_000, intervalMs: 100 });
  });

  it('rejects bad input before running anything, and reports an unreachable OVS as unavailable', async () => {
    await expect(driver.ensure('x; rm -rf /', [nic(0)])).rejects.toThrow(/invalid VM UID/);
    await expect(driver.ensure(VM, [{ ...nic(0), ifaceId: 'p" -- del-br br-int' }])).rejects.toThrow(/invalid iface-id/);
    await expect(driver.bound('--help')).rejects.toThrow(/invalid iface-id/);
    expect(() => new OvsTapDriver({ netns: '../../etc' })).toThrow(/namespace/);
    expect(await bridgePorts()).toEqual([]);
    const nowhere = new OvsTapDriver({ db: `unix:${path.join(chassis.dir, 'missing.sock')}`, netns: chassis.netns.name, timeoutSeconds: 2 });
    await expect(nowhere.ensure(VM, [nic(0)])).rejects.toBeInstanceOf(NodeNetworkUnavailableError);
    const noNamespace = new OvsTapDriver({ db, netns: 'pc-no-such-netns' });
    await expect(noNamespace.ensure(VM, [nic(0)])).rejects.toBeInstanceOf(NodeNetworkUnavailableError);
    // Neither left anything behind.
    expect(await kernelTap(tapName(VM, 0))).toBeUndefined();
  });
});
