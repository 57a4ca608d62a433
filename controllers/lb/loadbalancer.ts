// LoadBalancer → a VIP on OVN. The one reconcile shape (LifecycleReconciler):
//   1. the VIP (addresses.ts): the requested address or the recorded one, else the lowest free one of the
//      Subnet, through the Port controller's allocators (an address no Port can take); committed to
//      status.vipAddress before anything is programmed, so a crash never leaks or duplicates it;
//   2. backends of every pool (backends.ts) and, with health checks on, one health-check source address per
//      Subnet that OVN checks in (addresses.ts; recorded in status.healthCheckSourceAddresses);
//   3. with HTTP listeners, the proxy (proxy.ts): its Port, its node, its configuration for the node agent;
//   4. OVN rows (ovn-rows.ts) through the Northbound driver, once the Vpc's router and switches exist: layer-4
//      listeners to the backends, HTTP ones to the proxy;
//   5. status (status.ts): listeners, every backend's health (OVN's Service_Monitor rows for layer 4, the
//      agent's report of HAProxy's checks for HTTP), Ready, Degraded, BackendsResolved.
// Health changes arrive as events from the Southbound reader and bring the LoadBalancers checking that backend
// back (index.ts), the agent's reports as updates of the LoadBalancer itself; nothing polls. Deletion removes
// the rows and then frees the addresses.
import type { NorthboundDriver } from '../../agents/ovn-nb/index.ts';
import type { HealthSource, MonitoredService, ServiceHealth } from '../../agents/ovn-sb/index.ts';
import { LoadBalancerResource, type LoadBalancerProxy } from '../../apis/lb/v1alpha1/index.ts';
import type { ApiClient } from '../../apis/client/index.ts';
import { loadBalancerSpecProblems } from '../../apis/lb/v1alpha1/validation.ts';
import { proxyConfigurationHash, proxyReportOf } from '../../apis/lb/v1alpha1/proxy.ts';
import { TerminalError } from '../runtime/reconciler.ts';
import { LifecycleReconciler, notReady, ready, type LifecycleContext, type Outcome, type Readiness } from '../runtime/lifecycle.ts';
import { OVN_RETRY_MS, ownerOfObject, withOvn, type SubnetObject } from '../network/deps.ts';
import { healthCheckSourceOwner, type Allocators } from '../network/port.ts';
import type { RowWaiters } from '../network/row-waiters.ts';
import { LbAddresses } from './addresses.ts';
import { resolvePools, type Backend, type ResolvedPool } from './backends.ts';
import { healthCheckOf } from './health-check.ts';
import type { LbInformers, LoadBalancerObject } from './informers.ts';
import { loadBalancerRows, ovnProtocolOf, type VipTarget } from './ovn-rows.ts';
import { chooseProxyNode, ensureProxyPort, httpBackends, isHttp, proxyConfiguration, proxyPortName, removeProxyPort } from './proxy.ts';
import { backendStatuses, listenerStatuses, summarize, type ListenerTargets } from './status.ts';

export const LB_FINALIZER = 'lb.photoncloud.io/ovn';

/** Why a VIP may come once another object frees an address (not InvalidVIPAddress: only a spec change fixes that). */
const WAITS_FOR_AN_ADDRESS = new Set(['SubnetExhausted', 'VIPAddressConflict']);

export interface LoadBalancerDeps {
  client: ApiClient;
  ovn: NorthboundDriver;
  health: HealthSource;
  allocators: Allocators;
  /** Other objects' OVN rows, waited for (the Vpc's router, its subnets' switches). */
  rows: RowWaiters;
  /** Remembers which backends each LoadBalancer watches, so a health change reconciles exactly those. */
  watchHealth(lb: LoadBalancerObject, services: MonitoredService[]): void;
  now?: () => Date;
}

