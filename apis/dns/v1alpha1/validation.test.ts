import { describe, expect, test } from '@jest/globals';
import { absoluteName, recordValueProblem, zoneSpecProblems } from './validation.ts';
import type { ZoneRecord, ZoneSpec } from './zone.ts';

const domain = 'acme.test.';
const spec = (...records: ZoneRecord[]): ZoneSpec => ({ domain, records });
const fields = (s: ZoneSpec) => zoneSpecProblems(s).map((problem) => problem.field);

describe('absoluteName', () => {
  test('"@" is the apex; anything else is prefixed to the domain', () => {
    expect(absoluteName('@', domain)).toBe('acme.test.');
    expect(absoluteName('_sip._tcp', domain)).toBe('_sip._tcp.acme.test.');
  });
});

describe('recordValueProblem', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['A', ['10.0.0.1', '192.168.255.255'], ['10.0.0.300', 'fd00::1', '10.0.0', 'web.acme.test.', '']],
    ['AAAA', ['fd00::1', 'fd00:0::1', '2001:db8::10.0.0.1'], ['10.0.0.1', 'fd00:::1', 'gggg::1', '']],
    ['CNAME', ['web.acme.test.', 'Web.Other.example.'], ['web.acme.test', '.', 'a. b.', '-bad.acme.test.', `${'a'.repeat(64)}.acme.test.`]],
    ['PTR', ['vm1.acme.test.'], ['vm1.acme.test', '10.0.0.1']],
    ['NS', ['ns1.other.example.'], ['ns1.other.example', '.']],
    ['MX', ['10 mail.acme.test.', '0 mail.x.', '65535 mail.x.'], ['mail.x.', '70000 mail.x.', '10 mail.x', '-1 mail.x.', '10 mail.x. extra.']],
    ['SRV', ['10 5 389 ldap.acme.test.', '0 0 0 .'], ['10 5 ldap.acme.test.', '10 5 70000 ldap.acme.test.', '10 5 389 ldap.acme.test']],
    ['TXT', ['v=spf1 -all', '', 'key="value" ~!@#$%^&*()'], ['line one\nline two', 'tab\there', 'bell\x07', 'delete\x7f', 'café']],
  ];
  test.each(cases)('%s accepts good values and refuses bad ones', (type, good, bad) => {
    for (const value of good) expect([value, recordValueProblem(type, value)]).toEqual([value, undefined]);
    for (const value of bad) expect([value, typeof recordValueProblem(type, value)]).toEqual([value, 'string']);
  });

  test('an unsupported type is refused, naming it', () => {
    expect(recordValueProblem('SOA', 'ns1. h. 1 2 3 4 5')).toMatch(/SOA/);
  });

  // An IPv6 zone index ("%eth0") is link-local scope on one host, not record data; PowerDNS refuses it.
  test('AAAA refuses an address with a zone index', () => {
    expect(recordValueProblem('AAAA', 'fe80::1%eth0')).toBeDefined();
  });
});

