// The zone-controller: Zones served by PowerDNS (public) or OVN's DNS (private), over the manager's shared
// informers, the OVN Northbound driver the network controllers use, and a DNS driver. Every input of a zone's
// records is a typed watch (the project's VMs, LoadBalancers, Ports, Subnets, Vpcs; Zones whose domain overlaps,
// for claims), so records follow their objects without polling; PowerDNS, which no watch reports on, is
// compared again every resync. Rows and zones left by Zones that no longer exist are removed periodically.
import fs from 'node:fs';
import { PowerDnsApi, PowerDnsDriver, UnconfiguredDnsDriver, type DnsDriver } from '../../agents/pdns/index.ts';
import type { NorthboundDriver } from '../../agents/ovn-nb/index.ts';
import { ZoneResource } from '../../apis/dns/v1alpha1/index.ts';
import type { ApiClient } from '../../apis/client/index.ts';
import type { LoadBalancer } from '../../apis/lb/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Port, Subnet } from '../../apis/network/v1alpha1/index.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import { Controller, requestsFor, watchOf } from '../runtime/controller.ts';
import { specDeletionOrStatusChanged, specOrDeletionChanged } from '../runtime/predicates.ts';
import type { InformerCache } from '../runtime/informer.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { RowWaiters } from '../network/row-waiters.ts';
import { dnsInformers } from './informers.ts';
import { vmRecordsChanged } from './records.ts';
import { zoneReconciler, type ZoneObject } from './zone.ts';

export interface DnsOptions {
  /** PowerDNS HTTP API base URL (http://127.0.0.1:8081); without it public zones report DNSUnavailable. */
  pdnsUrl?: string;
  /** File holding the API key (X-API-Key). */
  pdnsApiKeyFile?: string;
  /** Names of the authoritative servers (SOA MNAME, apex NS), fully qualified. */
  nameservers?: string[];
  /** Where the authoritative server answers (host:port), reported in public zones' status. */
  nameserverAddresses?: string[];
  /** How often public zones are compared with PowerDNS again (default 60 s). */
  resyncMs?: number;
  /** How often zones and rows of deleted Zones are looked for (default 5 min). */
  orphanCleanupMs?: number;
}

export const DEFAULT_NAMESERVERS = ['ns1.photoncloud.internal.'];

export interface DnsDeps {
  client: ApiClient;
  informers: InformerCache;
  ovn: NorthboundDriver;
}

/** The DNS driver the options describe (an unconfigured one when there is no URL or key). */
export function dnsDriverFrom(options: DnsOptions, log: Logger): DnsDriver {
  if (!options.pdnsUrl) return new UnconfiguredDnsDriver();
  let key = '';
  try {
    key = options.pdnsApiKeyFile ? fs.readFileSync(options.pdnsApiKeyFile, 'utf8').trim() : '';
  } catch (error) {
    log.error('cannot read the PowerDNS API key; public zones will report DNSUnavailable', { file: options.pdnsApiKeyFile, error: errorMessage(error) });
  }
  return new PowerDnsDriver(new PowerDnsApi(options.pdnsUrl, key), log.child({ component: 'pdns' }));
}

const overlaps = (a: string, b: string) => a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);

