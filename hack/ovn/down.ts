// Stops the OVN daemons under $PHOTON_HOME/ovn by their pidfiles: the chassis (ovn-controller, ovs-vswitchd,
// its ovsdb-server, its photon-ovn-<hash> namespace), then ovn-northd and the NB/SB ovsdb-servers. The local
// OVN (hack/ovn/up.ts, `photon ovn-local`, the all-in-one) now stops its daemons itself and they die with it;
// this is for one running in the background, and for the detached daemons older versions left running after
// a killed all-in-one. Keeps the databases unless --purge (which removes $PHOTON_HOME/ovn). Idempotent.
//
//   node --import tsx hack/ovn/down.ts [--purge]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { run } from '../../agents/ovn-local/commands.ts';
import { devLayout, runningPid, terminate } from '../../agents/ovn-local/dev.ts';

const { values } = parseArgs({ options: { purge: { type: 'boolean', default: false } } });
const layout = devLayout();
const stopped: string[] = [];

const daemons: Array<[dir: string, name: string, command: string]> = [
  [layout.chassisDir, 'ovn-controller', 'ovn-controller'],
  [layout.chassisDir, 'vswitchd', 'ovs-vswitchd'],
  [layout.chassisDir, 'ovsdb', 'ovsdb-server'],
  [layout.dir, 'northd', 'ovn-northd'],
  [layout.dir, 'nb', 'ovsdb-server'],
  [layout.dir, 'sb', 'ovsdb-server'],
];

for (const [dir, name, command] of daemons) {
  const pidfile = `${dir}/${name}.pid`;
  const pid = runningPid(pidfile, command);
  if (pid !== undefined) {
    await terminate(pid);
    stopped.push(`${name} (${command}, pid ${pid})`);
  }
  fs.rmSync(pidfile, { force: true });
}

const namespaces = await run('ip', ['netns', 'list']);
if (namespaces.stdout.split('\n').some((line) => line.split(' ')[0] === layout.chassisNetns)) {
  await run('ip', ['netns', 'delete', layout.chassisNetns]);
  stopped.push(`netns ${layout.chassisNetns}`);
}

if (values.purge) fs.rmSync(layout.dir, { recursive: true, force: true });
console.log(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
if (values.purge) console.log(`removed ${layout.dir}`);
