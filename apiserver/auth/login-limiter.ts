// Brute-force protection for password logins (login.ts): failed attempts are counted per user name and per
// client address in a fixed window that starts at the first failure; once either count reaches its limit,
// logins for that name, or from that address, are refused (429 with Retry-After) until the window ends,
// without checking the password at all. Counting per name stops guessing one user's password from many
// addresses; counting per address stops one client from spraying guesses over many names.
//
// Memory is bounded: each table tracks at most maxTrackedKeys keys. When a table is full, expired entries go
// first; if none has expired, the entry with the fewest failures (the oldest among equals) is dropped. So a
// flood of one-off failures under made-up names evicts other one-off entries, while a key close to its limit
// (the one being attacked) stays tracked.
import { isIPv4 } from 'node:net';

export interface LoginLimits {
  /** Failures for one user name within the window before its logins are refused (0: no limit). */
  maxFailuresPerUser: number;
  /** Failures from one client address within the window (0: no limit); higher, as NAT puts many people behind one. */
  maxFailuresPerAddress: number;
  windowSeconds: number;
  /** Keys each table (names, addresses) tracks at most. */
  maxTrackedKeys: number;
  /** Password checks running at once (each is ~0.1 s and 32 MiB of scrypt); more are refused with 429 at once. */
  maxConcurrentChecks: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  maxFailuresPerUser: 10,
  maxFailuresPerAddress: 50,
  windowSeconds: 300,
  maxTrackedKeys: 10_000,
  maxConcurrentChecks: 8,
};

interface Entry {
  failures: number;
  /** Milliseconds since the epoch at which the window (and any block) ends. */
  endsAt: number;
}

/** Failures per key in windows, in a table of bounded size. */
class FailureTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Milliseconds until key may try again, or 0 when it may now. */
  blockedFor(key: string, now: number): number {
    if (this.limit <= 0) return 0;
    const entry = this.live(key, now);
    return entry && entry.failures >= this.limit ? entry.endsAt - now : 0;
  }

  fail(key: string, now: number): void {
    if (this.limit <= 0) return;
    const entry = this.live(key, now);
    if (entry) {
      entry.failures++;
      return;
    }
    this.makeRoom(now);
    this.entries.set(key, { failures: 1, endsAt: now + this.windowMs });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.endsAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** O(keys), but only when the table is full. */
  private makeRoom(now: number): void {
    if (this.entries.size < this.maxKeys) return;
    for (const [key, entry] of this.entries) if (entry.endsAt <= now) this.entries.delete(key);
    if (this.entries.size < this.maxKeys) return;
    let victim: string | undefined;
    let fewest = Infinity;
    // Map order is insertion order: the first entry with the fewest failures is the oldest such one.
    for (const [key, entry] of this.entries) {
      if (entry.failures < fewest) {
        fewest = entry.failures;
        victim = key;
      }
    }
    if (victim !== undefined) this.entries.delete(victim);
  }
}

/**
 * The key for a client address: an IPv4 address as is (also when written IPv4-mapped, ::ffff:a.b.c.d), an
 * IPv6 address by its /64, since one host is usually given a whole /64 and could otherwise rotate through it.
 * The socket's address only: X-Forwarded-For is whatever the client says.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address)) return address;
  const expanded = expandIPv6(address);
  return expanded ? `${expanded.slice(0, 4).join(':')}::/64` : address;
}

/** The eight groups of an IPv6 address (zone removed), or undefined for something else. */
function expandIPv6(address: string): string[] | undefined {
  const plain = address.split('%')[0]!.toLowerCase();
  const halves = plain.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return groups.every((group) => /^[0-9a-f]{1,4}$/.test(group)) ? groups.map((group) => group.replace(/^0+(?=.)/, '')) : undefined;
}

export class LoginLimiter {
  readonly limits: LoginLimits;
  private readonly users: FailureTable;
  private readonly addresses: FailureTable;
  private running = 0;

  constructor(
    limits: Partial<LoginLimits> = {},
    /** Milliseconds since the epoch (tests). */
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)) };
    const windowMs = this.limits.windowSeconds * 1000;
    this.users = new FailureTable(this.limits.maxFailuresPerUser, windowMs, this.limits.maxTrackedKeys);
    this.addresses = new FailureTable(this.limits.maxFailuresPerAddress, windowMs, this.limits.maxTrackedKeys);
  }

  /** Whole seconds until a login for user from address may be tried (at least 1), or 0 when it may now. */
  retryAfterSeconds(user: string, address: string): number {
    const now = this.now();
    const waitMs = Math.max(this.users.blockedFor(user, now), this.addresses.blockedFor(address, now));
    return waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : 0;
  }

  failed(user: string, address: string): void {
    const now = this.now();
    this.users.fail(user, now);
    this.addresses.fail(address, now);
  }

  /**
   * A correct password clears the name's failures (its owner mistyped a few times), but not the address's:
   * if it did, someone holding one valid account could log into it after every few guesses at other
   * accounts and so guess from one address without limit. The address's count only ends with its window.
   */
  succeeded(user: string): void {
    this.users.forget(user);
  }

  /** A slot for one password check, or undefined when maxConcurrentChecks are running; release it after. */
  startCheck(): (() => void) | undefined {
    if (this.running >= this.limits.maxConcurrentChecks) return undefined;
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
    };
  }

  /** Keys tracked, per table (tests and metrics). */
  tracked(): { users: number; addresses: number } {
    return { users: this.users.size, addresses: this.addresses.size };
  }
}
