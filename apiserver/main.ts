// `photon apiserver [flags]`: runs the API server alone (multi-node deployments run one per control-plane
// machine against a shared etcd). Flags mirror kube-apiserver's names where one exists.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, errorMessage, setLogLevel } from '../apis/logging.ts';
import { startApiServer, type ApiServerHandle, type StorageOptions } from './server.ts';

export const APISERVER_USAGE = `Usage: photon apiserver [flags]

  --storage embedded|etcd     where desired state lives (default: embedded, one SQLite file in $PHOTON_HOME/data)
  --etcd-endpoints URLS       comma-separated etcd client URLs (with --storage etcd), e.g. http://10.0.0.1:2379
  --etcd-prefix PREFIX        key prefix inside etcd (default: none; keys are /registry/...)
  --bind-address ADDRESS      address to listen on (default: 127.0.0.1)
  --secure-port PORT          HTTPS port (default: 6443)
  --home DIR                  state directory (default: $PHOTON_HOME or ./.photon)
  --crds-dir DIR              CustomResourceDefinitions installed at start (default: the repository's crds/)
  --tls-san NAME              extra DNS name or IP for the serving certificate (repeatable)
  --min-request-timeout SECS  watches without timeoutSeconds end after SECS to 2×SECS (default: 1800)
  --compaction-interval SECS  compact storage history older than one interval, every interval (default: 300; 0: off)
  --event-ttl SECS            delete Events this long after they last happened (default: 3600)
  --log-level LEVEL           error|warn|info|http|debug (default: info)
`;

export interface ApiServerFlags {
  storage: StorageOptions;
  bindAddress: string;
  port: number;
  home: string;
  crdsDir?: string;
  tlsSans: string[];
  logLevel?: string;
  minRequestTimeoutSeconds: number;
  compactionIntervalSeconds: number;
  eventTtlSeconds: number;
}

export class UsageError extends Error {}

export function parseApiServerFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): ApiServerFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        storage: { type: 'string', default: 'embedded' },
        'etcd-endpoints': { type: 'string' },
        'etcd-prefix': { type: 'string' },
        'bind-address': { type: 'string', default: '127.0.0.1' },
        'secure-port': { type: 'string', default: '6443' },
        home: { type: 'string' },
        'crds-dir': { type: 'string' },
        'tls-san': { type: 'string', multiple: true, default: [] },
        'log-level': { type: 'string' },
        'min-request-timeout': { type: 'string', default: '1800' },
        'compaction-interval': { type: 'string', default: '300' },
        'event-ttl': { type: 'string', default: '3600' },
      },
    }));
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const port = Number(values['secure-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--secure-port must be a port number, got ${JSON.stringify(values['secure-port'])}`);
  const minRequestTimeoutSeconds = Number(values['min-request-timeout']);
  if (!Number.isInteger(minRequestTimeoutSeconds) || minRequestTimeoutSeconds < 1) throw new UsageError('--min-request-timeout must be a whole number of seconds');
  const compactionIntervalSeconds = Number(values['compaction-interval']);
  if (!Number.isInteger(compactionIntervalSeconds) || compactionIntervalSeconds < 0) throw new UsageError('--compaction-interval must be a whole number of seconds (0 disables)');
  const eventTtlSeconds = Number(values['event-ttl']);
  if (!Number.isInteger(eventTtlSeconds) || eventTtlSeconds < 1) throw new UsageError('--event-ttl must be a whole number of seconds');
  let storage: StorageOptions;
  if (values.storage === 'embedded') {
    if (values['etcd-endpoints']) throw new UsageError('--etcd-endpoints needs --storage etcd');
    storage = { backend: 'embedded' };
  } else if (values.storage === 'etcd') {
    const endpoints = (values['etcd-endpoints'] ?? '').split(',').map((endpoint) => endpoint.trim()).filter(Boolean);
    if (endpoints.length === 0) throw new UsageError('--storage etcd needs --etcd-endpoints (e.g. http://127.0.0.1:2379)');
    for (const endpoint of endpoints) {
      if (!/^https?:\/\/[^/\s]+$/.test(endpoint)) throw new UsageError(`--etcd-endpoints: ${JSON.stringify(endpoint)} is not an http(s)://host:port URL`);
    }
    storage = { backend: 'etcd', endpoints, prefix: values['etcd-prefix'] };
  } else {
    throw new UsageError(`--storage must be embedded or etcd, got ${JSON.stringify(values.storage)}`);
  }
  return {
    storage,
    bindAddress: values['bind-address']!,
    port,
    home: path.resolve(values.home ?? env.PHOTON_HOME ?? '.photon'),
    crdsDir: values['crds-dir'],
    tlsSans: values['tls-san'] as string[],
    logLevel: values['log-level'],
    minRequestTimeoutSeconds,
    compactionIntervalSeconds,
    eventTtlSeconds,
  };
}

/** Starts the server and stops it cleanly on SIGINT/SIGTERM. */
export async function runApiServer(argv: string[]): Promise<ApiServerHandle> {
  const flags = parseApiServerFlags(argv);
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = createLogger('apiserver');
  const server = await startApiServer({ ...flags, logger: log });
  const shutdown = (signal: string) => {
    log.info('shutting down', { signal });
    server.stop().then(
      () => process.exit(0),
      (error) => {
        log.error('shutdown failed', { error: errorMessage(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return server;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain && (process.argv.includes('--help') || process.argv.includes('-h'))) {
  process.stdout.write(APISERVER_USAGE);
  process.exit(0);
} else if (isMain) {
  runApiServer(process.argv.slice(2)).catch((error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n\n${APISERVER_USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`photon apiserver: ${errorMessage(error)}\n`);
    process.exit(1);
  });
}
