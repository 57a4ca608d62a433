// `photon controller-manager [flags]`: runs the controllers against an API server, with leader election.
import fs from 'node:fs';
import path from 'node:path';
import { CEPH_CLIENT_FLAGS, cephClientFromFlags, cephClientUsage } from '../agents/ceph/client.ts';
import { RGW_FLAGS, RGW_USAGE, rgwFromFlags } from '../agents/rgw/flags.ts';
import { parseEndpoint, type OvsdbTlsFiles } from '../agents/ovsdb/index.ts';
import { parseFlags, photonHome, runIfMain, UsageError } from '../lib/cli.ts';
import { createLogger, setLogLevel } from '../lib/logging.ts';
import { recordValueProblem } from '../apis/dns/v1alpha1/validation.ts';
import type { DnsOptions } from './dns/index.ts';
import { CONTROLLERS, defaultNorthbound, startControllerManager } from './manager.ts';

export const CONTROLLER_MANAGER_USAGE = `Usage: photon controller-manager [flags]

  --kubeconfig FILE           credentials (default: $PHOTON_HOME/controller-manager.kubeconfig, written by the API server)
  --controllers LIST          comma-separated controllers to run (default: all: ${Object.keys(CONTROLLERS).join(', ')})
  --leader-elect BOOL         run only while holding the Lease photon-system/photon-controller-manager (default: true)
  --ovn-nb ENDPOINT           OVN Northbound database: unix:/path, tcp:host:port or ssl:host:port, comma-separated
                              for a cluster (default: unix:$PHOTON_HOME/ovn/nb.sock)
  --ovn-nb-cacert FILE        with ssl: endpoints: CA certificate (PEM) the database's certificate must chain to
                              (ovn-nbctl --ca-cert); host names are not checked, as with OVS's own tools
  --ovn-nb-cert FILE          with ssl: endpoints: this client's certificate (PEM; ovn-nbctl --certificate)
  --ovn-nb-key FILE           with ssl: endpoints: its private key (PEM; ovn-nbctl --private-key)
  --ovn-sb ENDPOINT           OVN Southbound database, read for load balancers' backend health (Service_Monitor):
                              unix:/path, tcp:host:port or ssl:host:port (ssl: uses the --ovn-nb-* files)
                              (default: sb.sock beside a unix: --ovn-nb, else its host on port 6642)
  --node-monitor-grace-period SECONDS  a Node whose Lease expired this long ago is Ready=Unknown (default 40)
  --node-eviction-timeout SECONDS      a Node not Ready this long: its RerunOnFailure VMs start elsewhere (default 300)
  --pdns-url URL              PowerDNS Authoritative HTTP API serving public Zones, e.g. http://127.0.0.1:8081
                              (the all-in-one passes its local one); without it public Zones report DNSUnavailable
  --pdns-api-key-file FILE    file holding that API's key (X-API-Key)
  --dns-nameservers NAMES     comma-separated fully-qualified names of the authoritative servers: the SOA's primary
                              and the NS records of every public zone (default: ns1.photoncloud.internal.)
  --dns-nameserver-addresses LIST  comma-separated host:port where that server answers, shown in public Zones'
                              status (the all-in-one passes its local one)
  --dns-resync SECONDS        how often public zones are compared with PowerDNS, restoring records changed behind
                              PhotonCloud's back (default 60)
${cephClientUsage(30, 'ceph-rbd Volumes report CephUnavailable').trimEnd()}
  --image-cache-dir DIR       where Images are fetched and verified before they are imported into Ceph for Volumes
                              made from them (default: $PHOTON_HOME/image-cache)
${RGW_USAGE.trimEnd()}
  --metrics-address ADDR      serve /metrics and /healthz over HTTP at host:port (default: 127.0.0.1:10257; "" disables)
  --log-level LEVEL           error|warn|info|http|debug (default: info)
`;

