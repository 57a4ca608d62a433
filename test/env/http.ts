// A small HTTPS client for tests that need exact control over requests (raw bodies, headers, streams).
import https from 'node:https';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

export interface RequestOptions {
  method?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Send no Authorization header (anonymous). */
  anonymous?: boolean;
  token?: string;
}

export class ApiClient {
  readonly agent: https.Agent;

  constructor(
    private readonly env: { url: string; server: { adminToken: string; caCertificatePem: string } },
    options: { maxSockets?: number } = {},
  ) {
    this.agent = new https.Agent({ ca: env.server.caCertificatePem, keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  }

  /**
   * Where a request goes: the path is sent exactly as given (never through `new URL()`, which would resolve
   * `..` and `%2e%2e` segments on the client before the server could be tested with them).
   */
  private target(path: string): https.RequestOptions {
    const base = new URL(this.env.url);
    return { protocol: base.protocol, hostname: base.hostname, port: base.port, path };
  }

  request(path: string, options: RequestOptions = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (!options.anonymous) headers.Authorization = `Bearer ${options.token ?? this.env.server.adminToken}`;
    if (options.body !== undefined && !Object.keys(headers).some((key) => key.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    // Node frames DELETE bodies only when told their length.
    if (options.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(options.body));
    return new Promise((resolve, reject) => {
      const request = https.request({ ...this.target(path), method: options.method ?? 'GET', headers, agent: this.agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json: () => JSON.parse(text) });
        });
        response.on('error', reject);
      });
      request.on('error', reject);
      if (options.body !== undefined) request.end(options.body);
      else request.end();
    });
  }

  /** Opens a watch stream; events arrive parsed in `events`. */
  watch(path: string, options: RequestOptions = {}): WatchStream {
    const stream = new WatchStream();
    const headers: Record<string, string> = { ...options.headers, Authorization: `Bearer ${this.env.server.adminToken}` };
    const request = https.request({ ...this.target(path), method: 'GET', headers, agent: new https.Agent({ ca: this.env.server.caCertificatePem }) }, (response) => {
      stream.status = response.statusCode ?? 0;
      let buffer = '';
      response.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim()) stream.events.push(JSON.parse(line));
        }
      });
      response.on('end', () => (stream.ended = true));
      response.on('error', () => (stream.ended = true));
    });
    request.on('error', () => (stream.ended = true));
    request.end();
    stream.close = () => request.destroy();
    return stream;
  }

  close(): void {
    this.agent.destroy();
  }
}

export class WatchStream {
  status = 0;
  ended = false;
  events: Array<{ type: string; object: any }> = [];
  close: () => void = () => undefined;
}
