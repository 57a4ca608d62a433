// The local OVN's layout, shared by local.ts (what `photon ovn-local`, the all-in-one and hack/ovn/up.ts run)
// and hack/ovn/down.ts.
//
// $PHOTON_HOME/ovn/            (PHOTON_HOME defaults to ./.photon, as for `photon`)
//   nb.db  sb.db               databases (kept across runs; hack/ovn/down.ts --purge removes them)
//   nb.sock  sb.sock           unix sockets: unix:$PHOTON_HOME/ovn/nb.sock, unix:$PHOTON_HOME/ovn/sb.sock
//   nb.pid sb.pid northd.pid   pidfiles of the running daemons; *.log their logs; *.ctl their control sockets
//   chassis/                   the optional development chassis (--chassis): conf.db, db.sock, pidfiles, logs
// TCP: NB on 127.0.0.1:6641, SB on 127.0.0.1:6642 (the OVN defaults; --ovn-nb-port/--ovn-sb-port to change).
// The chassis's ovs-vswitchd runs in the network namespace "photon-ovn-<8 hex of the ovn dir's path>" (one per
// PHOTON_HOME, so two homes' chassis never share one; see test/env/ovn.ts for why a userspace chassis needs a
// namespace of its own); its system-id is "photon-dev".
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const CHASSIS_NAME = 'photon-dev';
export const DEFAULT_NB_PORT = 6641;
export const DEFAULT_SB_PORT = 6642;

export interface DevLayout {
  dir: string;
  nbDb: string;
  sbDb: string;
  nbSock: string;
  sbSock: string;
  chassisDir: string;
  chassisDb: string;
  chassisSock: string;
  /** The network namespace of this home's chassis. */
  chassisNetns: string;
}

export function devLayout(home = process.env.PHOTON_HOME ?? '.photon'): DevLayout {
  const dir = path.join(path.resolve(home), 'ovn');
  const chassisDir = path.join(dir, 'chassis');
  return {
    dir,
    nbDb: path.join(dir, 'nb.db'),
    sbDb: path.join(dir, 'sb.db'),
    nbSock: path.join(dir, 'nb.sock'),
    sbSock: path.join(dir, 'sb.sock'),
    chassisDir,
    chassisNetns: `photon-ovn-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}`,
    chassisDb: path.join(chassisDir, 'conf.db'),
    chassisSock: path.join(chassisDir, 'db.sock'),
  };
}

/** The pid in a pidfile when that process is alive and is `command` (not a recycled pid), else undefined. */
export function runningPid(pidfile: string, command: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    // A zombie (exited, not yet reaped by its parent) is not running.
    if (/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))) return undefined;
    // comm is truncated to 15 characters.
    return command.startsWith(comm) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
export async function terminate(pid: number, graceMs = 5000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive()) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
