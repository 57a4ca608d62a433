// The network controllers (Vpc, Subnet, Port, SecurityGroup) over one shared OVN Northbound driver and
// shared informers. Each is a separate controller (switchable by --controllers); what they share is created
// once per manager. Every reference between the kinds is a typed watch, so an object waiting for another
// (…NotFound, …NotReady) is reconciled again when that one changes — nothing polls.
import type { KubeObject } from '../../apis/meta/types.ts';
import { PortResource, SecurityGroupResource, SubnetResource, VpcResource } from '../../apis/network/v1alpha1/index.ts';
import type { Owner } from '../../agents/ovn-nb/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { Controller, requestsFor, watchOf, type ControllerOptions } from '../runtime/controller.ts';
import { specDeletionOrStatusChanged, specOrDeletionChanged } from '../runtime/predicates.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { networkInformers, type NetworkDeps, type NetworkInformers, type PortObject, type SubnetObject } from './deps.ts';
import { lbAddressesChanged, lbSubnets } from './lb-addresses.ts';
import { Allocators, healthCheckSourceOwner, portReconciler } from './port.ts';
import { securityGroupReconciler } from './securitygroup.ts';
import { RowWaiters } from './row-waiters.ts';
import { subnetReconciler } from './subnet.ts';
import { SubnetPortIndex } from './subnet-ports.ts';
import { vpcReconciler } from './vpc.ts';


/** Kinds whose OVN rows NetworkShared repairs and sweeps (LoadBalancer's controller lives in controllers/lb). */
type NetworkKind = 'Vpc' | 'Subnet' | 'Port' | 'SecurityGroup' | 'LoadBalancer';

/** Per-manager state the network controllers share. */
export class NetworkShared {
  readonly informers: NetworkInformers;
  readonly allocators: Allocators;
  /** Objects waiting for another object's OVN row, reconciled again when it appears (row-waiters.ts). */
  readonly rows: RowWaiters;
  private orphanCleanup?: PeriodicTask;
  private readonly controllers = new Map<string, Controller>();
  private readonly stopRowWatch: () => void;

  constructor(
    readonly deps: NetworkDeps,
    private readonly log: Logger,
  ) {
    this.informers = networkInformers(deps.informers);
    this.allocators = new Allocators(this.informers, deps.ovn);
    // A Port gone without its finalizer running here (e.g. force-removed) still frees its address.
    this.informers.ports.addEventHandler({ onDelete: (port) => this.allocators.release(port.metadata.uid!) });
    // So does a LoadBalancer's VIP and health-check sources (its own cleanup releases them first when it runs).
    this.informers.loadBalancers.addEventHandler({
      onDelete: (lb) => {
        this.allocators.release(lb.metadata.uid!);
        this.allocators.release(healthCheckSourceOwner(lb.metadata.uid!));
      },
    });
    this.stopRowWatch = deps.ovn.onOwnedRowRemoved((owner, table) => this.repair(owner, table));
    this.rows = new RowWaiters(deps.ovn, (waiter) => this.controllers.get(waiter.kind)?.enqueue({ namespace: waiter.namespace, name: waiter.name }));
  }

  /**
   * The controller of one network kind: the shared client and informers, its reconciler and watches. It is
   * remembered by kind for OVN drift repair.
   */
  controller(kind: NetworkKind, options: Pick<ControllerOptions, 'name' | 'resource' | 'reconciler' | 'watches' | 'workers'>, log: Logger, metrics?: RuntimeMetrics): Controller {
    const controller = new Controller({ ...options, client: this.deps.client, informers: this.deps.informers, logger: log, metrics });
    this.controllers.set(kind, controller);
    return controller;
  }

  /**
   * An owned row left OVN while its object still wants it (not being deleted, same UID): someone removed it
   * by hand, or the database came back without it. The object is reconciled again, which recreates it.
   */
  private repair(owner: Owner, table: string): void {
    const controller = this.controllers.get(owner.kind);
    const object = controller?.informer.get(owner.name, owner.namespace);
    if (!controller || !object || object.metadata.uid !== owner.uid || object.metadata.deletionTimestamp) return;
    this.log.info('an OVN row of a live object disappeared; reconciling it again', { kind: owner.kind, namespace: owner.namespace, name: owner.name, table });
    controller.enqueue({ namespace: owner.namespace, name: owner.name });
  }

  /**
   * Removes orphaned OVN rows once everything is listed, then every few minutes. Never before every network
   * informer has synced: rows of objects not yet listed would look orphaned.
   */
  startOrphanCleanup(intervalMs = 5 * 60_000): void {
    if (this.orphanCleanup) return;
    this.orphanCleanup = new PeriodicTask('orphan cleanup', intervalMs, async () => {
      await Promise.all(Object.values(this.informers).map((informer) => informer.waitForSync()));
      if (this.deps.ovn.unavailableReason) return; // the next pass tries again
      const uids = (objects: KubeObject[]) => new Set(objects.map((object) => object.metadata.uid!));
      const { vpcs, subnets, ports, securityGroups, loadBalancers } = this.informers;
      const live = new Map([['Vpc', uids(vpcs.list())], ['Subnet', uids(subnets.list())], ['Port', uids(ports.list())], ['SecurityGroup', uids(securityGroups.list())], ['LoadBalancer', uids(loadBalancers.list())]]);
      this.rows.forgetOwnersExcept(new Set([...live.values()].flatMap((set) => [...set])));
      await this.deps.ovn.removeOrphans(live);
    }, this.log);
    this.orphanCleanup.start();
  }

