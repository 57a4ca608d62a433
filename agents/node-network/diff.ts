// The diff between the taps one VM should have (desired-state.ts) and what the node shows (kernel tap
// devices in the vswitchd's namespace, OVS Interfaces), as a plan the driver runs in three steps: create and
// bring up missing kernel taps; one ovs-vsctl transaction for every port change; delete kernel taps no longer
// wanted (after their ports are gone, so vswitchd never holds a vanished device). Pure, so it is tested
// without OVS (diff.test.ts); an empty plan means nothing runs.
//
// What belongs to a VM: OVS Interfaces labelled external_ids:photoncloud-vm-uid=<uid>, and kernel taps (and
// unlabelled Interfaces) named with the VM's prefix — a crash between creating a tap and adding its port
// leaves an unlabelled tap that only the name ties to the VM.
import { VM_UID, type DesiredTap } from './desired-state.ts';
import { TAP_NAME, tapPrefix } from './names.ts';

/** A tap device in the kernel (`ip -d link show type tun`, mode tap). */
export interface ObservedKernelTap {
  name: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
}

/** An OVS Interface row (it exists only while a Port on some bridge holds it). */
export interface ObservedInterface {
  name: string;
  externalIds: Readonly<Record<string, string>>;
  /** Whether its port is on the integration bridge. */
  onBridge: boolean;
  /** The Interface's error column (vswitchd could not open the device), if any. */
  error?: string;
}

export interface NodeObservation {
  kernelTaps: readonly ObservedKernelTap[];
  interfaces: readonly ObservedInterface[];
}

export type OvsChange =
  | { op: 'add-port'; tap: string; externalIds: Readonly<Record<string, string>> }
  | { op: 'set-external-ids'; tap: string; externalIds: Readonly<Record<string, string>> }
  | { op: 'del-port'; tap: string };

export interface TapPlan {
  /** `ip tuntap add dev <tap> mode tap` */
  createTaps: string[];
  /** `ip link set dev <tap> up` (new taps too: they are created down). */
  setUp: string[];
  /** One ovs-vsctl transaction, in order. */
  ovs: OvsChange[];
  /** `ip link del dev <tap>`, after the transaction. */
  deleteTaps: string[];
}

export const isEmptyPlan = (plan: TapPlan) => plan.createTaps.length + plan.setUp.length + plan.ovs.length + plan.deleteTaps.length === 0;

/** A tap name of this VM that another VM's Interface already carries (a 40-bit hash collision, or tampering). */
export class TapConflictError extends Error {
  constructor(readonly tap: string, readonly vmUid: string, readonly otherVmUid: string) {
    super(`tap ${tap} of VM ${vmUid} is already on the bridge for VM ${otherVmUid}`);
    this.name = 'TapConflictError';
  }
}

/** Whether an Interface or tap named `name` with these labels belongs to `vmUid`. */
function ownedBy(vmUid: string, prefix: string, name: string, externalIds?: Readonly<Record<string, string>>): boolean {
  const label = externalIds?.[VM_UID];
  if (label !== undefined) return label === vmUid;
  return name.startsWith(prefix) && TAP_NAME.test(name);
}

export function planTaps(vmUid: string, desired: readonly DesiredTap[], observed: NodeObservation): TapPlan {
  const prefix = tapPrefix(vmUid);
  const plan: TapPlan = { createTaps: [], setUp: [], ovs: [], deleteTaps: [] };
  const wanted = new Map(desired.map((tap) => [tap.tap, tap]));
  const kernel = new Map(observed.kernelTaps.map((tap) => [tap.name, tap]));
  const interfaces = new Map(observed.interfaces.map((row) => [row.name, row]));

  for (const tap of desired) {
    const device = kernel.get(tap.tap);
    if (!device) plan.createTaps.push(tap.tap);
    if (!device?.up) plan.setUp.push(tap.tap);
    const row = interfaces.get(tap.tap);
    const label = row?.externalIds[VM_UID];
    if (row && label !== undefined && label !== vmUid) throw new TapConflictError(tap.tap, vmUid, label);
    if (!row) {
      plan.ovs.push({ op: 'add-port', tap: tap.tap, externalIds: tap.externalIds });
    } else if (!row.onBridge) {
      // On another bridge: move it (one transaction, so ovn-controller never sees it half-configured).
      plan.ovs.push({ op: 'del-port', tap: tap.tap }, { op: 'add-port', tap: tap.tap, externalIds: tap.externalIds });
    } else if (Object.entries(tap.externalIds).some(([key, value]) => row.externalIds[key] !== value)) {
      plan.ovs.push({ op: 'set-external-ids', tap: tap.tap, externalIds: tap.externalIds });
    }
  }

  for (const row of observed.interfaces) {
    if (!wanted.has(row.name) && ownedBy(vmUid, prefix, row.name, row.externalIds)) plan.ovs.push({ op: 'del-port', tap: row.name });
  }
  for (const device of observed.kernelTaps) {
    if (wanted.has(device.name) || !device.name.startsWith(prefix) || !TAP_NAME.test(device.name)) continue;
    // A tap with our VM's prefix that another VM's Interface claims is not ours to delete.
    const row = interfaces.get(device.name);
    if (row && !ownedBy(vmUid, prefix, row.name, row.externalIds)) continue;
    plan.deleteTaps.push(device.name);
  }
  return plan;
}

/** The ovs-vsctl arguments (after the global options) of one transaction making `changes` on `bridge`. */
export function ovsVsctlArgs(bridge: string, changes: readonly OvsChange[]): string[] {
  const args: string[] = [];
  const labels = (externalIds: Readonly<Record<string, string>>) => Object.entries(externalIds).map(([key, value]) => `external_ids:${key}=${JSON.stringify(value)}`);
  for (const change of changes) {
    if (change.op === 'add-port') args.push('--', '--may-exist', 'add-port', bridge, change.tap, '--', 'set', 'Interface', change.tap, ...labels(change.externalIds));
    else if (change.op === 'set-external-ids') args.push('--', 'set', 'Interface', change.tap, ...labels(change.externalIds));
    else args.push('--', '--if-exists', 'del-port', change.tap);
  }
  return args;
}

