// An API server for tests, in this process, on a free loopback port with its own PHOTON_HOME, on a real
// etcd (started here unless one is given) or the embedded store. `kubectl()` runs the real kubectl against
// it exactly as a user would, through the admin kubeconfig the server wrote.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startApiServer, type ApiServerHandle, type ApiServerOptions, type StorageOptions } from '../../apiserver/server.ts';
import { createLogger } from '../../lib/logging.ts';
import { run, type ExecResult } from '../../agents/ovn-local/commands.ts';
import { startEtcd, type EtcdInstance } from './etcd.ts';

export type KubectlResult = ExecResult;

export interface TestApiServer {
  server: ApiServerHandle;
  /** The etcd this server uses, when started on etcd. */
  etcd?: EtcdInstance;
  home: string;
  kubeconfig: string;
  url: string;
  kubectl(args: string[], options?: { stdin?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Stops the server only (etcd and the home stay): then `start()` brings it back on the same port. */
  restart(): Promise<void>;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Stops everything this environment started and removes its temp dirs. */
  stop(): Promise<void>;
}

export interface TestApiServerOptions {
  storage: 'etcd' | 'embedded';
  /** Reuse an etcd (not stopped by stop()). */
  etcd?: EtcdInstance;
  overrides?: Partial<ApiServerOptions>;
}

/** The stdout of a kubectl run that must succeed; otherwise throws with its exit code and output. */
export function kubectlOk(result: KubectlResult): string {
  if (result.code !== 0) throw new Error(`kubectl failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Runs the real kubectl as a user would, against kubeconfig (its cache under the kubeconfig's directory). */
export function runKubectl(kubeconfig: string, args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return run('kubectl', args, {
    env: { ...process.env, KUBECONFIG: kubeconfig, HOME: path.dirname(kubeconfig) },
    timeoutMs: options.timeoutMs ?? 60_000,
    input: options.stdin,
    maxBuffer: 64 * 1024 * 1024,
  });
}

export async function startTestApiServer(options: TestApiServerOptions): Promise<TestApiServer> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-home-'));
  const ownsEtcd = options.storage === 'etcd' && !options.etcd;
  const etcd = options.storage === 'etcd' ? (options.etcd ?? (await startEtcd())) : undefined;
  const storage: StorageOptions = etcd ? { backend: 'etcd', endpoints: [etcd.endpoint] } : { backend: 'embedded' };
  const logger = createLogger('apiserver', { test: true });
  let port = 0;
  let server: ApiServerHandle | undefined;
  const startServer = async () => {
    server = await startApiServer({ home, port, storage, bookmarkIntervalMs: 1000, namespaceIntervalMs: 200, logger, ...options.overrides });
    port = server.port;
  };
  try {
    await startServer();
  } catch (error) {
    if (ownsEtcd) await etcd?.stop();
    await fs.rm(home, { recursive: true, force: true });
    throw error;
  }
  const env: TestApiServer = {
    get server() {
      return server!;
    },
    etcd,
    home,
    kubeconfig: path.join(home, 'admin.kubeconfig'),
    get url() {
      return server!.url;
    },
    kubectl: (args, kubectlOptions) => runKubectl(path.join(home, 'admin.kubeconfig'), args, kubectlOptions),
    async stopServer() {
      await server?.stop();
    },
    startServer,
    async restart() {
      await server?.stop();
      await startServer();
    },
    async stop() {
      await server?.stop();
      if (ownsEtcd) await etcd?.stop();
      await fs.rm(home, { recursive: true, force: true });
    },
  };
  return env;
}
