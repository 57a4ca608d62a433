// Desired node network state as plain data: the taps one VM should have on this node, each on br-int with
// the external_ids ovn-controller binds by (iface-id = the Port's OVN logical switch port name, the Port's
// UID) and the ones this driver finds its taps by (photoncloud-vm-uid). No I/O: unit-tested on its own.
import { assertToken, normalizeMac, tapName } from './names.ts';

/** One network interface of a VM, as the compute controller describes it. */
export interface VmInterface {
  /** The interface's name in the VM's spec (informational; the tap's name derives from its position). */
  name: string;
  /** The Port's OVN logical switch port name (its UID): ovn-controller binds the tap to this port. */
  ifaceId: string;
  /** The guest's MAC address on this interface (the Port's status.macAddress). */
  mac: string;
}

/** The external_ids keys the driver writes on an OVS Interface. */
export const IFACE_ID = 'iface-id';
export const VM_UID = 'photoncloud-vm-uid';
export const ATTACHED_MAC = 'attached-mac';
/** Written by ovn-controller once the port's flows are installed (OVN >= 20.12). */
export const OVN_INSTALLED = 'ovn-installed';

export interface DesiredTap {
  /** Kernel tap device and OVS port/Interface name. */
  tap: string;
  index: number;
  /** Exactly these keys of the Interface's external_ids (others, e.g. ovn-installed, are left alone). */
  externalIds: Readonly<Record<string, string>>;
}

/** The taps `vmUid` should have: one per interface, in order; throws on invalid input. */
export function desiredTaps(vmUid: string, interfaces: readonly VmInterface[]): DesiredTap[] {
  assertToken('VM UID', vmUid);
  const seen = new Set<string>();
  return interfaces.map((iface, index) => {
    assertToken(`iface-id of interface ${index}`, iface.ifaceId);
    if (seen.has(iface.ifaceId)) throw new Error(`two interfaces of VM ${vmUid} use iface-id ${iface.ifaceId}`);
    seen.add(iface.ifaceId);
    return {
      tap: tapName(vmUid, index),
      index,
      externalIds: { [IFACE_ID]: iface.ifaceId, [VM_UID]: vmUid, [ATTACHED_MAC]: normalizeMac(iface.mac) },
    };
  });
}
