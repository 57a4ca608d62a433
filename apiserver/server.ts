// Composition of the API server: storage → registry → watch cache → HTTP(S). `startApiServer` is what
// `photon apiserver`, the all-in-one and the test environment call.
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createLogger, errorMessage, type Logger } from '../apis/logging.ts';
import { TokenAuthenticator } from './auth/authenticate.ts';
import { writeKubeconfig } from './auth/kubeconfig.ts';
import { ensureServerPki, type ServerPki } from './auth/pki.ts';
import { OpenApiDocuments } from './discovery/openapi.ts';
import { ResourceHandler } from './http/resource-handler.ts';
import { createRouter, type VersionInfo } from './http/router.ts';
import { ApiMetrics } from './metrics.ts';
import { NamespaceLifecycle } from './namespaces/lifecycle.ts';
import { defaultWriteOptions } from './registry/admit.ts';
import { SYSTEM_NAMESPACES } from './registry/builtins/namespaces.ts';
import { builtinResources } from './registry/builtins/index.ts';
import { installCrds, readCrdFiles } from './registry/crd-loader.ts';
import { ObjectStore } from './registry/object-store.ts';
import { ResourceRegistry } from './registry/registry.ts';
import { openEmbeddedStore } from './storage/embedded.ts';
import { openEtcdStore } from './storage/etcd.ts';
import type { Store } from './storage/types.ts';
import { ApiError } from './errors.ts';
import { WatchCache } from './watch/cache.ts';
import { WatchHandler } from './watch/watch-handler.ts';

export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type StorageOptions = { backend: 'embedded'; path?: string } | { backend: 'etcd'; endpoints: string[]; prefix?: string };

