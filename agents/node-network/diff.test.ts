// Tap names and the diff, without OVS (test/compute/node-network.test.ts runs the plans on a real chassis).
import { describe, expect, it } from '@jest/globals';
import { desiredTaps, type VmInterface } from './desired-state.ts';
import { isEmptyPlan, ovsVsctlArgs, planTaps, TapConflictError, type NodeObservation, type ObservedInterface } from './diff.ts';
import { parseInterfaces } from './driver.ts';
import { IFNAME_MAX, TAP_NAME, tapName, tapPrefix } from './names.ts';

const VM = '6f1c2a9e-0d7b-4c1e-9a55-3b2f8e7d1c00';
const OTHER = '11111111-2222-3333-4444-555555555555';
const nic = (n: number): VmInterface => ({ name: `nic${n}`, ifaceId: `port-${n}`, mac: `0a:00:00:00:00:0${n}` });
const iface = (name: string, externalIds: Record<string, string>, onBridge = true): ObservedInterface => ({ name, externalIds, onBridge });
const labels = (n: number, vm = VM) => ({ 'iface-id': `port-${n}`, 'photoncloud-vm-uid': vm, 'attached-mac': `0a:00:00:00:00:0${n}` });

describe('tap names', () => {
  it('are at most 15 characters, deterministic, and match the tap pattern', () => {
    for (const index of [0, 9, 10, 99, 100, 999]) {
      const name = tapName(VM, index);
      expect(name.length).toBeLessThanOrEqual(IFNAME_MAX);
      expect(name).toBe(tapName(VM, index));
      expect(name).toMatch(TAP_NAME);
      expect(name.startsWith(tapPrefix(VM))).toBe(true);
    }
    expect(tapName(VM, 0)).toMatch(/^pt[0-9a-f]{10}0$/);
    expect(tapName(VM, 999)).toHaveLength(15);
  });

  it('never collide across the indexes of one VM, and differ between VMs', () => {
    const names = Array.from({ length: 1000 }, (_, index) => tapName(VM, index));
    expect(new Set(names).size).toBe(1000);
    expect(tapPrefix(VM)).not.toBe(tapPrefix(OTHER));
    const many = new Set(Array.from({ length: 5000 }, (_, n) => tapPrefix(`vm-${n}`)));
    expect(many.size).toBe(5000);
  });

  it('reject indexes and UIDs that cannot make a safe name', () => {
    expect(() => tapName(VM, 1000)).toThrow(/index/);
    expect(() => tapName(VM, -1)).toThrow(/index/);
    expect(() => tapName(VM, 1.5)).toThrow(/index/);
    for (const bad of ['', '-rf', 'a b', 'x"y', 'a,b', 'a=b', 'x'.repeat(129), '--db=tcp:1.2.3.4:6640']) expect(() => tapPrefix(bad)).toThrow(/invalid VM UID/);
  });
});

describe('desiredTaps', () => {
  it('labels each tap with iface-id, the VM and the MAC (lowercased), in order', () => {
    expect(desiredTaps(VM, [nic(1), { ...nic(2), mac: '0A:00:00:00:00:02' }])).toEqual([
      { tap: tapName(VM, 0), index: 0, externalIds: labels(1) },
      { tap: tapName(VM, 1), index: 1, externalIds: labels(2) },
    ]);
  });

  it('rejects bad iface-ids, MACs and a port used twice', () => {
    expect(() => desiredTaps(VM, [{ ...nic(1), ifaceId: 'a"b' }])).toThrow(/iface-id/);
    expect(() => desiredTaps(VM, [{ ...nic(1), mac: '0a:00:00:00:00' }])).toThrow(/MAC/);
    expect(() => desiredTaps(VM, [{ ...nic(1), mac: '01:00:5e:00:00:01' }])).toThrow(/multicast/);
    expect(() => desiredTaps(VM, [nic(1), { ...nic(2), ifaceId: 'port-1' }])).toThrow(/twice|use iface-id/);
  });
});

