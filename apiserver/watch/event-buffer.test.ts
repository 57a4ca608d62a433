import { describe, expect, it } from '@jest/globals';
import { EventBuffer } from './event-buffer.ts';

const revisions = (events: Array<{ revision: number }>) => events.map((event) => event.revision);

describe('EventBuffer', () => {
  it('keeps the newest events up to its capacity and says which was dropped last', () => {
    const buffer = new EventBuffer<{ revision: number }>();
    for (let revision = 1; revision <= 5; revision++) buffer.push({ revision });
    expect(buffer.trimTo(3)).toEqual({ revision: 2 });
    expect(buffer.size).toBe(3);
    expect(buffer.trimTo(3)).toBeUndefined();
    expect(revisions(buffer.after(0, () => true))).toEqual([3, 4, 5]);
  });

  it('finds the events after a revision, filtered, by binary search', () => {
    const buffer = new EventBuffer<{ revision: number; key: string }>();
    for (const revision of [2, 4, 6, 8, 10]) buffer.push({ revision, key: revision % 4 === 0 ? 'a' : 'b' });
    expect(revisions(buffer.after(4, () => true))).toEqual([6, 8, 10]);
    expect(revisions(buffer.after(5, () => true))).toEqual([6, 8, 10]);
    expect(revisions(buffer.after(10, () => true))).toEqual([]);
    expect(revisions(buffer.after(0, (event) => event.key === 'a'))).toEqual([4, 8]);
  });

  it('drops through a revision (compaction)', () => {
    const buffer = new EventBuffer<{ revision: number }>();
    for (let revision = 1; revision <= 10; revision++) buffer.push({ revision });
    buffer.dropThrough(7);
    expect(revisions(buffer.after(0, () => true))).toEqual([8, 9, 10]);
    buffer.dropThrough(100);
    expect(buffer.size).toBe(0);
    buffer.push({ revision: 11 });
    expect(revisions(buffer.after(0, () => true))).toEqual([11]);
  });

  it('stays correct across many compactions of its storage (a sliding window over 100,000 events)', () => {
    const buffer = new EventBuffer<{ revision: number }>();
    for (let revision = 1; revision <= 100_000; revision++) {
      buffer.push({ revision });
      const dropped = buffer.trimTo(1000);
      if (revision > 1000) expect(dropped).toEqual({ revision: revision - 1000 });
    }
    expect(buffer.size).toBe(1000);
    expect(revisions(buffer.after(99_997, () => true))).toEqual([99_998, 99_999, 100_000]);
    expect(buffer.after(0, () => true)[0]).toEqual({ revision: 99_001 });
  });
});