export interface ApiServerOptions {
  /** PHOTON_HOME: PKI, tokens, kubeconfigs and (embedded) data live here. */
  home: string;
  bindAddress?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  storage: StorageOptions;
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

async function openStore(options: StorageOptions, home: string): Promise<Store> {
  if (options.backend === 'etcd') return openEtcdStore({ endpoints: options.endpoints, prefix: options.prefix });
  const file = options.path ?? path.join(home, 'data', 'photon.db');
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  return openEmbeddedStore({ path: file });
}

/** The admin token, reused from admin.kubeconfig when it still authenticates, otherwise issued anew. */
function ensureAdminToken(home: string, tokens: TokenAuthenticator): string {
  const kubeconfig = path.join(home, 'admin.kubeconfig');
  if (fs.existsSync(kubeconfig)) {
    const match = /token:\s*(\S+)/.exec(fs.readFileSync(kubeconfig, 'utf8'));
    if (match && tokens.authenticate(match[1])) return match[1];
  }
  return tokens.issue('admin', ['system:masters'], 'bootstrap administrator (admin.kubeconfig)');
}

async function ensureSystemNamespaces(objects: ObjectStore, registry: ResourceRegistry): Promise<void> {
  const resource = registry.get('', 'v1', 'namespaces')!;
  for (const name of SYSTEM_NAMESPACES) {
    try {
      await objects.create(resource, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, defaultWriteOptions());
    } catch (error) {
      if (!(error instanceof ApiError && error.reason === 'AlreadyExists')) throw error;
    }
  }
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServerHandle> {
  const log = options.logger ?? createLogger('apiserver');
  const home = path.resolve(options.home);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const bindAddress = options.bindAddress ?? '127.0.0.1';
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', os.hostname(), ...(bindAddress !== '0.0.0.0' && bindAddress !== '::' ? [bindAddress] : []), ...(options.tlsSans ?? [])])];
  const pki: ServerPki = await ensureServerPki(path.join(home, 'pki'), hosts);
  const tokens = new TokenAuthenticator(path.join(home, 'tokens.json'));
  const adminToken = ensureAdminToken(home, tokens);

  const metrics = new ApiMetrics();
  const rawStore = await openStore(options.storage, home);
  const store = metrics.instrument(rawStore);
  const registry = new ResourceRegistry();
  registry.setSource('builtin', builtinResources());
  installCrds(registry, readCrdFiles(options.crdsDir ?? path.join(REPOSITORY_ROOT, 'crds')), log);

  const cache = new WatchCache(store, { capacity: options.watchCacheCapacity, logger: log.child({ component: 'watch-cache' }) });
  let lifecycle: NamespaceLifecycle | undefined;
  const objects = new ObjectStore(store, { state: (namespace) => lifecycle!.state(namespace) });
  lifecycle = new NamespaceLifecycle(registry, objects, store, cache, options.namespaceIntervalMs ?? 1000, log.child({ component: 'namespace-lifecycle' }));
  try {
    await cache.start();
    await ensureSystemNamespaces(objects, registry);
  } catch (error) {
    cache.stop();
    await rawStore.close();
    throw error;
  }
  lifecycle.start();

  const watches = new WatchHandler(cache, {
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 15_000,
    maxTimeoutSeconds: 2 * (options.minRequestTimeoutSeconds ?? 1800),
    maxBufferedBytes: 64 * 1024 * 1024,
    logger: log.child({ component: 'watch' }),
    onOpen: (resource) => metrics.openWatches.inc({ group: resource.group, resource: resource.plural }),
    onClose: (resource) => metrics.openWatches.dec({ group: resource.group, resource: resource.plural }),
    onEventSent: (resource) => metrics.watchEventsSent.inc({ group: resource.group, resource: resource.plural }),
  });
  const resources = new ResourceHandler({ registry, objects, store, watches });
  const openapi = new OpenApiDocuments(registry, SERVER_VERSION.gitVersion);

  const server = https.createServer({
    cert: pki.serving.certificatePem,
    key: pki.serving.keyPem,
    ca: pki.ca.certificatePem,
    // Client certificates are optional (tokens work too) but, when sent, must chain to our CA to count.
    requestCert: true,
    rejectUnauthorized: false,
    keepAliveTimeout: 65_000,
  });
  // Compaction of storage history shows up as 410 Expired for watchers behind it.
  const compactionPoll = setInterval(() => {
    store.compactedRevision().then((revision) => cache.compactedTo(revision), () => undefined);
  }, options.compactionPollMs ?? 5000);

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 6443, bindAddress, () => resolve((server.address() as AddressInfo).port));
  }).catch(async (error: NodeJS.ErrnoException) => {
    clearInterval(compactionPoll);
    lifecycle!.stop();
    cache.stop();
    await rawStore.close();
    if (error.code === 'EADDRINUSE') throw new Error(`cannot listen on ${bindAddress}:${options.port ?? 6443}: the address is already in use (another PhotonCloud or Kubernetes API server?)`);
    throw error;
  });
  const hostForUrl = bindAddress === '0.0.0.0' || bindAddress === '::' ? '127.0.0.1' : bindAddress.includes(':') ? `[${bindAddress}]` : bindAddress;
  const url = `https://${hostForUrl}:${port}`;
  const router = createRouter({
    registry,
    resources,
    openapi,
    tokens,
    metrics,
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
  server.on('request', (request, response) => void router(request, response));
  server.on('clientError', (error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  const adminKubeconfig = path.join(home, 'admin.kubeconfig');
  writeKubeconfig(adminKubeconfig, { server: url, caCertificatePem: pki.ca.certificatePem, user: 'admin', token: adminToken });
  log.info(`PhotonCloud API server is serving; try: KUBECONFIG=${adminKubeconfig} kubectl get photon -A`, { url, storage: options.storage.backend });

  let stopped = false;
  return {
    url,
    port,
    home,
    adminKubeconfig,
    caCertificatePem: pki.ca.certificatePem,
    adminToken,
    store,
    registry,
    cache,
    metrics,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(compactionPoll);
      lifecycle!.stop();
      watches.closeAll();
      cache.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      try {
        await rawStore.close();
      } catch (error) {
        log.warn('closing storage failed', { error: errorMessage(error) });
      }
    },
  };
}
