// The node agent's reconciler for the HTTP proxies of LoadBalancers placed on its node
// (status.proxy.node = this node, a field selector the node authorizer requires): each runs as an HAProxy in a
// network namespace of its own, attached to the LoadBalancer's Vpc through its proxy Port (agents/haproxy).
// The controller says where it is attached and what it serves (status.proxy.configuration); the agent makes
// it so and reports back what it runs (appliedHash), whether it is up, and every pool member's health from
// HAProxy's checks (status.proxy.servers), looking again every resync (HAProxy's checks raise no API event).
//
// Level-based: each pass asks the driver to ensure the whole proxy (namespace, port, process, configuration),
// so a killed HAProxy or a removed port comes back at the next pass. A LoadBalancer deleted or moved to
// another node loses its proxy here; the sweep (removeOrphans) removes proxies of LoadBalancers no longer here.
import type { ApiClient } from '../../apis/client/index.ts';
import { LoadBalancerResource, type LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import { PROXY_REPORT_FIELDS, type ProxyConfiguration, type ProxyReport } from '../../apis/lb/v1alpha1/proxy.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import type { Informer } from '../../controllers/runtime/informer.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../../controllers/runtime/reconciler.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import type { ProxyDriver } from '../haproxy/index.ts';

const FIELD_MANAGER = 'photon-agent';
const MAX_MESSAGE = 1024;

export interface ProxyRuntimeOptions {
  client: ApiClient;
  nodeName: string;
  /** LoadBalancers with status.proxy.node = this node. */
  informer: Informer<LoadBalancer>;
  driver: ProxyDriver;
  /** How often a proxy is looked at again (its servers' health, a killed process). Default 5 s. */
  resyncMs?: number;
  log: Logger;
}

export class ProxyRuntime implements Reconciler {
  /** namespace/name → UID of the proxy this agent runs under that key, to remove it when the key goes. */
  private readonly known = new Map<string, string>();
  private readonly resyncMs: number;

  constructor(private readonly options: ProxyRuntimeOptions) {
    this.resyncMs = options.resyncMs ?? 5000;
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const key = `${request.namespace}/${request.name}`;
    const cached = this.options.informer.get(request.name, request.namespace);
    const proxy = cached?.status?.proxy;
    const previousUid = this.known.get(key);
    const here = cached && !cached.metadata.deletionTimestamp && proxy?.node === this.options.nodeName;
    if (!here || (previousUid && previousUid !== cached.metadata.uid)) {
      // Deleted, moved to another node, no HTTP listener left, or re-created under the same name.
      if (previousUid) {
        await this.options.driver.remove(previousUid);
        this.known.delete(key);
        context.log.info('removed the HTTP proxy of a LoadBalancer no longer served here', { loadBalancer: key });
      }
      if (!here) return {};
    }
    const lb = cached!;
    const uid = lb.metadata.uid!;
    this.known.set(key, uid);
    if (!proxy?.configuration || !proxy.portUID || !proxy.macAddress || !proxy.address || !proxy.prefixLength || !proxy.gateway) return {}; // the controller has not said everything yet
    let report: ProxyReport;
    try {
      const attachment = { ifaceId: proxy.portUID, mac: proxy.macAddress, ip: `${proxy.address}/${proxy.prefixLength}`, gateway: proxy.gateway };
      const { changes } = await this.options.driver.ensure(uid, attachment, proxy.configuration as unknown as ProxyConfiguration);
      if (changes > 0) context.log.info('HTTP proxy applied', { loadBalancer: key, changes, configurationHash: proxy.configurationHash });
      const servers = await this.options.driver.servers(uid);
      report = { appliedHash: proxy.configurationHash, ready: true, servers: servers.map((server) => ({ pool: server.pool, server: server.server, address: server.address, port: server.port, up: server.up })) };
    } catch (error) {
      report = { appliedHash: proxy.appliedHash, ready: false, message: errorMessage(error).slice(0, MAX_MESSAGE), servers: proxy.servers };
    }
    await this.report(lb, report, context.signal);
    return { requeueAfterMs: this.resyncMs };
  }

  /** Writes the agent's fields of status.proxy when they changed (a merge patch of just those fields; NodeRestriction refuses others). */
  private async report(lb: LoadBalancer, report: ProxyReport, signal?: AbortSignal): Promise<void> {
    const current = lb.status?.proxy ?? {};
    const changed = PROXY_REPORT_FIELDS.some((field) => !jsonEqual(current[field] ?? null, report[field] ?? null));
    if (!changed) return;
    const proxy = Object.fromEntries(PROXY_REPORT_FIELDS.map((field) => [field, report[field] ?? null]));
    await this.options.client.patch(LoadBalancerResource, lb.metadata.name!, { status: { proxy } }, { namespace: lb.metadata.namespace, subresource: 'status', fieldManager: FIELD_MANAGER, signal });
  }

  /** Removes proxies of LoadBalancers not served here now; resolves with how many went. */
  async removeOrphans(): Promise<number> {
    const live = new Set(this.options.informer.list().filter((lb) => lb.status?.proxy?.node === this.options.nodeName && !lb.metadata.deletionTimestamp).map((lb) => lb.metadata.uid!));
    return this.options.driver.removeOrphans(live);
  }

  /** Stops every proxy (the all-in-one's chassis goes with it). */
  async removeAll(): Promise<void> {
    await this.options.driver.removeOrphans(new Set());
  }
}
