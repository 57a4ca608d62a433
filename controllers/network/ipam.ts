// IP address management for one subnet: which addresses a subnet may hand out (its usable range minus
// gateway and excludeIPs) and which are taken. The Port controller keeps one allocator per subnet and is the
// only writer (it runs in the leader-elected controller manager), so allocation is serialised in memory and
// committed by writing the Port's status; after a restart the allocators are rebuilt from the Ports
// themselves — an address exists only in a Port's status, so a crash can neither leak nor duplicate one.
import { contains, formatIPv4, inRanges, parseCidr, parseIPv4, parseRanges, subnetGateway, usableRange, type Cidr } from '../../apis/net/ipv4.ts';

export interface SubnetAddressing {
  cidr: string;
  gateway?: string;
  excludeIPs?: string[];
}

export type ReserveResult = { ok: true } | { ok: false; reason: 'OutsideSubnet' | 'Reserved' | 'InUse'; holder?: string };

export class SubnetAllocator {
  readonly cidr: Cidr;
  readonly gateway: number;
  private readonly first: number;
  private readonly last: number;
  private readonly excluded: Array<{ first: number; last: number }>;
  /** address → the Port UID holding it */
  private readonly taken = new Map<number, string>();
  /** Lowest address worth trying next (everything below is known to be taken or reserved). */
  private cursor: number;

  constructor(addressing: SubnetAddressing) {
    const cidr = parseCidr(addressing.cidr);
    if (!cidr) throw new Error(`invalid subnet CIDR ${JSON.stringify(addressing.cidr)}`);
    this.cidr = cidr;
    const usable = usableRange(cidr);
    this.first = usable.first;
    this.last = usable.last;
    this.gateway = subnetGateway(cidr, addressing.gateway);
    this.excluded = parseRanges(addressing.excludeIPs);
    this.cursor = this.first;
  }

  get gatewayAddress(): string {
    return formatIPv4(this.gateway);
  }

  /** How many addresses this subnet can hand out at most. */
  get capacity(): number {
    // Usable addresses minus the reserved ones inside them (exclusions merged, so overlaps count once).
    const ranges = [...this.excluded, { first: this.gateway, last: this.gateway }]
      .map((range) => ({ first: Math.max(range.first, this.first), last: Math.min(range.last, this.last) }))
      .filter((range) => range.first <= range.last)
      .sort((a, b) => a.first - b.first);
    let reserved = 0;
    let end = -1;
    for (const range of ranges) {
      const start = Math.max(range.first, end + 1);
      if (range.last >= start) reserved += range.last - start + 1;
      end = Math.max(end, range.last);
    }
    return this.last - this.first + 1 - reserved;
  }

  get used(): number {
    return this.taken.size;
  }

  private isReserved(address: number): boolean {
    return address === this.gateway || inRanges(address, this.excluded);
  }

  /** The holder of an address, if any. */
  holder(address: string): string | undefined {
    const value = parseIPv4(address);
    return value === undefined ? undefined : this.taken.get(value);
  }

  /** Marks `address` as held by `owner` when it is free (or already theirs). */
  reserve(address: string, owner: string): ReserveResult {
    const value = parseIPv4(address);
    if (value === undefined || !contains(this.cidr, value) || value < this.first || value > this.last) return { ok: false, reason: 'OutsideSubnet' };
    if (this.isReserved(value)) return { ok: false, reason: 'Reserved' };
    const holder = this.taken.get(value);
    if (holder !== undefined && holder !== owner) return { ok: false, reason: 'InUse', holder };
    this.taken.set(value, owner);
    return { ok: true };
  }

  /** The lowest free address, now held by `owner`; undefined when the subnet is exhausted. */
  allocate(owner: string): string | undefined {
    for (let address = this.cursor; address <= this.last; address++) {
      if (this.isReserved(address) || this.taken.has(address)) continue;
      this.taken.set(address, owner);
      this.cursor = address + 1;
      return formatIPv4(address);
    }
    this.cursor = this.last + 1;
    return undefined;
  }

  /** Frees whatever `owner` holds (a deleted Port, or one that moved). */
  release(owner: string): void {
    for (const [address, holder] of this.taken) {
      if (holder !== owner) continue;
      this.taken.delete(address);
      if (address < this.cursor) this.cursor = address;
    }
  }
}
