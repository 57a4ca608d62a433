import { describe, expect, it } from '@jest/globals';
import { Fifo } from './fifo.ts';

describe('Fifo', () => {
  it('takes items in the order they came, across compactions, and iterates what is left', () => {
    const fifo = new Fifo<number>();
    let next = 0;
    let expected = 0;
    // Interleaved pushes and takes, long enough to compact many times.
    for (let round = 0; round < 50; round++) {
      for (let index = 0; index < 300; index++) fifo.push(next++);
      for (let index = 0; index < 250; index++) expect(fifo.shift()).toBe(expected++);
      expect(fifo.length).toBe(next - expected);
    }
    expect([...fifo]).toEqual(Array.from({ length: next - expected }, (_, index) => expected + index));
    while (fifo.length > 0) expect(fifo.shift()).toBe(expected++);
    expect(fifo.shift()).toBeUndefined();
    fifo.push(7);
    expect([...fifo]).toEqual([7]);
    fifo.clear();
    expect(fifo.length).toBe(0);
  });
});
