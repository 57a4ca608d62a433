// A real PowerDNS Authoritative for the tests (agents/pdns/local.ts: pdns_server with SQLite, the HTTP API on
// loopback) on free ports, in a temporary directory removed by stop(), and `dig` as users run it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type ExecResult } from '../../agents/ovn-local/commands.ts';
import { startLocalPowerDns, type LocalPowerDns } from '../../agents/pdns/local.ts';
import { freePort } from './ports.ts';

export interface TestPowerDns {
  server: LocalPowerDns;
  /** Options for the controller manager (DnsOptions). */
  options: { pdnsUrl: string; pdnsApiKeyFile: string };
  port: number;
  /** A raw request to PowerDNS's HTTP API (`path` below /api/v1/servers/localhost), as an operator would make by hand. */
  api(method: string, path: string, body?: object): Promise<Response>;
  /** `dig @127.0.0.1 -p PORT +short …args`: the answer lines. */
  dig(...args: string[]): Promise<string[]>;
  /** `dig` with the given args (no +short), for whole answers (flags, status). */
  digFull(...args: string[]): Promise<ExecResult>;
  stop(): Promise<void>;
}

export async function startTestPowerDns(): Promise<TestPowerDns> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-pdns-'));
  let server: LocalPowerDns | undefined;
  for (let attempt = 0; !server; attempt++) {
    const port = await freePort();
    try {
      server = await startLocalPowerDns({ dir, port });
    } catch (error) {
      // Another test file took the port between freePort() and pdns_server's bind: try another.
      if (attempt >= 2) throw error;
    }
  }
  const started = server;
  const port = started.dns.port;
  const apiKey = fs.readFileSync(started.api.keyFile, 'utf8').trim();
  const digFull = (...args: string[]) => run('dig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+tries=1', ...args], { timeoutMs: 10_000 });
  return {
    server: started,
    options: { pdnsUrl: started.api.url, pdnsApiKeyFile: started.api.keyFile },
    port,
    api: (method, apiPath, body) =>
      fetch(`${started.api.url}/api/v1/servers/localhost${apiPath}`, { method, headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) }),
    digFull,
    async dig(...args) {
      const result = await digFull('+short', ...args);
      if (result.code !== 0) throw new Error(`dig ${args.join(' ')} failed (${result.code}): ${result.stdout}${result.stderr}`);
      return result.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
    },
    async stop() {
      await started.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
