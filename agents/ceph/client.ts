// How a PhotonCloud process reaches a Ceph cluster: a ceph.conf naming the monitors (mon_host) and a keyring
// with a client's key, as Ceph's own tools and QEMU's rbd driver take them. The controller manager and every
// node agent get the same three flags; the all-in-one passes its local cluster's.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../lib/cli.ts';

export interface CephClientConfig {
  /** ceph.conf with mon_host. */
  conf: string;
  /** Client name without the `client.` prefix. */
  id: string;
  /** Keyring file holding the client's key. */
  keyring: string;
}

/** The three flags' usage lines, descriptions starting at `column`; `without` says what happens without Ceph. */
export function cephClientUsage(column: number, without: string): string {
  const line = (flag: string, text: string) => `  ${flag.padEnd(column - 2)}${text}\n`;
  const more = (text: string) => `${' '.repeat(column)}${text}\n`;
  return (
    line('--ceph-conf FILE', 'ceph.conf of the Ceph cluster Volumes live in (its mon_host); without it') +
    more(`${without} (the all-in-one passes its local cluster's)`) +
    line('--ceph-keyring FILE', 'keyring holding the key of that Ceph client (with --ceph-conf)') +
    line('--ceph-id NAME', 'the Ceph client, without "client." (default: admin)')
  );
}

export const CEPH_CLIENT_FLAGS = {
  'ceph-conf': { type: 'string' },
  'ceph-keyring': { type: 'string' },
  'ceph-id': { type: 'string', default: 'admin' },
} as const;

/** The client the flags describe, or undefined when no --ceph-conf was given; a UsageError for half a set. */
export function cephClientFromFlags(values: Record<string, unknown>): CephClientConfig | undefined {
  const conf = values['ceph-conf'] as string | undefined;
  const keyring = values['ceph-keyring'] as string | undefined;
  const id = (values['ceph-id'] as string | undefined) ?? 'admin';
  if (!conf) {
    if (keyring) throw new UsageError('--ceph-keyring needs --ceph-conf');
    return undefined;
  }
  if (!keyring) throw new UsageError('--ceph-conf needs --ceph-keyring (the key of the Ceph client PhotonCloud uses)');
  for (const [flag, file] of [['--ceph-conf', conf], ['--ceph-keyring', keyring]]) if (!fs.existsSync(file)) throw new UsageError(`${flag} ${file}: no such file`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new UsageError(`--ceph-id must be a Ceph client name such as admin or photon, got ${JSON.stringify(id)}`);
  return { conf: path.resolve(conf), keyring: path.resolve(keyring), id };
}

/**
 * The base64 key of the client from its keyring (`[client.<id>]` then `key = …`). QEMU takes the key alone, from
 * a file, so it never appears on a command line.
 */
export function keyOf(client: CephClientConfig): string {
  const text = fs.readFileSync(client.keyring, 'utf8');
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) section = header[1].trim();
    const key = /^\s*key\s*=\s*([A-Za-z0-9+/=]+)\s*$/.exec(line);
    if (key && section === `client.${client.id}`) return key[1];
  }
  throw new Error(`${client.keyring} holds no key for client.${client.id}`);
}
