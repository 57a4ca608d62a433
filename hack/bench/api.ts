// The API server as the benches run it: its own process (`photon apiserver`, as in production) on a free port,
// and a keep-alive HTTPS client with the admin token. This process only generates load.
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { freePort } from '../../test/env/ports.ts';
import { startProcess, waitFor, type ManagedProcess } from '../../test/env/process.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export function vpcBody(name: string, namespace: string, extra: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'network.photoncloud.io/v1alpha1',
    kind: 'Vpc',
    metadata: { name, namespace, labels: { bench: 'true' }, annotations: extra },
    spec: { cidrBlocks: ['10.0.0.0/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.0.0.1' }] },
  });
}

export class Client {
  private readonly agent: https.Agent;
  constructor(
    private readonly base: string,
    private readonly token: string,
    ca: string,
  ) {
    this.agent = new https.Agent({ ca, keepAlive: true, maxSockets: 128 });
  }
  request(method: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const request = https.request(new URL(urlPath, this.base), {
        method,
        agent: this.agent,
        headers: { Authorization: `Bearer ${this.token}`, ...(body ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...headers },
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    });
  }
  async create(namespace: string, name: string, annotations?: Record<string, string>): Promise<void> {
    const result = await this.request('POST', `/apis/network.photoncloud.io/v1alpha1/namespaces/${namespace}/vpcs`, vpcBody(name, namespace, annotations));
    if (result.status !== 201) throw new Error(`create ${name}: ${result.status} ${result.text}`);
  }
  /** Opens a watch and calls onLine for every event line (onOpen once the server answered). */
  watch(urlPath: string, onLine: (line: string) => void, onOpen?: () => void): () => void {
    const request = https.request(new URL(urlPath, this.base), { agent: new https.Agent({ ca: (this.agent.options as { ca: string }).ca }), headers: { Authorization: `Bearer ${this.token}` } }, (response) => {
      onOpen?.();
      let buffer = '';
      response.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          onLine(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
        }
      });
    });
    request.on('error', () => undefined);
    request.end();
    return () => request.destroy();
  }
  close(): void {
    this.agent.destroy();
  }
}

export interface BenchApiServer {
  client: Client;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts `photon apiserver` with `args` (storage, workers, …) in `home` and waits until it answers /readyz. */
export async function startBenchApiServer(home: string, args: string[], options: { nodeArgs?: string[] } = {}): Promise<BenchApiServer> {
  const port = await freePort();
  const child = startProcess('apiserver', process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', path.join(ROOT, 'apiserver/main.ts'), ...args, '--secure-port', String(port), '--home', home, '--log-level', 'warn'], { cwd: ROOT });
  const kubeconfig = path.join(home, 'admin.kubeconfig');
  await waitFor('API server kubeconfig', async () => {
    if (child.child.exitCode !== null) throw new Error(`the API server exited: ${child.output()}`);
    return (await fs.stat(kubeconfig).catch(() => undefined)) !== undefined;
  }, { timeoutMs: 60_000 });
  const token = /token:\s*(\S+)/.exec(await fs.readFile(kubeconfig, 'utf8'))![1]!;
  const ca = await fs.readFile(path.join(home, 'pki', 'ca.crt'), 'utf8');
  const client = new Client(`https://127.0.0.1:${port}`, token, ca);
  await waitFor('API server ready', async () => (await client.request('GET', '/readyz').catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 60_000 });
  return {
    client,
    process: child,
    async stop() {
      client.close();
      await child.stop(20_000);
    },
  };
}
