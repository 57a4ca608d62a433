// Zone → records served. The one reconcile shape (LifecycleReconciler): compute the zone's record sets from the
// Zone and the project's objects (records.ts, pure), decide whether this Zone may serve its domain
// (claims.ts), then hand them to the system that answers:
//   public zone (no vpcRef): PowerDNS, through the DNS driver (agents/pdns) — one PATCH of the difference,
//     serial bumped by PowerDNS; looked at again every resync, so records changed behind our back come back;
//   private zone: OVN's native DNS, one DNS row on every switch of the Vpc (ovn-dns.ts), through the
//     Northbound driver, whose row-removed events bring the Zone back when a row is deleted by hand.
// Deletion removes the zone from PowerDNS (only if it carries this Zone's marker) or the DNS row from OVN.
// Status: Ready and Programmed, serial, recordCount, records with their sources, nameservers, unservedRecords.
import { apexRRsets, DnsRequestError, DnsUnavailableError, DomainNotOwnedError, type DnsDriver, type DesiredZone } from '../../agents/pdns/index.ts';
import type { NorthboundDriver } from '../../agents/ovn-nb/index.ts';
import { ZoneResource, type Zone } from '../../apis/dns/v1alpha1/index.ts';
import { zoneSpecProblems } from '../../apis/dns/v1alpha1/validation.ts';
import type { ApiClient } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { LifecycleReconciler, notReady, ready, type Outcome, type Readiness } from '../runtime/lifecycle.ts';
import { TerminalError } from '../runtime/reconciler.ts';
import { ownerOfObject, withOvn } from '../network/deps.ts';
import type { RowWaiters } from '../network/row-waiters.ts';
import { domainConflict } from './claims.ts';
import type { DnsInformers } from './informers.ts';
import { ovnDnsRecords, privateZoneRows } from './ovn-dns.ts';
import { zoneRecordSets, type RecordSet } from './records.ts';

export const DNS_FINALIZER = 'dns.photoncloud.io/records';
/** At most this many record sets are listed in status (recordCount has them all). */
const STATUS_RECORDS = 1000;
const DNS_RETRY_MS = 5000;

export interface ZoneDeps {
  client: ApiClient;
  dns: DnsDriver;
  ovn: NorthboundDriver;
  /** Subnets' switches waited for: one put back by repair attaches the zone again at once. */
  rows: RowWaiters;
  /** Names of the authoritative servers: SOA MNAME and apex NS of public zones. */
  nameservers: string[];
  /** Where the authoritative server answers (host:port), for public zones' status. */
  nameserverAddresses: string[];
  /** How often a public zone is compared with PowerDNS again (drift repair). */
  resyncMs: number;
}

export type ZoneObject = Zone & KubeObject;

