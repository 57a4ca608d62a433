import { describe, expect, it } from '@jest/globals';
import { fewNames } from './few-names.ts';

describe('fewNames', () => {
  it('names all of a short list and the first few of a long one', () => {
    expect(fewNames([])).toBe('');
    expect(fewNames(['p'])).toBe('p');
    expect(fewNames(['a', 'b', 'c'], 3)).toBe('a, b, c');
    expect(fewNames(['a', 'b', 'c', 'd'], 2)).toBe('a, b and 2 more');
    expect(fewNames(Array.from({ length: 65_000 }, (_, index) => `p${index}`))).toBe('p0, p1, p2, p3, p4, p5, p6, p7, p8, p9 and 64990 more');
    // Items are put into words only as far as they are shown.
    const described: number[] = [];
    const text = fewNames([1, 2, 3, 4], 2, (item) => (described.push(item), `#${item}`));
    expect(text).toBe('#1, #2 and 2 more');
    expect(described).toEqual([1, 2]);
  });
});
