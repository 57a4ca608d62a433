import { describe, expect, it } from '@jest/globals';
import { portOtherThan } from './local.ts';

describe('the local PowerDNS API port', () => {
  it('is never the DNS port, even when the kernel offers that port first', async () => {
    const offers = [10053, 10053, 41234];
    const port = await portOtherThan(10053, async () => offers.shift()!);
    expect(port).toBe(41234);
    expect(offers).toEqual([]);
  });

  it('gives up with an error rather than looping forever', async () => {
    await expect(portOtherThan(10053, async () => 10053)).rejects.toThrow(/other than 10053/);
  });
});
