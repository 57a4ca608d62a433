// The HAProxy driver on its own, against a real OVN chassis (no agent, no LoadBalancer controller): a VPC with
// one subnet, two backend hosts running an HTTP server, a client host, and the proxy attached to its own Port
// by HaproxyDriver.ensure(). Host rules route to the right pool; the same ensure again changes nothing; a new
// rule is applied by a reload that lets a response streaming across it finish; a stopped backend shows down in
// servers(); a SIGKILLed HAProxy, a deleted OVS port and a deleted namespace are repaired by the next ensure; a
// new driver on the same state directory adopts the running proxy; remove() leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HaproxyDriver, proxyName, type ProxyAttachment, type ProxyConfiguration } from '../../agents/haproxy/index.ts';
import { run } from '../../agents/ovn-local/commands.ts';
import { attachPort, type AttachedPort } from '../env/ovn.ts';
import { processRunning, waitFor, type ManagedProcess } from '../env/process.ts';
import { create, namespace, portAddress, startNetworkEnv, waitReady, type NetworkEnv } from '../network/harness.ts';
import { httpGet, startHttpServer, streamSlow } from './harness.ts';

const NS = 'lbdrv';
const GATEWAY = '10.0.1.1';

describe('HaproxyDriver on a real chassis', () => {
  let env: NetworkEnv;
  let stateDir: string;
  let driver: HaproxyDriver;
  let attachment: ProxyAttachment;
  let lbUid: string;
  const hosts: Record<string, AttachedPort> = {};
  const servers: Record<string, ManagedProcess> = {};

  const options = () => ({ stateDir, db: `unix:${path.join(env.chassis!.dir, 'db.sock')}`, vswitchdNetns: env.chassis!.netns.name });
  const vsctl = (...args: string[]) => env.chassis!.vsctl(...args);

  const config = (extraRules: ProxyConfiguration['listeners'][number]['rules'] = []): ProxyConfiguration => ({
    listeners: [{ name: 'web', port: 80, rules: [{ host: 'a.example', pool: 'a' }, { host: 'b.example', pool: 'b' }, ...extraRules] }],
    pools: [
      { name: 'a', servers: [{ name: 'a1', address: hosts.a.ip, port: 8080 }], healthCheck: { path: '/healthz', intervalSeconds: 1, timeoutSeconds: 1, rise: 1, fall: 2 } },
      { name: 'b', servers: [{ name: 'b1', address: hosts.b.ip, port: 8080 }], healthCheck: { path: '/healthz', intervalSeconds: 1, timeoutSeconds: 1, rise: 1, fall: 2 } },
    ],
  });

  /** One HTTP request from the client host: "<status> <body>", or undefined when it failed. */
  async function get(hostHeader: string, urlPath = '/'): Promise<string | undefined> {
    const response = await httpGet(hosts.client, attachment.ip.split('/')[0], hostHeader, urlPath, 3000);
    return response && `${response.status} ${response.body}`;
  }

  async function pidOf(uid: string): Promise<number> {
    return Number((await fs.readFile(path.join(stateDir, uid, 'haproxy.pid'), 'utf8')).trim().split('\n')[0]);
  }

  async function hostPort(name: string, subnetIp: string): Promise<AttachedPort> {
    const port = await waitReady(env, 'Port', NS, name);
    const address = portAddress(port);
    expect(address.ip).toBe(subnetIp);
    return attachPort(env.chassis!, { ifaceId: address.uid, mac: address.mac, ip: `${address.ip}/24`, gateway: GATEWAY });
  }

  beforeAll(async () => {
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-lb-'));
    env = await startNetworkEnv({ chassis: true });
    await namespace(env, NS);
    await create(env, 'Vpc', NS, 'main', { cidrBlocks: ['10.0.0.0/16'] });
    await create(env, 'Subnet', NS, 'web', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    const addresses: Record<string, string> = { a: '10.0.1.10', b: '10.0.1.11', client: '10.0.1.20', proxy: '10.0.1.30' };
    for (const [name, ipAddress] of Object.entries(addresses)) await create(env, 'Port', NS, name, { subnetRef: 'web', ipAddress });
    for (const name of ['a', 'b', 'client']) hosts[name] = await hostPort(name, addresses[name]);
    for (const name of ['a', 'b']) servers[name] = await startHttpServer(hosts[name], name, 6);
    const proxyPort = portAddress(await waitReady(env, 'Port', NS, 'proxy'));
    attachment = { ifaceId: proxyPort.uid, mac: proxyPort.mac, ip: `${proxyPort.ip}/24`, gateway: GATEWAY };
    lbUid = '4f1c2a9e-0b7d-4c3e-9a51-6d2e8f0a1b2c';
    driver = new HaproxyDriver(options());
  }, 120_000);

  afterAll(async () => {
    if (driver && lbUid) await driver.remove(lbUid).catch(() => undefined);
    await env?.stop();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  it('routes by Host to the right pool, 404 for no rule, and the same ensure changes nothing', async () => {
    const first = await driver.ensure(lbUid, attachment, config());
    expect(first.changes).toBeGreaterThan(0);
    await waitFor('the proxy answers through OVN', async () => (await get('a.example')) === '200 a /', { timeoutMs: 30_000, intervalMs: 250 });
    expect(await get('A.Example:80', '/x')).toBe('200 a /x'); // case-insensitive, port ignored
    expect(await get('b.example')).toBe('200 b /');
    expect(await get('c.example')).toMatch(/^404 /);
    expect(await driver.ensure(lbUid, attachment, config())).toEqual({ changes: 0 });
    expect(await driver.listOwned()).toEqual([lbUid]);
  });

  it('applies a new rule by a reload that lets an established response finish', async () => {
    const slow = streamSlow(hosts.client, attachment.ip.split('/')[0], 'a.example');
    await waitFor('the slow response started', () => slow.output().includes('a start'), { timeoutMs: 10_000, intervalMs: 20 });
    const masterBefore = await pidOf(lbUid);
    const applied = await driver.ensure(lbUid, attachment, config([{ host: 'c.example', pool: 'b' }]));
    expect(applied.changes).toBeGreaterThan(0);
    expect(await pidOf(lbUid)).toBe(masterBefore); // a reload, not a restart
    await waitFor('the new rule applies', async () => (await get('c.example')) === '200 b /', { timeoutMs: 10_000, intervalMs: 100 });
    expect(slow.output()).not.toContain('end'); // the new rule applied while the response was still streaming
    expect(await slow.exited).toBe(0);
    expect(slow.output()).toBe(`a start\n${Array.from({ length: 6 }, (_, index) => `chunk ${index + 1}\n`).join('')}end\n`);
    expect(await driver.ensure(lbUid, attachment, config([{ host: 'c.example', pool: 'b' }]))).toEqual({ changes: 0 });
  });

  it('refuses a configuration haproxy rejects without touching the running one', async () => {
    const cfg = path.join(stateDir, lbUid, 'haproxy.cfg');
    const before = await fs.readFile(cfg, 'utf8');
    const bad = config([{ host: 'bad host', pool: 'a' }]);
    await expect(driver.ensure(lbUid, attachment, bad)).rejects.toThrow(/host/);
    expect(await fs.readFile(cfg, 'utf8')).toBe(before);
    expect(await get('a.example')).toBe('200 a /');
  });

  it('reports a stopped backend down within interval × fall', async () => {
    const current = config([{ host: 'c.example', pool: 'b' }]);
    await waitFor('both servers up', async () => (await driver.servers(lbUid)).every((server) => server.up), { timeoutMs: 10_000, intervalMs: 200 });
    expect((await driver.servers(lbUid)).map(({ pool, server, address, port }) => ({ pool, server, address, port }))).toEqual([
      { pool: 'a', server: 'a1', address: hosts.a.ip, port: 8080 },
      { pool: 'b', server: 'b1', address: hosts.b.ip, port: 8080 },
    ]);
    await servers.b.stop(1000);
    const stopped = Date.now();
    await waitFor('b1 down', async () => (await driver.servers(lbUid)).find((server) => server.server === 'b1')?.up === false, { timeoutMs: 8000, intervalMs: 100 });
    expect(Date.now() - stopped).toBeLessThan(6000); // interval 1 s × fall 2, plus a check in flight
    expect((await driver.servers(lbUid)).find((server) => server.server === 'a1')?.up).toBe(true);
    expect(await get('b.example')).toMatch(/^503 /);
    servers.b = await startHttpServer(hosts.b, 'b', 6);
    await waitFor('b1 up again', async () => (await driver.servers(lbUid)).find((server) => server.server === 'b1')?.up === true, { timeoutMs: 8000, intervalMs: 100 });
    expect(await driver.ensure(lbUid, attachment, current)).toEqual({ changes: 0 });
  });

  it('restarts a killed HAProxy and repairs a deleted OVS port and namespace', async () => {
    const current = config([{ host: 'c.example', pool: 'b' }]);
    const killed = await pidOf(lbUid);
    process.kill(killed, 'SIGKILL');
    await waitFor('the master is gone', () => !processRunning(killed), { timeoutMs: 5000 });
    expect((await driver.ensure(lbUid, attachment, current)).changes).toBeGreaterThan(0);
    expect(await pidOf(lbUid)).not.toBe(killed);
    await waitFor('served again after the restart', async () => (await get('a.example')) === '200 a /', { timeoutMs: 15_000, intervalMs: 200 });

    await vsctl('del-port', 'br-int', proxyName(lbUid));
    expect((await driver.ensure(lbUid, attachment, current)).changes).toBeGreaterThan(0);
    await waitFor('served again after the port came back', async () => (await get('b.example')) === '200 b /', { timeoutMs: 15_000, intervalMs: 200 });

    expect((await run('ip', ['netns', 'delete', proxyName(lbUid)])).code).toBe(0);
    expect((await driver.ensure(lbUid, attachment, current)).changes).toBeGreaterThan(0);
    await waitFor('served again after the namespace came back', async () => (await get('a.example')) === '200 a /', { timeoutMs: 15_000, intervalMs: 200 });
    expect(await driver.ensure(lbUid, attachment, current)).toEqual({ changes: 0 });
  });

  it('is adopted by a new driver on the same state, and remove() leaves nothing behind', async () => {
    const current = config([{ host: 'c.example', pool: 'b' }]);
    const pid = await pidOf(lbUid);
    const restarted = new HaproxyDriver(options());
    expect(await restarted.listOwned()).toEqual([lbUid]);
    expect(await restarted.ensure(lbUid, attachment, current)).toEqual({ changes: 0 });
    expect(await pidOf(lbUid)).toBe(pid);
    expect(await restarted.removeOrphans(new Set([lbUid]))).toBe(0);

    expect(await restarted.removeOrphans(new Set())).toBe(1);
    expect(processRunning(pid)).toBe(false);
    const name = proxyName(lbUid);
    expect((await run('ip', ['netns', 'list'])).stdout.split('\n').some((line) => line.split(' ')[0] === name)).toBe(false);
    expect((await vsctl('list-ports', 'br-int')).split('\n')).not.toContain(name);
    expect((await env.chassis!.netns.exec('ip', ['link', 'show', name])).code).not.toBe(0);
    await expect(fs.access(path.join(stateDir, lbUid))).rejects.toThrow();
    expect(await restarted.listOwned()).toEqual([]);
    expect(await restarted.remove(lbUid)).toBe(0);
    expect(await get('a.example')).toBeUndefined();
  });
});
