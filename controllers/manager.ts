// The controller manager: every controller in one process, each switchable by flag, running only while
// this process holds the leader Lease (so two managers can run for availability and only one acts).
import type { OvsdbTlsFiles } from '../agents/ovsdb/index.ts';
import { clientFromKubeconfig, type ApiClient } from '../apis/client/index.ts';
import { createLogger, errorMessage, type Logger } from '../lib/logging.ts';
import { GarbageCollector } from './gc/collector.ts';
import { OvnNorthboundDriver } from '../agents/ovn-nb/index.ts';
import { NetworkShared, portController, securityGroupController, subnetController, vpcController } from './network/index.ts';
import { nodeLifecycleController, schedulerController, virtualMachineController, type NodeLifecycleOptions } from './compute/index.ts';
import { dnsDriverFrom, zoneController, type DnsOptions } from './dns/index.ts';
import type { DnsDriver } from '../agents/pdns/index.ts';
import { ServiceMonitorReader } from '../agents/ovn-sb/index.ts';
import { loadBalancerController } from './lb/index.ts';
import { bucketController, storageDriversFrom, storageClassController, volumeController, volumeSnapshotController, type StorageOptions } from './storage/index.ts';
import { organizationController, organizationRoleBindingController, projectController } from './iam/index.ts';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { InformerCache } from './runtime/informer.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { CONTROLLER_MANAGER_LEASE, formatHandledFinalizers, HANDLED_FINALIZERS_ANNOTATION, type HandledFinalizer } from '../apis/meta/finalizers.ts';
import { RuntimeMetrics } from './runtime/metrics.ts';
import { serveMetrics, type MetricsServer } from './metrics-server.ts';

export interface ManagedController {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Finalizers it keeps on every object of a resource (announced on the leader Lease; see apis/meta/finalizers.ts). */
  readonly finalizers?: readonly HandledFinalizer[];
}

/** What controllers of one manager share: the client, one informer per resource, the OVN connection. */
export class ManagerContext {
  readonly informers: InformerCache;
  private networkShared?: NetworkShared;
  private northbound?: OvnNorthboundDriver;

  constructor(
    readonly client: ApiClient,
    readonly log: Logger,
    private readonly ovnNorthbound: string,
    readonly metrics: RuntimeMetrics,
    private readonly registry: Registry,
    private readonly ovnNorthboundTls?: OvsdbTlsFiles,
    /** Timings of the node-lifecycle controller (grace period, eviction timeout). */
    readonly nodeLifecycle: NodeLifecycleOptions = {},
    /** Where public zones are served (PowerDNS) and how (nameservers, resync). */
    readonly dnsOptions: DnsOptions = {},
    /** OVN Southbound endpoint, read for load balancers' backend health. */
    private readonly ovnSouthbound?: string,
    /** The Ceph cluster Volumes of ceph-rbd classes live in. */
    readonly storageOptions: StorageOptions = {},
  ) {
    this.informers = new InformerCache(client, { defaults: { logger: log } });
  }

  /** The network controllers' shared state, created (and the OVN connection started) on first use. */
  network(): NetworkShared {
    if (!this.networkShared) {
      const northbound = new OvnNorthboundDriver(this.ovnNorthbound, this.log.child({ component: 'ovn-nb' }), undefined, this.ovnNorthboundTls);
      this.northbound = northbound;
      northbound.start();
      // A new leadership term builds a new context: replace the previous term's gauges.
      for (const name of ['photon_ovn_nb_transactions', 'photon_ovn_nb_connected']) this.registry.removeSingleMetric(name);
      new Gauge({
        name: 'photon_ovn_nb_transactions',
        help: 'OVN Northbound transactions sent by this manager since it connected, by result.',
        labelNames: ['result'] as const,
        registers: [this.registry],
        collect() {
          const stats = northbound.stats;
          this.set({ result: 'committed' }, stats.transactions - stats.failedTransactions);
          this.set({ result: 'failed' }, stats.failedTransactions);
        },
      });
      new Gauge({
        name: 'photon_ovn_nb_connected',
        help: '1 while connected to the OVN Northbound database.',
        registers: [this.registry],
        collect() {
          this.set(northbound.current ? 1 : 0);
        },
      });
      this.networkShared = new NetworkShared({ client: this.client, informers: this.informers, ovn: northbound }, this.log.child({ component: 'network' }));
      this.networkShared.startOrphanCleanup();
    }
    return this.networkShared;
  }

  private dnsDriver?: DnsDriver;
  private southbound?: ServiceMonitorReader;

