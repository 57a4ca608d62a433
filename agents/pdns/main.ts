// `photon dns-local [flags]`: a local PowerDNS Authoritative in the foreground (local.ts) under
// $PHOTON_HOME/dns, as its own component so the all-in-one supervises it like the local OVN. pdns_server is its
// child and dies with it, even on SIGKILL.
//
// With --ready-fd N it writes one JSON line to file descriptor N once DNS and the HTTP API answer
// ({"dns":{"address":…,"port":…},"api":{"url":…,"keyFile":…}}) and closes it: the all-in-one then hands the API
// to the controller manager (--pdns-url, --pdns-api-key-file).
import path from 'node:path';
import { parseFlags, photonHome, readyFdFlag, reportReady, runIfMain, UsageError, wholeNumberFlag } from '../../lib/cli.ts';
import { createLogger, errorMessage, setLogLevel } from '../../lib/logging.ts';
import { DEFAULT_DNS_PORT, startLocalPowerDns, type LocalPowerDns } from './local.ts';

export const DNS_LOCAL_USAGE = `Usage: photon dns-local [flags]

Runs a local PowerDNS Authoritative (pdns_server, SQLite backend) in the foreground under $PHOTON_HOME/dns: DNS
over UDP and TCP on --dns-address:--dns-port, its HTTP API on a free port of 127.0.0.1 with a random key kept in
$PHOTON_HOME/dns/api-key (0600). pdns_server is a child of this process and dies with it, even on SIGKILL.

  --dns-address ADDR  address DNS is answered on (default: 127.0.0.1)
  --dns-port PORT     UDP and TCP port DNS is answered on (default: ${DEFAULT_DNS_PORT})
  --home DIR          state directory (default: $PHOTON_HOME or ./.photon)
  --ready-fd N        when serving, write the addresses as one JSON line to file descriptor N
  --log-level LEVEL   error|warn|info|http|debug (default: info)
`;

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    'dns-address': { type: 'string', default: '127.0.0.1' },
    'dns-port': { type: 'string' },
    home: { type: 'string' },
    'ready-fd': { type: 'string' },
    'log-level': { type: 'string' },
  }) as Record<string, string | undefined>;
  const port = wholeNumberFlag(values['dns-port'], 1, '--dns-port must be a port (1-65535)') ?? DEFAULT_DNS_PORT;
  if (port > 65535) throw new UsageError('--dns-port must be a port (1-65535)');
  const address = values['dns-address']!;
  if (!/^[0-9.]+$|^[0-9a-f:]+$/i.test(address)) throw new UsageError(`--dns-address must be an IP address, got ${JSON.stringify(address)}`);
  const readyFd = readyFdFlag(values['ready-fd'] as string | undefined);
  return { address, port, home: photonHome(values.home), readyFd, logLevel: values['log-level'] };
}

async function main(argv: string[]): Promise<void> {
  const flags = parse(argv);
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = createLogger('dns-local');
  const abort = new AbortController();
  let server: LocalPowerDns | undefined;
  let stopping = false;
  const stop = (why: string, status: number) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping the local PowerDNS', { reason: why });
    abort.abort();
    if (server) server.stop().then(() => process.exit(status), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  try {
    server = await startLocalPowerDns({ dir: path.join(flags.home, 'dns'), address: flags.address, port: flags.port, signal: abort.signal, onLog: (line) => log.debug(line) });
  } catch (error) {
    if (abort.signal.aborted) process.exit(0);
    if (/already in use/.test(errorMessage(error))) throw new Error(`${errorMessage(error)}; choose another port: npm start -- --dns-port PORT`);
    throw error;
  }
  if (stopping) {
    await server.stop();
    process.exit(0);
  }
  log.info('the local PowerDNS is ready', { dns: `${flags.address}:${flags.port}`, api: server.api.url, pid: server.pid, try: `dig @${flags.address} -p ${flags.port} <name>` });
  reportReady(flags.readyFd, { dns: server.dns, api: server.api });
  void server.failed.then((error) => {
    if (stopping) return;
    log.error('pdns_server ended', { error: errorMessage(error) });
    stop('pdns_server ended', 1);
  });
}

runIfMain(import.meta.url, 'photon dns-local', DNS_LOCAL_USAGE, main);
