// Names and values the node network driver puts on command lines. A tap's name derives from the VM's UID and
// the interface's index alone, so every agent (and QEMU, which opens the tap by name) computes the same name
// without asking anyone, and a restarted agent finds its taps again. Linux limits interface names to 15
// characters (IFNAMSIZ 16 with the NUL): "pt" + 10 hex digits of sha256(uid) + the index in decimal (0-999).
// The hash part is fixed-length, so "pt<h>1" and "pt<h>12" never belong to different (uid, index) pairs.
import { createHash } from 'node:crypto';

export const TAP_PREFIX = 'pt';
const HASH_HEX = 10;
export const MAX_INTERFACES = 1000;
/** Linux's limit on an interface name's length (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/** Every name this driver gives a tap: pt + 10 hex + 1-3 decimal digits (no leading zero unless 0). */
export const TAP_NAME = /^pt[0-9a-f]{10}(0|[1-9][0-9]{0,2})$/;

/** The part of a tap's name common to all of one VM's taps. */
export function tapPrefix(vmUid: string): string {
  assertToken('VM UID', vmUid);
  return `${TAP_PREFIX}${createHash('sha256').update(vmUid).digest('hex').slice(0, HASH_HEX)}`;
}

/** The tap of a VM's interface number `index` (0-based, < 1000). */
export function tapName(vmUid: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_INTERFACES) throw new Error(`interface index must be an integer in [0, ${MAX_INTERFACES}), got ${index}`);
  return `${tapPrefix(vmUid)}${index}`;
}

/**
 * UIDs and OVN port names (a Port's UID) reach ovs-vsctl as `external_ids:key="value"`: letters, digits and
 * `_ . -` only (a UUID fits), at most 128 characters, so no value can carry ovs-vsctl syntax (quotes, commas,
 * `=`, `--`) or an option.
 */
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function assertToken(what: string, value: string): void {
  if (typeof value !== 'string' || !TOKEN.test(value)) throw new Error(`invalid ${what} ${JSON.stringify(value)}: letters, digits, '_', '.', '-' only (at most 128, not starting with a symbol)`);
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** A unicast MAC in lowercase colon form, or an error. */
export function normalizeMac(mac: string): string {
  const lower = typeof mac === 'string' ? mac.toLowerCase() : '';
  if (!MAC.test(lower)) throw new Error(`invalid MAC address ${JSON.stringify(mac)}: expected xx:xx:xx:xx:xx:xx`);
  if (parseInt(lower.slice(0, 2), 16) & 1) throw new Error(`invalid MAC address ${mac}: multicast`);
  return lower;
}

/** A network namespace's name (as `ip netns` stores it under /run/netns) or a bridge's name. */
const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function assertNetnsName(name: string): void {
  if (typeof name !== 'string' || !NETNS.test(name)) throw new Error(`invalid network namespace name ${JSON.stringify(name)}`);
}

export function assertBridgeName(name: string): void {
  if (typeof name !== 'string' || !NETNS.test(name) || name.length > IFNAME_MAX) throw new Error(`invalid bridge name ${JSON.stringify(name)}`);
}