  /** Backend health from the OVN Southbound database, connected on first use. */
  health(): ServiceMonitorReader {
    if (!this.southbound) {
      this.southbound = new ServiceMonitorReader(this.ovnSouthbound ?? southboundBeside(this.ovnNorthbound), this.log.child({ component: 'ovn-sb' }), undefined, this.ovnNorthboundTls);
      this.southbound.start();
    }
    return this.southbound;
  }

  private storageDrivers?: ReturnType<typeof storageDriversFrom>;

  /** The storage controllers' dependencies: the RBD driver of the configured Ceph cluster and the image cache, made once. */
  storage() {
    this.storageDrivers ??= storageDriversFrom(this.storageOptions);
    return { client: this.client, informers: this.informers, ...this.storageDrivers };
  }

  /** The DNS driver public zones are served through, created on first use. */
  dns(): DnsDriver {
    this.dnsDriver ??= dnsDriverFrom(this.dnsOptions, this.log);
    return this.dnsDriver;
  }

  async stop(): Promise<void> {
    this.networkShared?.stop();
    await Promise.all([this.northbound?.stop(), this.southbound?.stop()]);
    await this.informers.stop();
  }
}

/** Every controller the manager knows, by the name used in --controllers. */
export const CONTROLLERS: Record<string, (context: ManagerContext, log: Logger) => ManagedController> = {
  'garbage-collector': (context, log) => new GarbageCollector({ client: context.client, informers: context.informers, metrics: context.metrics, logger: log }),
  vpc: (context, log) => vpcController(context.network(), log, context.metrics),
  subnet: (context, log) => subnetController(context.network(), log, context.metrics),
  port: (context, log) => portController(context.network(), log, context.metrics),
  'security-group': (context, log) => securityGroupController(context.network(), log, context.metrics),
  // IAM needs no OVN: only the client and the shared informers.
  organization: (context, log) => organizationController(context, log, context.metrics),
  project: (context, log) => projectController(context, log, context.metrics),
  'organization-role-binding': (context, log) => organizationRoleBindingController(context, log, context.metrics),
  // Compute: Ports and the summary of VirtualMachines (the node agents run them).
  virtualmachine: (context, log) => virtualMachineController(context, log, context.metrics),
  scheduler: (context, log) => schedulerController(context, log, context.metrics),
  'node-lifecycle': (context, log) => nodeLifecycleController(context, log, context.metrics, context.nodeLifecycle),
  // DNS: public zones on PowerDNS, private zones on OVN's DNS (the network controllers' OVN connection).
  // Load balancing: OVN load balancers (the network controllers' OVN connection and address allocators) with
  // backend health from the Southbound database.
  loadbalancer: (context, log) => loadBalancerController(context.network(), context.health(), log, context.metrics),
  // Block storage: Ceph pools, RBD images and snapshots through one RBD driver.
  storageclass: (context, log) => storageClassController(context.storage(), log, context.metrics),
  volume: (context, log) => volumeController(context.storage(), log, context.metrics, context.storageOptions),
  volumesnapshot: (context, log) => volumeSnapshotController(context.storage(), log, context.metrics),
  // Object storage: S3 buckets, their access users, keys and Secrets on RGW.
  bucket: (context, log) => bucketController(context.storage(), log, context.metrics, context.storageOptions),
  zone: (context, log) => zoneController({ client: context.client, informers: context.informers, ovn: context.network().deps.ovn }, context.dns(), context.dnsOptions, log, context.metrics),
};

/**
 * The Southbound database when only the Northbound one is given: the local layout's sb.sock beside nb.sock
 * (photon ovn-local), else the same host on OVN's standard Southbound port 6642.
 */
export function southboundBeside(northbound: string): string {
  const first = northbound.split(',')[0].trim();
  if (first.startsWith('unix:')) return first.replace(/nb\.sock$/, 'sb.sock');
  return first.replace(/:6641$/, ':6642');
}

/** Where the OVN Northbound database is when nothing says otherwise: the local one `photon ovn-local` runs (agents/ovn-local/). */
export function defaultNorthbound(home: string): string {
  return `unix:${home}/ovn/nb.sock`;
}

