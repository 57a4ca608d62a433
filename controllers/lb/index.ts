// The loadbalancer-controller: LoadBalancers on OVN over the manager's shared informers, the Northbound driver
// and address allocators the network controllers use, and the Southbound reader for backend health. Every
// input is a watch — the namespace's VMs and Ports (backends), Subnets and Vpcs (VIP, switches) — and every
// Service_Monitor change reconciles the LoadBalancers checking that backend, through an index kept here.
// Orphaned rows and deleted rows of live LoadBalancers are handled with the network controllers' (NetworkShared).
import { serviceKey, type HealthSource, type MonitoredService } from '../../agents/ovn-sb/index.ts';
import { LoadBalancerResource } from '../../apis/lb/v1alpha1/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { requestsFor, watchOf, type Controller } from '../runtime/controller.ts';
import { specDeletionOrStatusChanged, specOrDeletionChanged } from '../runtime/predicates.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import type { ReconcileRequest } from '../runtime/reconciler.ts';
import type { NetworkShared } from '../network/index.ts';
import { lbAddressesChanged } from '../network/lb-addresses.ts';
import { vmBackendChanged } from './backends.ts';
import { lbInformers, type LoadBalancerObject, type PortObject } from './informers.ts';
import { loadBalancerReconciler } from './loadbalancer.ts';
import { isHttp, PROXY_LABEL } from './proxy.ts';


/** Which LoadBalancers check which backends (serviceKey → LB keys), replaced per LB at each reconcile. */
class HealthIndex {
  private readonly byService = new Map<string, Set<string>>();
  private readonly byLb = new Map<string, string[]>();

  set(lb: LoadBalancerObject, services: MonitoredService[]): void {
    const lbKey = `${lb.metadata.namespace}/${lb.metadata.name}`;
    for (const key of this.byLb.get(lbKey) ?? []) this.byService.get(key)?.delete(lbKey);
    const keys = services.map(serviceKey);
    for (const key of keys) this.byService.set(key, (this.byService.get(key) ?? new Set()).add(lbKey));
    if (keys.length) this.byLb.set(lbKey, keys);
    else this.byLb.delete(lbKey);
  }

  lbsOf(service: MonitoredService): ReconcileRequest[] {
    return [...(this.byService.get(serviceKey(service)) ?? [])].map((key) => {
      const [namespace, name] = key.split('/');
      return { namespace, name };
    });
  }
}

/**
 * What a LoadBalancer reads of a Port: its subnet and address (a backend, or a freed address), and for its
 * proxy's Port also its MAC, readiness, owner and label. Not the VM controller's claims or boot reports.
 */
export function portChangedForLbs(old: PortObject, port: PortObject): boolean {
  const readiness = (object: PortObject) => {
    const ready = findCondition(object.status?.conditions, 'Ready');
    return `${ready?.status}/${ready?.message}`;
  };
  return (
    specDeletionOrStatusChanged<PortObject>('ipAddress', 'macAddress')(old, port) ||
    readiness(old) !== readiness(port) ||
    old.metadata.labels?.[PROXY_LABEL] !== port.metadata.labels?.[PROXY_LABEL] ||
    JSON.stringify(old.metadata.ownerReferences) !== JSON.stringify(port.metadata.ownerReferences)
  );
}

export function loadBalancerController(shared: NetworkShared, health: HealthSource, log: Logger, metrics?: RuntimeMetrics) {
  const informers = lbInformers(shared.deps.informers);
  const index = new HealthIndex();
  const lbsIn = (namespace: string | undefined, wants: (lb: LoadBalancerObject) => boolean) => requestsFor(informers.loadBalancers.list(namespace).filter(wants));
  const usesBackends = (lb: LoadBalancerObject) => !!(lb.spec.backends?.selector || lb.spec.backends?.portRefs?.length || lb.spec.listeners.some((listener) => listener.rules?.length));
  const controller: Controller = shared.controller('LoadBalancer', {
    name: 'loadbalancer-controller',
    resource: LoadBalancerResource,
    reconciler: loadBalancerReconciler({ client: shared.deps.client, ovn: shared.deps.ovn, health, allocators: shared.allocators, rows: shared.rows, watchHealth: (lb, services) => index.set(lb, services) }, informers),
    watches: [
      // Only what a backend is made of (resolvePool): not a VM's or Port's other status writes.
      watchOf(informers.virtualMachines, (vm) => lbsIn(vm.metadata.namespace, usesBackends), vmBackendChanged),
      watchOf(
        informers.ports,
        (port) => {
          // The HTTP proxy's own Port brings its LoadBalancer back; any Port may be a backend; a Port that
          // leaves frees an address a LoadBalancer may wait for.
          const proxyOf = port.metadata.labels?.[PROXY_LABEL];
          return [...lbsIn(port.metadata.namespace, (lb) => usesBackends(lb) || lb.metadata.name === proxyOf), ...shared.allocators.waitingFor('LoadBalancer', port.metadata.namespace, port.spec.subnetRef)];
        },
        portChangedForLbs,
      ),
      // Another LoadBalancer that gives back its VIP or a health-check source frees an address.
      watchOf(informers.loadBalancers, (other) => shared.allocators.waitingFor('LoadBalancer', other.metadata.namespace).filter((request) => request.name !== other.metadata.name), lbAddressesChanged),
      // A node's readiness decides where HTTP proxies run: its own proxies look again (they move if it is
      // not Ready), and so do those waiting for a node. Not every LB on every heartbeat.
      watchOf(informers.nodes, (node) => lbsIn(undefined, (lb) => lb.spec.listeners.some(isHttp) && (!lb.status?.proxy?.node || lb.status.proxy.node === node.metadata.name))),
      // A subnet is a VIP's home, a switch the VIP must reach, or a backend's subnet: all in its Vpc look again
      // when it changes, not at every status write (a freed address comes through the Port and LB watches, a
      // switch through the row waiters).
      watchOf(informers.subnets, (subnet) => lbsIn(subnet.metadata.namespace, () => true), specOrDeletionChanged),
      watchOf(informers.vpcs, (vpc) => lbsIn(vpc.metadata.namespace, () => true), specOrDeletionChanged),
    ],
  }, log, metrics);
  let stopHealth: (() => void) | undefined;
  return {
    controller,
    // The manager announces them (see ManagedController).
    finalizers: controller.finalizers,
    async start() {
      stopHealth = health.onChange((service) => {
        for (const request of index.lbsOf(service)) controller.enqueue(request);
      });
      await controller.start();
    },
    async stop() {
      stopHealth?.();
      await controller.stop();
    },
  };
}
