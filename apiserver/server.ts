// Composition of the API server: PHOTON_HOME → storage → registry → watch cache → control loops → HTTPS.
// `startApiServer` is what `photon apiserver`, the all-in-one and the test environment call.
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { createLogger, errorMessage, type Logger } from '../lib/logging.ts';
import { ConfigurationError } from '../lib/cli.ts';
import { prepareHome, servingHosts, writeKubeconfigs } from './bootstrap.ts';
import { ConsoleProxy } from './proxy/console.ts';
import { createLoginHandler } from './auth/login.ts';
import { LoginLimiter, type LoginLimits } from './auth/login-limiter.ts';
import { MastersCertificates, mastersCertificatesFile } from './auth/masters-certificates.ts';
import { SignedTokenAuthenticator, watchCacheDirectory } from './auth/tokens/authenticator.ts';
import { JwtTokenIssuer } from './auth/tokens/issuer.ts';
import { signingKeyDirectory, WatchedSigningKeys } from './auth/tokens/keys.ts';
import type { TokenIssuer } from './auth/tokens/types.ts';
import { startControlLoops, type ControlLoops } from './control-loops.ts';
import { customResourceDefinitionResource } from './crds/resource.ts';
import { AdmissionChain } from './admission/chain.ts';
import { openAuditLog } from './audit/index.ts';
import { NodeAuthorizer } from './authz/node-authorizer.ts';
import { RbacAuthorizer } from './authz/rbac/authorizer.ts';
import { PolicyIndex } from './authz/rbac/policy-index.ts';
import { QuotaLedger } from './quota/ledger.ts';
import { watchCacheLookup } from './admission/lookup.ts';
import { standardAdmissionPlugins } from './admission/plugins.ts';
import { OpenApiDocuments } from './discovery/openapi.ts';
import { encryptSecrets } from './encryption/rotation.ts';
import { NamespaceLifecycle } from './housekeeping/namespace-lifecycle.ts';
import { closeBodyDecoders } from './http/body.ts';
import { answerClientError, DEFAULT_CONNECTION_LIMITS, limitConnections, type ConnectionLimits } from './http/connections.ts';
import { createServingServer } from './http/serving.ts';
import { FlowControl, type FlowControlLimits } from './http/flow-control.ts';
import { ResourceHandler } from './http/resource-handler.ts';
import { createRouter, type VersionInfo } from './http/router.ts';
import { ApiMetrics } from './metrics.ts';
import { builtinResources } from './registry/builtins/index.ts';
import { ObjectStore } from './registry/object-store.ts';
import { Reader } from './registry/reads.ts';
import { ResourceRegistry } from './registry/registry.ts';
import { openEmbeddedStore } from './storage/embedded.ts';
import { openEtcdStore, readEtcdTlsFiles, type EtcdTlsFiles } from './storage/etcd.ts';
import type { Store } from './storage/types.ts';
import { WatchCache } from './watch/cache.ts';
import { WatchHandler } from './http/watch-handler.ts';

export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type StorageOptions =
  | { backend: 'embedded'; path?: string }
  | { backend: 'etcd'; endpoints: string[]; prefix?: string; tls?: EtcdTlsFiles }
  /** A store another process holds (an API server worker's RemoteStore, see workers.ts). */
  | { backend: 'shared'; store: Store };