function parse(argv: string[]) {
  const values = parseFlags(argv, {
    kubeconfig: { type: 'string' },
    controllers: { type: 'string' },
    'leader-elect': { type: 'string', default: 'true' },
    'log-level': { type: 'string' },
    home: { type: 'string' },
    'ovn-nb': { type: 'string' },
    'ovn-nb-cacert': { type: 'string' },
    'ovn-nb-cert': { type: 'string' },
    'ovn-nb-key': { type: 'string' },
    'ovn-sb': { type: 'string' },
    'metrics-address': { type: 'string', default: '127.0.0.1:10257' },
    'node-monitor-grace-period': { type: 'string' },
    'node-eviction-timeout': { type: 'string' },
    'pdns-url': { type: 'string' },
    'pdns-api-key-file': { type: 'string' },
    'dns-nameservers': { type: 'string' },
    'dns-resync': { type: 'string' },
    'dns-nameserver-addresses': { type: 'string' },
    ...CEPH_CLIENT_FLAGS,
    'image-cache-dir': { type: 'string' },
    ...RGW_FLAGS,
  });
  const seconds = (flag: string): number | undefined => {
    const text = values[flag as keyof typeof values] as string | undefined;
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${flag} must be a positive number of seconds, got ${JSON.stringify(text)}`);
    return value * 1000;
  };
  const dns = dnsFlags(values, seconds);
  const nodeLifecycle = { nodeMonitorGracePeriodMs: seconds('node-monitor-grace-period'), evictionTimeoutMs: seconds('node-eviction-timeout') };
  if (!['true', 'false'].includes(values['leader-elect']!)) throw new UsageError('--leader-elect must be true or false');
  const controllers = values.controllers?.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of controllers ?? []) if (!CONTROLLERS[name]) throw new UsageError(`--controllers: unknown controller ${JSON.stringify(name)} (known: ${Object.keys(CONTROLLERS).join(', ')})`);
  const home = photonHome(values.home);
  const ovnNorthbound = values['ovn-nb'] ?? defaultNorthbound(home);
  const ovnNorthboundTls = northboundTls(values, ovnNorthbound);
  const ovnSouthbound = values['ovn-sb'];
  if (ovnSouthbound !== undefined) {
    try {
      const transports = ovnSouthbound.split(',').map((endpoint) => parseEndpoint(endpoint.trim()).transport);
      if (transports.includes('ssl') && !ovnNorthboundTls) throw new UsageError('an ssl: --ovn-sb endpoint needs an ssl: --ovn-nb with --ovn-nb-cacert, --ovn-nb-cert and --ovn-nb-key');
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`--ovn-sb must be unix:/path, tcp:host:port or ssl:host:port, got ${JSON.stringify(ovnSouthbound)}`);
    }
  }
  const metricsAddress = values['metrics-address'] || undefined;
  if (metricsAddress && !/^[^\s]+:\d+$/.test(metricsAddress)) throw new UsageError(`--metrics-address must be host:port, got ${JSON.stringify(metricsAddress)}`);
  return { kubeconfig: path.resolve(values.kubeconfig ?? path.join(home, 'controller-manager.kubeconfig')), controllers, leaderElect: values['leader-elect'] === 'true', logLevel: values['log-level'], ovnNorthbound, ovnNorthboundTls, ovnSouthbound, metricsAddress, nodeLifecycle, dns, storage: { ceph: cephClientFromFlags(values), imageCacheDir: path.resolve(values['image-cache-dir'] ?? path.join(home, 'image-cache')), objectStorage: rgwFromFlags(values) } };
}

function dnsFlags(values: Record<string, unknown>, seconds: (flag: string) => number | undefined): DnsOptions {
  const pdnsUrl = values['pdns-url'] as string | undefined;
  const pdnsApiKeyFile = values['pdns-api-key-file'] as string | undefined;
  if (pdnsUrl !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(pdnsUrl)) throw new UsageError(`--pdns-url must be an http(s) URL, got ${JSON.stringify(pdnsUrl)}`);
  if (pdnsUrl && !pdnsApiKeyFile) throw new UsageError('--pdns-url needs --pdns-api-key-file');
  if (pdnsApiKeyFile && !fs.existsSync(pdnsApiKeyFile)) throw new UsageError(`--pdns-api-key-file ${pdnsApiKeyFile}: no such file`);
  const nameservers = (values['dns-nameservers'] as string | undefined)?.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  for (const name of nameservers ?? []) if (recordValueProblem('NS', name)) throw new UsageError(`--dns-nameservers: ${JSON.stringify(name)} must be a fully-qualified name with the trailing dot`);
  if (nameservers && nameservers.length === 0) throw new UsageError('--dns-nameservers needs at least one name');
  const nameserverAddresses = (values['dns-nameserver-addresses'] as string | undefined)?.split(',').map((address) => address.trim()).filter(Boolean);
  for (const address of nameserverAddresses ?? []) if (!/^[0-9A-Za-z.:[\]-]{1,300}$/.test(address)) throw new UsageError(`--dns-nameserver-addresses: ${JSON.stringify(address)} is not host:port`);
  return { pdnsUrl, pdnsApiKeyFile, nameservers, nameserverAddresses, resyncMs: seconds('dns-resync') };
}

/**
 * Checks --ovn-nb against what the OVSDB client accepts (so a bad endpoint fails here rather than as an
 * endless retry) and returns the TLS files: ssl: endpoints need all three (ovsdb-server requires a client
 * certificate), and the files mean nothing without an ssl: endpoint.
 */
function northboundTls(values: Record<string, unknown>, ovnNorthbound: string): OvsdbTlsFiles | undefined {
  let transports: string[];
  try {
    transports = ovnNorthbound.split(',').map((endpoint) => parseEndpoint(endpoint.trim()).transport);
  } catch {
    throw new UsageError(`--ovn-nb must be unix:/path, tcp:host:port or ssl:host:port (comma-separated for several), got ${JSON.stringify(ovnNorthbound)}`);
  }
  const [caCertFile, certFile, keyFile] = (['ovn-nb-cacert', 'ovn-nb-cert', 'ovn-nb-key'] as const).map((flag) => values[flag] as string | undefined);
  if (!transports.includes('ssl')) {
    if (caCertFile || certFile || keyFile) throw new UsageError('--ovn-nb-cacert, --ovn-nb-cert and --ovn-nb-key need an ssl: --ovn-nb endpoint');
    return undefined;
  }
  if (!caCertFile || !certFile || !keyFile) throw new UsageError('an ssl: --ovn-nb endpoint needs --ovn-nb-cacert, --ovn-nb-cert and --ovn-nb-key');
  return { caCertFile: path.resolve(caCertFile), certFile: path.resolve(certFile), keyFile: path.resolve(keyFile) };
}

/** The API server writes our kubeconfig when it first serves: wait for it rather than fail at start-up. */
async function waitForFile(file: string, log: ReturnType<typeof createLogger>): Promise<void> {
  let announced = false;
  while (!fs.existsSync(file)) {
    if (!announced) log.info('waiting for the kubeconfig the API server writes', { kubeconfig: file });
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(argv: string[]): Promise<void> {
  const flags = parse(argv);
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = createLogger('controller-manager');
  await waitForFile(flags.kubeconfig, log);
  const manager = startControllerManager({ kubeconfig: flags.kubeconfig, controllers: flags.controllers, leaderElect: flags.leaderElect, ovnNorthbound: flags.ovnNorthbound, ovnNorthboundTls: flags.ovnNorthboundTls, ovnSouthbound: flags.ovnSouthbound, metricsAddress: flags.metricsAddress, nodeLifecycle: flags.nodeLifecycle, dns: flags.dns, storage: flags.storage, logger: log });
  // Losing leadership is not fatal: the manager stops its controllers and campaigns again (see manager.ts).
  const shutdown = (signal: string) => {
    log.info('shutting down', { signal });
    manager.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

runIfMain(import.meta.url, 'photon controller-manager', CONTROLLER_MANAGER_USAGE, main);
