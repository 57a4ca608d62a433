import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { createLogger } from './logging.ts';
import { PeriodicTask } from './periodic.ts';

const log = createLogger('periodic-test');

describe('PeriodicTask', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Starts a task that records when each pass ran (fake time, ms since start). */
  function recorded(options?: ConstructorParameters<typeof PeriodicTask>[4]) {
    const start = Date.now();
    const runs: number[] = [];
    const task = new PeriodicTask('test', 1000, async () => void runs.push(Date.now() - start), log, options);
    return { task, runs };
  }

  it('runs a pass every interval, the first after the initial delay', async () => {
    const { task, runs } = recorded();
    task.start(300);
    await jest.advanceTimersByTimeAsync(3400);
    task.stop();
    expect(runs).toEqual([300, 1300, 2300, 3300]);
  });

  it('with jitter, waits the interval plus a random share of it, drawn again for every pass', async () => {
    const draws = [0.5, 0, 0.99];
    const { task, runs } = recorded({ jitter: 0.2, random: () => draws.shift() ?? 0 });
    task.start(0);
    await jest.advanceTimersByTimeAsync(3500);
    task.stop();
    // 0, then +1000 × (1 + 0.2 × 0.5), +1000 × (1 + 0), +1000 × (1 + 0.2 × 0.99)
    expect(runs).toEqual([0, 1100, 2100, 3298]);
  });

  it('never waits less than the interval, and spreads tasks started together', () => {
    const delays = Array.from({ length: 1000 }, () => new PeriodicTask('test', 1000, async () => {}, log, { jitter: 0.04 }).nextDelayMs());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...delays)).toBeLessThan(1040);
    expect(new Set(delays.map(Math.round)).size).toBeGreaterThan(20);
  });

  it('schedules nothing after stop(), even when stopped during a pass', async () => {
    let release!: () => void;
    let passes = 0;
    const task = new PeriodicTask('test', 100, () => new Promise<void>((resolve) => { passes++; release = resolve; }), log);
    task.start(0);
    await jest.advanceTimersByTimeAsync(1);
    task.stop();
    release();
    await jest.advanceTimersByTimeAsync(1000);
    expect(passes).toBe(1);
  });
});