export interface ControllerManagerOptions {
  kubeconfig: string;
  /** OVN Northbound endpoint (unix:/path, tcp:host:port or ssl:host:port). */
  ovnNorthbound: string;
  /** Credentials for an ssl: Northbound endpoint (and an ssl: Southbound one). */
  ovnNorthboundTls?: OvsdbTlsFiles;
  /** OVN Southbound endpoint (default: beside the Northbound one, see southboundBeside). */
  ovnSouthbound?: string;
  /** Names from CONTROLLERS; default all. */
  controllers?: string[];
  leaderElect?: boolean;
  leaseName?: string;
  leaseNamespace?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Node-lifecycle timings (defaults: 40 s grace, 5 min before RerunOnFailure VMs move). */
  nodeLifecycle?: NodeLifecycleOptions;
  /** Where public zones are served (PowerDNS API and key), the nameservers, the resync period. */
  dns?: DnsOptions;
  /** The Ceph cluster for ceph-rbd StorageClasses. */
  storage?: StorageOptions;
  /** Serve /metrics on this loopback-or-given address (`host:port`; port 0 picks one); undefined: don't. */
  metricsAddress?: string;
  logger?: Logger;
}

export interface ControllerManager {
  readonly client: ApiClient;
  readonly registry: Registry;
  /** The metrics server's port, once serving. */
  metricsPort(): Promise<number | undefined>;
  stop(): Promise<void>;
  /** Leadership terms that have ended since start (each one's controllers stopped before the next began). */
  readonly termsEnded: number;
}

export function startControllerManager(options: ControllerManagerOptions): ControllerManager {
  const log = options.logger ?? createLogger('controller-manager');
  const names = options.controllers ?? Object.keys(CONTROLLERS);
  for (const name of names) if (!CONTROLLERS[name]) throw new Error(`unknown controller ${JSON.stringify(name)} (known: ${Object.keys(CONTROLLERS).join(', ')})`);
  const client = clientFromKubeconfig(options.kubeconfig, { component: 'controller-manager', fieldManager: 'controller-manager' });
  let running: ManagedController[] = [];
  let context: ManagerContext | undefined;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new RuntimeMetrics(registry);
  const metricsServer: Promise<MetricsServer | undefined> = options.metricsAddress
    ? serveMetrics(registry, options.metricsAddress.slice(0, options.metricsAddress.lastIndexOf(':')), Number(options.metricsAddress.slice(options.metricsAddress.lastIndexOf(':') + 1))).catch((error) => {
        log.error('cannot serve metrics', { address: options.metricsAddress, error: errorMessage(error) });
        return undefined;
      })
    : Promise.resolve(undefined);
  let stopped = false;
  let termsEnded = 0;

  const runControllers = async (signal?: AbortSignal) => {
    context = new ManagerContext(client, log, options.ovnNorthbound, metrics, registry, options.ovnNorthboundTls, options.nodeLifecycle, options.dns, options.ovnSouthbound, options.storage);
    running = names.map((name) => CONTROLLERS[name](context!, log.child({ controller: name })));
    for (const [index, controller] of running.entries()) {
      controller.start().catch((error) => log.error('controller failed to start', { controller: names[index], error: errorMessage(error) }));
    }
    log.info('controllers started', { controllers: names });
    // Announced at the next renewal: from then on the API server adds these finalizers at create.
    const handled = formatHandledFinalizers(running.flatMap((controller) => controller.finalizers ?? []));
    elector?.setAnnotation(HANDLED_FINALIZERS_ANNOTATION, handled || undefined);
    if (signal) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  };
  const stopControllers = async () => {
    const stopping = running;
    running = [];
    await Promise.all(stopping.map((controller) => controller.stop().catch((error) => log.warn('controller stop failed', { error: errorMessage(error) }))));
    await context?.stop();
    context = undefined;
  };

  let elector: LeaderElector | undefined;
  if (options.leaderElect ?? true) {
    elector = new LeaderElector({
      client,
      name: options.leaseName ?? CONTROLLER_MANAGER_LEASE.name,
      namespace: options.leaseNamespace,
      identity: options.identity,
      leaseDurationMs: options.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs,
      logger: log,
      metrics,
      onStartedLeading: (signal) => runControllers(signal),
      // Losing the Lease (say the API server stalled past the renew deadline) ends this term only: every
      // controller, informer and the OVN connection stop here, before the elector campaigns again, and the
      // next term builds them anew, so nothing leaks and nothing runs twice.
      onStoppedLeading: async () => {
        await stopControllers();
        termsEnded++;
        if (!stopped) log.warn('leadership lost; controllers stopped, campaigning again');
      },
    });
    // Managed from the first write: taking the Lease over removes what the previous term announced.
    elector.setAnnotation(HANDLED_FINALIZERS_ANNOTATION, undefined);
    elector.start();
  } else {
    void runControllers();
  }

  return {
    client,
    registry,
    metricsPort: async () => (await metricsServer)?.port,
    get termsEnded() {
      return termsEnded;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (elector) await elector.stop();
      await stopControllers();
      await (await metricsServer)?.close();
      client.close();
    },
  };
}
