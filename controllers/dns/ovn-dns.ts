// A private zone as OVN rows: one NB `DNS` row whose `records` map holds the zone's names, attached to the
// `dns_records` of every logical switch of the zone's Vpc, so ovn-controller answers guests on those subnets —
// and only them — from the table. Pure: the Zone controller hands the rows to the Northbound driver.
//
// OVN's DNS answers A, AAAA (one key holds both: "10.0.0.5 fd00::5") and PTR (key "5.0.0.10.in-addr.arpa").
// A CNAME by hand whose target is a name of the same zone is answered with the target's addresses; every other
// set (TXT, MX, SRV, NS, wildcards, CNAMEs leaving the zone) cannot be served by OVN and is listed as unserved.
// OVN answers with TTL 3600 whatever the record says (measured on OVN 23.03).
import type { DesiredRow } from '../../agents/ovn-nb/index.ts';
import type { RecordSet } from './records.ts';

const bare = (name: string) => name.replace(/\.$/, '').toLowerCase();

export interface OvnDnsPlan {
  records: Record<string, string>;
  /** "<name> <type>" of every set OVN cannot answer. */
  unserved: string[];
}

export function ovnDnsRecords(sets: readonly RecordSet[]): OvnDnsPlan {
  const addresses = new Map<string, string[]>();
  const records: Record<string, string> = {};
  const unserved: string[] = [];
  for (const set of sets) {
    if ((set.type === 'A' || set.type === 'AAAA') && !set.name.startsWith('*')) addresses.set(bare(set.name), [...(addresses.get(bare(set.name)) ?? []), ...set.values]);
  }
  for (const set of sets) {
    if ((set.type === 'A' || set.type === 'AAAA') && !set.name.startsWith('*')) continue;
    if (set.type === 'PTR' && set.name.endsWith('.in-addr.arpa.') && set.values.length === 1) {
      records[bare(set.name)] = bare(set.values[0]!);
    } else if (set.type === 'CNAME' && addresses.has(bare(set.values[0]!)) && !set.name.startsWith('*')) {
      addresses.set(bare(set.name), addresses.get(bare(set.values[0]!))!);
    } else {
      unserved.push(`${set.name} ${set.type}`);
    }
  }
  for (const [name, values] of addresses) records[name] = values.join(' ');
  return { records, unserved };
}

/** The rows a private zone owns: its DNS row, in every given switch's dns_records. */
export function privateZoneRows(records: Record<string, string>, switchOwnerUids: readonly string[]): DesiredRow[] {
  return [
    {
      table: 'DNS',
      columns: { records },
      memberOf: switchOwnerUids.map((uid) => ({ parent: { table: 'Logical_Switch', owner: uid }, column: 'dns_records' })),
    },
  ];
}
