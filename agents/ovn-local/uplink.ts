// An uplink from a chassis network namespace to the host, for what QEMU must reach besides its taps. A
// userspace chassis runs ovs-vswitchd — and so the taps and the QEMUs using them — in a namespace of its own
// (see dev.ts, test/env/ovn.ts), whose loopback is not the host's: a Ceph listening on the host's 127.0.0.1 is
// out of QEMU's reach there. So the local Ceph listens on HOST_SERVICES_ADDRESS, a link-local address on the
// host's loopback, and every chassis namespace gets a veth pair to the host with a route to it (Linux answers
// for any local address on any interface, so nothing is forwarded). The routes and the veth vanish with the
// namespace; the loopback address stays (one /32, harmless, set again idempotently).
import crypto from 'node:crypto';
import { run, runChecked } from './commands.ts';

/** Where host services that VMs' QEMUs use (the local Ceph) listen: on the host's lo, reachable from chassis namespaces. */
export const HOST_SERVICES_ADDRESS = '169.254.199.1';
/** The uplinks' own addresses: one /32 per chassis namespace. */
const UPLINK_PREFIX = '169.254.198';

/** Puts HOST_SERVICES_ADDRESS on the host's loopback (needs root; idempotent). */
export async function ensureHostServicesAddress(): Promise<void> {
  await runChecked('ip', ['addr', 'replace', `${HOST_SERVICES_ADDRESS}/32`, 'dev', 'lo']);
}

/** Connects a namespace to the host: veth `pu…` (host) / `up0` (namespace), routes both ways to HOST_SERVICES_ADDRESS. */
export async function addUplink(netns: string): Promise<{ hostInterface: string; address: string }> {
  await ensureHostServicesAddress();
  const existing = await run('ip', ['-n', netns, '-o', 'addr', 'show', 'dev', 'up0']);
  const present = /inet (\d+\.\d+\.\d+\.\d+)\/32/.exec(existing.stdout);
  if (existing.code === 0 && present) return { hostInterface: '', address: present[1] }; // made by an earlier start
  for (let attempt = 0; attempt < 20; attempt++) {
    const address = `${UPLINK_PREFIX}.${crypto.randomInt(2, 255)}`;
    const taken = await run('ip', ['route', 'show', `${address}/32`]);
    if (taken.stdout.trim()) continue;
    const hostInterface = `pu${crypto.randomBytes(4).toString('hex')}`;
    const steps: string[][] = [
      ['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', 'up0', 'netns', netns],
      ['link', 'set', hostInterface, 'up'],
      ['-n', netns, 'link', 'set', 'up0', 'up'],
      ['-n', netns, 'link', 'set', 'lo', 'up'],
      ['-n', netns, 'addr', 'add', `${address}/32`, 'dev', 'up0'],
      ['-n', netns, 'route', 'add', `${HOST_SERVICES_ADDRESS}/32`, 'dev', 'up0'],
      ['route', 'add', `${address}/32`, 'dev', hostInterface],
    ];
    try {
      for (const step of steps) await runChecked('ip', step);
      return { hostInterface, address };
    } catch (error) {
      await run('ip', ['link', 'delete', hostInterface]);
      if (attempt === 19) throw error;
    }
  }
  throw new Error(`no free uplink address in ${UPLINK_PREFIX}.0/24`);
}
