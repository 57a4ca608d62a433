import { describe, expect, it } from '@jest/globals';
import { isCidr } from './formats.ts';

describe('isCidr', () => {
  it('accepts IPv4 and IPv6 networks with a prefix length in range', () => {
    for (const value of ['10.0.0.0/16', '0.0.0.0/0', '192.168.1.1/32', '10.0.0.0/8', '::/0', 'fd00::/8', '2001:db8::1/128']) expect(isCidr(value)).toBe(true);
  });

  it('rejects missing, empty, out-of-range or non-numeric prefixes', () => {
    for (const value of ['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/8a', '10.0.0.0/1000', '10.0.0.0/ 8', '10.0.0.0/8/8']) expect(isCidr(value)).toBe(false);
  });

  it('rejects invalid addresses', () => {
    for (const value of ['', '/8', '10.0.0/8', '10.0.0.256/8', 'localhost/8', '10.0.0.0.0/8', 'fd00:::/8', ' 10.0.0.0/8']) expect(isCidr(value)).toBe(false);
  });
});
