import { describe, expect, it } from '@jest/globals';
import { SubnetAllocator } from './ipam.ts';

describe('SubnetAllocator', () => {
  it('hands out the lowest free usable address, skipping gateway, exclusions, network and broadcast', () => {
    const allocator = new SubnetAllocator({ cidr: '10.0.0.0/28', excludeIPs: ['10.0.0.2..10.0.0.4', '10.0.0.9'] });
    expect(allocator.gatewayAddress).toBe('10.0.0.1');
    expect(allocator.capacity).toBe(14 - 1 - 4);
    const given = Array.from({ length: 9 }, (_, index) => allocator.allocate(`p${index}`));
    expect(given).toEqual(['10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.0.8', '10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14']);
    expect(allocator.allocate('extra')).toBeUndefined();
    allocator.release('p2');
    expect(allocator.allocate('extra')).toBe('10.0.0.7');
    expect(allocator.used).toBe(9);
  });

  it('reserves static addresses once, and explains refusals', () => {
    const allocator = new SubnetAllocator({ cidr: '10.0.1.0/24', gateway: '10.0.1.254', excludeIPs: ['10.0.1.10'] });
    expect(allocator.reserve('10.0.1.20', 'a')).toEqual({ ok: true });
    expect(allocator.reserve('10.0.1.20', 'a')).toEqual({ ok: true });
    expect(allocator.reserve('10.0.1.20', 'b')).toEqual({ ok: false, reason: 'InUse', holder: 'a' });
    expect(allocator.reserve('10.0.1.254', 'b')).toEqual({ ok: false, reason: 'Reserved' });
    expect(allocator.reserve('10.0.1.10', 'b')).toEqual({ ok: false, reason: 'Reserved' });
    expect(allocator.reserve('10.0.2.1', 'b')).toEqual({ ok: false, reason: 'OutsideSubnet' });
    expect(allocator.reserve('10.0.1.255', 'b')).toEqual({ ok: false, reason: 'OutsideSubnet' });
    expect(allocator.allocate('c')).toBe('10.0.1.1');
    expect(allocator.holder('10.0.1.20')).toBe('a');
  });
});
