// One resource's keys in the watch cache, in order, for lists and pages (a binary search finds a namespace or
// a continue point). Sorting every key again after each create made the first list after any change cost
// O(n log n) string comparisons on the event loop: ~115–160 ms at 150,000 keys, for a one-namespace
// `kubectl get` while objects were being created in any namespace. Keys added since the last read are merged
// in instead (sorted among themselves, then one copy of the array with them in place: ~3 ms at 150,000 keys
// after up to 1,000 creates); deleted keys stay until they are a quarter of the array (readers skip a key whose
// object is gone). An array once returned is never modified, so a page being walked does not change under it.

/** Up to this many new keys are merged in with slices of the old array (arguments of one concat call). */
const MAX_SLICED = 1024;

export class SortedKeys {
  /** Every key of the last read, in order (with keys deleted since); undefined until the first read. */
  private sorted?: string[];
  /** Keys created since the last read (some may be gone again). */
  private added: string[] = [];
  /** How many keys were deleted since the array was built or compacted (an upper bound). */
  private removed = 0;

  /** A key that was not there came. */
  add(key: string): void {
    if (!this.sorted) return;
    this.added.push(key);
    // Nobody read for a while: forget the order rather than hold more new keys than old ones.
    if (this.added.length > Math.max(MAX_SLICED, this.sorted.length)) this.reset();
  }

  /** A key went. */
  remove(): void {
    if (this.sorted) this.removed++;
  }

  /** Forgets the order (the next read sorts every key). */
  reset(): void {
    this.sorted = undefined;
    this.added = [];
    this.removed = 0;
  }

  /** The keys in order: every key of `current`, and possibly some deleted ones (check before use). */
  read(current: ReadonlyMap<string, unknown>): readonly string[] {
    if (!this.sorted) {
      this.sorted = [...current.keys()].sort();
      this.removed = 0;
      return this.sorted;
    }
    if (this.removed > this.sorted.length >> 2) {
      this.sorted = this.sorted.filter((key) => current.has(key));
      this.removed = 0;
    }
    if (this.added.length > 0) {
      const fresh = [...new Set(this.added)].filter((key) => current.has(key)).sort();
      this.added = [];
      this.sorted = merge(this.sorted, fresh);
    }
    return this.sorted;
  }
}

/**
 * A new array: `sorted` with the keys of `fresh` (sorted, no key twice) that it does not hold yet, in order. Each
 * new key's place is a binary search; the runs of old keys between them are copied without comparing them.
 */
function merge(sorted: readonly string[], fresh: readonly string[]): string[] {
  const sliced = fresh.length <= MAX_SLICED;
  const pieces: string[][] = [];
  const out: string[] = sliced ? [] : new Array<string>(sorted.length + fresh.length);
  let written = 0;
  let from = 0;
  for (const key of fresh) {
    const at = lowerBound(sorted, key, from);
    if (sorted[at] === key) continue;
    // A few new keys: the runs between them as slices (one copy each); many: key by key (no limit on pieces).
    if (sliced) pieces.push(sorted.slice(from, at), [key]);
    else {
      for (let index = from; index < at; index++) out[written++] = sorted[index]!;
      out[written++] = key;
    }
    from = at;
  }
  if (sliced) return out.concat(...pieces, sorted.slice(from));
  for (let index = from; index < sorted.length; index++) out[written++] = sorted[index]!;
  out.length = written;
  return out;
}

/** The first index at or after `from` whose key is not below `key`. */
export function lowerBound(keys: readonly string[], key: string, from = 0): number {
  let low = from;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
