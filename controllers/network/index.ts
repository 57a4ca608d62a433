// The network controllers (Vpc, Subnet, Port, SecurityGroup) over one shared OVN Northbound connection and
// shared informers. Each is a separate controller (switchable by --controllers); what they share is created
// once per manager.
import type { KubeObject } from '../../apis/meta/types.ts';
import { PortResource, SecurityGroupResource, SubnetResource, VpcResource, type Port } from '../../apis/network/v1alpha1/index.ts';
import type { Owner } from '../../agents/ovn-nb/index.ts';
import type { Logger } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import { Controller } from '../runtime/controller.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import type { ReconcileRequest } from '../runtime/reconciler.ts';
import { networkInformers, type NetworkDeps, type NetworkInformers } from './deps.ts';
import { removeOrphans } from './orphans.ts';
import { Allocators, PortReconciler } from './port.ts';
import { SecurityGroupReconciler } from './securitygroup.ts';
import { SubnetReconciler } from './subnet.ts';
import { VpcReconciler } from './vpc.ts';

export { NorthboundConnection } from './northbound.ts';

type Mapper = (object: KubeObject) => ReconcileRequest[];
const at = (object: KubeObject, name: string | undefined): ReconcileRequest[] => (name ? [{ namespace: object.metadata.namespace, name }] : []);

type NetworkKind = 'Vpc' | 'Subnet' | 'Port' | 'SecurityGroup';

/** Per-manager state the network controllers share. */
export class NetworkShared {
  readonly informers: NetworkInformers;
  readonly allocators: Allocators;
  private orphanCleanup?: PeriodicTask;
  private readonly controllers = new Map<string, Controller>();
  private readonly stopRowWatch: () => void;

  constructor(
    readonly deps: NetworkDeps,
    private readonly log: Logger,
  ) {
    this.informers = networkInformers(deps.informers);
    this.allocators = new Allocators(this.informers);
    // A Port gone without its finalizer running here (e.g. force-removed) still frees its address.
    this.informers.ports.addEventHandler({ onDelete: (port) => this.allocators.release(port.metadata.uid!) });
    this.stopRowWatch = deps.northbound.onOwnedRowRemoved((owner, table) => this.repair(owner, table));
  }

  /** The controller that reconciles kind (for OVN drift repair); returns it. */
  register(kind: NetworkKind, controller: Controller): Controller {
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
      const nb = await this.deps.northbound.waitConnected(60_000);
      await Promise.all(Object.values(this.informers).map((informer) => informer.waitForSync()));
      if (nb) await removeOrphans(nb, this.informers, this.log);
    }, this.log);
    this.orphanCleanup.start();
  }

  stop(): void {
    this.orphanCleanup?.stop();
    this.stopRowWatch();
  }
}

export function vpcController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  return shared.register('Vpc', new Controller({
    name: 'vpc-controller',
    client: shared.deps.client,
    resource: VpcResource,
    reconciler: new VpcReconciler(shared.deps, informers),
    informers: shared.deps.informers,
    watches: [{ resource: SubnetResource, map: (subnet) => at(subnet, (subnet.spec as { vpcRef?: string }).vpcRef) }],
    logger: log,
    metrics,
  }));
}

export function subnetController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  const subnetsOfVpc: Mapper = (vpc) => informers.subnets.list(vpc.metadata.namespace).filter((subnet) => subnet.spec.vpcRef === vpc.metadata.name).map((subnet) => ({ namespace: subnet.metadata.namespace, name: subnet.metadata.name! }));
  return shared.register('Subnet', new Controller({
    name: 'subnet-controller',
    client: shared.deps.client,
    resource: SubnetResource,
    reconciler: new SubnetReconciler(shared.deps, informers),
    informers: shared.deps.informers,
    watches: [
      { resource: VpcResource, map: subnetsOfVpc },
      { resource: PortResource, map: (port) => at(port, (port.spec as { subnetRef?: string }).subnetRef) },
    ],
    logger: log,
    metrics,
  }));
}

export function portController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  const ports = (namespace: string | undefined, predicate: (port: Port & KubeObject) => boolean) => informers.ports.list(namespace).filter(predicate).map((port) => ({ namespace: port.metadata.namespace, name: port.metadata.name! }));
  const waitingForAddress = (port: Port & KubeObject) => ['SubnetExhausted', 'IPAddressConflict'].includes(port.status?.conditions?.find((condition) => condition.type === 'Ready')?.reason ?? '');
  return shared.register('Port', new Controller({
    name: 'port-controller',
    client: shared.deps.client,
    resource: PortResource,
    reconciler: new PortReconciler(shared.deps, informers, shared.allocators),
    informers: shared.deps.informers,
    workers: 16,
    watches: [
      { resource: SubnetResource, map: (subnet) => ports(subnet.metadata.namespace, (port) => port.spec.subnetRef === subnet.metadata.name) },
      { resource: SecurityGroupResource, map: (group) => ports(group.metadata.namespace, (port) => (port.spec.securityGroupRefs ?? []).includes(group.metadata.name!)) },
      // A Port leaving frees an address: the ones waiting for one in that subnet try again.
      { resource: PortResource, map: (changed) => ports(changed.metadata.namespace, (port) => port.spec.subnetRef === (changed.spec as { subnetRef?: string }).subnetRef && port.metadata.uid !== changed.metadata.uid && waitingForAddress(port)) },
    ],
    logger: log,
    metrics,
  }));
}

export function securityGroupController(shared: NetworkShared, log: Logger, metrics?: RuntimeMetrics): Controller {
  const { informers } = shared;
  const peersOf: Mapper = (group) =>
    informers.securityGroups
      .list(group.metadata.namespace)
      .filter((other) => [...(other.spec?.ingress ?? []).map((rule) => rule.from), ...(other.spec?.egress ?? []).map((rule) => rule.to)].some((peer) => peer.securityGroupRef === group.metadata.name))
      .map((other) => ({ namespace: other.metadata.namespace, name: other.metadata.name! }));
  return shared.register('SecurityGroup', new Controller({
    name: 'securitygroup-controller',
    client: shared.deps.client,
    resource: SecurityGroupResource,
    reconciler: new SecurityGroupReconciler(shared.deps, informers),
    informers: shared.deps.informers,
    watches: [
      { resource: PortResource, map: (port) => ((port.spec as { securityGroupRefs?: string[] }).securityGroupRefs ?? []).map((name) => ({ namespace: port.metadata.namespace, name })) },
      { resource: SecurityGroupResource, map: peersOf },
    ],
    logger: log,
    metrics,
  }));
}
