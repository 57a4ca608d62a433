// `photon controller-manager [flags]`: runs the controllers against an API server, with leader election.
import fs from 'node:fs';
import path from 'node:path';
import { parseEndpoint } from '../agents/ovsdb/index.ts';
import { parseFlags, photonHome, runIfMain, UsageError } from '../apis/cli.ts';
import { createLogger, setLogLevel } from '../apis/logging.ts';
import { CONTROLLERS, defaultNorthbound, startControllerManager } from './manager.ts';

export const CONTROLLER_MANAGER_USAGE = `Usage: photon controller-manager [flags]

  --kubeconfig FILE           credentials (default: $PHOTON_HOME/controller-manager.kubeconfig, written by the API server)
  --controllers LIST          comma-separated controllers to run (default: all: ${Object.keys(CONTROLLERS).join(', ')})
  --leader-elect BOOL         run only while holding the Lease photon-system/photon-controller-manager (default: true)
  --ovn-nb ENDPOINT           OVN Northbound database: unix:/path or tcp:host:port (default: unix:$PHOTON_HOME/ovn/nb.sock)
  --metrics-address ADDR      serve /metrics and /healthz over HTTP at host:port (default: 127.0.0.1:10257; "" disables)
  --log-level LEVEL           error|warn|info|http|debug (default: info)
`;

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    kubeconfig: { type: 'string' },
    controllers: { type: 'string' },
    'leader-elect': { type: 'string', default: 'true' },
    'log-level': { type: 'string' },
    home: { type: 'string' },
    'ovn-nb': { type: 'string' },
    'metrics-address': { type: 'string', default: '127.0.0.1:10257' },
  });
  if (!['true', 'false'].includes(values['leader-elect']!)) throw new UsageError('--leader-elect must be true or false');
  const controllers = values.controllers?.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of controllers ?? []) if (!CONTROLLERS[name]) throw new UsageError(`--controllers: unknown controller ${JSON.stringify(name)} (known: ${Object.keys(CONTROLLERS).join(', ')})`);
  const home = photonHome(values.home);
  const ovnNorthbound = values['ovn-nb'] ?? defaultNorthbound(home);
  // What the OVSDB client accepts, so a bad endpoint fails here rather than as an endless retry.
  try {
    for (const endpoint of ovnNorthbound.split(',')) parseEndpoint(endpoint.trim());
  } catch {
    throw new UsageError(`--ovn-nb must be unix:/path or tcp:host:port (comma-separated for several), got ${JSON.stringify(ovnNorthbound)}`);
  }
  const metricsAddress = values['metrics-address'] || undefined;
  if (metricsAddress && !/^[^\s]+:\d+$/.test(metricsAddress)) throw new UsageError(`--metrics-address must be host:port, got ${JSON.stringify(metricsAddress)}`);
  return { kubeconfig: path.resolve(values.kubeconfig ?? path.join(home, 'controller-manager.kubeconfig')), controllers, leaderElect: values['leader-elect'] === 'true', logLevel: values['log-level'], ovnNorthbound, metricsAddress };
}

/** The API server writes our kubeconfig when it first serves: wait for it rather than fail at start-up. */
async function waitForFile(file: string, log: ReturnType<typeof createLogger>): Promise<void> {
  let announced = false;
  while (!fs.existsSync(file)) {
    if (!announced) log.info('waiting for the kubeconfig the API server writes', { kubeconfig: file });
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(argv: string[]): Promise<void> {
  const flags = parse(argv);
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = createLogger('controller-manager');
  await waitForFile(flags.kubeconfig, log);
  const manager = startControllerManager({ kubeconfig: flags.kubeconfig, controllers: flags.controllers, leaderElect: flags.leaderElect, ovnNorthbound: flags.ovnNorthbound, metricsAddress: flags.metricsAddress, logger: log });
  // Losing leadership is not fatal: the manager stops its controllers and campaigns again (see manager.ts).
  const shutdown = (signal: string) => {
    log.info('shutting down', { signal });
    manager.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

runIfMain(import.meta.url, 'photon controller-manager', CONTROLLER_MANAGER_USAGE, main);
