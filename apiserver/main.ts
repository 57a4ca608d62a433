// `photon apiserver [flags]`: runs the API server alone (multi-node deployments run one per control-plane
// machine against a shared etcd). Flags mirror kube-apiserver's names where one exists.
import { parseFlags, photonHome, runIfMain, UsageError, wholeNumberFlag } from '../lib/cli.ts';
import { createLogger, errorMessage, setLogLevel } from '../lib/logging.ts';
import type { FlowControlLimits } from './http/flow-control.ts';
import type { ConnectionLimits } from './http/connections.ts';
import type { EtcdTlsFiles } from './storage/etcd.ts';
import { startApiServer, type ApiServerHandle, type ApiServerOptions, type StorageOptions } from './server.ts';
import { autoWorkerCount, becomeWorker, runPrimary, workerNumber } from './workers.ts';

export const APISERVER_USAGE = `Usage: photon apiserver [flags]

  --storage embedded|etcd     where desired state lives (default: embedded, one SQLite file in $PHOTON_HOME/data)
  --etcd-endpoints URLS       comma-separated etcd client URLs (with --storage etcd), e.g. http://10.0.0.1:2379
  --etcd-prefix PREFIX        key prefix inside etcd (default: none; keys are /registry/...)
  --etcd-cafile FILE          CA (PEM) that verifies etcd's certificate, for https:// endpoints
                              (default: the system's root CAs)
  --etcd-certfile FILE        client certificate (PEM) presented to etcd; needs --etcd-keyfile
  --etcd-keyfile FILE         the client certificate's private key (PEM)
  --workers N|auto            API server processes sharing the port, each with its own watch cache, flow
                              control and audit log (workers after the first write <log>.worker-N.log);
                              auto: one per core but one, at most 8 (default: 1). With the embedded store this
                              process holds the file and serves it to them.
  --bind-address ADDRESS      address to listen on (default: 127.0.0.1)
  --secure-port PORT          HTTPS port (default: 6443)
  --home DIR                  state directory (default: $PHOTON_HOME or ./.photon)
  --crds-dir DIR              CustomResourceDefinitions installed at start (default: the repository's crds/)
  --tls-san NAME              extra DNS name or IP for the serving certificate (repeatable)
  --min-request-timeout SECS  watches without timeoutSeconds end after SECS to 2×SECS (default: 1800)
  --compaction-interval SECS  compact storage history older than one interval, every interval (default: 300; 0: off)
  --event-ttl SECS            delete Events this long after they last happened (default: 3600)
  --max-requests-inflight N   read-only requests in flight, all users (default: 400; 0: no limit)
  --max-mutating-requests-inflight N
                              mutating requests in flight, all users (default: 200; 0: no limit)
  --max-requests-inflight-per-user N
                              non-watch requests in flight per user (default: 100; 0: no limit)
  --max-watches N             open watches, all users (default: 5000; 0: no limit)
  --max-watches-per-user N    open watches per user (default: 100; 0: no limit); over any of these limits
                              the answer is 429 with Retry-After; system:masters is exempt
  --max-connections N         connections held at once (default: 16384)
  --max-connections-per-client N
                              connections one client address may hold (default: 2048); more are closed at once
  --tls-handshake-timeout SECS
                              drop connections that have not finished TLS in SECS (default: 10)
  --request-headers-timeout SECS
                              408 and close when a request's headers take longer (default: 20); a whole
                              request (headers and body) may take 3×SECS; responses (watches) are not limited
  --http2-max-streams-per-connection N
                              HTTP/2 streams (requests and watches) one connection may have open (default: 250)
  --disable-http2-serving     serve HTTP/1.1 only (default: HTTP/2 to clients that offer it by ALPN, as kubectl does)
  --audit-log-path FILE       the audit log, audit.k8s.io/v1 Events as hash-chained JSON lines
                              (default: $PHOTON_HOME/audit/audit.log; check it with photon audit verify FILE)
  --audit-policy-file FILE    the audit Policy (default: $PHOTON_HOME/audit/policy.yaml, written when absent)
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
  /** Absent flags stay undefined: startApiServer owns the defaults the usage text states. */
  minRequestTimeoutSeconds?: number;
  compactionIntervalSeconds?: number;
  eventTtlSeconds?: number;
  connections: Partial<ConnectionLimits>;
  http2: boolean;
  flowControl: Partial<FlowControlLimits>;
  auditLogPath?: string;
  auditPolicyFile?: string;
  workers: number;
}

function parseApiServerFlags(argv: string[]): ApiServerFlags {
  const values = parseFlags(argv, {
    storage: { type: 'string', default: 'embedded' },
    workers: { type: 'string', default: '1' },
    'etcd-endpoints': { type: 'string' },
    'etcd-prefix': { type: 'string' },
    'etcd-cafile': { type: 'string' },
    'etcd-certfile': { type: 'string' },
    'etcd-keyfile': { type: 'string' },
    'bind-address': { type: 'string', default: '127.0.0.1' },
    'secure-port': { type: 'string', default: '6443' },
    home: { type: 'string' },
    'crds-dir': { type: 'string' },
    'tls-san': { type: 'string', multiple: true, default: [] },
    'log-level': { type: 'string' },
    'min-request-timeout': { type: 'string' },
    'compaction-interval': { type: 'string' },
    'event-ttl': { type: 'string' },
    'max-connections': { type: 'string' },
    'max-connections-per-client': { type: 'string' },
    'tls-handshake-timeout': { type: 'string' },
    'request-headers-timeout': { type: 'string' },
    'http2-max-streams-per-connection': { type: 'string' },
    'disable-http2-serving': { type: 'boolean', default: false },
    'max-requests-inflight': { type: 'string' },
    'max-mutating-requests-inflight': { type: 'string' },
    'max-requests-inflight-per-user': { type: 'string' },
    'max-watches': { type: 'string' },
    'max-watches-per-user': { type: 'string' },
    'audit-log-path': { type: 'string' },
    'audit-policy-file': { type: 'string' },
  });
  for (const flag of ['audit-log-path', 'audit-policy-file'] as const) {
    if (values[flag] === '') throw new UsageError(`--${flag} needs a file name`);
  }
  const port = Number(values['secure-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--secure-port must be a port number, got ${JSON.stringify(values['secure-port'])}`);
  let storage: StorageOptions;
  if (values.storage === 'embedded') {
    for (const flag of ['etcd-endpoints', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile'] as const) {
      if (values[flag]) throw new UsageError(`--${flag} needs --storage etcd`);
    }
    storage = { backend: 'embedded' };
  } else if (values.storage === 'etcd') {
    const endpoints = (values['etcd-endpoints'] ?? '').split(',').map((endpoint) => endpoint.trim()).filter(Boolean);
    if (endpoints.length === 0) throw new UsageError('--storage etcd needs --etcd-endpoints (e.g. http://127.0.0.1:2379)');
    for (const endpoint of endpoints) {
      if (!/^https?:\/\/[^/\s]+$/.test(endpoint)) throw new UsageError(`--etcd-endpoints: ${JSON.stringify(endpoint)} is not an http(s)://host:port URL`);
    }
    storage = { backend: 'etcd', endpoints, prefix: values['etcd-prefix'], tls: etcdTlsFlags(values, endpoints) };
  } else {
    throw new UsageError(`--storage must be embedded or etcd, got ${JSON.stringify(values.storage)}`);
  }
  const workers = values.workers === 'auto' ? autoWorkerCount() : wholeNumberFlag(values.workers, 1, `--workers must be a whole number of at least 1 or auto, got ${JSON.stringify(values.workers)}`)!;
  if (workers > 64) throw new UsageError(`--workers must be at most 64, got ${workers}`);
  return {
    workers,
    storage,
    bindAddress: values['bind-address']!,
    port,
    home: photonHome(values.home),
    crdsDir: values['crds-dir'],
    tlsSans: values['tls-san'] as string[],
    logLevel: values['log-level'],
    minRequestTimeoutSeconds: wholeNumberFlag(values['min-request-timeout'], 1, '--min-request-timeout must be a whole number of seconds'),
    compactionIntervalSeconds: wholeNumberFlag(values['compaction-interval'], 0, '--compaction-interval must be a whole number of seconds (0 disables)'),
    eventTtlSeconds: wholeNumberFlag(values['event-ttl'], 1, '--event-ttl must be a whole number of seconds'),
    connections: connectionFlags(values),
    http2: !values['disable-http2-serving'],
    auditLogPath: values['audit-log-path'],
    auditPolicyFile: values['audit-policy-file'],
    flowControl: {
      maxRequestsInflight: limitFlag(values, 'max-requests-inflight'),
      maxMutatingRequestsInflight: limitFlag(values, 'max-mutating-requests-inflight'),
      maxRequestsInflightPerUser: limitFlag(values, 'max-requests-inflight-per-user'),
      maxWatches: limitFlag(values, 'max-watches'),
      maxWatchesPerUser: limitFlag(values, 'max-watches-per-user'),
    },
  };
}

