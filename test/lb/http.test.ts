// Layer 7: a LoadBalancer with an HTTP listener gets an HAProxy in its VPC, run by a real node agent
// (`photon agent` with node credentials) in a network namespace of its own, attached through the proxy Port
// the LoadBalancer owns; OVN sends the VIP's port 80 to it. Host rules route to two pools of netns hosts; a
// pool member removed mid-request finishes that request; HTTP health checks mark a stopped server offline;
// a killed HAProxy and a removed port come back; deleting the LoadBalancer removes the proxy, its Port and its
// OVN rows.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NodeResource, type Node } from '../../apis/compute/v1alpha1/index.ts';
import { LoadBalancerResource } from '../../apis/lb/v1alpha1/index.ts';
import { PortResource } from '../../apis/network/v1alpha1/index.ts';
import { COMPUTE_CONTROLLERS, startComputeEnv, type ComputeEnv, type TestAgent } from '../env/compute.ts';
import type { AttachedPort } from '../env/ovn.ts';
import { waitFor, type ManagedProcess } from '../env/process.ts';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../agents/ovn-local/commands.ts';
import { HaproxyDriver, proxyName, type ProxyConfiguration } from '../../agents/haproxy/index.ts';
import { create } from '../network/harness.ts';
import { condition, getLb as getLbOf, host, httpGet, startHttpServer, streamSlow, waitLb as waitLbOf, type LoadBalancerObject } from './harness.ts';

