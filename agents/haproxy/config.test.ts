import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProxyConfigError, renderConfig, type ProxyConfiguration } from './config.ts';

const STATE = '/var/lib/photon/proxies/x';
const base = (): ProxyConfiguration => ({
  listeners: [{ name: 'www', port: 80, rules: [{ host: 'Shop.Example.COM', pool: 'www-0' }, { host: 'api.example.com', pathPrefix: '/v2', pool: 'www-1' }, { pathPrefix: '/static', pool: 'www-0' }], defaultPool: 'www-default' }],
  pools: [
    { name: 'www-0', servers: [{ name: 'vm-shop-1', address: '10.0.1.10', port: 8080 }, { name: 'vm-shop-2', address: '10.0.1.11', port: 8080 }], healthCheck: { path: '/healthz', intervalSeconds: 2, timeoutSeconds: 1, rise: 2, fall: 3 } },
    { name: 'www-1', servers: [{ name: 'port-api', address: '10.0.2.5', port: 9000 }] },
    { name: 'www-default', servers: [] },
  ],
});

const haproxy = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((file) => fs.existsSync(file));

describe('renderConfig', () => {
  it('routes rules in order, hosts lower-cased and without port, unmatched requests to the default pool', () => {
    const text = renderConfig(base(), { stateDir: STATE });
    const frontend = text.slice(text.indexOf('frontend www'));
    expect(frontend.split('\n').filter((line) => line.includes('backend'))).toEqual([
      '  use_backend www-0 if { var(txn.host) -m str shop.example.com }',
      "  use_backend www-1 if { var(txn.host) -m str api.example.com } { path_beg '/v2' }",
      "  use_backend www-0 if { path_beg '/static' }",
      '  default_backend www-default',
    ]);
    expect(frontend).toContain('req.hdr(host),field(1,:),lower');
    expect(text).toContain(`stats socket ${STATE}/stats.sock`);
  });

  it('checks servers with HTTP only where the pool has a health check', () => {
    const text = renderConfig(base(), { stateDir: STATE });
    const pool = (name: string) => text.slice(text.indexOf(`backend ${name}\n`), text.indexOf('\n\n', text.indexOf(`backend ${name}\n`)));
    expect(pool('www-0')).toContain('option httpchk GET /healthz');
    expect(pool('www-0')).toContain('default-server inter 2s rise 2 fall 3');
    expect(pool('www-0')).toContain('  server vm-shop-1 10.0.1.10:8080 check');
    expect(pool('www-1')).not.toContain('httpchk');
    expect(pool('www-1')).toContain('  server port-api 10.0.2.5:9000\n'.trimEnd());
  });

  it('sends everything to a 404 backend when there is no default pool', () => {
    const config = base();
    delete config.listeners[0].defaultPool;
    expect(renderConfig(config, { stateDir: STATE })).toContain('  default_backend photon_not_found');
  });

  it('is deterministic', () => {
    expect(renderConfig(base(), { stateDir: STATE })).toBe(renderConfig(base(), { stateDir: STATE }));
  });

  it.each([
    ['a host with a space', (config: ProxyConfiguration) => (config.listeners[0].rules[0].host = 'a b.example'), 'listeners[0].rules[0].host'],
    ['a host with a newline', (config: ProxyConfiguration) => (config.listeners[0].rules[0].host = 'a.example\n  stats enable'), 'listeners[0].rules[0].host'],
    ['a path with a quote', (config: ProxyConfiguration) => (config.listeners[0].rules[1].pathPrefix = "/v2' }"), 'listeners[0].rules[1].pathPrefix'],
    ['a pool name with a space', (config: ProxyConfiguration) => (config.pools[1].name = 'www 1'), 'pools[1].name'],
    ['a server address that is not IPv4', (config: ProxyConfiguration) => (config.pools[0].servers[0].address = '10.0.1.10 backup'), 'pools[0].servers[0].address'],
    ['a port out of range', (config: ProxyConfiguration) => (config.pools[0].servers[1].port = 70000), 'pools[0].servers[1].port'],
    ['a rule naming no pool', (config: ProxyConfiguration) => (config.listeners[0].rules[2].pool = 'missing'), 'listeners[0].rules[2].pool'],
    ['two servers of one name', (config: ProxyConfiguration) => (config.pools[0].servers[1].name = 'vm-shop-1'), 'pools[0].servers[1].name'],
    ['a check interval of 0', (config: ProxyConfiguration) => (config.pools[0].healthCheck!.intervalSeconds = 0), 'pools[0].healthCheck.intervalSeconds'],
  ])('refuses %s, naming the field', (_what, change, field) => {
    const config = base();
    change(config);
    expect(() => renderConfig(config, { stateDir: STATE })).toThrow(ProxyConfigError);
    expect(() => renderConfig(config, { stateDir: STATE })).toThrow(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}:`));
  });

  (haproxy ? it : it.skip)('renders what haproxy -c accepts', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-haproxy-'));
    try {
      for (const config of [base(), { listeners: [{ name: 'empty', port: 8080, rules: [] }], pools: [] }]) {
        const file = path.join(dir, 'haproxy.cfg');
        fs.writeFileSync(file, renderConfig(config, { stateDir: dir }));
        expect(() => execFileSync(haproxy!, ['-c', '-q', '-f', file], { stdio: 'pipe' })).not.toThrow();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
