// Load-balancer benchmark, everything real (API server, OVN central, a node agent with its netdev chassis, the
// network and loadbalancer controllers, netns hosts running TCP and HTTP servers):
//   - LoadBalancer create → first successful connection through the VIP, p50/p95, against the same VIP made
//     straight in OVN with ovn-nbctl (lb-add + attach to the router and both switches, then connect): the
//     baseline is what OVN itself takes;
//   - an HTTP listener (HAProxy started by the node agent, then OVN to it) create → first 200, against the TCP
//     LoadBalancer above: the cost of the proxy;
//   - a backend's server stopped → out of rotation (the first of 20 straight connections that all avoid it)
//     and → status offline, with health checks every 1 s, failure threshold 2 (OVN's own detection: ~2 s).
import type { AttachedPort } from '../../test/env/ovn.ts';
import { waitFor } from '../../test/env/process.ts';
import { COMPUTE_CONTROLLERS, startComputeEnv } from '../../test/env/compute.ts';
import { create, namespace, waitReady } from '../../test/network/harness.ts';
import { connect, createLb, host, sample, tcpServer, waitLb, condition } from '../../test/lb/harness.ts';
import { fmt, percentile } from './load.ts';
import { record } from './results.ts';
import { inProcessWrites, reportWrites, writesBetween } from './writes.ts';
import { waitForAnnouncedFinalizers } from '../../test/env/announced-finalizers.ts';

const summary = (values: number[]) => `p50 ${fmt(percentile(values, 50))} ms, p95 ${fmt(percentile(values, 95))} ms`;

async function firstConnection(client: AttachedPort, vip: string, port: number, since: number): Promise<number> {
  await waitFor(`${vip}:${port} answers`, async () => (await connect(client, vip, port, 1000)) !== undefined, { timeoutMs: 60_000, intervalMs: 0 });
  return performance.now() - since;
}

