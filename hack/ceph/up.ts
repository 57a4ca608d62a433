// Runs the local one-node Ceph by hand, in the foreground, under $PHOTON_HOME/ceph: the same code as `photon
// ceph-local` (agents/ceph/main.ts), which is what `photon all-in-one` runs. Its daemons are its children and stop
// with it (Ctrl-C, SIGTERM, and even SIGKILL); its data stays for the next start. Remove $PHOTON_HOME/ceph to
// start afresh.
//
//   node --import tsx hack/ceph/up.ts [--osd-size GIB] [--rgw] [--home DIR]
import { CEPH_LOCAL_USAGE, cephLocalMain } from '../../agents/ceph/main.ts';
import { runIfMain } from '../../lib/cli.ts';

runIfMain(import.meta.url, 'hack/ceph/up.ts', CEPH_LOCAL_USAGE.replace('photon ceph-local', 'node --import tsx hack/ceph/up.ts'), cephLocalMain);
