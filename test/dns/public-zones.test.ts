// Public zones on a real PowerDNS, applied with the real kubectl and answered to the real dig: every record
// type, the SOA serial rising with each change, deletion, records restored after a hand edit in PowerDNS,
// zones PhotonCloud did not create left alone, and per-type validation refused with 422 naming the field.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ZoneResource, type Zone } from '../../apis/dns/v1alpha1/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import { kubectlOk } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';
import { getZone, namespace, NAMESERVERS, startDnsEnv, waitZone, zone, type DnsEnv } from './harness.ts';

const yaml = (object: object) => JSON.stringify(object);

describe('public zones on PowerDNS', () => {
  let env: DnsEnv;
  const api = (method: string, path: string, body?: object) => env.pdns.api(method, path, body);
  const serial = async (domain: string) => Number((await env.pdns.dig(domain, 'SOA'))[0]?.split(' ')[2]);

  beforeAll(async () => {
    env = await startDnsEnv();
    await namespace(env, 'acme');
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('answers every record type of a zone applied with kubectl, with SOA and NS from configuration', async () => {
    const manifest = zone('acme', 'public', {
      domain: 'acme.test.',
      ttlSeconds: 120,
      records: [
        { name: 'www', type: 'A', values: ['192.0.2.10', '192.0.2.11'] },
        { name: 'www', type: 'AAAA', values: ['2001:db8:0::10'] },
        { name: 'web', type: 'CNAME', values: ['www.acme.test.'] },
        { name: '@', type: 'TXT', ttlSeconds: 3600, values: ['v=spf1 -all', 'say "hello"'] },
        { name: '@', type: 'MX', values: ['10 mail.acme.test.', '20 backup.example.org.'] },
        { name: '_ldap._tcp', type: 'SRV', values: ['10 5 389 ldap.acme.test.'] },
        { name: '10.reverse', type: 'PTR', values: ['www.acme.test.'] },
        { name: 'sub', type: 'NS', values: ['ns.elsewhere.example.'] },
        { name: '*.dev', type: 'A', values: ['192.0.2.99'] },
      ],
    });
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: yaml(manifest) }));
    const ready = await waitZone(env, 'acme', 'public', 'True');
    expect(findCondition(ready.status?.conditions, 'Programmed')?.status).toBe('True');
    expect(ready.status?.nameservers).toEqual(NAMESERVERS);
    expect(ready.status?.nameserverAddresses).toEqual([`127.0.0.1:${env.pdns.port}`]);
    expect(ready.status?.serial).toBeGreaterThan(0);
    // 9 sets by hand + SOA + NS.
    expect(ready.status?.recordCount).toBe(11);
    expect(ready.status?.records).toEqual(expect.arrayContaining([
      { name: 'www.acme.test.', type: 'A', values: ['192.0.2.10', '192.0.2.11'], source: 'spec' },
      { name: 'acme.test.', type: 'NS', values: NAMESERVERS, source: 'zone' },
    ]));

    const { dig } = env.pdns;
    expect((await dig('www.acme.test', 'A')).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    expect(await dig('www.acme.test', 'AAAA')).toEqual(['2001:db8::10']);
    expect(await dig('web.acme.test', 'CNAME')).toEqual(['www.acme.test.']);
    expect((await dig('acme.test', 'TXT')).sort()).toEqual(['"say \\"hello\\""', '"v=spf1 -all"']);
    expect((await dig('acme.test', 'MX')).sort()).toEqual(['10 mail.acme.test.', '20 backup.example.org.']);
    expect(await dig('_ldap._tcp.acme.test', 'SRV')).toEqual(['10 5 389 ldap.acme.test.']);
    expect(await dig('10.reverse.acme.test', 'PTR')).toEqual(['www.acme.test.']);
    expect(await dig('anything.dev.acme.test', 'A')).toEqual(['192.0.2.99']);
    expect((await dig('acme.test', 'NS')).sort()).toEqual(NAMESERVERS);
    const [soa] = await dig('acme.test', 'SOA');
    expect(soa).toMatch(/^ns1\.photon\.test\. hostmaster\.acme\.test\. \d+ /);
    // The delegation is a referral, not an answer; TCP answers as UDP does.
    const referral = await env.pdns.digFull('host.sub.acme.test', 'A', '+norecurse');
    expect(referral.stdout).toMatch(/AUTHORITY SECTION:\s*\nsub\.acme\.test\.\s+\d+\s+IN\s+NS\s+ns\.elsewhere\.example\./);
    expect(await dig('+tcp', 'www.acme.test', 'AAAA')).toEqual(['2001:db8::10']);
    const full = await env.pdns.digFull('www.acme.test', 'A');
    expect(full.stdout).toMatch(/flags: qr aa/); // authoritative
  });

  it('answers an update with a higher serial, and a deleted zone is no longer served', async () => {
    await env.client.create(ZoneResource, zone('acme', 'changing', { domain: 'changing.test.', records: [{ name: 'app', type: 'A', values: ['192.0.2.1'] }] }) as unknown as Zone);
    const first = await waitZone(env, 'acme', 'changing', 'True');
    const before = await serial('changing.test');
    expect(before).toBe(first.status?.serial);
    expect(await env.pdns.dig('app.changing.test', 'A')).toEqual(['192.0.2.1']);

    kubectlOk(await env.api.kubectl(['patch', 'zone', 'changing', '-n', 'acme', '--type=merge', '-p', yaml({ spec: { records: [{ name: 'app', type: 'A', values: ['192.0.2.2'] }] } })]));
    const started = Date.now();
    await waitFor('the new address answered', async () => (await env.pdns.dig('app.changing.test', 'A')).join() === '192.0.2.2', { timeoutMs: 10_000, intervalMs: 50 });
    const answeredMs = Date.now() - started;
    expect(await serial('changing.test')).toBeGreaterThan(before);
    const updated = await waitZone(env, 'acme', 'changing', 'True');
    expect(updated.status?.serial).toBeGreaterThan(before);
    // Recorded for the reader; the bench measures it properly (hack/bench/dns.ts).
    console.log(`zone update answered after ${answeredMs} ms`);

    kubectlOk(await env.api.kubectl(['delete', 'zone', 'changing', '-n', 'acme', '--wait=true']));
    const gone = await env.pdns.digFull('app.changing.test', 'A');
    expect(gone.stdout).toMatch(/status: REFUSED/);
    expect((await (await api('GET', '/zones')).json()) as Array<{ name: string }>).not.toContainEqual(expect.objectContaining({ name: 'changing.test.' }));
  });

  it('restores records deleted or changed in PowerDNS by hand within the resync', async () => {
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: yaml(zone('acme', 'drift', { domain: 'drift.test.', records: [{ name: 'a', type: 'A', values: ['192.0.2.5'] }, { name: 'b', type: 'TXT', values: ['keep me'] }] })) }));
    await waitZone(env, 'acme', 'drift', 'True');
    // The resync here is 1 s: on a loaded machine it can repair the zone before a dig sees the tampering. Tamper
    // until a dig has seen it (the repair below must then come from the controller, not from a lost race).
    let seenTampered = false;
    for (let attempt = 0; attempt < 5 && !seenTampered; attempt++) {
      const patch = await api('PATCH', '/zones/drift.test.', {
        rrsets: [
          { name: 'a.drift.test.', type: 'A', changetype: 'DELETE' },
          { name: 'b.drift.test.', type: 'TXT', ttl: 5, changetype: 'REPLACE', records: [{ content: '"tampered"', disabled: false }] },
          { name: 'extra.drift.test.', type: 'A', ttl: 5, changetype: 'REPLACE', records: [{ content: '203.0.113.1', disabled: false }] },
        ],
      });
      expect(patch.status).toBe(204);
      seenTampered = (await env.pdns.dig('a.drift.test', 'A')).length === 0;
    }
    expect(seenTampered).toBe(true);
    await waitFor('records restored', async () => (await env.pdns.dig('a.drift.test', 'A')).join() === '192.0.2.5', { timeoutMs: 15_000, intervalMs: 200 });
    await waitFor('TXT restored', async () => (await env.pdns.dig('b.drift.test', 'TXT')).join() === '"keep me"', { timeoutMs: 15_000, intervalMs: 200 });
    await waitFor('the stray record removed', async () => (await env.pdns.dig('extra.drift.test', 'A')).length === 0, { timeoutMs: 15_000, intervalMs: 200 });
  });

  it('never touches a zone PowerDNS serves for someone else, and removes marked zones no Zone owns', async () => {
    // An operator's own zone (no PhotonCloud marker): a Zone for that domain is refused, the zone untouched.
    const theirs = await api('POST', '/zones', { name: 'theirs.test.', kind: 'Native', nameservers: ['ns.theirs.test.'], rrsets: [{ name: 'x.theirs.test.', type: 'A', ttl: 60, changetype: 'REPLACE', records: [{ content: '198.51.100.1', disabled: false }] }] });
    expect(theirs.status).toBe(201);
    kubectlOk(await env.api.kubectl(['apply', '-f', '-'], { stdin: yaml(zone('acme', 'theirs', { domain: 'theirs.test.', records: [{ name: 'x', type: 'A', values: ['192.0.2.66'] }] })) }));
    const refused = await waitZone(env, 'acme', 'theirs', 'False', 'DomainNotOwned');
    expect(findCondition(refused.status?.conditions, 'Ready')?.message).toContain('not created by PhotonCloud');
    expect(await env.pdns.dig('x.theirs.test', 'A')).toEqual(['198.51.100.1']);
    kubectlOk(await env.api.kubectl(['delete', 'zone', 'theirs', '-n', 'acme', '--wait=true']));
    expect(await env.pdns.dig('x.theirs.test', 'A')).toEqual(['198.51.100.1']);

    // A zone carrying PhotonCloud's marker for a Zone that does not exist (left by a crash): removed.
    const orphan = await api('POST', '/zones', { name: 'orphan.test.', kind: 'Master', account: 'photon:00000000000000000000000000000000', nameservers: ['ns1.photon.test.'], rrsets: [] });
    expect(orphan.status).toBe(201);
    await waitFor('the orphaned zone removed', async () => !((await (await api('GET', '/zones')).json()) as Array<{ name: string }>).some((listed) => listed.name === 'orphan.test.'), { timeoutMs: 15_000, intervalMs: 250 });
    expect(await env.pdns.dig('x.theirs.test', 'A')).toEqual(['198.51.100.1']);
  });

  it('refuses records that are wrong for their type with 422 naming the field', async () => {
    const bad = (records: object[]) => env.api.kubectl(['apply', '-f', '-'], { stdin: yaml(zone('acme', 'bad', { domain: 'bad.test.', records })) });
    const cases: Array<[object[], string]> = [
      [[{ name: 'a', type: 'A', values: ['10.0.0.300'] }], 'spec.records[0].values[0]'],
      [[{ name: 'a', type: 'AAAA', values: ['10.0.0.1'] }], 'spec.records[0].values[0]'],
      [[{ name: 'ok', type: 'A', values: ['10.0.0.1'] }, { name: 'm', type: 'MX', values: ['mail.bad.test.'] }], 'spec.records[1].values[0]'],
      [[{ name: 's', type: 'SRV', values: ['10 5 ldap.bad.test.'] }], 'spec.records[0].values[0]'],
      [[{ name: 'c', type: 'CNAME', values: ['no-trailing-dot.bad.test'] }], 'spec.records[0].values[0]'],
      [[{ name: 'c', type: 'CNAME', values: ['a.bad.test.'] }, { name: 'c', type: 'A', values: ['10.0.0.1'] }], 'spec.records[0].type'],
      [[{ name: 't', type: 'TXT', values: ['line\nbreak'] }], 'spec.records[0].values[0]'],
    ];
    for (const [records, field] of cases) {
      const result = await bad(records);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('is invalid');
      expect(result.stderr).toContain(field);
    }
    await expect(getZone(env, 'acme', 'bad')).rejects.toMatchObject({ status: { code: 404 } });
  });
});
