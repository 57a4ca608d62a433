// An HAProxy configuration from a LoadBalancer's proxy configuration (apis/lb/v1alpha1/proxy.ts), as text.
// Pure and deterministic (the same input gives the same bytes, so "did it change?" is a byte compare). Every
// value that reaches the file is checked first: names are identifiers, hosts are lower-case DNS names, paths
// carry no quote, space or control character, numbers are bounded integers — nothing from a tenant can add a
// directive. Hosts match the Host header case-insensitively and without its port; rules apply in order (the
// first match wins); a request no rule matches goes to the default pool, or gets 404; a pool with no healthy
// member answers 503 (HAProxy's own behaviour).
import type { ProxyConfiguration } from '../../apis/lb/v1alpha1/proxy.ts';

export type { ProxyConfiguration };

export class ProxyConfigError extends Error {
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'ProxyConfigError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HOST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PATH = /^\/[A-Za-z0-9._~!$&()*+,;=:@%/-]{0,1023}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NOT_FOUND_BACKEND = 'photon_not_found';

function name(field: string, value: string): string {
  if (!NAME.test(value) || value === NOT_FOUND_BACKEND) throw new ProxyConfigError(field, `${JSON.stringify(value)} is not a valid name`);
  return value;
}

function integer(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new ProxyConfigError(field, `${JSON.stringify(value)} must be an integer from ${min} to ${max}`);
  return value;
}

function host(field: string, value: string): string {
  const lower = value.toLowerCase();
  if (lower.length > 253 || !HOST.test(lower)) throw new ProxyConfigError(field, `${JSON.stringify(value)} is not a host name`);
  return lower;
}

function pathPrefix(field: string, value: string): string {
  if (!PATH.test(value)) throw new ProxyConfigError(field, `${JSON.stringify(value)} is not a path prefix`);
  return value;
}

export function renderConfig(config: ProxyConfiguration, paths: { stateDir: string }): string {
  if (/[\s'"\\#]/.test(paths.stateDir)) throw new ProxyConfigError('stateDir', `${JSON.stringify(paths.stateDir)} must not contain spaces, quotes or #`);
  const pools = new Set<string>();
  const lines = [
    '# Written by the PhotonCloud node agent (agents/haproxy); rewritten on every change.',
    'global',
    '  master-worker',
    `  stats socket ${paths.stateDir}/stats.sock mode 600 level admin expose-fd listeners`,
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    '  maxconn 2048',
    '',
  ];
  config.pools.forEach((pool, index) => {
    const field = `pools[${index}]`;
    pools.add(name(`${field}.name`, pool.name));
    lines.push(`backend ${pool.name}`, '  balance roundrobin');
    const check = pool.healthCheck;
    if (check) {
      lines.push(
        `  option httpchk GET ${pathPrefix(`${field}.healthCheck.path`, check.path)}`,
        '  http-check expect status 200-399',
        `  timeout check ${integer(`${field}.healthCheck.timeoutSeconds`, check.timeoutSeconds, 1, 300)}s`,
        `  default-server inter ${integer(`${field}.healthCheck.intervalSeconds`, check.intervalSeconds, 1, 300)}s rise ${integer(`${field}.healthCheck.rise`, check.rise, 1, 10)} fall ${integer(`${field}.healthCheck.fall`, check.fall, 1, 10)}`,
      );
    }
    const servers = new Set<string>();
    pool.servers.forEach((server, serverIndex) => {
      const at = `${field}.servers[${serverIndex}]`;
      if (servers.has(name(`${at}.name`, server.name))) throw new ProxyConfigError(`${at}.name`, `${server.name} appears twice`);
      servers.add(server.name);
      if (!IPV4.test(server.address)) throw new ProxyConfigError(`${at}.address`, `${JSON.stringify(server.address)} is not an IPv4 address`);
      lines.push(`  server ${server.name} ${server.address}:${integer(`${at}.port`, server.port, 1, 65535)}${check ? ' check' : ''}`);
    });
    lines.push('');
  });
  lines.push(`backend ${NOT_FOUND_BACKEND}`, '  http-request return status 404 content-type text/plain string "no rule matches this request"', '');
  const ports = new Set<number>();
  config.listeners.forEach((listener, index) => {
    const field = `listeners[${index}]`;
    const port = integer(`${field}.port`, listener.port, 1, 65535);
    if (ports.has(port)) throw new ProxyConfigError(`${field}.port`, `port ${port} is used by another listener`);
    ports.add(port);
    const poolOf = (at: string, pool: string) => {
      if (!pools.has(pool)) throw new ProxyConfigError(at, `no pool named ${JSON.stringify(pool)}`);
      return pool;
    };
    lines.push(`frontend ${name(`${field}.name`, listener.name)}`, `  bind 0.0.0.0:${port}`, '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower');
    listener.rules.forEach((rule, ruleIndex) => {
      const at = `${field}.rules[${ruleIndex}]`;
      const conditions = [
        ...(rule.host !== undefined ? [`{ var(txn.host) -m str ${host(`${at}.host`, rule.host)} }`] : []),
        ...(rule.pathPrefix !== undefined ? [`{ path_beg '${pathPrefix(`${at}.pathPrefix`, rule.pathPrefix)}' }`] : []),
      ];
      const pool = poolOf(`${at}.pool`, rule.pool);
      lines.push(conditions.length ? `  use_backend ${pool} if ${conditions.join(' ')}` : `  use_backend ${pool}`);
    });
    lines.push(`  default_backend ${listener.defaultPool !== undefined ? poolOf(`${field}.defaultPool`, listener.defaultPool) : NOT_FOUND_BACKEND}`, '');
  });
  return `${lines.join('\n')}\n`;
}
