import fs from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { randomPortBlock } from './local.ts';

describe('the local Ceph’s ports', () => {
  it('are drawn below the kernel’s ephemeral range, where no outgoing connection can take them before the daemon binds', () => {
    const ephemeralLow = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (const size of [1, 26]) {
      const bases = Array.from({ length: 2000 }, () => randomPortBlock(size));
      expect(Math.min(...bases)).toBeGreaterThanOrEqual(20_000);
      expect(Math.max(...bases) + size - 1).toBeLessThan(ephemeralLow);
      expect(new Set(bases).size).toBeGreaterThan(1000);
    }
  });
});