export async function benchLoadBalancers(options: { rounds: number }): Promise<void> {
  console.log(`\n## LoadBalancer: create → first connection (${options.rounds} each), backend failure → out of rotation`);
  const env = await startComputeEnv({ controllers: [...COMPUTE_CONTROLLERS, 'loadbalancer'], leaderElect: true });
  try {
    const agent = await env.startAgent('bench-node');
    const onAgent = { client: env.client, chassis: agent.chassis };
    await namespace(env, 'bench');
    const vpc = await create(env, 'Vpc', 'bench', 'main', { cidrBlocks: ['10.0.0.0/16'] });
    const a = await create(env, 'Subnet', 'bench', 'a', { vpcRef: 'main', cidr: '10.0.1.0/24' });
    const b = await create(env, 'Subnet', 'bench', 'b', { vpcRef: 'main', cidr: '10.0.2.0/24' });
    await waitReady(env, 'Subnet', 'bench', 'a');
    await waitReady(env, 'Subnet', 'bench', 'b');
    const backends = ['web-1', 'web-2', 'web-3'];
    const servers = [];
    for (const [index, name] of backends.entries()) {
      const backend = await host(onAgent, 'bench', name, 'a', `10.0.1.${10 + index}`, '10.0.1.1');
      servers.push(await tcpServer(backend, 8080, name));
      // The same host answers HTTP on 8081 for the HTTP listener.
      backend.spawn(`http-${name}`, process.execPath, ['-e', `require('http').createServer((q, r) => r.end('${name}')).listen(8081)`]);
    }
    const client = await host(onAgent, 'bench', 'client', 'b', '10.0.2.10', '10.0.2.1');
    await waitFor('client reaches web-1', async () => (await connect(client, '10.0.1.10', 8080)) === 'web-1', { timeoutMs: 30_000, intervalMs: 200 });

    const raw: number[] = [];
    const api: number[] = [];
    await waitForAnnouncedFinalizers(env.client, ['loadbalancers.lb.photoncloud.io']);
    const writes = inProcessWrites(env.api.server);
    const writesBefore = await writes();
    for (let round = 0; round < options.rounds; round++) {
      // Baseline: the VIP straight in OVN (what the controller writes, in ovn-nbctl's commands).
      const rawVip = `10.0.1.${100 + round}`;
      let started = performance.now();
      await env.ovn.nbctl('lb-add', `raw-${round}`, `${rawVip}:80`, backends.map((_, index) => `10.0.1.${10 + index}:8080`).join(','), 'tcp', '--', 'ls-lb-add', `ls-${a.metadata.uid}`, `raw-${round}`, '--', 'ls-lb-add', `ls-${b.metadata.uid}`, `raw-${round}`, '--', 'lr-lb-add', `lr-${vpc.metadata.uid}`, `raw-${round}`);
      raw.push(await firstConnection(client, rawVip, 80, started));
      // Through the API: create → controller → OVN → connection.
      started = performance.now();
      await createLb(env, 'bench', `lb-${round}`, { subnetRef: 'a', listeners: [{ name: 'app', port: 80, targetPort: 8080 }], backends: { portRefs: backends }, healthCheck: { enabled: false } });
      const lb = await waitLb(env, 'bench', `lb-${round}`, 'VIP', (object) => !!object.status?.vipAddress, 60_000);
      api.push(await firstConnection(client, lb.status!.vipAddress!, 80, started));
    }
    reportWrites('LoadBalancer', 'loadbalancers', options.rounds, writesBetween(writesBefore, await writes()));
    console.log(`  create → first connection: ovn-nbctl alone ${summary(raw)}; LoadBalancer through the API ${summary(api)} (+${fmt(percentile(api, 50) - percentile(raw, 50))} ms at p50)`);
    record('loadBalancers', 'firstConnectionP50Ms', percentile(api, 50));
    record('loadBalancers', 'ovnNbctlFirstConnectionP50Ms', percentile(raw, 50));

    // HTTP: the proxy Port, the node agent starting HAProxy, OVN to the proxy, then the first 200.
    const http: number[] = [];
    for (let round = 0; round < Math.max(2, Math.ceil(options.rounds / 2)); round++) {
      const started = performance.now();
      await createLb(env, 'bench', `http-${round}`, { subnetRef: 'a', listeners: [{ name: 'www', protocol: 'HTTP', port: 80, targetPort: 8081 }], backends: { portRefs: backends }, healthCheck: { enabled: false } });
      const lb = await waitLb(env, 'bench', `http-${round}`, 'VIP', (object) => !!object.status?.vipAddress, 60_000);
      const script = `require('http').get({ host: '${lb.status!.vipAddress}', port: 80, timeout: 1000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 4)).on('error', () => process.exit(1)).on('timeout', () => process.exit(2))`;
      await waitFor('first HTTP 200 through the VIP', async () => (await client.exec(process.execPath, ['-e', script], { timeoutMs: 5000 })).code === 0, { timeoutMs: 90_000, intervalMs: 0 });
      http.push(performance.now() - started);
    }
    console.log(`  HTTP listener create → first 200: ${summary(http)} (×${fmt(percentile(http, 50) / percentile(api, 50))} the TCP LoadBalancer's p50: a Port, a node agent starting HAProxy in a namespace, OVN to it)`);

    // Failure → out of rotation, with checks every second.
    await createLb(env, 'bench', 'checked', { subnetRef: 'a', listeners: [{ name: 'app', port: 81, targetPort: 8080 }], backends: { portRefs: backends }, healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 } });
    const checked = await waitLb(env, 'bench', 'checked', '3 healthy', (object) => object.status?.healthyBackendCount === 3 && condition(object, 'Ready')?.status === 'True', 60_000);
    const vip = checked.status!.vipAddress!;
    const stopped = performance.now();
    await servers[1].stop(1000);
    let outOfRotation = 0;
    let offline = 0;
    await Promise.all([
      waitLb(env, 'bench', 'checked', 'web-2 offline', (object) => object.status?.backends?.find((backend) => backend.name === 'web-2')?.health === 'offline', 30_000).then(() => (offline = performance.now() - stopped)),
      waitFor('20 connections without web-2', async () => {
        const batch = performance.now();
        const answers = await sample(client, vip, 81, 20);
        // Out of rotation from the first of 20 straight connections that all avoided it.
        if (answers.every((answer) => answer !== undefined && answer !== 'web-2')) return (outOfRotation = batch - stopped), true;
        return false;
      }, { timeoutMs: 30_000, intervalMs: 0 }),
    ]);
    console.log(`  backend stopped → out of rotation ${fmt(outOfRotation)} ms (checks every 1 s, down after 2 failures: the start of the first 20 straight connections that all avoid it), → status offline ${fmt(offline)} ms`);
  } finally {
    await env.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchLoadBalancers({ rounds: process.argv.includes('--quick') ? 3 : 10 }).then(() => process.exit(0), (error) => {
    console.error(error);
    process.exit(1);
  });
}