describe('planTaps', () => {
  const empty: NodeObservation = { kernelTaps: [], interfaces: [] };
  const desired = desiredTaps(VM, [nic(1), nic(2)]);
  const [t0, t1] = [tapName(VM, 0), tapName(VM, 1)];
  const matching: NodeObservation = {
    kernelTaps: [{ name: t0, up: true }, { name: t1, up: true }],
    interfaces: [iface(t0, { ...labels(1), 'ovn-installed': 'true' }), iface(t1, labels(2)), iface('vp1', { 'iface-id': 'someone' })],
  };

  it('creates, brings up and adds every missing tap', () => {
    expect(planTaps(VM, desired, empty)).toEqual({
      createTaps: [t0, t1],
      setUp: [t0, t1],
      ovs: [{ op: 'add-port', tap: t0, externalIds: labels(1) }, { op: 'add-port', tap: t1, externalIds: labels(2) }],
      deleteTaps: [],
    });
  });

  it('is empty when the node matches (keys ovn-controller added are left alone)', () => {
    expect(isEmptyPlan(planTaps(VM, desired, matching))).toBe(true);
  });

  it('fixes only what differs: a down tap, a wrong label, a port on another bridge', () => {
    const observed: NodeObservation = {
      kernelTaps: [{ name: t0, up: false }, { name: t1, up: true }],
      interfaces: [iface(t0, { ...labels(1), 'iface-id': 'stale' }), iface(t1, labels(2), false)],
    };
    expect(planTaps(VM, desired, observed)).toEqual({
      createTaps: [],
      setUp: [t0],
      ovs: [{ op: 'set-external-ids', tap: t0, externalIds: labels(1) }, { op: 'del-port', tap: t1 }, { op: 'add-port', tap: t1, externalIds: labels(2) }],
      deleteTaps: [],
    });
  });

  it("removes this VM's taps that are no longer wanted, labelled or only named like ours", () => {
    const t5 = tapName(VM, 5);
    const observed: NodeObservation = {
      kernelTaps: [...matching.kernelTaps, { name: t5, up: true }, { name: tapName(OTHER, 1), up: true }],
      interfaces: [...matching.interfaces, iface('renamed', labels(3)), iface(tapName(OTHER, 1), labels(1, OTHER))],
    };
    const plan = planTaps(VM, desired.slice(0, 1), observed);
    expect(plan.ovs).toEqual([{ op: 'del-port', tap: t1 }, { op: 'del-port', tap: 'renamed' }]);
    expect(plan.deleteTaps).toEqual([t1, t5]);
    expect(plan.createTaps).toEqual([]);
    const gone = planTaps(VM, [], observed);
    expect(gone.ovs.map((change) => change.tap)).toEqual([t0, t1, 'renamed']);
    expect(gone.deleteTaps).toEqual([t0, t1, t5]);
  });

  it('refuses a tap name another VM holds instead of relabelling it', () => {
    const observed: NodeObservation = { kernelTaps: [{ name: t0, up: true }], interfaces: [iface(t0, labels(1, OTHER))] };
    expect(() => planTaps(VM, desired, observed)).toThrow(TapConflictError);
    // …and never deletes it either.
    expect(planTaps(VM, [], observed)).toEqual({ createTaps: [], setUp: [], ovs: [], deleteTaps: [] });
  });
});

describe('ovsVsctlArgs', () => {
  it('builds one transaction with quoted values', () => {
    expect(ovsVsctlArgs('br-int', [{ op: 'add-port', tap: 'pta', externalIds: { 'iface-id': 'p-1' } }, { op: 'set-external-ids', tap: 'ptb', externalIds: { 'attached-mac': '0a:00:00:00:00:01' } }, { op: 'del-port', tap: 'ptc' }])).toEqual([
      '--', '--may-exist', 'add-port', 'br-int', 'pta', '--', 'set', 'Interface', 'pta', 'external_ids:iface-id="p-1"',
      '--', 'set', 'Interface', 'ptb', 'external_ids:attached-mac="0a:00:00:00:00:01"',
      '--', '--if-exists', 'del-port', 'ptc',
    ]);
  });
});

describe('parseInterfaces', () => {
  it('reads ovs-vsctl --format=json rows', () => {
    const json = JSON.stringify({ headings: ['name', 'external_ids', 'error'], data: [['pt1', ['map', [['iface-id', 'p'], ['ovn-installed', 'true']]], ['set', []]], ['pt2', ['map', []], 'could not open network device pt2 (No such device)']] });
    expect(parseInterfaces(json, new Set(['pt1']))).toEqual([
      { name: 'pt1', externalIds: { 'iface-id': 'p', 'ovn-installed': 'true' }, onBridge: true },
      { name: 'pt2', externalIds: {}, onBridge: false, error: 'could not open network device pt2 (No such device)' },
    ]);
  });
});