describe('zoneSpecProblems', () => {
  test('a valid spec with every type yields no problems', () => {
    expect(
      zoneSpecProblems({
        domain,
        records: [
          { name: '@', type: 'MX', values: ['10 mail.acme.test.', '20 backup.other.example.'] },
          { name: '@', type: 'TXT', values: ['v=spf1 -all'] },
          { name: 'web', type: 'A', values: ['10.0.0.5', '10.0.0.6'] },
          { name: 'web', type: 'AAAA', values: ['fd00::5'] },
          { name: 'www', type: 'CNAME', values: ['web.acme.test.'] },
          { name: '*.dev', type: 'A', values: ['10.0.1.1'] },
          { name: '_ldap._tcp', type: 'SRV', values: ['10 5 389 ldap.acme.test.'] },
          { name: '5.0.0', type: 'PTR', values: ['web.acme.test.'] },
          { name: 'sub', type: 'NS', values: ['ns1.other.example.', 'ns2.other.example.'] },
        ],
        delegations: [{ name: 'dev', namespace: 'team-b' }],
      }),
    ).toEqual([]);
  });

  test('no spec or no domain: nothing to say', () => {
    expect(zoneSpecProblems(undefined)).toEqual([]);
  });

  test('each bad value is named by its exact path, with the value', () => {
    const problems = zoneSpecProblems(spec({ name: 'web', type: 'A', values: ['10.0.0.1'] }, { name: 'mail', type: 'MX', values: ['10 mail.x.', 'mail.x.', '70000 mail.x.'] }));
    expect(problems.map(({ field, value }) => [field, value])).toEqual([
      ['spec.records[1].values[1]', 'mail.x.'],
      ['spec.records[1].values[2]', '70000 mail.x.'],
    ]);
    expect(fields(spec({ name: 'a', type: 'A', values: ['10.0.0.1'] }, { name: 'b', type: 'A', values: ['10.0.0.300'] }))).toEqual(['spec.records[1].values[0]']);
  });

  test('a CNAME holds exactly one value and is not at the apex', () => {
    expect(fields(spec({ name: 'www', type: 'CNAME', values: ['a.acme.test.', 'b.acme.test.'] }))).toEqual(['spec.records[0].values']);
    expect(fields(spec({ name: 'www', type: 'CNAME', values: [] }))).toEqual(['spec.records[0].values']);
    expect(fields(spec({ name: '@', type: 'CNAME', values: ['web.other.example.'] }))).toEqual(['spec.records[0].name']);
  });

  test('a CNAME beside another record at the same name is refused on the CNAME\'s type', () => {
    const problems = zoneSpecProblems(spec({ name: 'www', type: 'A', values: ['10.0.0.1'] }, { name: 'www', type: 'CNAME', values: ['web.acme.test.'] }));
    expect(problems).toEqual([expect.objectContaining({ field: 'spec.records[1].type', value: 'CNAME' })]);
    expect(problems[0]?.message).toContain('www.acme.test.');
    // Different names do not conflict.
    expect(fields(spec({ name: 'www', type: 'CNAME', values: ['web.acme.test.'] }, { name: 'web', type: 'A', values: ['10.0.0.1'] }))).toEqual([]);
  });

  test('a wildcard delegation (NS) is refused; a wildcard A is not', () => {
    expect(fields(spec({ name: '*.dev', type: 'NS', values: ['ns1.other.example.'] }))).toEqual(['spec.records[0].name']);
    expect(fields(spec({ name: '*', type: 'NS', values: ['ns1.other.example.'] }))).toEqual(['spec.records[0].name']);
    expect(fields(spec({ name: '*', type: 'A', values: ['10.0.0.1'] }))).toEqual([]);
  });

  test('record names: allowed characters, and not longer than a domain name may be', () => {
    for (const name of ['Web', 'a b', 'www.', '', '-web', 'a..b', 'a.*', 'x.*.y']) expect([name, fields(spec({ name, type: 'A', values: ['10.0.0.1'] }))]).toEqual([name, ['spec.records[0].name']]);
    const label = (n: number) => 'a'.repeat(n);
    // acme.test. is 10 characters: a 243-character name makes a 253-character FQDN (254 with the root dot).
    const longest = [label(60), label(60), label(60), label(60)].join('.');
    expect(absoluteName(longest, domain).length).toBe(254);
    expect(fields(spec({ name: longest, type: 'A', values: ['10.0.0.1'] }))).toEqual([]);
    const tooLong = [label(60), label(60), label(60), label(61)].join('.');
    const problems = zoneSpecProblems(spec({ name: 'ok', type: 'A', values: ['10.0.0.1'] }, { name: tooLong, type: 'A', values: ['10.0.0.1'] }));
    expect(problems).toEqual([expect.objectContaining({ field: 'spec.records[1].name', value: tooLong })]);
    expect(fields(spec({ name: label(64), type: 'A', values: ['10.0.0.1'] }))).toEqual(['spec.records[0].name']);
    expect(fields({ domain, delegations: [{ name: tooLong, namespace: 'b' }] })).toEqual(['spec.delegations[0].name']);
  });

  test('the domain needs two labels, none empty or over 63 characters', () => {
    expect(fields({ domain: 'com.' })).toEqual(['spec.domain']);
    expect(fields({ domain: 'acme..test.' })).toEqual(['spec.domain']);
    expect(fields({ domain: `${'a'.repeat(64)}.test.` })).toEqual(['spec.domain']);
    expect(fields({ domain: 'acme.test.' })).toEqual([]);
  });
});
