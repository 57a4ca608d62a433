// The API server as the benches run it: its own process (`photon apiserver`, as in production) on a free port,
// and a keep-alive HTTPS client with the admin token. This process only generates load.
import fs from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
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

/** A 'data' listener that calls onLine for every complete line of a watch stream. */
function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  };
}

export class Client {
  private readonly agent: https.Agent;
  /**
   * This process shares the machine with what it measures, so its requests are kept cheap as apis/client's
   * are: one secure context (an Agent given `ca` names its socket pool with the PEM text on every request) and
   * the server's address parsed once.
   */
  private readonly secureContext: tls.SecureContext;
  private readonly origin: { hostname: string; port: string };
  constructor(
    base: string,
    private readonly token: string,
    ca: string,
  ) {
    this.secureContext = tls.createSecureContext({ ca });
    this.agent = new https.Agent({ secureContext: this.secureContext, keepAlive: true, maxSockets: 128 });
    const url = new URL(base);
    this.origin = { hostname: url.hostname, port: url.port };
  }
  request(method: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const request = https.request({
        ...this.origin,
        path: urlPath,
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
    const request = https.request({ ...this.origin, path: urlPath, agent: new https.Agent({ secureContext: this.secureContext }), headers: { Authorization: `Bearer ${this.token}` } }, (response) => {
      onOpen?.();
      response.on('data', lineSplitter(onLine));
    });
    request.on('error', () => undefined);
    request.end();
    return () => request.destroy();
  }
  close(): void {
    this.agent.destroy();
  }
}

/**
 * The same requests over HTTP/2, as kubectl and client-go send them: streams on few connections (a new
 * connection once one holds `streamsPerConnection`, the server's advertised limit).
 */
export class Http2Client {
  private readonly sessions: Array<{ session: http2.ClientHttp2Session; streams: number }> = [];
  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly ca: string,
    private readonly streamsPerConnection = 250,
  ) {}
  private session(): http2.ClientHttp2Session {
    let entry = this.sessions.find((candidate) => candidate.streams < this.streamsPerConnection && !candidate.session.closed && !candidate.session.destroyed);
    if (!entry) {
      // Go's HTTP/2 client windows (client-go's): 4 MiB per stream, 1 GiB per connection. Node's default of
      // 64 KiB per connection would make 250 watches share 64 KiB in flight.
      const session = http2.connect(this.base, { ca: this.ca, settings: { initialWindowSize: 4 << 20 } });
      session.once('connect', () => session.setLocalWindowSize(1 << 30));
      session.on('error', () => undefined);
      entry = { session, streams: 0 };
      this.sessions.push(entry);
    }
    const held = entry;
    held.streams++;
    return held.session;
  }
  /** Hands a stream slot back once its stream closed. */
  private release(session: http2.ClientHttp2Session): void {
    const entry = this.sessions.find((candidate) => candidate.session === session);
    if (entry) entry.streams--;
  }
  private open(method: string, urlPath: string, body?: string): http2.ClientHttp2Stream {
    const session = this.session();
    const stream = session.request({ ':method': method, ':path': urlPath, authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) });
    stream.once('close', () => this.release(session));
    stream.end(body);
    return stream;
  }
  request(method: string, urlPath: string, body?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const stream = this.open(method, urlPath, body);
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString() }));
      stream.on('error', reject);
    });
  }
  async create(namespace: string, name: string): Promise<void> {
    const result = await this.request('POST', `/apis/network.photoncloud.io/v1alpha1/namespaces/${namespace}/vpcs`, vpcBody(name, namespace));
    if (result.status !== 201) throw new Error(`create ${name}: ${result.status} ${result.text}`);
  }
  /** Opens a watch stream and calls onLine for every event line (onOpen once the server answered). */
  watch(urlPath: string, onLine: (line: string) => void, onOpen?: () => void): () => void {
    const stream = this.open('GET', urlPath);
    stream.on('error', () => undefined);
    stream.on('response', () => onOpen?.());
    stream.on('data', lineSplitter(onLine));
    return () => stream.close();
  }
  close(): void {
    for (const { session } of this.sessions) session.destroy();
    this.sessions.length = 0;
  }
}

export interface BenchApiServer {
  client: Client;
  /** A new HTTP/2 client (its own connections); close() it. */
  http2Client(): Http2Client;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts `photon apiserver` with `args` (storage, workers, …) in `home` and waits until it answers /readyz.
 * options.root: the checkout whose API server runs (default this one; ab.ts runs another revision's).
 */
export async function startBenchApiServer(home: string, args: string[], options: { nodeArgs?: string[]; root?: string } = {}): Promise<BenchApiServer> {
  const port = await freePort();
  const root = options.root ?? ROOT;
  const child = startProcess('apiserver', process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', path.join(root, 'apiserver/main.ts'), ...args, '--secure-port', String(port), '--home', home, '--log-level', 'warn'], { cwd: root });
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
    http2Client: () => new Http2Client(`https://127.0.0.1:${port}`, token, ca),
    process: child,
    async stop() {
      client.close();
      await child.stop(20_000);
    },
  };
}
