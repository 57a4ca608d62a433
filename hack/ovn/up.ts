// Runs the local OVN by hand, in the foreground, under $PHOTON_HOME/ovn: the same code as `photon ovn-local`
// (agents/ovn-local/main.ts), which is what `photon all-in-one` runs. Its daemons are its children and stop
// with it (Ctrl-C, SIGTERM, and even SIGKILL); run it in a second terminal, or in the background with `&`.
//
//   node --import tsx hack/ovn/up.ts [--chassis] [--ovn-nb-port 6641] [--ovn-sb-port 6642] [--home DIR]
//
// `--chassis` adds a userspace chassis (needs root). hack/ovn/down.ts stops one running in the background,
// removes the chassis namespace, and with --purge the databases.
import { OVN_LOCAL_USAGE, ovnLocalMain } from '../../agents/ovn-local/main.ts';
import { runIfMain } from '../../lib/cli.ts';

runIfMain(import.meta.url, 'hack/ovn/up.ts', OVN_LOCAL_USAGE.replace('photon ovn-local', 'node --import tsx hack/ovn/up.ts'), ovnLocalMain);