/**
 * --etcd-cafile/--etcd-certfile/--etcd-keyfile, checked against the endpoints: TLS files need https://
 * endpoints (they would otherwise be ignored, or silently turn an http:// endpoint into TLS), the endpoints
 * must agree on the scheme, and a client certificate comes with its key. https:// without files trusts the
 * system's root CAs.
 */
function etcdTlsFlags(values: Record<string, unknown>, endpoints: string[]): EtcdTlsFiles | undefined {
  const files: EtcdTlsFiles = { caFile: values['etcd-cafile'] as string | undefined, certFile: values['etcd-certfile'] as string | undefined, keyFile: values['etcd-keyfile'] as string | undefined };
  const secure = endpoints.filter((endpoint) => endpoint.startsWith('https://')).length;
  if (secure > 0 && secure < endpoints.length) throw new UsageError('--etcd-endpoints must be all https:// or all http://');
  const anyFile = Boolean(files.caFile || files.certFile || files.keyFile);
  if (anyFile && secure === 0) throw new UsageError('--etcd-cafile, --etcd-certfile and --etcd-keyfile need https:// --etcd-endpoints');
  if (Boolean(files.certFile) !== Boolean(files.keyFile)) throw new UsageError('--etcd-certfile and --etcd-keyfile go together');
  return anyFile ? files : undefined;
}

