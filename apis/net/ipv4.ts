// IPv4 address arithmetic shared by admission (apiserver) and IPAM (controllers): addresses as unsigned
// 32-bit numbers, CIDRs as {network, prefix}.

export interface Cidr {
  /** The network address (host bits cleared). */
  network: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => OCTET.test(part))) return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** `10.0.1.0/24` → {network, prefix}; host bits are cleared (10.0.1.7/24 is the same network). */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split('/');
  if (extra !== undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const value = parseIPv4(address);
  if (value === undefined || prefix > 32) return undefined;
  return { network: value - (value % 2 ** (32 - prefix)), prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(cidr.network)}/${cidr.prefix}`;
}

export function size(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function broadcast(cidr: Cidr): number {
  return cidr.network + size(cidr) - 1;
}

export function contains(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address <= broadcast(cidr);
}

/** Whether `inner` lies entirely inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && contains(outer, inner.network);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network <= broadcast(b) && b.network <= broadcast(a);
}

/**
 * Addresses a subnet can hand out: all but the network and broadcast addresses (a /31 or /32 has no such
 * reserved addresses, as RFC 3021 allows for point-to-point links).
 */
export function usableRange(cidr: Cidr): { first: number; last: number } {
  if (cidr.prefix >= 31) return { first: cidr.network, last: broadcast(cidr) };
  return { first: cidr.network + 1, last: broadcast(cidr) - 1 };
}

/** `10.0.0.2..10.0.0.9` or a single address → an inclusive range; undefined when malformed. */
export function parseRange(text: string): { first: number; last: number } | undefined {
  const [from, to, extra] = text.split('..');
  if (extra !== undefined) return undefined;
  const first = parseIPv4(from.trim());
  const last = to === undefined ? first : parseIPv4(to.trim());
  if (first === undefined || last === undefined || last < first) return undefined;
  return { first, last };
}

/** The well-formed entries of a list of ranges (a subnet's excludeIPs); admission reports the others. */
export function parseRanges(entries: readonly string[] | undefined): Array<{ first: number; last: number }> {
  return (entries ?? []).map(parseRange).filter((range) => range !== undefined);
}

export function inRanges(address: number, ranges: ReadonlyArray<{ first: number; last: number }>): boolean {
  return ranges.some((range) => address >= range.first && address <= range.last);
}

/** The gateway a subnet uses: its spec's (when well-formed), else the first usable address. */
export function subnetGateway(cidr: Cidr, gateway: string | undefined): number {
  return (gateway ? parseIPv4(gateway) : undefined) ?? usableRange(cidr).first;
}