export function loadBalancerReconciler(deps: LoadBalancerDeps, informers: LbInformers): LifecycleReconciler<LoadBalancerObject> {
  const addresses = new LbAddresses(deps.allocators, informers);

  const apply = async (lb: LoadBalancerObject, context: LifecycleContext<LoadBalancerObject>): Promise<Outcome> => {
    const [problem] = loadBalancerSpecProblems(lb.spec);
    if (problem) throw new TerminalError('InvalidSpec', `${problem.field}: ${problem.message}`);
    const namespace = lb.metadata.namespace;
    const subnet = informers.subnets.get(lb.spec.subnetRef, namespace);
    if (!subnet) return { readiness: notReady('SubnetNotFound', `Subnet ${lb.spec.subnetRef} does not exist yet`) };
    if (subnet.metadata.deletionTimestamp) return { readiness: notReady('SubnetDeleting', `Subnet ${subnet.metadata.name} is being deleted`) };
    const vpc = informers.vpcs.get(subnet.spec.vpcRef, namespace);
    if (!vpc) return { readiness: notReady('VpcNotFound', `Vpc ${subnet.spec.vpcRef} of Subnet ${subnet.metadata.name} does not exist yet`) };

    // 1. The VIP, committed before anything uses it. (The subnet's allocator is built only while OVN is
    //    connected, where a Port's address may be recorded before its status: see network/port.ts.)
    if (deps.ovn.unavailableReason) return { readiness: notReady('OVNUnavailable', deps.ovn.unavailableReason), requeueAfterMs: OVN_RETRY_MS };
    //    One that waits for an address (none free, or held by another) is brought back when one is freed.
    const vip = addresses.vip(lb, subnet);
    if (typeof vip !== 'string') {
      deps.allocators.setWaiting('LoadBalancer', lb, WAITS_FOR_AN_ADDRESS.has(vip.reason) ? [subnet.metadata.name!] : []);
      return { readiness: vip };
    }

    // 2. Backends (every pool) and the health checks' source addresses: OVN checks the layer-4 backends in
    //    their subnets, and the HTTP proxy in the VIP's.
    const subnets = informers.subnets.list(namespace).filter((candidate) => candidate.spec.vpcRef === vpc.metadata.name && !candidate.metadata.deletionTimestamp);
    const pools = resolvePools({ lb, vpc: vpc.metadata.name!, virtualMachines: informers.virtualMachines.list(namespace), ports: informers.ports.list(namespace), subnets });
    const backends = pools.get('default')!;
    const l4 = lb.spec.listeners.filter((listener) => !isHttp(listener));
    const http = lb.spec.listeners.filter(isHttp);
    const check = healthCheckOf(lb);
    const checkedSubnets = subnets.filter((candidate) => (l4.length > 0 && backends.backends.some((backend) => backend.subnetRef === candidate.metadata.name)) || (http.length > 0 && candidate.metadata.name === subnet.metadata.name));
    const { sources, exhausted } = addresses.healthCheckSources(lb, check.enabled ? checkedSubnets : []);
    deps.allocators.setWaiting('LoadBalancer', lb, exhausted);
    const status: Record<string, unknown> = { vipAddress: vip, healthCheckSourceAddresses: sources };
    if (lb.status?.vipAddress !== vip || JSON.stringify(lb.status?.healthCheckSourceAddresses ?? []) !== JSON.stringify(sources)) {
      lb = await context.progress({ readiness: notReady('Programming', `VIP ${vip} assigned; programming OVN`), status });
    }

    // 3. The HTTP proxy: its Port, its node, what it serves (the agent reports what it runs).
    const proxy = http.length > 0 ? await planProxy(lb, subnet, pools, context.signal) : undefined;
    if (http.length === 0) {
      await removeProxyPort(deps.client, lb, informers.ports.get(proxyPortName(lb.metadata.name!), namespace), context.signal);
      status.proxy = undefined;
    } else if (proxy?.status) status.proxy = proxy.status;

    // 4. OVN: layer-4 listeners to the backends, HTTP ones to the proxy.
    const targetsOf = (backendList: Backend[], port: number) => backendList.map((backend) => ({ address: backend.address, port, portUid: backend.portUid, subnetRef: backend.subnetRef }));
    const proxyTarget = (port: number) => (proxy?.status ? [{ address: proxy.status.address!, port, portUid: proxy.status.portUID!, subnetRef: subnet.metadata.name! }] : []);
    const vips: VipTarget[] = lb.spec.listeners.map((listener) => ({
      protocol: ovnProtocolOf(listener),
      port: listener.port,
      targets: isHttp(listener) ? proxyTarget(listener.port) : targetsOf(backends.backends, listener.targetPort ?? listener.port),
    }));
    const sourceBySubnet = new Map(sources.map((source) => [source.subnetRef, source.address]));
    return withOvn(deps.ovn, async (): Promise<Outcome> => {
      if (!deps.rows.has({ table: 'Logical_Router', owner: vpc.metadata.uid! }, lb)) return { readiness: notReady('VpcNotReady', `Vpc ${vpc.metadata.name} is not programmed yet`), status };
      // A switch not there yet (or removed by hand) is left out now and added when it appears.
      const switches = subnets.filter((candidate) => deps.rows.has({ table: 'Logical_Switch', owner: candidate.metadata.uid! }, lb));
      await deps.ovn.apply(ownerOfObject(lb), loadBalancerRows({ uid: lb.metadata.uid!, vip, vips, healthCheck: check, healthCheckSources: sourceBySubnet, sessionAffinity: lb.spec.sessionAffinity ?? 'None', vpcUid: vpc.metadata.uid!, subnetUids: switches.map((candidate) => candidate.metadata.uid!) }));

      // 5. Status: OVN's checks for layer 4 (and the proxy itself), the proxy's checks for HTTP backends.
      const services: MonitoredService[] = [];
      const ovnHealth = (target: { address: string; portUid: string; subnetRef: string }, port: number, protocol: 'tcp' | 'udp'): ServiceHealth => {
        if (!check.enabled) return 'online';
        if (!sourceBySubnet.has(target.subnetRef)) return 'unknown';
        const service: MonitoredService = { ip: target.address, port, protocol, logicalPort: target.portUid };
        services.push(service);
        return deps.health.health(service);
      };
      const listeners: ListenerTargets[] = lb.spec.listeners.map((listener) => {
        const port = listener.targetPort ?? listener.port;
        if (!isHttp(listener)) {
          const protocol = listener.protocol ?? 'TCP';
          return { name: listener.name, protocol, port: listener.port, programmed: true, backends: backends.backends.map((backend) => ({ backend, port, protocol, health: ovnHealth(backend, port, ovnProtocolOf(listener)) })) };
        }
        for (const target of proxyTarget(listener.port)) ovnHealth(target, listener.port, 'tcp');
        return { name: listener.name, protocol: 'HTTP', port: listener.port, programmed: !proxy?.blocker, backends: httpBackends(lb, listener.name, pools, check.enabled) };
      });
      deps.watchHealth(lb, services);
      const entries = backendStatuses(listeners, lb.status?.backends, (deps.now?.() ?? new Date()).toISOString());
      const summary = summarize(entries);
      const refused = [...new Set([...pools.values()].flatMap((pool) => pool.refused))];
      const problems = [
        ...refused,
        ...(backends.waiting.length ? [`Ports without an address yet: ${backends.waiting.join(', ')}`] : []),
        ...(exhausted.length ? [`no free address for health checks in Subnet ${exhausted.join(', ')} (its backends get no traffic)`] : []),
        ...(check.enabled && deps.health.unavailableReason ? [deps.health.unavailableReason] : []),
      ];
      Object.assign(status, { listeners: listenerStatuses(listeners), backends: entries.slice(0, 4096), backendCount: summary.backendCount, healthyBackendCount: summary.healthyBackendCount });
      const readiness = proxy?.blocker
        ? { ...proxy.blocker }
        : summary.unready
          ? notReady(summary.unready.reason, summary.unready.message)
          : ready('Programmed', `VIP ${vip} serves ${lb.spec.listeners.length} listener${lb.spec.listeners.length === 1 ? '' : 's'} on ${summary.healthyBackendCount} of ${summary.backendCount} backends`);
      if (problems.length > 0) readiness.message += `; ${problems.join('; ')}`;
      return {
        readiness,
        status,
        conditions: [
          { type: 'Degraded', ...summary.degraded },
          { type: 'BackendsResolved', status: refused.length === 0 ? 'True' : 'False', reason: refused.length === 0 ? 'Resolved' : 'BackendsRefused', message: refused.join('; ') },
        ],
      };
    }, status);
  };

  /** The proxy's status as the controller writes it (agent's fields kept while it stays on the same node), or what blocks it. */
  const planProxy = async (lb: LoadBalancerObject, subnet: SubnetObject, pools: Map<string, ResolvedPool>, signal?: AbortSignal): Promise<{ status?: LoadBalancerProxy; blocker?: Readiness }> => {
    const port = await ensureProxyPort(deps.client, lb, informers.ports.get(proxyPortName(lb.metadata.name!), lb.metadata.namespace), signal);
    if (!('metadata' in port)) return { blocker: port };
    const node = chooseProxyNode(lb, informers.nodes.list(), informers.loadBalancers.list());
    const configuration = proxyConfiguration(lb, pools);
    const configurationHash = proxyConfigurationHash(configuration);
    const previous = lb.status?.proxy;
    const allocator = deps.allocators.allocatorFor(subnet);
    // The agent's report holds only for the node that made it.
    const reported = previous?.node === node ? proxyReportOf(previous) : {};
    const status: LoadBalancerProxy = {
      ...reported,
      portRef: port.metadata.name,
      portUID: port.metadata.uid,
      macAddress: port.status!.macAddress,
      address: port.status!.ipAddress,
      prefixLength: allocator.cidr.prefix,
      gateway: allocator.gatewayAddress,
      node,
      configuration: configuration as unknown as LoadBalancerProxy['configuration'],
      configurationHash,
    };
    if (!node) return { status, blocker: notReady('NoNodeForProxy', 'no Ready, schedulable Node can run the HTTP proxy') };
    if (status.appliedHash !== configurationHash || !status.ready) {
      return { status, blocker: notReady('ProxyPending', `the HTTP proxy on Node ${node} does not run the current configuration yet${status.message ? `: ${status.message}` : ''}`) };
    }
    return { status };
  };

  return new LifecycleReconciler<LoadBalancerObject>({
    client: deps.client,
    resource: LoadBalancerResource,
    informer: informers.loadBalancers,
    finalizer: LB_FINALIZER,
    fieldManager: 'loadbalancer-controller',
    apply,
    cleanup: (lb) =>
      withOvn(deps.ovn, async () => {
        await deps.ovn.apply(ownerOfObject(lb), []);
        // Only once OVN no longer uses them may a Port take the addresses.
        deps.allocators.release(lb.metadata.uid!);
        deps.allocators.release(healthCheckSourceOwner(lb.metadata.uid!));
        deps.allocators.setWaiting('LoadBalancer', lb, []);
        deps.watchHealth(lb, []);
        return 'done' as const;
      }),
  });
}