/** A flow-control limit: a whole number, 0 meaning no limit (absent: the server's default). */
function limitFlag(values: Record<string, unknown>, name: string): number | undefined {
  return wholeNumberFlag(values[name] as string | undefined, 0, `--${name} must be a whole number (0: no limit)`);
}

/** Connection caps and timeouts; absent flags keep the server's defaults. */
function connectionFlags(values: Record<string, unknown>): Partial<ConnectionLimits> {
  const flag = (name: string, min: number) => wholeNumberFlag(values[name] as string | undefined, min, `--${name} must be a whole number of at least ${min}`);
  const headersSeconds = flag('request-headers-timeout', 1);
  const handshakeSeconds = flag('tls-handshake-timeout', 1);
  const limits: Partial<ConnectionLimits> = {
    maxConnections: flag('max-connections', 1),
    maxConnectionsPerClient: flag('max-connections-per-client', 1),
    maxStreamsPerConnection: flag('http2-max-streams-per-connection', 1),
  };
  if (handshakeSeconds !== undefined) limits.handshakeTimeoutMs = handshakeSeconds * 1000;
  if (headersSeconds !== undefined) {
    limits.headersTimeoutMs = headersSeconds * 1000;
    limits.requestTimeoutMs = 3 * headersSeconds * 1000;
    limits.checkIntervalMs = Math.min(2000, headersSeconds * 500);
  }
  for (const key of Object.keys(limits) as Array<keyof ConnectionLimits>) if (limits[key] === undefined) delete limits[key];
  return limits;
}

/** Starts the server (or, with --workers, its workers) and stops it cleanly on SIGINT/SIGTERM. */
async function runApiServer(argv: string[]): Promise<ApiServerHandle | void> {
  const flags = parseApiServerFlags(argv);
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const worker = workerNumber();
  if (flags.workers > 1 && worker === undefined) return runPrimary({ count: flags.workers, storage: flags.storage, home: flags.home, log: createLogger('apiserver') });
  const log = createLogger('apiserver', worker === undefined ? {} : { worker });
  let options: ApiServerOptions = { ...flags, logger: log };
  if (worker !== undefined) {
    const settings = becomeWorker(worker, flags.storage, flags.home, flags.auditLogPath);
    options = { ...options, storage: settings.storage, auditLogPath: settings.auditLogPath, compactionIntervalSeconds: settings.compactsStorage ? flags.compactionIntervalSeconds : 0, metricsText: settings.metricsText };
  }
  const server = await startApiServer(options);
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

runIfMain(import.meta.url, 'photon apiserver', APISERVER_USAGE, runApiServer);
