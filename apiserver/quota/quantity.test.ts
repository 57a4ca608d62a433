import { describe, expect, it } from '@jest/globals';
import { formatQuantity, parseQuantity } from './quantity.ts';

describe('quantities', () => {
  it('parses plain, binary, decimal, milli and exponent forms', () => {
    expect(parseQuantity('10')).toBe(10);
    expect(parseQuantity('4Gi')).toBe(4 * 2 ** 30);
    expect(parseQuantity('1.5Ki')).toBe(1536);
    expect(parseQuantity('100M')).toBe(1e8);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2e3')).toBe(2000);
    expect(parseQuantity(3)).toBe(3);
  });

  it('refuses what is not a quantity, and values too large to hold exactly', () => {
    for (const bad of ['', 'ten', '1Gb', '1 Gi', '--1', '1e999', '9Ei0', 'x'.repeat(100), null, {}]) expect(parseQuantity(bad)).toBeUndefined();
    expect(parseQuantity('100Ei')).toBeUndefined();
  });

  it('formats like the limit it is compared with', () => {
    expect(formatQuantity(2 * 2 ** 30, '10Gi')).toBe('2Gi');
    expect(formatQuantity(1536, '10Gi')).toBe('1536');
    expect(formatQuantity(0, '10Gi')).toBe('0');
    expect(formatQuantity(7, '10')).toBe('7');
    expect(formatQuantity(1.5)).toBe('1500m');
  });
});
