import { describe, expect, it } from '@jest/globals';
import { broadcast, cidrWithin, contains, formatCidr, formatIPv4, overlaps, parseCidr, parseIPv4, parseRange, size, usableRange } from './ipv4.ts';

describe('ipv4', () => {
  it('parses and formats addresses, refusing malformed ones', () => {
    expect(formatIPv4(parseIPv4('10.0.1.254')!)).toBe('10.0.1.254');
    expect(parseIPv4('255.255.255.255')).toBe(2 ** 32 - 1);
    for (const bad of ['10.0.1', '10.0.1.256', '01.2.3.4', 'a.b.c.d', '1.2.3.4.5', '']) expect(parseIPv4(bad)).toBeUndefined();
  });

  it('parses CIDRs, clearing host bits', () => {
    expect(formatCidr(parseCidr('10.0.1.7/24')!)).toBe('10.0.1.0/24');
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0')).toBeUndefined();
    expect(size(parseCidr('10.0.0.0/23')!)).toBe(512);
    expect(formatIPv4(broadcast(parseCidr('10.0.0.0/23')!))).toBe('10.0.1.255');
  });

  it('answers containment and overlap', () => {
    const vpc = parseCidr('10.0.0.0/16')!;
    expect(cidrWithin(parseCidr('10.0.4.0/24')!, vpc)).toBe(true);
    expect(cidrWithin(parseCidr('10.1.0.0/24')!, vpc)).toBe(false);
    expect(cidrWithin(parseCidr('10.0.0.0/8')!, vpc)).toBe(false);
    expect(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.0.128/25')!)).toBe(true);
    expect(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.1.0/24')!)).toBe(false);
    expect(contains(parseCidr('10.0.0.0/24')!, parseIPv4('10.0.0.255')!)).toBe(true);
    expect(contains(parseCidr('10.0.0.0/24')!, parseIPv4('10.0.1.0')!)).toBe(false);
  });

  it('knows usable addresses and ranges', () => {
    const usable = usableRange(parseCidr('10.0.0.0/24')!);
    expect([formatIPv4(usable.first), formatIPv4(usable.last)]).toEqual(['10.0.0.1', '10.0.0.254']);
    const p2p = usableRange(parseCidr('10.0.0.0/31')!);
    expect(p2p.last - p2p.first).toBe(1);
    expect(parseRange('10.0.0.2..10.0.0.9')).toEqual({ first: parseIPv4('10.0.0.2'), last: parseIPv4('10.0.0.9') });
    expect(parseRange('10.0.0.7')).toEqual({ first: parseIPv4('10.0.0.7'), last: parseIPv4('10.0.0.7') });
    expect(parseRange('10.0.0.9..10.0.0.2')).toBeUndefined();
  });
});
