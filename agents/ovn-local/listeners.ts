// Which process listens on a TCP port, read from /proc (Linux). The local OVN needs this because
// ovsdb-server does not fail when its TCP remote cannot bind: it logs "listen failed", keeps running and
// retries, so a client of 127.0.0.1:6641 may silently reach some other OVN. Asking the kernel whether the
// listening socket on that port belongs to *our* ovsdb-server is the only check that cannot be fooled by
// another OVSDB server answering the same protocol there.
import fs from 'node:fs';

const LISTEN = '0A';

interface Listener {
  /** Hex address as /proc/net/tcp writes it (IPv4 little-endian, e.g. 0100007F for 127.0.0.1). */
  address: string;
  port: number;
  inode: string;
}

/** Listening TCP sockets of a network namespace (that of `pid`, or this process's). */
function listeners(pid: number | 'self' = 'self'): Listener[] {
  const found: Listener[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== LISTEN) continue;
      const [address, port] = fields[1]!.split(':');
      found.push({ address: address!, port: parseInt(port!, 16), inode: fields[9]! });
    }
  }
  return found;
}

/** The inodes of the sockets a process has open (empty when it is gone or not ours to read). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

/** /proc/net/tcp's spelling of an IPv4 address: the four bytes in host (little-endian) order, in hex. */
function procAddress(ipv4: string): string {
  return ipv4
    .split('.')
    .map((byte) => Number(byte).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/** Whether process `pid` itself holds the listening socket on ipv4:port (in its own network namespace). */
export function listensOn(pid: number, ipv4: string, port: number): boolean {
  const wanted = procAddress(ipv4);
  const candidates = listeners(pid).filter((listener) => listener.port === port && listener.address === wanted);
  if (candidates.length === 0) return false;
  const owned = socketInodes(pid);
  return candidates.some((listener) => owned.has(listener.inode));
}

/**
 * Who listens on a TCP port in this network namespace (any address), for an error message: "pid 123
 * (ovsdb-server)", or undefined when nobody does or the owner cannot be seen (another user's process
 * without root).
 */
export function describeListener(port: number): string | undefined {
  const inodes = new Set(listeners().filter((listener) => listener.port === port).map((listener) => listener.inode));
  if (inodes.size === 0) return undefined;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    for (const inode of socketInodes(pid)) {
      if (!inodes.has(inode)) continue;
      let command = '?';
      try {
        command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').replace(/\s+/g, ' ').slice(0, 160);
      } catch {
        // ended while we looked
      }
      return `pid ${pid}: ${command}`;
    }
  }
  return 'a process this user cannot see';
}
