import { describe, expect, it } from '@jest/globals';
import { parseByteQuantity } from './quantity.ts';

describe('parseByteQuantity', () => {
  it('reads binary and decimal suffixes', () => {
    expect(parseByteQuantity('20Gi')).toBe(20 * 2 ** 30);
    expect(parseByteQuantity('100M')).toBe(100_000_000);
    expect(parseByteQuantity('1k')).toBe(1000);
    expect(parseByteQuantity('512')).toBe(512);
    expect(parseByteQuantity('0')).toBe(0);
    expect(parseByteQuantity('1Ei')).toBeUndefined(); // 2^60 > 2^53: refused, not rounded
    expect(parseByteQuantity('7Pi')).toBe(7 * 2 ** 50);
  });
  it('is exact for fractions and rounds a partial byte up', () => {
    expect(parseByteQuantity('1.5Gi')).toBe(1.5 * 2 ** 30);
    expect(parseByteQuantity('0.1Gi')).toBe(107374183); // 107374182.4 → up
    expect(parseByteQuantity('0.5')).toBe(1);
    expect(parseByteQuantity('1.000')).toBe(1);
  });
  it('accepts numbers only as non-negative safe integers', () => {
    expect(parseByteQuantity(4096)).toBe(4096);
    expect(parseByteQuantity(-1)).toBeUndefined();
    expect(parseByteQuantity(1.5)).toBeUndefined();
    expect(parseByteQuantity(Number.NaN)).toBeUndefined();
  });
  it('refuses what the CRD pattern refuses', () => {
    for (const bad of ['', ' 1Gi', '1Gi ', '-1Gi', '1gi', '1G i', '1e3', '500m', '.5Gi', '1.Gi', 'Gi', '1Zi', '0x10', '1'.repeat(31), null, undefined, {}]) {
      expect(parseByteQuantity(bad)).toBeUndefined();
    }
  });
});