export function zoneReconciler(deps: ZoneDeps, informers: DnsInformers): LifecycleReconciler<ZoneObject> {
  const viewOf = (zone: ZoneObject) => {
    const namespace = zone.metadata.namespace;
    return {
      zone,
      virtualMachines: informers.virtualMachines.list(namespace),
      loadBalancers: informers.loadBalancers.list(namespace),
      ports: informers.ports.list(namespace),
      subnets: informers.subnets.list(namespace),
      nameservers: deps.nameservers,
    };
  };
  const programmed = (readiness: Readiness) => [{ type: 'Programmed', status: readiness.ready ? ('True' as const) : ('False' as const), reason: readiness.reason, message: readiness.message }];
  const outcome = (readiness: Readiness, status: Record<string, unknown>, requeueAfterMs?: number): Outcome => ({ readiness, status, conditions: programmed(readiness), ...(requeueAfterMs ? { requeueAfterMs } : {}) });

  const applyPublic = async (zone: ZoneObject, sets: RecordSet[]): Promise<Outcome> => {
    const desired: DesiredZone = {
      domain: zone.spec.domain,
      nameservers: deps.nameservers,
      email: zone.spec.email ?? `hostmaster@${zone.spec.domain}`,
      ttl: zone.spec.ttlSeconds ?? 300,
      rrsets: sets.map(({ name, type, ttl, values }) => ({ name, type, ttl, records: values })),
    };
    // Status lists the apex sets as the driver serves them (the SOA with the serial once known).
    const statusOf = (serial?: number) => {
      const listed: RecordSet[] = [...apexRRsets(desired, serial).map(({ name, type, ttl, records }) => ({ name, type, ttl, values: records, source: 'zone' })), ...sets];
      return { recordCount: listed.length, records: listed.slice(0, STATUS_RECORDS).map(statusRecord), nameservers: deps.nameservers, nameserverAddresses: deps.nameserverAddresses, ...(serial ? { serial } : {}) };
    };
    try {
      const applied = await deps.dns.apply(ownerOfObject(zone), desired);
      const message = `served by the DNS server with serial ${applied.serial}${applied.changes ? ` (${applied.changes} record sets changed)` : ''}`;
      return outcome(ready('Programmed', message), statusOf(applied.serial), deps.resyncMs);
    } catch (error) {
      const base = statusOf();
      if (error instanceof DnsUnavailableError) return outcome(notReady('DNSUnavailable', error.message), base, DNS_RETRY_MS);
      if (error instanceof DomainNotOwnedError) return outcome(notReady('DomainNotOwned', error.message), base, deps.resyncMs);
      if (error instanceof DnsRequestError) return outcome(notReady('RecordsRejected', error.message), base, deps.resyncMs);
      throw error;
    }
  };

  const applyPrivate = async (zone: ZoneObject, sets: RecordSet[]): Promise<Outcome> => {
    const { records, unserved } = ovnDnsRecords(sets);
    const status = { recordCount: sets.length, records: sets.slice(0, STATUS_RECORDS).map(statusRecord), unservedRecords: unserved.slice(0, STATUS_RECORDS) };
    const vpc = informers.vpcs.get(zone.spec.vpcRef!, zone.metadata.namespace);
    if (!vpc) return outcome(notReady('VpcNotFound', `Vpc ${zone.spec.vpcRef} does not exist yet`), status);
    const subnets = informers.subnets.list(zone.metadata.namespace).filter((subnet) => subnet.spec.vpcRef === vpc.metadata.name && !subnet.metadata.deletionTimestamp);
    return withOvn(deps.ovn, async (): Promise<Outcome> => {
      // Switches not programmed yet are left out; their Subnet's change (a new one) or the switch appearing
      // (one put back by repair) brings the Zone back.
      const switches = subnets.filter((subnet) => deps.rows.has({ table: 'Logical_Switch', owner: subnet.metadata.uid! }, zone));
      await deps.ovn.apply(ownerOfObject(zone), privateZoneRows(records, switches.map((subnet) => subnet.metadata.uid!)));
      const gateways = switches.map((subnet) => subnet.status?.gateway).filter((gateway): gateway is string => !!gateway);
      Object.assign(status, { nameserverAddresses: [...new Set(gateways)].sort() });
      const names = Object.keys(records).length;
      const where = switches.length === 0 ? `Vpc ${vpc.metadata.name} has no subnet programmed yet` : `answered by OVN on ${switches.length} subnet${switches.length === 1 ? '' : 's'} of Vpc ${vpc.metadata.name}`;
      const caveat = unserved.length ? `; ${unserved.length} record set${unserved.length === 1 ? '' : 's'} OVN cannot answer (status.unservedRecords)` : '';
      // Looked at again every resync too: a row taken off a switch by hand raises no row-removed event.
      return outcome(ready('Programmed', `${names} name${names === 1 ? '' : 's'} ${where}${caveat}`), status, deps.resyncMs);
    }, status);
  };

  return new LifecycleReconciler<ZoneObject>({
    client: deps.client,
    resource: ZoneResource,
    informer: informers.zones,
    finalizer: DNS_FINALIZER,
    fieldManager: 'zone-controller',
    apply: async (zone) => {
      const [problem] = zoneSpecProblems(zone.spec);
      if (problem) throw new TerminalError('InvalidRecords', `${problem.field}: ${problem.message}`);
      const conflict = domainConflict(zone, informers.zones.list());
      if (conflict) {
        // Never programmed while another zone holds the name; anything a past pass made goes.
        const left = await removeServed(zone).catch(() => undefined);
        return outcome(notReady(conflict.reason, conflict.message), { recordCount: 0, records: [] }, left === 'done' ? undefined : DNS_RETRY_MS);
      }
      const sets = zoneRecordSets(viewOf(zone));
      return zone.spec.vpcRef === undefined ? applyPublic(zone, sets) : applyPrivate(zone, sets);
    },
    cleanup: (zone) => removeServed(zone),
  });

  async function removeServed(zone: ZoneObject): Promise<Outcome | 'done'> {
    if (zone.spec.vpcRef !== undefined) return withOvn(deps.ovn, async () => (await deps.ovn.apply(ownerOfObject(zone), []), 'done' as const));
    try {
      await deps.dns.remove(ownerOfObject(zone), zone.spec.domain);
      return 'done';
    } catch (error) {
      if (error instanceof DnsUnavailableError) return { readiness: notReady('DNSUnavailable', error.message), requeueAfterMs: DNS_RETRY_MS };
      throw error;
    }
  }
}

function statusRecord(set: RecordSet) {
  return { name: set.name, type: set.type, values: set.values.slice(0, 100), source: set.source };
}
