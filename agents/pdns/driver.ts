// The DNS driver public zones are served through: PowerDNS Authoritative, over its HTTP API (api.ts). The
// Zone controller describes a zone's whole content as plain data (DesiredZone, rrsets.ts); apply() reads
// what PowerDNS holds, computes the difference and sends it as one PATCH (or nothing when they match), so
// records deleted or changed behind our back are restored by the next reconcile. PowerDNS bumps the SOA
// serial on every change (soa_edit_api INCREASE); zones are created as kind Master, ready to NOTIFY
// secondaries listed in PowerDNS's own configuration (also-notify).
//
// Ownership: every zone PhotonCloud creates carries its Zone's UID in the zone's `account` field
// (`photon:<uid without dashes>`, within the 40 characters the SQL backends keep). A zone without that
// marker is never changed or deleted: a domain PowerDNS already serves for someone else is reported, and
// removeOrphans() deletes only marked zones whose Zone no longer exists.
import type { Logger } from '../../lib/logging.ts';
import { DnsRequestError, DnsUnavailableError, PowerDnsApi } from './api.ts';
import { allRRsets, rrsetChanges, soaSerial, type DesiredZone } from './rrsets.ts';

/** Who a zone belongs to in the API (a Zone object). */
export interface DnsOwner {
  kind: string;
  namespace?: string;
  name: string;
  uid: string;
}

export interface AppliedZone {
  /** The SOA serial PowerDNS now serves. */
  serial: number;
  /** Record sets changed by this call (0: PowerDNS already matched). */
  changes: number;
}

/** What the Zone controller needs from an authoritative DNS server. */
export interface DnsDriver {
  /** Why the server cannot be programmed right now, or undefined while it answers. */
  readonly unavailableReason: string | undefined;
  /** Makes the zone exactly `zone` (creating it if missing); throws DomainNotOwnedError for a zone someone else holds. */
  apply(owner: DnsOwner, zone: DesiredZone): Promise<AppliedZone>;
  /** Deletes the owner's zone for `domain`, if it has one there. */
  remove(owner: DnsOwner, domain: string): Promise<void>;
  /** Deletes every PhotonCloud-marked zone whose owner UID is not in `liveUids`; resolves with how many. */
  removeOrphans(liveUids: ReadonlySet<string>): Promise<number>;
}

/** PowerDNS serves the domain, but not for this Zone (another system's zone, or another Zone's). */
export class DomainNotOwnedError extends Error {
  constructor(readonly domain: string) {
    super(`the DNS server already serves ${domain} and it is not this Zone's (it was not created by PhotonCloud for this object)`);
    this.name = 'DomainNotOwnedError';
  }
}

export { DnsRequestError, DnsUnavailableError };

const MARKER_PREFIX = 'photon:';
export const ownershipMarker = (uid: string) => `${MARKER_PREFIX}${uid.replace(/-/g, '').toLowerCase()}`;

export class PowerDnsDriver implements DnsDriver {
  private lastError: string | undefined;

  constructor(
    private readonly api: PowerDnsApi,
    private readonly log: Logger,
  ) {}

  get unavailableReason(): string | undefined {
    return this.lastError;
  }

  apply(owner: DnsOwner, zone: DesiredZone): Promise<AppliedZone> {
    return this.tracked(async () => {
      const marker = ownershipMarker(owner.uid);
      const current = await this.api.getZone(zone.domain);
      if (!current) {
        const rrsets = allRRsets(zone, 1).map((set) => ({ name: set.name, type: set.type, changetype: 'REPLACE' as const, ttl: set.ttl, records: set.records.map((content) => ({ content, disabled: false as const })) }));
        try {
          await this.api.createZone({ name: zone.domain, kind: 'Master', account: marker, soa_edit_api: 'INCREASE', nameservers: [], rrsets });
        } catch (error) {
          // Created meanwhile (a lost reply to our own create, or a race): the next pass compares and owns or refuses it.
          if (error instanceof DnsRequestError && error.status === 409) throw new DnsUnavailableError(`${zone.domain} appeared while it was being created; retrying`);
          throw error;
        }
        // Answers given before the zone existed (REFUSED, from the packet cache) must not outlive its creation.
        await this.api.flushCache(zone.domain);
        this.log.info('created DNS zone', { zone: zone.domain, owner: `${owner.namespace}/${owner.name}` });
        const created = await this.api.getZone(zone.domain);
        return { serial: serialOf(created), changes: rrsets.length };
      }
      if (current.account !== marker) throw new DomainNotOwnedError(zone.domain);
      const changes = rrsetChanges(current.rrsets, allRRsets(zone));
      if (changes.length === 0) return { serial: serialOf(current), changes: 0 };
      await this.api.patchZone(zone.domain, changes);
      const after = await this.api.getZone(zone.domain);
      return { serial: serialOf(after), changes: changes.length };
    });
  }

  remove(owner: DnsOwner, domain: string): Promise<void> {
    return this.tracked(async () => {
      const current = await this.api.getZone(domain);
      if (!current || current.account !== ownershipMarker(owner.uid)) return;
      await this.api.deleteZone(domain);
      this.log.info('deleted DNS zone', { zone: domain, owner: `${owner.namespace}/${owner.name}` });
    });
  }

  removeOrphans(liveUids: ReadonlySet<string>): Promise<number> {
    return this.tracked(async () => {
      const live = new Set([...liveUids].map(ownershipMarker));
      const orphans = (await this.api.listZones()).filter((zone) => zone.account?.startsWith(MARKER_PREFIX) && !live.has(zone.account));
      for (const zone of orphans) await this.api.deleteZone(zone.name);
      if (orphans.length > 0) this.log.info('deleted DNS zones whose Zone no longer exists', { zones: orphans.map((zone) => zone.name) });
      return orphans.length;
    });
  }

  /** Runs a call, remembering whether the server was reachable. */
  private async tracked<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.lastError = undefined;
      return result;
    } catch (error) {
      if (error instanceof DnsUnavailableError) this.lastError = error.message;
      throw error;
    }
  }
}

/** Stands in when no DNS server is configured: every public zone says so. */
export class UnconfiguredDnsDriver implements DnsDriver {
  readonly unavailableReason = 'no DNS server is configured (photon controller-manager --pdns-url and --pdns-api-key-file)';
  apply(): Promise<AppliedZone> {
    return Promise.reject(new DnsUnavailableError(this.unavailableReason));
  }
  remove(): Promise<void> {
    return Promise.reject(new DnsUnavailableError(this.unavailableReason));
  }
  removeOrphans(): Promise<number> {
    return Promise.resolve(0);
  }
}

const serialOf = (zone: { serial?: number; rrsets?: Array<{ type: string; records: string[] }> } | undefined): number => {
  if (!zone) return 0;
  if (typeof zone.serial === 'number' && zone.serial > 0) return zone.serial;
  const soa = zone.rrsets?.find((set) => set.type === 'SOA')?.records[0];
  return soaSerial(soa);
};
