// LoadBalancer tests: the network env (API server on etcd, real OVN central + a netdev chassis, the network
// controllers and the loadbalancer-controller in this process) with netns hosts as backends and clients.
import type { KubeObject } from '../../apis/meta/types.ts';
import { LoadBalancerResource, type LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { PortResource } from '../../apis/network/v1alpha1/index.ts';
import { attachPort, type AttachedPort } from '../env/ovn.ts';
import { waitFor, type ManagedProcess } from '../env/process.ts';
import { create, NETWORK_CONTROLLERS, portAddress, startNetworkEnv, waitReady, type NetworkEnv } from '../network/harness.ts';

export const LB_CONTROLLERS = [...NETWORK_CONTROLLERS, 'loadbalancer'];

export const startLbEnv = (): Promise<NetworkEnv> => startNetworkEnv({ chassis: true, controllers: LB_CONTROLLERS });

export type LoadBalancerObject = LoadBalancer & KubeObject;

/** A Port on `subnet` (static address) with a netns host attached to it. */
/** What creating hosts needs: the API and the chassis the hosts plug into (a network env's, or a node agent's). */
export type HostEnv = Pick<NetworkEnv, 'client' | 'chassis'>;

export async function host(env: HostEnv, namespace: string, name: string, subnet: string, ip: string, gateway: string, labels?: Record<string, string>): Promise<AttachedPort> {
  await env.client.create(PortResource, { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Port', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec: { subnetRef: subnet, ipAddress: ip } } as KubeObject);
  const port = await waitReady(env, 'Port', namespace, name);
  const address = portAddress(port);
  return attachPort(env.chassis!, { ifaceId: address.uid, mac: address.mac, ip: `${address.ip}/24`, gateway });
}

/** A TCP server on the host answering every connection with `reply`; resolves once it listens. */
export async function tcpServer(host: AttachedPort, port: number, reply: string): Promise<ManagedProcess> {
  const server = host.spawn(`tcp-${reply}`, process.execPath, ['-e', `require('net').createServer((s) => s.end(${JSON.stringify(reply)})).listen(${port}, '0.0.0.0', () => console.log('listening'))`]);
  await waitFor(`${reply} listening`, () => server.output().includes('listening'), { timeoutMs: 5000 });
  return server;
}

/** One TCP connection from a host: what the server said, or undefined when it failed (reset, timeout). */
export async function connect(from: AttachedPort, ip: string, port: number, timeoutMs = 2500): Promise<string | undefined> {
  const client = await from.exec(process.execPath, ['-e', `const s = require('net').connect(${port}, '${ip}'); s.setTimeout(${timeoutMs}, () => process.exit(2)); let d=''; s.on('data', (c) => d += c); s.on('end', () => { process.stdout.write(d); process.exit(0); }); s.on('error', () => process.exit(1));`], { timeoutMs: timeoutMs + 4000 });
  return client.code === 0 ? client.stdout : undefined;
}

/** Who answered `count` connections in a row (undefined entries: failed connections). */
export async function sample(from: AttachedPort, ip: string, port: number, count: number): Promise<Array<string | undefined>> {
  const answers: Array<string | undefined> = [];
  for (let i = 0; i < count; i++) answers.push(await connect(from, ip, port));
  return answers;
}

export async function createLb(env: Pick<NetworkEnv, 'client'>, namespace: string, name: string, spec: Record<string, unknown>): Promise<LoadBalancerObject> {
  return env.client.create(LoadBalancerResource, { apiVersion: LoadBalancerResource.apiVersion, kind: 'LoadBalancer', metadata: { name, namespace }, spec } as unknown as LoadBalancerObject) as Promise<LoadBalancerObject>;
}

export async function getLb(env: Pick<NetworkEnv, 'client'>, namespace: string, name: string): Promise<LoadBalancerObject> {
  return env.client.get(LoadBalancerResource, name, { namespace }) as Promise<LoadBalancerObject>;
}

/** Polls the LoadBalancer until `check` holds for its current generation's status; returns it. */
export async function waitLb(env: Pick<NetworkEnv, 'client'>, namespace: string, name: string, what: string, check: (lb: LoadBalancerObject) => boolean, timeoutMs = 30_000): Promise<LoadBalancerObject> {
  return waitFor(`LoadBalancer ${namespace}/${name}: ${what}`, async () => {
    const lb = await getLb(env, namespace, name).catch(() => undefined);
    return lb && lb.status?.observedGeneration === lb.metadata.generation && check(lb) ? lb : undefined;
  }, { timeoutMs, intervalMs: 100 });
}

export const condition = (lb: LoadBalancerObject | undefined, type: string) => findCondition(lb?.status?.conditions, type);

export { create };

/**
 * The HTTP server the layer-7 tests run on a host, port 8080: "<name> <path>" on every path (so /healthz is
 * 200); /slow streams "<name> start", then `chunks` lines "chunk N" 500 ms apart, then "end".
 */
export async function startHttpServer(host: AttachedPort, name: string, chunks = 10): Promise<ManagedProcess> {
  const script = `
require('http').createServer((req, res) => {
  if (req.url === '/slow') {
    res.writeHead(200); res.write('${name} start\\n');
    let n = 0; const t = setInterval(() => { res.write('chunk ' + (++n) + '\\n'); if (n === ${chunks}) { clearInterval(t); res.end('end\\n'); } }, 500);
    return;
  }
  res.end('${name} ' + req.url);
}).listen(8080, '0.0.0.0', () => console.log('listening'));`;
  const server = host.spawn(`http-${name}`, process.execPath, ['-e', script]);
  await waitFor(`${name} listening`, () => server.output().includes('listening'), { timeoutMs: 5000 });
  return server;
}

/** One HTTP GET on port 80 from a host: status and body, or undefined when it failed. */
export async function httpGet(from: AttachedPort, ip: string, hostHeader: string, path = '/', timeoutMs = 8000): Promise<{ status: number; body: string } | undefined> {
  const script = `require('http').get({ host: '${ip}', port: 80, path: ${JSON.stringify(path)}, headers: { Host: ${JSON.stringify(hostHeader)} }, timeout: ${timeoutMs} }, (res) => { let d = ''; res.on('data', (c) => d += c); res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, body: d })); process.exit(0); }); res.on('error', () => process.exit(3)); }).on('error', () => process.exit(1)).on('timeout', () => process.exit(2));`;
  const result = await from.exec(process.execPath, ['-e', script], { timeoutMs: timeoutMs + 4000 });
  return result.code === 0 ? JSON.parse(result.stdout) : undefined;
}

/** A GET of /slow on port 80 whose body goes to the process's output as it arrives (exit 0 once complete). */
export function streamSlow(from: AttachedPort, ip: string, hostHeader: string): ManagedProcess {
  const script = `require('http').get({ host: '${ip}', port: 80, path: '/slow', headers: { Host: ${JSON.stringify(hostHeader)} } }, (res) => { res.on('data', (c) => process.stdout.write(c)); res.on('end', () => process.exit(0)); res.on('error', () => process.exit(3)); }).on('error', () => process.exit(1));`;
  return from.spawn('slow-request', process.execPath, ['-e', script]);
}
