import { describe, expect, it } from '@jest/globals';
import { microTimestamp, timestamp } from './time.ts';

describe('timestamp', () => {
  it('formats a date to the second, dropping milliseconds', () => {
    expect(timestamp(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05Z');
    expect(timestamp(new Date('2026-01-02T03:04:05.001Z'))).toBe('2026-01-02T03:04:05Z');
  });

  it('gives each second its own text, also going back in time', () => {
    expect(timestamp(new Date('2026-01-02T03:04:06.000Z'))).toBe('2026-01-02T03:04:06Z');
    expect(timestamp(new Date('2026-01-02T03:04:05.999Z'))).toBe('2026-01-02T03:04:05Z');
    expect(timestamp(new Date('1969-12-31T23:59:59.500Z'))).toBe('1969-12-31T23:59:59Z');
  });

  it('defaults to now', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const stamped = Date.parse(timestamp());
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(stamped).toBeLessThanOrEqual(Date.now());
  });

  it('refuses an invalid date, as toISOString does', () => {
    expect(() => timestamp(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('microTimestamp', () => {
  it('formats to the microsecond', () => {
    expect(microTimestamp(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z');
  });
});
