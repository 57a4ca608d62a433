// The layer-7 side of a LoadBalancer with HTTP listeners: an HAProxy in the VPC (the amphora pattern, without
// a VM), run by a node agent in a network namespace of its own and attached through a Port this LoadBalancer
// owns (so it has an address of the VIP's subnet, like any guest, and goes with the LoadBalancer).
// Here, as plain data or single API calls:
//   - the proxy Port: `<lb>-proxy` on the VIP's subnet, controlled by the LoadBalancer;
//   - the node: the current one while it is Ready, else the Ready, schedulable node running fewest proxies;
//   - the configuration: every HTTP listener with its rules resolved to pools of addresses
//     (status.proxy.configuration, which the agent renders with agents/haproxy).
// OVN then sends the VIP's HTTP ports to the proxy (ovn-rows.ts), checking it like any backend.
import { createHash } from 'node:crypto';
import type { ApiClient } from '../../apis/client/index.ts';
import type { Node } from '../../apis/compute/v1alpha1/index.ts';
import type { LoadBalancerListener } from '../../apis/lb/v1alpha1/index.ts';
import type { ProxyConfiguration } from '../../apis/lb/v1alpha1/proxy.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { controllerReference, isControlledBy } from '../../apis/meta/owners.ts';
import { PortResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import { notReady, type Readiness } from '../runtime/lifecycle.ts';
import type { Backend, ResolvedPool } from './backends.ts';
import type { CheckedBackend } from './status.ts';
import type { LoadBalancerObject } from './informers.ts';
import { healthCheckOf } from './health-check.ts';

const MAX_NAME = 63;
export const PROXY_LABEL = 'lb.photoncloud.io/proxy-of';

export const isHttp = (listener: LoadBalancerListener) => listener.protocol === 'HTTP';

/** `<lb>-proxy`, shortened with a hash when the LoadBalancer's name is long. */
export function proxyPortName(lbName: string): string {
  const name = `${lbName}-proxy`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${lbName.slice(0, MAX_NAME - hash.length - '-proxy'.length - 1).replace(/-+$/, '')}-${hash}-proxy`;
}

/**
 * The proxy's Port, created when missing; or why it is not usable yet. A Port of that name the LoadBalancer
 * does not control is never taken over; one on another subnet (the VIP moved) is deleted and made again.
 */
export async function ensureProxyPort(client: ApiClient, lb: LoadBalancerObject, existing: Port | undefined, signal?: AbortSignal): Promise<Port | Readiness> {
  const name = proxyPortName(lb.metadata.name!);
  const namespace = lb.metadata.namespace;
  if (!existing) {
    const port: Port = {
      apiVersion: PortResource.apiVersion,
      kind: 'Port',
      metadata: { name, namespace, labels: { [PROXY_LABEL]: lb.metadata.name! }, ownerReferences: [controllerReference(lb)] },
      spec: { subnetRef: lb.spec.subnetRef },
    };
    try {
      await client.create<Port>(PortResource, port, { namespace, fieldManager: 'loadbalancer-controller', signal });
    } catch (error) {
      if ((error as { status?: { reason?: string } }).status?.reason !== 'AlreadyExists') throw error;
    }
    return notReady('ProxyPending', `Port ${name} for the HTTP proxy is being created`);
  }
  if (!isControlledBy(existing, lb)) return notReady('ProxyPortConflict', `Port ${name} exists and does not belong to this LoadBalancer (the HTTP proxy needs that name)`);
  if (existing.metadata.deletionTimestamp) return notReady('ProxyPending', `Port ${name} is being deleted`);
  if (existing.spec.subnetRef !== lb.spec.subnetRef) {
    await client.delete(PortResource, name, { namespace, signal });
    return notReady('ProxyPending', `Port ${name} moves to Subnet ${lb.spec.subnetRef}`);
  }
  const portReady = findCondition(existing.status?.conditions, 'Ready');
  if (portReady?.status !== 'True' || !existing.status?.ipAddress || !existing.status.macAddress) return notReady('ProxyPending', `Port ${name}: ${portReady?.message || 'not programmed yet'}`);
  return existing;
}

/** Deletes the proxy Port when the LoadBalancer no longer has HTTP listeners. */
export async function removeProxyPort(client: ApiClient, lb: LoadBalancerObject, existing: Port | undefined, signal?: AbortSignal): Promise<void> {
  if (existing && isControlledBy(existing, lb) && !existing.metadata.deletionTimestamp) await client.delete(PortResource, existing.metadata.name!, { namespace: lb.metadata.namespace, signal });
}

const nodeUsable = (node: Node) => !node.metadata.deletionTimestamp && !node.spec?.unschedulable && findCondition(node.status?.conditions, 'Ready')?.status === 'True';

/** The node to run the proxy on: the current one while usable, else the usable one running fewest proxies. */
export function chooseProxyNode(lb: LoadBalancerObject, nodes: readonly Node[], loadBalancers: readonly LoadBalancerObject[]): string | undefined {
  const current = lb.status?.proxy?.node;
  const usable = nodes.filter(nodeUsable);
  if (current && usable.some((node) => node.metadata.name === current)) return current;
  const load = new Map<string, number>();
  for (const other of loadBalancers) if (other.metadata.uid !== lb.metadata.uid && other.status?.proxy?.node) load.set(other.status.proxy.node, (load.get(other.status.proxy.node) ?? 0) + 1);
  return usable.map((node) => node.metadata.name!).sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a.localeCompare(b))[0];
}

const serverName = (backend: Backend) => `${backend.kind === 'VirtualMachine' ? 'vm' : 'port'}-${backend.name}`;

/** Pool names: `<listener>-default` (spec.backends) and `<listener>-<rule index>`. */
export const poolName = (listener: string, rule: number | 'default') => `${listener}-${rule}`;

/** What the proxy serves: each HTTP listener's rules in order, each pool's servers on the listener's targetPort. */
export function proxyConfiguration(lb: LoadBalancerObject, pools: ReadonlyMap<string, ResolvedPool>): ProxyConfiguration {
  const check = healthCheckOf(lb);
  const healthCheck = check.enabled ? { path: lb.spec.healthCheck?.httpPath ?? '/', intervalSeconds: check.intervalSeconds, timeoutSeconds: check.timeoutSeconds, rise: check.successThreshold, fall: check.failureThreshold } : undefined;
  const configuration: ProxyConfiguration = { listeners: [], pools: [] };
  const hasDefault = !!(lb.spec.backends?.selector || lb.spec.backends?.portRefs?.length);
  for (const listener of lb.spec.listeners.filter(isHttp)) {
    const port = listener.targetPort ?? listener.port;
    const pool = (name: string, resolved: ResolvedPool | undefined) =>
      configuration.pools.push({ name, servers: (resolved?.backends ?? []).map((backend) => ({ name: serverName(backend), address: backend.address, port })), ...(healthCheck ? { healthCheck } : {}) });
    const rules = (listener.rules ?? []).map((rule, index) => {
      pool(poolName(listener.name, index), pools.get(`${listener.name}/${index}`));
      return { ...(rule.host ? { host: rule.host } : {}), ...(rule.pathPrefix ? { pathPrefix: rule.pathPrefix } : {}), pool: poolName(listener.name, index) };
    });
    if (hasDefault) pool(poolName(listener.name, 'default'), pools.get('default'));
    configuration.listeners.push({ name: listener.name, port: listener.port, rules, ...(hasDefault ? { defaultPool: poolName(listener.name, 'default') } : {}) });
  }
  return configuration;
}

/** An HTTP listener's backends for status: every member of its pools, healthy as the proxy's checks report. */
export function httpBackends(lb: LoadBalancerObject, listenerName: string, pools: ReadonlyMap<string, ResolvedPool>, checked: boolean): CheckedBackend[] {
  const listener = lb.spec.listeners.find((candidate) => candidate.name === listenerName)!;
  const port = listener.targetPort ?? listener.port;
  const reported = new Map((lb.status?.proxy?.servers ?? []).map((server) => [`${server.pool}/${server.server}`, server.up]));
  const members: CheckedBackend[] = [];
  const add = (pool: string, resolved: ResolvedPool | undefined) => {
    for (const backend of resolved?.backends ?? []) {
      const up = reported.get(`${pool}/${serverName(backend)}`);
      members.push({ backend, port, protocol: 'HTTP', health: !checked ? 'online' : up === undefined ? 'unknown' : up ? 'online' : 'offline' });
    }
  };
  (listener.rules ?? []).forEach((_, index) => add(poolName(listener.name, index), pools.get(`${listener.name}/${index}`)));
  if (lb.spec.backends?.selector || lb.spec.backends?.portRefs?.length) add(poolName(listener.name, 'default'), pools.get('default'));
  return members;
}
