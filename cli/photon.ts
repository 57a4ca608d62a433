#!/usr/bin/env -S node --import tsx
// `photon`: the server-side command. Each component lives in its own folder with its own main module and
// runs in its own process; this launcher only picks one (or supervises all of them for the all-in-one), so
// it imports none of their code.
//
//   photon apiserver [flags]        the API server (see `photon apiserver --help`)
//   photon all-in-one [flags]       every component on this machine, on embedded defaults (`npm start`)
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Component name → its main module. Later components (controller-manager, agent) join this table. */
const COMPONENTS: Record<string, string> = {
  apiserver: 'apiserver/main.ts',
};

const USAGE = `Usage: photon <command> [flags]

Commands:
  all-in-one     run every PhotonCloud component on this machine (embedded store, https://127.0.0.1:6443,
                 state in $PHOTON_HOME or ./.photon); flags are passed to the apiserver
  apiserver      run the API server alone

Run 'photon <command> --help' for a command's flags.
`;

function launch(component: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, COMPONENTS[component]), ...args], { stdio: 'inherit', env: process.env });
}

function forwardSignals(children: ChildProcess[]): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const child of children) if (child.exitCode === null) child.kill(signal);
    });
  }
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
    // Today the all-in-one is the API server; controller-manager and agents are added here as they land.
    const children = [launch('apiserver', args)];
    forwardSignals(children);
    for (const child of children) {
      child.on('exit', (code, signal) => {
        for (const other of children) if (other !== child && other.exitCode === null) other.kill('SIGTERM');
        process.exit(code ?? (signal ? 1 : 0));
      });
    }
    return;
  }
  if (!COMPONENTS[command]) {
    process.stderr.write(`photon: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    process.exit(2);
  }
  const child = launch(command, args);
  forwardSignals([child]);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main(process.argv.slice(2));
