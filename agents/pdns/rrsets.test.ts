import { describe, expect, test } from '@jest/globals';
import { allRRsets, apexRRsets, canonicalContent, rname, rrsetChanges, soaSerial, type DesiredZone, type RRset } from './rrsets.ts';

const zone = (rrsets: RRset[] = []): DesiredZone => ({
  domain: 'acme.test.',
  nameservers: ['ns1.acme.test.', 'ns2.acme.test.'],
  email: 'hostmaster@acme.test',
  ttl: 300,
  rrsets,
});
const set = (name: string, type: string, records: string[], ttl = 300): RRset => ({ name, type, ttl, records });
const soa = (serial: number, email = 'hostmaster.acme.test.') => set('acme.test.', 'SOA', [`ns1.acme.test. ${email} ${serial} 10800 3600 604800 300`]);

describe('rname', () => {
  test('the local part becomes the first label, its dots escaped; the domain is lower case and fully qualified', () => {
    expect(rname('hostmaster@acme.test')).toBe('hostmaster.acme.test.');
    expect(rname('host.master@acme.test')).toBe('host\\.master.acme.test.');
    expect(rname('dns@Acme.Test.')).toBe('dns.acme.test.');
  });
});

describe('apexRRsets and allRRsets', () => {
  test('the apex SOA names the first nameserver and the email; NS lists every nameserver', () => {
    expect(apexRRsets(zone(), 7)).toEqual([
      set('acme.test.', 'SOA', ['ns1.acme.test. hostmaster.acme.test. 7 10800 3600 604800 300']),
      set('acme.test.', 'NS', ['ns1.acme.test.', 'ns2.acme.test.']),
    ]);
  });

  test('allRRsets adds the apex sets to the zone\'s, in a stable order', () => {
    const www = set('www.acme.test.', 'A', ['10.0.0.1']);
    const all = allRRsets(zone([www]));
    expect(all.map((s) => `${s.name} ${s.type}`)).toEqual(['acme.test. NS', 'acme.test. SOA', 'www.acme.test. A']);
    expect(allRRsets(zone([www]))).toEqual(all);
  });

  test('allRRsets leaves out the default apex NS when the zone gives its own', () => {
    const own = set('acme.test.', 'NS', ['ns.elsewhere.example.'], 3600);
    const all = allRRsets(zone([own]));
    expect(all.filter((s) => s.type === 'NS')).toEqual([own]);
    expect(all.filter((s) => s.type === 'SOA')).toHaveLength(1);
    // An NS below the apex is a delegation and leaves the apex NS alone.
    expect(allRRsets(zone([set('sub.acme.test.', 'NS', ['ns.other.example.'])])).filter((s) => s.type === 'NS')).toHaveLength(2);
  });
});

describe('soaSerial and canonicalContent', () => {
  test('soaSerial reads the third field, else 0', () => {
    expect(soaSerial('ns1.acme.test. hostmaster.acme.test. 2024010101 10800 3600 604800 300')).toBe(2024010101);
    expect(soaSerial(undefined)).toBe(0);
    expect(soaSerial('garbage')).toBe(0);
  });

  test('names lower case, AAAA compressed, TXT untouched', () => {
    expect(canonicalContent('CNAME', ' Web.ACME.test. ')).toBe('web.acme.test.');
    expect(canonicalContent('MX', '10   Mail.acme.test.')).toBe('10 mail.acme.test.');
    expect(canonicalContent('AAAA', 'FD00:0:0::1')).toBe('fd00::1');
    expect(canonicalContent('TXT', '"Mixed  Case"')).toBe('"Mixed  Case"');
  });
});

describe('rrsetChanges', () => {
  const current = [soa(2024010105), set('acme.test.', 'NS', ['ns1.acme.test.', 'ns2.acme.test.']), set('www.acme.test.', 'A', ['10.0.0.1', '10.0.0.2'])];

  test('identical sets: no changes, whatever the order of sets or records', () => {
    expect(rrsetChanges(current, current)).toEqual([]);
    expect(rrsetChanges(current, [...current].reverse().map((s) => ({ ...s, records: [...s.records].reverse() })))).toEqual([]);
  });

  test('data written differently but meaning the same: no change', () => {
    expect(rrsetChanges([set('v6.acme.test.', 'AAAA', ['fd00::1'])], [set('v6.acme.test.', 'AAAA', ['fd00:0::1'])])).toEqual([]);
    expect(rrsetChanges([set('www.acme.test.', 'CNAME', ['web.acme.test.'])], [set('www.acme.test.', 'CNAME', ['Web.ACME.test.'])])).toEqual([]);
  });

  test('a changed TTL or changed data replaces the set', () => {
    const desired = [current[0]!, current[1]!, set('www.acme.test.', 'A', ['10.0.0.1', '10.0.0.2'], 60)];
    expect(rrsetChanges(current, desired)).toEqual([
      { name: 'www.acme.test.', type: 'A', changetype: 'REPLACE', ttl: 60, records: [{ content: '10.0.0.1', disabled: false }, { content: '10.0.0.2', disabled: false }] },
    ]);
    const changedData = [current[0]!, current[1]!, set('www.acme.test.', 'A', ['10.0.0.1'])];
    expect(rrsetChanges(current, changedData)).toEqual([expect.objectContaining({ name: 'www.acme.test.', type: 'A', changetype: 'REPLACE', records: [{ content: '10.0.0.1', disabled: false }] })]);
  });

  test('a set missing from current is replaced in; an extra set in current is deleted', () => {
    const extra = set('old.acme.test.', 'TXT', ['"bye"']);
    expect(rrsetChanges([...current, extra], current)).toEqual([{ name: 'old.acme.test.', type: 'TXT', changetype: 'DELETE' }]);
    expect(rrsetChanges(current, [...current, extra])).toEqual([{ name: 'old.acme.test.', type: 'TXT', changetype: 'REPLACE', ttl: 300, records: [{ content: '"bye"', disabled: false }] }]);
    // Same name, other type: its own set.
    expect(rrsetChanges([set('www.acme.test.', 'AAAA', ['fd00::1'])], [])).toEqual([{ name: 'www.acme.test.', type: 'AAAA', changetype: 'DELETE' }]);
  });

  test('an SOA that differs only in serial is left alone', () => {
    expect(rrsetChanges([soa(2024010105)], [soa(0)])).toEqual([]);
  });

  test('an SOA whose email changed is replaced, keeping the current serial', () => {
    expect(rrsetChanges([soa(2024010105)], [soa(0, 'dns.acme.test.')])).toEqual([
      { name: 'acme.test.', type: 'SOA', changetype: 'REPLACE', ttl: 300, records: [{ content: 'ns1.acme.test. dns.acme.test. 2024010105 10800 3600 604800 300', disabled: false }] },
    ]);
  });

  test('the whole desired zone against what PowerDNS holds after creating it: no changes', () => {
    const desired = zone([set('www.acme.test.', 'A', ['10.0.0.1', '10.0.0.2'])]);
    expect(rrsetChanges(current, allRRsets(desired))).toEqual([]);
  });
});
