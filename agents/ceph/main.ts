// `photon ceph-local [flags]`: a local one-node Ceph in the foreground (local.ts) under $PHOTON_HOME/ceph, as its
// own component so the all-in-one supervises it like the local OVN and PowerDNS. Its daemons are its children
// and die with it, even on SIGKILL; the cluster and its data stay in $PHOTON_HOME/ceph for the next start.
//
// It listens on HOST_SERVICES_ADDRESS (a link-local address it puts on the host's loopback, as root) so QEMUs
// in the all-in-one's chassis namespace reach it (agents/ovn-local/uplink.ts); without root, on 127.0.0.1.
// With --ready-fd N it writes one JSON line to file descriptor N once the OSD is up
// ({"client":{"conf":…,"id":…,"keyring":…},"monHost":…}, and with --rgw "s3":{"endpoint":…,"credentials":FILE})
// and closes it: the all-in-one hands the client to the controller manager and the node agent (--ceph-conf,
// --ceph-keyring, --ceph-id), and the gateway to the controller manager (--rgw-endpoint, --rgw-credentials).
import path from 'node:path';
import { writePrivateFileAtomic } from '../../lib/private-file.ts';
import { parseFlags, photonHome, readyFdFlag, reportReady, runIfMain, UsageError } from '../../lib/cli.ts';
import { createLogger, errorMessage, setLogLevel } from '../../lib/logging.ts';
import { ensureHostServicesAddress, HOST_SERVICES_ADDRESS } from '../ovn-local/uplink.ts';
import { startLocalCeph, type LocalCeph } from './local.ts';

export const CEPH_LOCAL_USAGE = `Usage: photon ceph-local [flags]

Runs a one-node Ceph (a monitor, a manager and one BlueStore OSD on a sparse file) in the foreground under
$PHOTON_HOME/ceph, for Volumes of ceph-rbd StorageClasses. Its daemons are children of this process and die with
it, even on SIGKILL; the cluster and its data are kept for the next start. As root it listens on
${HOST_SERVICES_ADDRESS} (put on the host's loopback, reachable from the chassis namespace where QEMU runs),
otherwise on 127.0.0.1. Use its client with: ceph --conf $PHOTON_HOME/ceph/ceph.conf -s

  --osd-size GIB      size of the OSD's file, in GiB (sparse; default 20); used when the cluster is created
  --rgw               also run radosgw, the S3 gateway for Buckets (its admin user's key is written to
                      $PHOTON_HOME/ceph/rgw-admin.json, 0600)
  --home DIR          state directory (default: $PHOTON_HOME or ./.photon)
  --ready-fd N        when serving, write the client configuration as one JSON line to file descriptor N
  --log-level LEVEL   error|warn|info|http|debug (default: info)
`;

export async function cephLocalMain(argv: string[]): Promise<void> {
  const values = parseFlags(argv, {
    'osd-size': { type: 'string', default: '20' },
    rgw: { type: 'boolean' },
    home: { type: 'string' },
    'ready-fd': { type: 'string' },
    'log-level': { type: 'string' },
  });
  if (values['log-level']) setLogLevel(values['log-level']);
  const osdGiB = Number(values['osd-size']);
  if (!Number.isInteger(osdGiB) || osdGiB < 2 || osdGiB > 4096) throw new UsageError(`--osd-size must be a whole number of GiB from 2 to 4096, got ${JSON.stringify(values['osd-size'])}`);
  const readyFd = readyFdFlag(values['ready-fd']);
  const log = createLogger('ceph-local');
  let address = '127.0.0.1';
  if (process.getuid?.() === 0) {
    await ensureHostServicesAddress();
    address = HOST_SERVICES_ADDRESS;
  }
  let cluster: LocalCeph | undefined;
  let stopping = false;
  const stop = (why: string, status: number) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping the local Ceph', { reason: why });
    if (cluster) cluster.stop().then(() => process.exit(status), () => process.exit(1));
    else process.exit(status);
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  const dir = path.join(photonHome(values.home), 'ceph');
  cluster = await startLocalCeph({ dir, address, osdBytes: osdGiB * 1024 ** 3, rgw: values.rgw === true, onLog: (line) => log.debug(line) });
  if (stopping) {
    await cluster.stop();
    process.exit(0);
  }
  log.info('the local Ceph is ready', { monHost: cluster.monHost, conf: cluster.client.conf, try: `ceph --conf ${cluster.client.conf} -s` });
  let s3: { endpoint: string; credentials: string } | undefined;
  if (cluster.s3) {
    const credentials = path.join(dir, 'rgw-admin.json');
    writePrivateFileAtomic(credentials, JSON.stringify(cluster.s3.admin));
    s3 = { endpoint: cluster.s3.endpoint, credentials };
    log.info('the local S3 gateway is ready', { endpoint: cluster.s3.endpoint });
  }
  reportReady(readyFd, { client: cluster.client, monHost: cluster.monHost, ...(s3 ? { s3 } : {}) });
  void cluster.failed.then((error) => {
    if (stopping) return;
    log.error('a Ceph daemon ended', { error: errorMessage(error) });
    stop('a Ceph daemon ended', 1);
  });
}

runIfMain(import.meta.url, 'photon ceph-local', CEPH_LOCAL_USAGE, cephLocalMain);
