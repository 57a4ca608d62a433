// A zone's contents as plain data, and the difference between two versions of it as PowerDNS API rrset
// changes. Pure: the driver (driver.ts) fetches what PowerDNS holds and sends what this computes.
//
// Record data is compared in PowerDNS's canonical presentation (names lower case and fully qualified, AAAA
// compressed, TXT quoted), so an unchanged zone produces no change at all. The SOA's serial is PowerDNS's:
// it is ignored when comparing and kept when the SOA is rewritten, and the API's soa_edit_api bumps it on
// every change.

export interface RRset {
  /** Fully-qualified owner name, lower case, with the trailing dot. */
  name: string;
  type: string;
  ttl: number;
  /** Record data in presentation format, as PowerDNS returns it. */
  records: string[];
}

/** What one Zone object wants PowerDNS to serve. */
export interface DesiredZone {
  /** Fully-qualified, with the trailing dot. */
  domain: string;
  /** Primary nameserver (SOA MNAME) and every NS of the apex, fully qualified. */
  nameservers: string[];
  /** SOA RNAME in email form (hostmaster@acme.test). */
  email: string;
  /** SOA minimum (negative-caching TTL) and the SOA/NS TTL. */
  ttl: number;
  /** Every record set but the apex SOA and NS. */
  rrsets: RRset[];
}

/** A change in the PowerDNS API's PATCH body. */
export interface RRsetChange {
  name: string;
  type: string;
  changetype: 'REPLACE' | 'DELETE';
  ttl?: number;
  records?: Array<{ content: string; disabled: false }>;
}

const SOA_TIMERS = { refresh: 10800, retry: 3600, expire: 604800 };

/** hostmaster@acme.test → hostmaster.acme.test. (dots in the local part escaped, as RFC 1035 says). */
export function rname(email: string): string {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at).replace(/\\/g, '\\\\').replace(/\./g, '\\.');
  return `${local}.${email.slice(at + 1).toLowerCase().replace(/\.?$/, '.')}`;
}

/**
 * The apex sets PowerDNS serves beside the zone's own: the SOA (serial 0 unless given: PowerDNS keeps its own),
 * and the NS of the configured nameservers unless the zone gives its own apex NS set.
 */
export function apexRRsets(zone: DesiredZone, serial = 0): RRset[] {
  const [primary] = zone.nameservers;
  const soa = { name: zone.domain, type: 'SOA', ttl: zone.ttl, records: [`${primary} ${rname(zone.email)} ${serial} ${SOA_TIMERS.refresh} ${SOA_TIMERS.retry} ${SOA_TIMERS.expire} ${zone.ttl}`] };
  const explicitApexNs = zone.rrsets.some((set) => set.name === zone.domain && set.type === 'NS');
  return explicitApexNs ? [soa] : [soa, { name: zone.domain, type: 'NS', ttl: zone.ttl, records: [...zone.nameservers] }];
}

/** Every record set of the zone, apex included, in a stable order. */
export function allRRsets(zone: DesiredZone, serial = 0): RRset[] {
  return [...apexRRsets(zone, serial), ...zone.rrsets].sort(byKey);
}

const keyOf = (set: { name: string; type: string }) => `${set.name}\0${set.type}`;
const byKey = (a: RRset, b: RRset) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0);

/** The SOA's serial field (the third), or 0. */
export function soaSerial(content: string | undefined): number {
  const serial = Number(content?.split(/\s+/)[2]);
  return Number.isFinite(serial) ? serial : 0;
}

const withoutSerial = (content: string) => content.split(/\s+/).filter((_, index) => index !== 2).join(' ');

/** Record data in the form PowerDNS stores and returns it. */
export function canonicalContent(type: string, content: string): string {
  switch (type) {
    case 'AAAA':
      return canonicalIpv6(content);
    case 'TXT':
      return content;
    default:
      return content.trim().replace(/\s+/g, ' ').toLowerCase();
  }
}

function canonicalIpv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}

const sameRecords = (type: string, current: string[], desired: string[]) => {
  const normalise = (records: string[]) => records.map((content) => (type === 'SOA' ? withoutSerial(canonicalContent(type, content)) : canonicalContent(type, content))).sort();
  const [a, b] = [normalise(current), normalise(desired)];
  return a.length === b.length && a.every((value, index) => value === b[index]);
};

/**
 * The changes that turn `current` into `desired`: REPLACE for every set that is missing or differs (in TTL or
 * data), DELETE for every set PowerDNS holds that is not desired. The SOA keeps PowerDNS's serial.
 */
export function rrsetChanges(current: readonly RRset[], desired: readonly RRset[]): RRsetChange[] {
  const existing = new Map(current.map((set) => [keyOf(set), set]));
  const wanted = new Map(desired.map((set) => [keyOf(set), set]));
  const changes: RRsetChange[] = [];
  for (const [key, set] of wanted) {
    const now = existing.get(key);
    if (now && now.ttl === set.ttl && sameRecords(set.type, now.records, set.records)) continue;
    const records = set.type === 'SOA' ? set.records.map((content) => keepSerial(content, soaSerial(now?.records[0]))) : set.records;
    changes.push({ name: set.name, type: set.type, changetype: 'REPLACE', ttl: set.ttl, records: records.map((content) => ({ content, disabled: false })) });
  }
  for (const [key, set] of existing) if (!wanted.has(key)) changes.push({ name: set.name, type: set.type, changetype: 'DELETE' });
  return changes;
}

function keepSerial(content: string, serial: number): string {
  const fields = content.split(/\s+/);
  fields[2] = String(serial);
  return fields.join(' ');
}
