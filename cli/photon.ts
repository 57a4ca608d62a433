#!/usr/bin/env -S node --import tsx
// `photon`: the server-side command. Each component lives in its own folder with its own main module and
// runs in its own process; this launcher only picks one (or supervises all of them for the all-in-one), so
// it imports none of their code.
//
//   photon apiserver [flags]            the API server (see `photon apiserver --help`)
//   photon controller-manager [flags]   the controllers (see `photon controller-manager --help`)
//   photon all-in-one [flags]           every component on this machine, on embedded defaults (`npm start`)
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { photonHome } from '../lib/cli.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Component name → its main module. Later components (controller-manager, agent) join this table. */
const COMPONENTS: Record<string, string> = {
  apiserver: 'apiserver/main.ts',
  'controller-manager': 'controllers/main.ts',
  encryption: 'apiserver/encryption/main.ts',
};

const USAGE = `Usage: photon <command> [flags]

Commands:
  all-in-one     run every PhotonCloud component on this machine (embedded store, https://127.0.0.1:6443,
                 state in $PHOTON_HOME or ./.photon); flags are passed to the apiserver
  apiserver            run the API server alone
  controller-manager   run the controllers (garbage collector, …) against an API server
  encryption           manage the keys that encrypt Secrets at rest (list, add-key, remove-key)

Run 'photon <command> --help' for a command's flags.
`;

function launch(component: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, COMPONENTS[component]), ...args], { stdio: 'inherit', env: process.env });
}

/** Whether a program is installed (on PATH). */
function installed(program: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', program], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The all-in-one's OVN: when OVN is installed, a local central (NB/SB databases and ovn-northd, under
 * $PHOTON_HOME/ovn, unix:$PHOTON_HOME/ovn/nb.sock) that the network controllers program. Without OVN the
 * controllers still run and report Ready=False reason OVNUnavailable on network objects.
 */
function localOvn(action: 'up' | 'down', home: string): void {
  if (!installed('ovn-northd') || !installed('ovsdb-server')) {
    if (action === 'up') process.stderr.write('photon: OVN is not installed (apt-get install ovn-central ovn-host openvswitch-switch); network objects will report OVNUnavailable\n');
    return;
  }
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'hack', 'ovn', `${action}.ts`)], { stdio: 'inherit', env: { ...process.env, PHOTON_HOME: home } });
  if (result.status !== 0) process.stderr.write(`photon: starting the local OVN failed (hack/ovn/${action}.ts); network objects will report OVNUnavailable\n`);
}

/** The value of --home in the API server's flags, which the other components must share. */
function homeFlag(args: string[]): string | undefined {
  for (const [index, arg] of args.entries()) {
    if (arg === '--home') return args[index + 1];
    if (arg.startsWith('--home=')) return arg.slice('--home='.length);
  }
  return undefined;
}

/** Forwards SIGINT/SIGTERM to a single component's process. */
function forwardSignals(child: ChildProcess): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  }
}

/** How the all-in-one restarts a component that exits on its own (systemd's Restart=on-failure, k3s). */
const RESTART_POLICY = {
  /** Delay before the first restart; it doubles on each further one, up to maxDelayMs. */
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  /** A run at least this long counts as stable: the next restart waits initialDelayMs again. */
  stableRunMs: 60_000,
};

/** The exit status of a usage error (bad flags): restarting cannot help, so the all-in-one stops. */
const USAGE_EXIT_STATUS = 2;

interface Component {
  name: string;
  args: string[];
  child?: ChildProcess;
  /** The delay before its next restart. */
  delayMs: number;
  restartTimer?: NodeJS.Timeout;
}

/** Why a child ended, for the log. */
function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Supervises the all-in-one's components. A component that exits on its own (crashed, killed, or gave up)
 * is restarted after a backoff (RESTART_POLICY) while the others keep running, so one component's failure
 * (say the controller manager losing its Lease while the API server stalled) never takes the rest down.
 * Only SIGINT/SIGTERM stop everything: the signal goes to every running child, restarts are cancelled,
 * and once all have exited the supervisor exits with the worst status. A usage error (exit 2) is not
 * retried: it stops everything the same way.
 */
function supervise(specs: Array<{ name: string; args: string[] }>): void {
  const components: Component[] = specs.map((spec) => ({ ...spec, delayMs: RESTART_POLICY.initialDelayMs }));
  let stopping = false;
  const statuses: number[] = [];

  const exitWhenAllStopped = () => {
    if (components.every((component) => !component.child)) process.exit(Math.max(0, ...statuses));
  };
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const component of components) {
      clearTimeout(component.restartTimer);
      component.child?.kill(signal);
    }
    exitWhenAllStopped();
  };
  const scheduleRestart = (component: Component, ranForMs: number, how: string) => {
    if (ranForMs >= RESTART_POLICY.stableRunMs) component.delayMs = RESTART_POLICY.initialDelayMs;
    process.stderr.write(`photon: ${component.name} ${how}; restarting it in ${component.delayMs / 1000} s\n`);
    component.restartTimer = setTimeout(() => {
      component.restartTimer = undefined;
      if (!stopping) start(component);
    }, component.delayMs);
    component.delayMs = Math.min(component.delayMs * 2, RESTART_POLICY.maxDelayMs);
  };
  const start = (component: Component) => {
    const startedAt = Date.now();
    const child = launch(component.name, component.args);
    component.child = child;
    child.on('exit', (code, signal) => {
      component.child = undefined;
      const status = code ?? (signal ? 1 : 0);
      if (stopping) {
        statuses.push(status);
        return exitWhenAllStopped();
      }
      if (code === USAGE_EXIT_STATUS) {
        process.stderr.write(`photon: ${component.name} ${describeExit(code, signal)} (a usage error; not restarting it); stopping\n`);
        statuses.push(status);
        return stopAll('SIGTERM');
      }
      scheduleRestart(component, Date.now() - startedAt, describeExit(code, signal));
    });
  };

  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopAll(signal));
  for (const component of components) start(component);
}

function main(argv: string[]): void {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    process.exit(command ? 0 : 2);
  }
  if (args.includes('--help') || args.includes('-h')) {
    const component = command === 'all-in-one' ? 'apiserver' : command;
    if (COMPONENTS[component]) {
      const child = launch(component, ['--help']);
      child.on('exit', (code) => process.exit(code ?? 1));
      return;
    }
  }
  if (command === 'all-in-one') {
    // API server flags go to the API server; the controller manager finds its kubeconfig in PHOTON_HOME once
    // the API server has written it. (Node agents join here as they land.)
    const home = photonHome(homeFlag(args));
    localOvn('up', home);
    process.on('exit', () => localOvn('down', home));
    supervise([
      { name: 'apiserver', args },
      { name: 'controller-manager', args: ['--home', home] },
    ]);
    return;
  }
  if (!COMPONENTS[command]) {
    process.stderr.write(`photon: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    process.exit(2);
  }
  const child = launch(command, args);
  forwardSignals(child);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main(process.argv.slice(2));
