// Starts OVN for development, detached, under $PHOTON_HOME/ovn (layout in agents/ovn-local/dev.ts):
//
//   node --import tsx hack/ovn/up.ts [--chassis] [--nb-port 6641] [--sb-port 6642]
//
// NB ovsdb-server on unix:$PHOTON_HOME/ovn/nb.sock and tcp:127.0.0.1:6641, SB on .../sb.sock and
// tcp:127.0.0.1:6642, ovn-northd; with --chassis also a userspace chassis "photon-dev" (ovsdb-server,
// ovs-vswitchd in the namespace photon-ovn-chassis, ovn-controller). Idempotent: daemons already running
// (pidfile + live process) are left alone, so running it twice is a no-op; databases are created once and
// converted when the installed schema is newer. Stop with hack/ovn/down.ts. Needs root for --chassis.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  chassisRegistered,
  chassisSettings,
  createDatabase,
  northdArgs,
  northdSynced,
  OVN_NB_SCHEMA,
  OVN_SB_SCHEMA,
  ovnControllerArgs,
  ovsdbServerArgs,
  ovsEnv,
  run,
  runChecked,
  VSWITCH_SCHEMA,
  vswitchdArgs,
} from '../../agents/ovn-local/commands.ts';
import { waitFor } from '../../test/env/process.ts';
import { CHASSIS_NAME, CHASSIS_NETNS, DEFAULT_NB_PORT, DEFAULT_SB_PORT, devLayout, runningPid } from '../../agents/ovn-local/dev.ts';

const { values } = parseArgs({
  options: {
    chassis: { type: 'boolean', default: false },
    'nb-port': { type: 'string', default: String(DEFAULT_NB_PORT) },
    'sb-port': { type: 'string', default: String(DEFAULT_SB_PORT) },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node --import tsx hack/ovn/up.ts [--chassis] [--nb-port 6641] [--sb-port 6642]');
  process.exit(0);
}

const layout = devLayout();
const nbPort = Number(values['nb-port']);
const sbPort = Number(values['sb-port']);
const started: string[] = [];

async function ensureDatabase(file: string, schema: string): Promise<void> {
  if (!fs.existsSync(file)) return createDatabase(file, schema);
  const needs = await run('ovsdb-tool', ['needs-conversion', file, schema]);
  if (needs.stdout.trim() === 'yes') await runChecked('ovsdb-tool', ['convert', file, schema]);
}

/** Starts a detached daemon unless its pidfile names a live process. */
async function ensureDaemon(dir: string, name: string, command: string, args: string[], prefix: string[] = []): Promise<void> {
  if (runningPid(`${dir}/${name}.pid`, command) !== undefined) return;
  // --detach returns once the daemon is initialised (ovsdb-server: listening on its remotes).
  const [program, ...rest] = prefix.length > 0 ? [...prefix, command, ...args] : [command, ...args];
  await runChecked(program!, rest, { env: ovsEnv(dir), timeoutMs: 30_000 });
  started.push(`${name} (${command})`);
}

async function central(): Promise<void> {
  fs.mkdirSync(layout.dir, { recursive: true });
  if (layout.nbSock.length > 100) console.warn(`warning: ${layout.nbSock} is close to the 107-byte unix socket path limit`);
  await ensureDatabase(layout.nbDb, OVN_NB_SCHEMA);
  await ensureDatabase(layout.sbDb, OVN_SB_SCHEMA);
  const dir = layout.dir;
  await ensureDaemon(dir, 'nb', 'ovsdb-server', ovsdbServerArgs({ dir, name: 'nb', db: layout.nbDb, socket: layout.nbSock, tcpPort: nbPort, detach: true }));
  await ensureDaemon(dir, 'sb', 'ovsdb-server', ovsdbServerArgs({ dir, name: 'sb', db: layout.sbDb, socket: layout.sbSock, tcpPort: sbPort, detach: true }));
  await ensureDaemon(dir, 'northd', 'ovn-northd', northdArgs({ dir, name: 'northd', nb: `unix:${layout.nbSock}`, sb: `unix:${layout.sbSock}`, detach: true }));
  await waitFor('ovn-northd to sync NB to SB', () => northdSynced(`unix:${layout.nbSock}`, ovsEnv(dir)));
}

async function chassis(): Promise<void> {
  const dir = layout.chassisDir;
  const env = ovsEnv(dir);
  fs.mkdirSync(dir, { recursive: true });
  await ensureDatabase(layout.chassisDb, VSWITCH_SCHEMA);
  await ensureDaemon(dir, 'ovsdb', 'ovsdb-server', ovsdbServerArgs({ dir, name: 'ovsdb', db: layout.chassisDb, socket: layout.chassisSock, detach: true }));
  const db = `unix:${layout.chassisSock}`;
  await runChecked('ovs-vsctl', [`--db=${db}`, '--no-wait', 'init'], { env });
  await runChecked('ovs-vsctl', [`--db=${db}`, '--no-wait', ...chassisSettings({ systemId: CHASSIS_NAME, sbRemote: `tcp:127.0.0.1:${sbPort}`, encapIp: '127.0.0.1' })], { env });
  const namespaces = await runChecked('ip', ['netns', 'list']);
  if (!namespaces.split('\n').some((line) => line.split(' ')[0] === CHASSIS_NETNS)) {
    await runChecked('ip', ['netns', 'add', CHASSIS_NETNS]);
    await runChecked('ip', ['-n', CHASSIS_NETNS, 'link', 'set', 'lo', 'up']);
  }
  await ensureDaemon(dir, 'vswitchd', 'ovs-vswitchd', vswitchdArgs({ dir, name: 'vswitchd', db, detach: true }), ['ip', 'netns', 'exec', CHASSIS_NETNS]);
  await ensureDaemon(dir, 'ovn-controller', 'ovn-controller', ovnControllerArgs({ dir, name: 'ovn-controller', db, detach: true }));
  await waitFor(`chassis ${CHASSIS_NAME} in the southbound database`, () => chassisRegistered({ name: CHASSIS_NAME, sbEndpoint: `unix:${layout.sbSock}`, ovsdbEndpoint: db, env }));
}

await central();
if (values.chassis) await chassis();
console.log(started.length > 0 ? `started: ${started.join(', ')}` : 'already running');
console.log(`NB: unix:${layout.nbSock}  tcp:127.0.0.1:${nbPort}`);
console.log(`SB: unix:${layout.sbSock}  tcp:127.0.0.1:${sbPort}`);
if (values.chassis) console.log(`chassis ${CHASSIS_NAME}: unix:${layout.chassisSock} (ovs-vswitchd in netns ${CHASSIS_NETNS})`);
console.log(`e.g. ovn-nbctl --db=unix:${layout.nbSock} show`);