export interface ApiServerOptions {
  /** PHOTON_HOME: PKI, tokens, kubeconfigs and (embedded) data live here. */
  home: string;
  bindAddress?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  storage: StorageOptions;
  /** CustomResourceDefinition manifests installed at start (default: the repository's crds/). */
  crdsDir?: string;
  /** Extra names/addresses for the serving certificate. */
  tlsSans?: string[];
  bookmarkIntervalMs?: number;
  watchCacheCapacity?: number;
  namespaceIntervalMs?: number;
  /** Watches without timeoutSeconds end after this to twice this, randomised (kube-apiserver's --min-request-timeout). */
  minRequestTimeoutSeconds?: number;
  /** How often the server asks storage how far history has been compacted. */
  compactionPollMs?: number;
  /** Events are deleted this long after they last happened (default one hour). */
  eventTtlSeconds?: number;
  /** Storage history is compacted to the revision of one interval ago (default 300 s; 0 disables). */
  compactionIntervalSeconds?: number;
  /** Keys that encrypt Secrets at rest (default $PHOTON_HOME/encryption.yaml, created on first start). */
  encryptionKeyFile?: string;
  /** Per-user and global limits on watches and requests in flight (defaults: DEFAULT_FLOW_CONTROL_LIMITS). */
  flowControl?: Partial<FlowControlLimits>;
  /** A watch whose client leaves more than this unread is cut off (default 4 MiB). */
  watchMaxBufferedBytes?: number;
  /** Timeouts and connection caps (defaults: DEFAULT_CONNECTION_LIMITS). */
  connections?: Partial<ConnectionLimits>;
  /** HTTP/2 is offered to clients that ask for it (ALPN), beside HTTP/1.1 (default: true). */
  http2?: boolean;
  /** The audit log (default $PHOTON_HOME/audit/audit.log). */
  auditLogPath?: string;
  /** The audit policy (default $PHOTON_HOME/audit/policy.yaml, written when absent). */
  auditPolicyFile?: string;
  /** How often the token signing key directory is checked for added or removed keys (default 1000 ms). */
  tokenKeyPollMs?: number;
  /** What /metrics answers instead of this server's own registry (an API server worker: every worker's). */
  metricsText?: (own: ApiMetrics) => () => Promise<string>;
  /** Failed-login limits and password checks at once for POST /login (defaults: DEFAULT_LOGIN_LIMITS). */
  loginLimits?: Partial<LoginLimits>;
  logger?: Logger;
}

export interface ApiServerHandle {
  url: string;
  port: number;
  home: string;
  adminKubeconfig: string;
  caCertificatePem: string;
  adminToken: string;
  store: Store;
  registry: ResourceRegistry;
  cache: WatchCache;
  metrics: ApiMetrics;
  flowControl: FlowControl;
  /** Signs tokens with the current signing key (TokenRequest and tests). */
  tokenIssuer: TokenIssuer;
  stop(): Promise<void>;
}

/** Kubernetes version this server's API matches (kubectl picks its client by the minor). */
export const SERVER_VERSION: VersionInfo = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0+photon.0.1.0',
  gitCommit: 'photoncloud',
  gitTreeState: 'clean',
  buildDate: '2026-11-28T00:00:00Z',
  goVersion: `node${process.versions.node}`,
  compiler: 'tsx',
  platform: `${os.platform()}/${os.arch()}`,
};

export async function openStore(options: StorageOptions, home: string): Promise<Store> {
  if (options.backend === 'shared') return options.store;
  if (options.backend === 'etcd') return openEtcdStore({ endpoints: options.endpoints, prefix: options.prefix, tls: options.tls && readEtcdTlsFiles(options.tls) });
  const file = options.path ?? path.join(home, 'data', 'photon.db');
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  return openEmbeddedStore({ path: file });
}

const KNOWN_HTTP_VERSIONS = new Set(['2.0', '1.1', '1.0']);