  stop(): void {
    this.orphanCleanup?.stop();
    this.stopRowWatch();
    this.rows.stop();
  }
}

export function vpcController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  return shared.controller('Vpc', {
    name: 'vpc-controller',
    resource: VpcResource,
    reconciler: vpcReconciler(shared.deps, informers),
    // A Vpc lists its Subnets by name: only a Subnet coming, going or moving to another Vpc matters to it.
    watches: [watchOf(informers.subnets, (subnet) => [{ namespace: subnet.metadata.namespace, name: subnet.spec.vpcRef }], (old, subnet) => old.spec.vpcRef !== subnet.spec.vpcRef)],
  }, log, metrics);
}

export function subnetController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  const subnetsIn = (namespace: string | undefined, vpc: string) => requestsFor(informers.subnets.list(namespace).filter((subnet) => subnet.spec.vpcRef === vpc));
  return shared.controller('Subnet', {
    name: 'subnet-controller',
    resource: SubnetResource,
    reconciler: subnetReconciler(shared.deps, informers, shared.rows),
    watches: [
      // Its Vpc's address ranges and deletion (not the Vpc's status, which lists these Subnets; its router's row
      // brings them back through a row waiter).
      watchOf(informers.vpcs, (vpc) => subnetsIn(vpc.metadata.namespace, vpc.metadata.name!), (old, vpc) => specOrDeletionChanged(old, vpc)),
      // Its used addresses and the Ports its deletion waits for.
      watchOf(informers.ports, (port) => [{ namespace: port.metadata.namespace, name: port.spec.subnetRef }], (old, port) => old.spec.subnetRef !== port.spec.subnetRef || !old.status?.ipAddress !== !port.status?.ipAddress),
      // LoadBalancers' addresses are used addresses too.
      watchOf(informers.loadBalancers, (lb) => lbSubnets(lb).map((name) => ({ namespace: lb.metadata.namespace, name })), lbAddressesChanged),
      // A sibling leaving (or changing) may end an overlap: the others in its Vpc look again.
      watchOf(informers.subnets, (changed) => subnetsIn(changed.metadata.namespace, changed.spec.vpcRef).filter((request) => request.name !== changed.metadata.name), (old, subnet) => specOrDeletionChanged(old, subnet)),
    ],
  }, log, metrics);
}

export function portController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  const ports = (namespace: string | undefined, predicate: (port: PortObject) => boolean) => requestsFor(informers.ports.list(namespace).filter(predicate));
  const portsOfSubnet = SubnetPortIndex.for(informers.ports);
  // A Subnet's status counts its used addresses, so it changes with every Port: only a change Ports depend on
  // (its spec, deletion, readiness — its switch programmed — or the Subnet coming or going) requeues its Ports.
  const readiness = (subnet: SubnetObject) => {
    const ready = findCondition(subnet.status?.conditions, 'Ready');
    return `${ready?.status}/${ready?.reason}`;
  };
  const subnetChangedForPorts = (old: SubnetObject, subnet: SubnetObject) => specOrDeletionChanged(old, subnet) || readiness(old) !== readiness(subnet);
  return shared.controller('Port', {
    name: 'port-controller',
    resource: PortResource,
    reconciler: portReconciler(shared.deps, informers, shared.allocators, shared.rows),
    workers: 16,
    watches: [
      watchOf(informers.subnets, (subnet) => portsOfSubnet.portsOf(subnet.metadata.namespace, subnet.metadata.name!).map((name) => ({ namespace: subnet.metadata.namespace, name })), subnetChangedForPorts),
      watchOf(informers.securityGroups, (group) => ports(group.metadata.namespace, (port) => (port.spec.securityGroupRefs ?? []).includes(group.metadata.name!))),
      // A Port leaving frees an address: the ones waiting for one in that subnet try again.
      watchOf(informers.ports, (changed) => shared.allocators.waitingFor('Port', changed.metadata.namespace, changed.spec.subnetRef).filter((request) => request.name !== changed.metadata.name)),
      // So does a LoadBalancer's VIP (and the informer is synced before any allocator is built from it).
      watchOf(informers.loadBalancers, (lb) => shared.allocators.waitingFor('Port', lb.metadata.namespace), lbAddressesChanged),
    ],
  }, log, metrics);
}

export function securityGroupController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  return shared.controller('SecurityGroup', {
    name: 'securitygroup-controller',
    resource: SecurityGroupResource,
    reconciler: securityGroupReconciler(shared.deps, informers),
    watches: [
      // A group's members (a Port's spec names its groups) and their addresses; not a Port's other status writes.
      watchOf(
        informers.ports,
        (port) => (port.spec.securityGroupRefs ?? []).map((name) => ({ namespace: port.metadata.namespace, name })),
        specDeletionOrStatusChanged<PortObject>('ipAddress'),
      ),
      // Rules naming a peer group follow that group (its address set, its existence).
      watchOf(informers.securityGroups, (group) =>
        requestsFor(informers.securityGroups.list(group.metadata.namespace).filter((other) => [...(other.spec?.ingress ?? []).map((rule) => rule.from), ...(other.spec?.egress ?? []).map((rule) => rule.to)].some((peer) => peer.securityGroupRef === group.metadata.name)))),
    ],
  }, log, metrics);
}