/** The zone-controller with its drift and orphan housekeeping (started and stopped with it). */
export function zoneController(deps: DnsDeps, dns: DnsDriver, options: DnsOptions, log: Logger, metrics?: RuntimeMetrics) {
  const informers = dnsInformers(deps.informers);
  const zonesIn = (namespace: string | undefined, wants: (zone: ZoneObject) => boolean) => requestsFor(informers.zones.list(namespace).filter(wants));
  const auto = (zone: ZoneObject) => zone.spec.autoRecords ?? {};
  const rows = new RowWaiters(deps.ovn, (waiter) => controller.enqueue({ namespace: waiter.namespace, name: waiter.name }));
  const controller: Controller = new Controller({
    name: 'zone-controller',
    client: deps.client,
    informers: deps.informers,
    resource: ZoneResource,
    logger: log,
    metrics,
    reconciler: zoneReconciler({ client: deps.client, dns, ovn: deps.ovn, rows, nameservers: options.nameservers ?? DEFAULT_NAMESERVERS, nameserverAddresses: options.nameserverAddresses ?? [], resyncMs: options.resyncMs ?? 60_000 }, informers),
    watches: [
      // Claims: a zone coming or going may take or free a name for the others that overlap it.
      watchOf(informers.zones, (changed) => requestsFor(informers.zones.list().filter((zone) => zone.metadata.uid !== changed.metadata.uid && overlaps(zone.spec.domain, changed.spec.domain)))),
      // The other kinds' updates that can change records: not the status writes on a VM's way to Running, nor a
      // Subnet's count of used addresses (each queued every zone of the namespace for a full pass).
      watchOf(informers.virtualMachines, (vm) => zonesIn(vm.metadata.namespace, (zone) => !!auto(zone).virtualMachines), vmRecordsChanged),
      watchOf(informers.loadBalancers, (lb) => zonesIn(lb.metadata.namespace, (zone) => !!auto(zone).loadBalancers), specDeletionOrStatusChanged<LoadBalancer & KubeObject>('vipAddress')),
      // A Port tells which subnet a VM's address is on, and is a name itself.
      watchOf(informers.ports, (port) => zonesIn(port.metadata.namespace, (zone) => !!(auto(zone).ports || auto(zone).virtualMachines)), specDeletionOrStatusChanged<Port & KubeObject>('ipAddress')),
      // A private zone's switches are its Vpc's Subnets (their rows come through the row waiter) and its
      // resolvers their gateways.
      watchOf(informers.subnets, (subnet) => zonesIn(subnet.metadata.namespace, (zone) => zone.spec.vpcRef !== undefined || !!(auto(zone).ports || auto(zone).virtualMachines || auto(zone).loadBalancers)), specDeletionOrStatusChanged<Subnet & KubeObject>('gateway')),
      watchOf(informers.vpcs, (vpc) => zonesIn(vpc.metadata.namespace, (zone) => zone.spec.vpcRef === vpc.metadata.name), specOrDeletionChanged),
    ],
  });
  // A DNS row deleted in OVN by hand (or lost with the database) brings its Zone back.
  let stopRowWatch: (() => void) | undefined;
  const orphans = new PeriodicTask('DNS orphan cleanup', options.orphanCleanupMs ?? 5 * 60_000, async () => {
    await Promise.all([informers.zones.waitForSync(), informers.subnets.waitForSync()]);
    const live = new Set(informers.zones.list().map((zone) => zone.metadata.uid!));
    rows.forgetOwnersExcept(new Set(informers.subnets.list().map((subnet) => subnet.metadata.uid!)));
    if (!deps.ovn.unavailableReason) await deps.ovn.removeOrphans(new Map([['Zone', live]]));
    if (!dns.unavailableReason) await dns.removeOrphans(live);
  }, log);
  return {
    controller,
    // The manager announces them (see ManagedController).
    finalizers: controller.finalizers,
    async start() {
      stopRowWatch = deps.ovn.onOwnedRowRemoved((owner) => {
        const zone = owner.kind === 'Zone' ? informers.zones.get(owner.name, owner.namespace) : undefined;
        if (!zone || zone.metadata.uid !== owner.uid || zone.metadata.deletionTimestamp) return;
        log.info('a DNS row of a live Zone disappeared from OVN; reconciling it again', { namespace: owner.namespace, name: owner.name });
        controller.enqueue({ namespace: owner.namespace, name: owner.name });
      });
      orphans.start(10_000);
      await controller.start();
    },
    async stop() {
      stopRowWatch?.();
      rows.stop();
      orphans.stop();
      await controller.stop();
    },
  };
}
