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

export const CEPH_CLIENT_USAGE = `  --ceph-conf FILE            ceph.conf of the Ceph cluster ceph-rbd StorageClasses use (its mon_host); without it
                              their Volumes report CephUnavailable (the all-in-one passes its local cluster's)
  --ceph-keyring FILE         keyring holding the key of the Ceph client below (with --ceph-conf)
  --ceph-id NAME              Ceph client name without "client." (default: admin)
`;

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
