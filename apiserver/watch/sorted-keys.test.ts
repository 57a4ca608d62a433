import { describe, expect, it } from '@jest/globals';
import { lowerBound, SortedKeys } from './sorted-keys.ts';

/** A resource's objects by key, as the watch cache holds them, with its SortedKeys kept as the cache keeps it. */
function resource(keys: string[] = []) {
  const current = new Map(keys.map((key) => [key, true]));
  const sorted = new SortedKeys();
  return {
    current,
    sorted,
    create(key: string) {
      if (!current.has(key)) sorted.add(key);
      current.set(key, true);
    },
    delete(key: string) {
      if (current.delete(key)) sorted.remove();
    },
    /** The live keys in the order a reader walks them (deleted ones skipped, as readers do). */
    walk: () => sorted.read(current).filter((key) => current.has(key)),
  };
}

const ordered = (keys: Iterable<string>) => [...keys].sort();

describe('SortedKeys', () => {
  it('reads every key in order, after creates and deletes in any order, with no key twice', () => {
    const r = resource(['/ns-b/x', '/ns-a/y', '/ns-c/z']);
    expect(r.walk()).toEqual(['/ns-a/y', '/ns-b/x', '/ns-c/z']);
    r.create('/ns-b/a');
    r.create('/ns-0/a');
    r.create('/ns-z/a');
    r.delete('/ns-a/y');
    expect(r.walk()).toEqual(ordered(r.current.keys()));
    // Deleted and created again (before and after a read), created twice between reads: once each.
    r.delete('/ns-b/x');
    r.create('/ns-b/x');
    r.create('/ns-q/1');
    r.delete('/ns-q/1');
    r.create('/ns-q/1');
    const keys = r.sorted.read(r.current);
    expect(new Set(keys).size).toBe(keys.length);
    expect(r.walk()).toEqual(ordered(r.current.keys()));
  });

  it('stays in order over many random changes and reads', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const r = resource(Array.from({ length: 200 }, (_, i) => `/ns-${i % 7}/obj-${i}`));
    for (let step = 0; step < 5000; step++) {
      const key = `/ns-${random(9)}/obj-${random(400)}`;
      if (random(3) === 0) r.delete(key);
      else r.create(key);
      if (random(20) === 0) {
        const keys = r.sorted.read(r.current);
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.filter((k) => r.current.has(k))).toEqual(ordered(r.current.keys()));
      }
    }
    expect(r.walk()).toEqual(ordered(r.current.keys()));
  });

  it('merges more new keys than it slices (key by key) in order as well', () => {
    const r = resource(Array.from({ length: 3000 }, (_, i) => `/ns-${i % 11}/old-${i}`));
    r.walk();
    for (let i = 0; i < 1500; i++) r.create(`/ns-${i % 13}/new-${i}`);
    r.create('/ns-1/old-1'); // already there
    expect(r.sorted.read(r.current)).toEqual(ordered(r.current.keys()));
  });

  it('never changes an array it returned (a page being walked keeps its keys)', () => {
    const r = resource(['/a', '/c']);
    const first = r.sorted.read(r.current);
    const snapshot = [...first];
    r.create('/b');
    for (let i = 0; i < 10; i++) r.delete(i % 2 ? '/a' : '/c');
    const second = r.sorted.read(r.current);
    expect(first).toEqual(snapshot);
    expect(second).not.toBe(first);
    expect(r.walk()).toEqual(['/b']);
  });

  it('drops deleted keys once they are a quarter of the array, and forgets the order when nobody reads', () => {
    const r = resource(Array.from({ length: 100 }, (_, i) => `/k-${String(i).padStart(3, '0')}`));
    r.walk();
    for (let i = 0; i < 30; i++) r.delete(`/k-${String(i).padStart(3, '0')}`);
    expect(r.sorted.read(r.current)).toHaveLength(70);
    // More new keys than worth merging, with no read between: the next read sorts them all.
    for (let i = 0; i < 2000; i++) r.create(`/n-${i}`);
    expect(r.walk()).toEqual(ordered(r.current.keys()));
    expect(r.sorted.read(r.current)).toHaveLength(2070);
  });

  it('finds the first key at or after a prefix', () => {
    const keys = ['/a/1', '/b/1', '/b/2', '/c/1'];
    expect(lowerBound(keys, '/b/')).toBe(1);
    expect(lowerBound(keys, '/bb')).toBe(3);
    expect(lowerBound(keys, '/d')).toBe(4);
    expect(lowerBound(keys, '/b/2', 2)).toBe(2);
    expect(lowerBound([], '/a')).toBe(0);
  });
});