describe('LoadBalancer HTTP listeners (HAProxy run by the node agent)', () => {
  let env: ComputeEnv;
  let agent: TestAgent;
  const hosts: Record<string, AttachedPort> = {};
  const servers: Record<string, ManagedProcess> = {};
  let vip = '';

  async function startServer(name: string): Promise<void> {
    servers[name] = await startHttpServer(hosts[name], name);
  }

  const get = (hostHeader: string, path = '/', timeoutMs = 8000) => httpGet(hosts.client, vip, hostHeader, path, timeoutMs);

  const getLb = () => getLbOf(env, 'web', 'web');
  const waitLb = (what: string, check: (lb: LoadBalancerObject) => boolean, timeoutMs = 60_000) => waitLbOf(env, 'web', 'web', what, check, timeoutMs);

  beforeAll(async () => {
    env = await startComputeEnv({ controllers: [...COMPUTE_CONTROLLERS, 'loadbalancer'] });
    agent = await env.startAgent('lb-node');
    await waitFor('Node lb-node Ready', async () => (await env.client.get<Node>(NodeResource, 'lb-node').catch(() => undefined))?.status?.conditions?.find((entry) => entry.type === 'Ready')?.status === 'True', { timeoutMs: 60_000, intervalMs: 200 });
    await env.namespace('web');
    await create(env, 'Vpc', 'web', 'main', { cidrBlocks: ['10.0.0.0/16'] });
    await create(env, 'Subnet', 'web', 'a', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    await create(env, 'Subnet', 'web', 'b', { vpcRef: 'main', cidr: '10.0.2.0/24' });
    const onAgent = { client: env.client, chassis: agent.chassis };
    for (const [name, ip] of [['a1', '10.0.1.10'], ['a2', '10.0.1.11'], ['b1', '10.0.1.20']]) {
      hosts[name] = await host(onAgent, 'web', name, 'a', ip, '10.0.1.1');
      await startServer(name);
    }
    hosts.client = await host(onAgent, 'web', 'client', 'b', '10.0.2.10', '10.0.2.1');
  }, 240_000);
  afterAll(async () => {
    await env?.stop();
  });

  it('routes by host to two pools through an HAProxy behind the VIP', async () => {
    await env.client.create(LoadBalancerResource, {
      apiVersion: LoadBalancerResource.apiVersion,
      kind: 'LoadBalancer',
      metadata: { name: 'web', namespace: 'web' },
      spec: {
        subnetRef: 'a',
        listeners: [{ name: 'www', protocol: 'HTTP', port: 80, targetPort: 8080, rules: [{ host: 'a.example', backends: { portRefs: ['a1', 'a2'] } }, { host: 'B.Example', backends: { portRefs: ['b1'] } }] }],
        healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1, httpPath: '/healthz' },
      },
    } as unknown as LoadBalancerObject);
    const lb = await waitLb('Ready with 3 healthy backends', (object) => condition(object, 'Ready')?.status === 'True' && object.status?.healthyBackendCount === 3, 120_000);
    vip = lb.status!.vipAddress!;
    expect(lb.status!.proxy).toMatchObject({ node: 'lb-node', portRef: 'web-proxy', ready: true, appliedHash: lb.status!.proxy!.configurationHash });
    expect(lb.status!.listeners).toEqual([{ name: 'www', protocol: 'HTTP', port: 80, state: 'Active' }]);
    expect(lb.status!.backends!.map((backend) => [backend.name, backend.port, backend.protocol, backend.health])).toEqual([['a1', 8080, 'HTTP', 'online'], ['a2', 8080, 'HTTP', 'online'], ['b1', 8080, 'HTTP', 'online']]);
    const seen = new Set<string>();
    await waitFor('a.example reaches a1 and a2', async () => {
      const response = await get('a.example', '/x');
      if (response) seen.add(`${response.status} ${response.body}`);
      return seen.has('200 a1 /x') && seen.has('200 a2 /x');
    }, { timeoutMs: 60_000, intervalMs: 0 });
    expect([...seen].every((entry) => /^200 a[12] \/x$/.test(entry))).toBe(true);
    // Host matching ignores case and the port.
    expect(await get('b.example:80', '/y')).toEqual({ status: 200, body: 'b1 /y' });
    expect((await get('nobody.example'))?.status).toBe(404);
  }, 180_000);

  it('finishes a request in flight on a pool member that is removed, then sends nothing to it', async () => {
    // A slow response streamed to stdout as it comes: its first line says which member serves it.
    const slow = streamSlow(hosts.client, vip, 'a.example');
    const serving = await waitFor('the slow request is served', () => /(a[12]) start/.exec(slow.output())?.[1], { timeoutMs: 10_000, intervalMs: 20 });
    const remaining = serving === 'a1' ? 'a2' : 'a1';
    let finished = false;
    void slow.exited.then(() => (finished = true));
    const before = (await getLb()).status!.proxy!.configurationHash;
    await env.client.patch(LoadBalancerResource, 'web', { spec: { listeners: [{ name: 'www', protocol: 'HTTP', port: 80, targetPort: 8080, rules: [{ host: 'a.example', backends: { portRefs: [remaining] } }, { host: 'B.Example', backends: { portRefs: ['b1'] } }] }] } }, { namespace: 'web' });
    await waitLb('the proxy runs the new configuration', (object) => object.status?.proxy?.configurationHash !== before && object.status?.proxy?.appliedHash === object.status?.proxy?.configurationHash);
    // The proxy reloaded while the request was still streaming...
    expect(finished).toBe(false);
    // ...and the member removed while serving sent every chunk: the reload dropped nothing established.
    expect(await slow.exited).toBe(0);
    expect(slow.output()).toBe(`${serving} start\n${Array.from({ length: 10 }, (_, index) => `chunk ${index + 1}\n`).join('')}end\n`);
    for (let i = 0; i < 6; i++) expect(await get('a.example', '/z')).toEqual({ status: 200, body: `${remaining} /z` });
  }, 60_000);

  it('marks a stopped server offline with HTTP checks and brings it back', async () => {
    await servers.b1.stop(1000);
    const down = await waitLb('b1 offline', (lb) => lb.status?.backends?.find((backend) => backend.name === 'b1')?.health === 'offline', 30_000);
    expect(condition(down, 'Degraded')?.status).toBe('True');
    expect((await get('b.example'))?.status).toBe(503);
    await startServer('b1');
    await waitLb('b1 online again', (lb) => lb.status?.backends?.find((backend) => backend.name === 'b1')?.health === 'online', 30_000);
    await waitFor('b1 answers again', async () => (await get('b.example', '/again'))?.body === 'b1 /again', { timeoutMs: 20_000, intervalMs: 200 });
  }, 90_000);

  it('is adopted as it runs: a second driver on the agent\'s state changes nothing', async () => {
    const proxy = (await getLb()).status!.proxy!;
    const driver = new HaproxyDriver({ stateDir: path.join(agent.stateDir, 'proxies'), db: agent.chassis.ovsdbEndpoint, vswitchdNetns: agent.chassis.netns.name });
    const lb = await getLb();
    const attachment = { ifaceId: proxy.portUID!, mac: proxy.macAddress!, ip: `${proxy.address}/${proxy.prefixLength}`, gateway: proxy.gateway! };
    expect(await driver.ensure(lb.metadata.uid!, attachment, proxy.configuration as unknown as ProxyConfiguration)).toEqual({ changes: 0 });
    expect(await driver.listOwned()).toEqual([lb.metadata.uid]);
    expect((await driver.servers(lb.metadata.uid!)).map((server) => `${server.pool}/${server.server}`).sort()).toEqual(['www-0/port-a2', 'www-1/port-b1']);
  });

  it('restarts a killed HAProxy and re-plugs a removed port at the agent\'s next pass', async () => {
    const lb = await getLb();
    const dir = path.join(agent.stateDir, 'proxies', lb.metadata.uid!);
    const pid = Number((await fs.readFile(path.join(dir, 'haproxy.pid'), 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    await agent.chassis.vsctl('del-port', 'br-int', proxyName(lb.metadata.uid!));
    await waitFor('HAProxy running again', async () => Number((await fs.readFile(path.join(dir, 'haproxy.pid'), 'utf8').catch(() => '0')).trim()) !== pid, { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor('b.example answers again', async () => (await get('b.example', '/healed', 3000))?.body === 'b1 /healed', { timeoutMs: 30_000, intervalMs: 200 });
  }, 60_000);

  it('removes the proxy, its Port and its OVN rows with the LoadBalancer', async () => {
    const lb = await getLb();
    await env.client.delete(LoadBalancerResource, 'web', { namespace: 'web' });
    await waitFor('LoadBalancer gone', async () => (await getLb().catch(() => undefined)) === undefined, { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor('proxy Port gone', async () => (await env.client.get(PortResource, 'web-proxy', { namespace: 'web' }).catch(() => undefined)) === undefined, { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor('proxy namespace gone', async () => !(await run('ip', ['netns', 'list'])).stdout.includes(proxyName(lb.metadata.uid!)), { timeoutMs: 30_000, intervalMs: 200 });
    // The agent removes the proxy's state directory after its namespace.
    await waitFor('proxy state directory gone', async () => (await fs.readdir(path.join(agent.stateDir, 'proxies'))).length === 0, { timeoutMs: 10_000, intervalMs: 100 });
    expect(await fs.readdir(path.join(agent.stateDir, 'proxies'))).toEqual([]);
    const rows = await env.ovn.nbctl('--data=bare', '--no-headings', '--columns=_uuid', 'find', 'Load_Balancer', `external_ids:photoncloud.io/uid=${lb.metadata.uid}`);
    expect(rows.trim()).toBe('');
    expect(await get('a.example', '/', 2000)).toBeUndefined();
  }, 60_000);
});
