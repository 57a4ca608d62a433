// The controller manager: every controller in one process, each switchable by flag, running only while
// this process holds the leader Lease (so two managers can run for availability and only one acts).
import { clientFromKubeconfig, type ApiClient } from '../apis/client/index.ts';
import { createLogger, errorMessage, type Logger } from '../apis/logging.ts';
import { GarbageCollector } from './gc/collector.ts';
import { NetworkShared, NorthboundConnection, portController, securityGroupController, subnetController, vpcController } from './network/index.ts';
import { InformerCache } from './runtime/informer.ts';
import { LeaderElector } from './runtime/leader-election.ts';

export interface ManagedController {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What controllers of one manager share: the client, one informer per resource, the OVN connection. */
export class ManagerContext {
  readonly informers: InformerCache;
  private networkShared?: NetworkShared;
  private northbound?: NorthboundConnection;

  constructor(
    readonly client: ApiClient,
    readonly log: Logger,
    private readonly ovnNorthbound: string,
  ) {
    this.informers = new InformerCache(client, { defaults: { logger: log } });
  }

  /** The network controllers' shared state, created (and the OVN connection started) on first use. */
  network(): NetworkShared {
    if (!this.networkShared) {
      this.northbound = new NorthboundConnection(this.ovnNorthbound, this.log.child({ component: 'ovn-nb' }));
      this.northbound.start();
      this.networkShared = new NetworkShared({ client: this.client, informers: this.informers, northbound: this.northbound }, this.log.child({ component: 'network' }));
      this.networkShared.startOrphanCleanup();
    }
    return this.networkShared;
  }

  async stop(): Promise<void> {
    this.networkShared?.stop();
    await this.northbound?.stop();
    await this.informers.stop();
  }
}

/** Every controller the manager knows, by the name used in --controllers. */
export const CONTROLLERS: Record<string, (context: ManagerContext, log: Logger) => ManagedController> = {
  'garbage-collector': (context, log) => new GarbageCollector(context.client, { logger: log }),
  vpc: (context, log) => vpcController(context.network(), log),
  subnet: (context, log) => subnetController(context.network(), log),
  port: (context, log) => portController(context.network(), log),
  'security-group': (context, log) => securityGroupController(context.network(), log),
};

/** Where the OVN Northbound database is when nothing says otherwise: the local one hack/ovn/up.ts runs. */
export function defaultNorthbound(home: string): string {
  return `unix:${home}/ovn/nb.sock`;
}

export interface ControllerManagerOptions {
  kubeconfig: string;
  /** OVN Northbound endpoint (unix:/path or tcp:host:port). */
  ovnNorthbound: string;
  /** Names from CONTROLLERS; default all. */
  controllers?: string[];
  leaderElect?: boolean;
  leaseName?: string;
  leaseNamespace?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger?: Logger;
}

export interface ControllerManager {
  readonly client: ApiClient;
  stop(): Promise<void>;
  /** Resolves when leadership is lost (the process should exit and be restarted). */
  readonly lostLeadership: Promise<void>;
}

export function startControllerManager(options: ControllerManagerOptions): ControllerManager {
  const log = options.logger ?? createLogger('controller-manager');
  const names = options.controllers ?? Object.keys(CONTROLLERS);
  for (const name of names) if (!CONTROLLERS[name]) throw new Error(`unknown controller ${JSON.stringify(name)} (known: ${Object.keys(CONTROLLERS).join(', ')})`);
  const client = clientFromKubeconfig(options.kubeconfig, { component: 'controller-manager', fieldManager: 'controller-manager' });
  let running: ManagedController[] = [];
  let context: ManagerContext | undefined;
  let markLost: () => void = () => undefined;
  const lostLeadership = new Promise<void>((resolve) => (markLost = resolve));

  const runControllers = async (signal?: AbortSignal) => {
    context = new ManagerContext(client, log, options.ovnNorthbound);
    running = names.map((name) => CONTROLLERS[name](context!, log.child({ controller: name })));
    for (const [index, controller] of running.entries()) {
      controller.start().catch((error) => log.error('controller failed to start', { controller: names[index], error: errorMessage(error) }));
    }
    log.info('controllers started', { controllers: names });
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
      name: options.leaseName ?? 'photon-controller-manager',
      namespace: options.leaseNamespace,
      identity: options.identity,
      leaseDurationMs: options.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs,
      logger: log,
      onStartedLeading: (signal) => runControllers(signal),
      onStoppedLeading: async () => {
        await stopControllers();
        markLost();
      },
    });
    elector.start();
  } else {
    void runControllers();
  }

  let stopped = false;
  return {
    client,
    lostLeadership,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (elector) await elector.stop();
      await stopControllers();
      client.close();
    },
  };
}
