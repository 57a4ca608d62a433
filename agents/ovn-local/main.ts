// `photon ovn-local [flags]`: a local OVN in the foreground (local.ts), as its own component so that the
// all-in-one supervises it like the API server and the controller manager, and hack/ovn/up.ts runs the same
// code by hand. Its daemons are its children and die with it, even when it is killed with SIGKILL.
//
// With --ready-fd N it writes one JSON line to file descriptor N once every daemon serves (the addresses it
// verified: {"northbound":{"unix":…,"tcp":…},"southbound":…}) and closes it: the all-in-one starts the
// controller manager only after that, and exits with this component's error when it ends before.
import { parseFlags, photonHome, readyFdFlag, reportReady, runIfMain, UsageError, wholeNumberFlag } from '../../lib/cli.ts';
import { createLogger, errorMessage, setLogLevel } from '../../lib/logging.ts';
import { DEFAULT_NB_PORT, DEFAULT_SB_PORT } from './dev.ts';
import { DIE_WITH_PARENT, PORT_FLAGS, startLocalOvn } from './local.ts';
import { onPath } from '../../lib/programs.ts';

export const OVN_LOCAL_USAGE = `Usage: photon ovn-local [flags]

Runs a local OVN in the foreground under $PHOTON_HOME/ovn: the NB and SB ovsdb-server (unix:$PHOTON_HOME/ovn/nb.sock
and sb.sock, and TCP on 127.0.0.1) and ovn-northd, optionally a userspace chassis. Every daemon is a child of this
process and dies with it, even on SIGKILL; SIGINT/SIGTERM stop them in order. It exits non-zero, naming the port,
when a port is taken (it never reports an address it does not serve itself).

  ${PORT_FLAGS.nb} PORT   TCP port of the Northbound database on 127.0.0.1 (default: ${DEFAULT_NB_PORT})
  ${PORT_FLAGS.sb} PORT   TCP port of the Southbound database on 127.0.0.1 (default: ${DEFAULT_SB_PORT})
  --chassis              also a userspace-datapath chassis "photon-dev" (ovs-vswitchd in the network namespace
                         photon-ovn-<hash of $PHOTON_HOME/ovn>, ovn-controller); needs root
  --home DIR             state directory (default: $PHOTON_HOME or ./.photon)
  --ready-fd N           when serving, write the verified addresses as one JSON line to file descriptor N
  --log-level LEVEL      error|warn|info|http|debug (default: info)
`;

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    [PORT_FLAGS.nb.slice(2)]: { type: 'string' },
    [PORT_FLAGS.sb.slice(2)]: { type: 'string' },
    chassis: { type: 'boolean', default: false },
    home: { type: 'string' },
    'ready-fd': { type: 'string' },
    'log-level': { type: 'string' },
  }) as Record<string, string | boolean | undefined>;
  const port = (flag: string, fallback: number) => {
    const value = wholeNumberFlag(values[flag.slice(2)] as string | undefined, 1, `${flag} must be a TCP port (1-65535)`) ?? fallback;
    if (value > 65535) throw new UsageError(`${flag} must be a TCP port (1-65535)`);
    return value;
  };
  const nbPort = port(PORT_FLAGS.nb, DEFAULT_NB_PORT);
  const sbPort = port(PORT_FLAGS.sb, DEFAULT_SB_PORT);
  if (nbPort === sbPort) throw new UsageError(`${PORT_FLAGS.nb} and ${PORT_FLAGS.sb} must differ (both ${nbPort})`);
  const readyFd = readyFdFlag(values['ready-fd'] as string | undefined);
  return { nbPort, sbPort, chassis: values.chassis === true, home: photonHome(values.home as string | undefined), readyFd, logLevel: values['log-level'] as string | undefined };
}

async function main(argv: string[]): Promise<void> {
  const flags = parse(argv);
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = createLogger('ovn-local');
  const missing = [DIE_WITH_PARENT[0], 'ovsdb-tool', 'ovsdb-server', 'ovsdb-client', 'ovn-northd', 'ovn-nbctl', ...(flags.chassis ? ['ovs-vswitchd', 'ovs-vsctl', 'ovn-controller', 'ovn-sbctl', 'ip'] : [])].filter((program) => !onPath(program));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: install ovn-central, ovn-host and openvswitch-switch (OVN) and util-linux (setpriv, which ties the daemons' lives to this process)`);
  }

  const abort = new AbortController();
  let ovn: Awaited<ReturnType<typeof startLocalOvn>> | undefined;
  let stopping = false;
  const stop = (why: string, status: number) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping the local OVN', { reason: why });
    abort.abort();
    // Before it serves, startLocalOvn stops what it started when aborted (below); after, stop() does.
    if (ovn) ovn.stop().then(() => process.exit(status), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));

  try {
    ovn = await startLocalOvn({ home: flags.home, nbPort: flags.nbPort, sbPort: flags.sbPort, chassis: flags.chassis, signal: abort.signal, log: (message) => log.debug(message) });
  } catch (error) {
    if (abort.signal.aborted) process.exit(0);
    throw error;
  }
  if (stopping) {
    // A signal arrived just as the last daemon became ready.
    await ovn.stop();
    process.exit(0);
  }
  log.info('the local OVN is ready', {
    northbound: ovn.northbound.tcp,
    northboundSocket: ovn.northbound.unix,
    southbound: ovn.southbound.tcp,
    southboundSocket: ovn.southbound.unix,
    ...(ovn.chassis ? { chassis: ovn.chassis.name, chassisDb: ovn.chassis.ovsdb, chassisNetns: ovn.chassis.netns } : {}),
    pids: ovn.pids().join(','),
    try: `ovn-nbctl --db=${ovn.northbound.unix} show`,
  });
  reportReady(flags.readyFd, { northbound: ovn.northbound, southbound: ovn.southbound, chassis: ovn.chassis ?? null });
  void ovn.failed.then((error) => {
    if (stopping) return;
    log.error('a local OVN daemon ended; stopping the others', { error: errorMessage(error) });
    stop('a daemon ended', 1);
  });
}

runIfMain(import.meta.url, 'photon ovn-local', OVN_LOCAL_USAGE, main);

export { main as ovnLocalMain };