function listen(server: tls.Server, port: number, bindAddress: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bindAddress, () => resolve((server.address() as AddressInfo).port));
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') throw new ConfigurationError(`cannot listen on ${bindAddress}:${port}: the address is already in use (another PhotonCloud or Kubernetes API server?); choose another with --secure-port`);
    if (error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') throw new ConfigurationError(`cannot listen on ${bindAddress}:${port}: ${error.message}`);
    throw error;
  });
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServerHandle> {
  const log = options.logger ?? createLogger('apiserver');
  const bindAddress = options.bindAddress ?? '127.0.0.1';
  const prepared = await prepareHome(options.home, servingHosts(bindAddress, options.tlsSans));
  const { pki } = prepared;

  const metrics = new ApiMetrics();
  // Opened before storage: a broken policy file stops start-up before anything else is held.
  const audit = openAuditLog({
    home: prepared.home,
    logPath: options.auditLogPath,
    policyFile: options.auditPolicyFile,
    log: log.child({ component: 'audit' }),
    onWritten: () => metrics.auditEvents.inc(),
    onError: (reason) => metrics.auditErrors.inc({ reason }),
  });
  const rawStore = await openStore(options.storage, prepared.home).catch(async (error: unknown) => {
    await audit.close();
    throw error;
  });
  const encryption = encryptSecrets(rawStore, options.encryptionKeyFile ?? path.join(prepared.home, 'encryption.yaml'), log.child({ component: 'encryption' }));
  const store = metrics.instrument(encryption.store);
  const registry = new ResourceRegistry();
  registry.setSource('builtin', [...builtinResources(), customResourceDefinitionResource()]);

  const cache = new WatchCache(store, { capacity: options.watchCacheCapacity, logger: log.child({ component: 'watch-cache' }) });
  const policy = new PolicyIndex(cache);
  const rbac = new RbacAuthorizer(policy);
  // Node credentials are decided by the node authorizer; everyone else (and what it has no opinion on) by RBAC.
  const authorizer = new NodeAuthorizer(cache, rbac);
  // The quota ledger writes quota status through the object store that holds it in its admission chain.
  const quota = new QuotaLedger(registry, cache, () => objects);
  // Updates start from the watch cache's copy of the object (a storage read saved per write when it is current).
  const objects: ObjectStore = new ObjectStore(store, new AdmissionChain(standardAdmissionPlugins({ authorizer: rbac, quota }), watchCacheLookup(registry, cache, store)), (key) => (cache.ready ? cache.get(key) : undefined));
  const lifecycle = new NamespaceLifecycle(registry, objects, cache, options.namespaceIntervalMs ?? 1000, log.child({ component: 'namespace-lifecycle' }));
  let loops: ControlLoops | undefined;
  const connectionLimits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connections };
  // The router exists once the server listens; a request cannot arrive before that.
  let router: ((request: IncomingMessage, response: ServerResponse) => Promise<void>) | undefined;
  const serving = createServingServer({
    cert: pki.serving.certificatePem,
    key: pki.serving.keyPem,
    ca: pki.ca.certificatePem,
    limits: connectionLimits,
    http2: options.http2 ?? true,
    onRequest: (request, response) => {
      // The version comes from the client's request line: any other than these counts as "other" (no new series).
      metrics.requestsByProtocol.inc({ protocol: KNOWN_HTTP_VERSIONS.has(request.httpVersion) ? request.httpVersion : 'other' });
      void router!(request, response);
    },
  });
  const { server } = serving;
  limitConnections(server, connectionLimits, (reason) => metrics.connectionsRefused.inc({ reason }));
  let port: number;
  try {
    await cache.start();
    policy.start();
    authorizer.start();
    loops = await startControlLoops(
      { registry, objects, store, cache, lifecycle, quota, log },
      {
        crdsDir: options.crdsDir ?? path.join(REPOSITORY_ROOT, 'crds'),
        eventTtlMs: (options.eventTtlSeconds ?? 3600) * 1000,
        compactionPollMs: options.compactionPollMs ?? 5000,
        compactionIntervalMs: (options.compactionIntervalSeconds ?? 300) * 1000,
      },
    );
    port = await listen(server, options.port ?? 6443, bindAddress);
  } catch (error) {
    loops?.stop();
    policy.stop();
    authorizer.stop();
    cache.stop();
    encryption.stop();
    await rawStore.close();
    await audit.close();
    throw error;
  }

  const flowControl = new FlowControl(options.flowControl, (kind, reason) => metrics.flowControlRejected.inc({ kind, reason }));
  const watches = new WatchHandler(cache, {
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 15_000,
    maxTimeoutSeconds: 2 * (options.minRequestTimeoutSeconds ?? 1800),
    maxBufferedBytes: options.watchMaxBufferedBytes ?? 4 * 1024 * 1024,
    logger: log.child({ component: 'watch' }),
    onSlowReaderTerminated: (resource) => metrics.watchSlowReadersTerminated.inc({ group: resource.group, resource: resource.plural }),
    onOpen: (resource) => metrics.openWatches.inc({ group: resource.group, resource: resource.plural }),
    onClose: (resource) => metrics.openWatches.dec({ group: resource.group, resource: resource.plural }),
    eventTally: (resource) => metrics.watchEventTally(resource.group, resource.plural),
  });
  const hostForUrl = bindAddress === '0.0.0.0' || bindAddress === '::' ? '127.0.0.1' : bindAddress.includes(':') ? `[${bindAddress}]` : bindAddress;
  const url = `https://${hostForUrl}:${port}`;
  // Followed while the server runs: `photon token-keys rotate|remove` take effect within a poll, no restart.
  const signingKeys = new WatchedSigningKeys(signingKeyDirectory(prepared.home), log.child({ component: 'token-keys' }), options.tokenKeyPollMs ?? 1000);
  const tokenIssuer = new JwtTokenIssuer(() => signingKeys.current());
  const authenticators = {
    tokens: prepared.tokens,
    signedTokens: new SignedTokenAuthenticator(signingKeys, watchCacheDirectory(registry, cache), { log: log.child({ component: 'authentication' }) }),
    mastersCertificates: new MastersCertificates(mastersCertificatesFile(prepared.home)),
  };
  const reader = new Reader(store, cache);
  // A VirtualMachine's console, proxied to its node agent with the API server's agent client certificate.
  const consoles = new ConsoleProxy({ reader, registry, clientCertificate: pki.agentClient, log: log.child({ component: 'console-proxy' }) });
  router = createRouter({
    registry,
    // Reviews ask the router's own authorizer, and RBAC's rules for SelfSubjectRulesReview.
    resources: new ResourceHandler({ registry, objects, reader, watches, authorizer, rules: rbac, tokens: tokenIssuer, readSubresource: consoles.serve }),
    openapi: new OpenApiDocuments(registry, SERVER_VERSION.gitVersion),
    tokens: authenticators,
    authorizer,
    audit,
    flowControl,
    login: createLoginHandler({ users: watchCacheDirectory(registry, cache), issuer: tokenIssuer, limiter: new LoginLimiter(options.loginLimits), log: log.child({ component: 'login' }) }),
    metrics,
    metricsText: options.metricsText?.(metrics),
    version: SERVER_VERSION,
    log,
    serverAddress: `${hostForUrl}:${port}`,
    readiness: {
      storage: async () => {
        await store.currentRevision();
        return true;
      },
      'watch-cache': () => cache.ready,
    },
  });
  server.on('clientError', answerClientError);

  writeKubeconfigs(prepared, url);
  log.info(`PhotonCloud API server is serving; try: KUBECONFIG=${prepared.adminKubeconfig} kubectl get photon -A`, { url, storage: options.storage.backend });

  let stopped = false;
  return {
    url,
    port,
    home: prepared.home,
    adminKubeconfig: prepared.adminKubeconfig,
    caCertificatePem: pki.ca.certificatePem,
    adminToken: prepared.adminToken,
    store,
    registry,
    cache,
    metrics,
    flowControl,
    tokenIssuer,
    async stop() {
      if (stopped) return;
      stopped = true;
      signingKeys.stop();
      loops?.stop();
      policy.stop();
      authorizer.stop();
      encryption.stop();
      watches.closeAll();
      closeBodyDecoders();
      cache.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        serving.closeAllConnections();
      });
      try {
        await rawStore.close();
      } catch (error) {
        log.warn('closing storage failed', { error: errorMessage(error) });
      }
      // Last: the requests that closing ended (watches) are audited too.
      await audit.close();
    },
  };
}
