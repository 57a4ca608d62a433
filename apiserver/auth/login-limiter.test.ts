import { describe, expect, it } from '@jest/globals';
import { addressKey, LoginLimiter } from './login-limiter.ts';

/** A limiter on a clock the test moves. */
function limiter(limits: ConstructorParameters<typeof LoginLimiter>[0]) {
  const clock = { now: 1_000_000 };
  return { clock, limiter: new LoginLimiter({ windowSeconds: 60, ...limits }, () => clock.now) };
}

describe('LoginLimiter', () => {
  it('refuses a user name after its failures reach the limit, from any address, until the window ends', () => {
    const { clock, limiter: l } = limiter({ maxFailuresPerUser: 3, maxFailuresPerAddress: 0 });
    for (let i = 0; i < 2; i++) l.failed('alice', `10.0.0.${i}`);
    expect(l.retryAfterSeconds('alice', '10.0.0.9')).toBe(0);
    l.failed('alice', '10.0.0.2');
    expect(l.retryAfterSeconds('alice', '10.0.0.9')).toBe(60);
    expect(l.retryAfterSeconds('bob', '10.0.0.2')).toBe(0);
    clock.now += 59_500;
    expect(l.retryAfterSeconds('alice', '10.0.0.9')).toBe(1); // rounded up, never 0 while refused
    clock.now += 500;
    expect(l.retryAfterSeconds('alice', '10.0.0.9')).toBe(0);
    // A new window starts with the next failure: one more is not yet a block.
    l.failed('alice', '10.0.0.1');
    expect(l.retryAfterSeconds('alice', '10.0.0.1')).toBe(0);
  });

  it('refuses an address after its failures reach the limit, whatever names it tries', () => {
    const { limiter: l } = limiter({ maxFailuresPerUser: 0, maxFailuresPerAddress: 4 });
    for (const name of ['a', 'b', 'c', 'd']) l.failed(name, '192.0.2.7');
    expect(l.retryAfterSeconds('someone-new', '192.0.2.7')).toBe(60);
    expect(l.retryAfterSeconds('someone-new', '192.0.2.8')).toBe(0);
  });

  it('a success clears the name’s failures but not the address’s, so one valid account cannot reset guessing', () => {
    const { limiter: l } = limiter({ maxFailuresPerUser: 3, maxFailuresPerAddress: 5 });
    l.failed('alice', '198.51.100.1');
    l.failed('alice', '198.51.100.1');
    l.succeeded('alice');
    l.failed('alice', '198.51.100.1');
    l.failed('alice', '198.51.100.1');
    expect(l.retryAfterSeconds('alice', '198.51.100.2')).toBe(0); // 2 since the success, not 4
    // An attacker logs into their own account between guesses: the address still fills up.
    l.succeeded('mallory');
    l.failed('victim', '198.51.100.1');
    expect(l.retryAfterSeconds('mallory', '198.51.100.1')).toBe(60);
  });

  it('tracks at most maxTrackedKeys per table, evicting one-off failures before a key near its limit', () => {
    const { limiter: l } = limiter({ maxFailuresPerUser: 5, maxFailuresPerAddress: 0, maxTrackedKeys: 100 });
    for (let i = 0; i < 4; i++) l.failed('target', '203.0.113.1');
    for (let i = 0; i < 10_000; i++) l.failed(`sprayed-${i}`, '203.0.113.1');
    expect(l.tracked().users).toBe(100);
    l.failed('target', '203.0.113.1');
    expect(l.retryAfterSeconds('target', '203.0.113.1')).toBeGreaterThan(0);
  });

  it('drops expired entries before evicting live ones', () => {
    const { clock, limiter: l } = limiter({ maxFailuresPerUser: 2, maxFailuresPerAddress: 0, maxTrackedKeys: 2 });
    l.failed('old', 'x');
    clock.now += 61_000;
    l.failed('alice', 'x');
    l.failed('bob', 'x'); // the table is full: 'old' has expired and goes, not alice
    l.failed('alice', 'x');
    expect(l.retryAfterSeconds('alice', 'x')).toBe(60);
    expect(l.tracked().users).toBe(2);
  });

  it('bounds password checks running at once; a released slot is free again, releasing twice changes nothing', () => {
    const { limiter: l } = limiter({ maxConcurrentChecks: 2 });
    const first = l.startCheck()!;
    const second = l.startCheck()!;
    expect(l.startCheck()).toBeUndefined();
    first();
    first();
    const third = l.startCheck();
    expect(third).toBeDefined();
    expect(l.startCheck()).toBeUndefined();
    second();
    third!();
  });
});

describe('addressKey', () => {
  it('keys IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002::7%eth0')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});
