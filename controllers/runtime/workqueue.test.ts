import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ConstantBackoff } from 'cockatiel';
import { objectKey, splitKey, TokenBucket, WorkQueue } from './workqueue.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('WorkQueue', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('deduplicates keys that are already queued', async () => {
    const adds: number[] = [];
    const queue = new WorkQueue({ hooks: { add: () => adds.push(1) } });
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.len()).toBe(2);
    expect(adds).toHaveLength(4); // every add is counted, like client-go's adds_total
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
    expect(queue.len()).toBe(0);
    queue.done('ns/a');
    queue.done('ns/b');
    await queue.shutDown();
  });

  it('never hands a key to two workers at once, and reprocesses it once when re-added meanwhile', async () => {
    const queue = new WorkQueue();
    const running = new Map<string, number>();
    let maxConcurrentA = 0;
    const calls: string[] = [];
    const gate = deferred();
    queue.run(4, async (key) => {
      calls.push(key);
      running.set(key, (running.get(key) ?? 0) + 1);
      if (key === 'a') maxConcurrentA = Math.max(maxConcurrentA, running.get('a')!);
      if (key === 'a' && calls.filter((call) => call === 'a').length === 1) await gate.promise;
      running.set(key, running.get(key)! - 1);
    });
    queue.add('a');
    await jest.advanceTimersByTimeAsync(0);
    expect(queue.processingCount()).toBe(1);
    // Re-added three times while a worker holds it; other keys still flow to the other workers.
    queue.add('a');
    queue.add('a');
    queue.add('b');
    queue.add('a');
    await jest.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['a', 'b']);
    expect(queue.len()).toBe(0); // 'a' waits for done(), not in the queue
    gate.resolve();
    await jest.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['a', 'b', 'a']);
    expect(maxConcurrentA).toBe(1);
    await queue.shutDown();
  });

  it('backs off exponentially per key (5 ms, 10 ms, 20 ms, …) and resets after a success', async () => {
    const queue = new WorkQueue({ rateLimit: false });
    const attempts: number[] = [];
    let failUntil = 5;
    queue.run(1, async () => {
      attempts.push(Date.now());
      if (attempts.length < failUntil) throw new Error('boom');
    });
    queue.add('k');
    await jest.advanceTimersByTimeAsync(1000);
    const gaps = attempts.slice(1).map((time, index) => time - attempts[index]);
    expect(gaps).toEqual([5, 10, 20, 40]);
    expect(queue.numRequeues('k')).toBe(0); // forgotten after the success

    // After the reset the next failure starts from 5 ms again.
    attempts.length = 0;
    failUntil = 3;
    queue.add('k');
    await jest.advanceTimersByTimeAsync(1000);
    expect(attempts.slice(1).map((time, index) => time - attempts[index])).toEqual([5, 10]);
    await queue.shutDown();
  });

  it('caps the per-key backoff at 5 minutes and keeps keys independent', async () => {
    const queue = new WorkQueue({ rateLimit: false });
    const attempts: number[] = [];
    queue.run(1, async (key) => {
      if (key === 'always-failing') {
        attempts.push(Date.now());
        throw new Error('boom');
      }
    });
    queue.add('always-failing');
    await jest.advanceTimersByTimeAsync(20 * 60_000);
    const gaps = attempts.slice(1).map((time, index) => time - attempts[index]);
    expect(Math.max(...gaps)).toBe(300_000);
    expect(gaps.slice(-2)).toEqual([300_000, 300_000]);
    expect(queue.numRequeues('always-failing')).toBe(attempts.length);
    for (let i = 0; i < 30; i++) queue.addRateLimited('x');
    expect(queue.numRequeues('x')).toBe(30);
    expect(queue.numRequeues('y')).toBe(0);
    queue.forget('x');
    expect(queue.numRequeues('x')).toBe(0);
    await queue.shutDown();
  });

  it('limits the retry rate of the whole queue with a token bucket', async () => {
    // Backoff 0 so only the bucket delays: burst 2, then one retry per 100 ms (10 qps).
    const queue = new WorkQueue({ rateLimit: { qps: 10, burst: 2 }, backoff: new ConstantBackoff(0) });
    const processed: Array<[string, number]> = [];
    const started = Date.now();
    queue.run(8, async (key) => {
      processed.push([key, Date.now() - started]);
    });
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.addRateLimited(key);
    await jest.advanceTimersByTimeAsync(1000);
    const times = processed.map(([, time]) => time).sort((a, b) => a - b);
    expect(times).toEqual([0, 0, 100, 200, 300]);
    await queue.shutDown();
  });

  it('token bucket: reservations beyond the burst wait 1/qps each, refilling over time', () => {
    let now = 0;
    const bucket = new TokenBucket({ qps: 2, burst: 3 }, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBe(500);
    expect(bucket.reserve()).toBe(1000);
    now = 5000; // refilled to the burst, no more
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0, 500]);
  });

  it('addAfter delays a key; an earlier pending time wins', async () => {
    const queue = new WorkQueue();
    const processed: Array<[string, number]> = [];
    const started = Date.now();
    queue.run(2, async (key) => {
      processed.push([key, Date.now() - started]);
    });
    queue.addAfter('late', 300);
    queue.addAfter('late', 500); // later: ignored
    queue.addAfter('early', 200);
    queue.addAfter('early', 50); // earlier: replaces
    expect(queue.delayedCount()).toBe(2);
    await jest.advanceTimersByTimeAsync(1000);
    expect(processed).toEqual([
      ['early', 50],
      ['late', 300],
    ]);
    await queue.shutDown();
  });

  it('requeueAfterMs from the handler re-adds the key after that long', async () => {
    const queue = new WorkQueue();
    const times: number[] = [];
    const started = Date.now();
    queue.run(1, async () => {
      times.push(Date.now() - started);
      return times.length < 3 ? { requeueAfterMs: 250 } : undefined;
    });
    queue.add('poll');
    await jest.advanceTimersByTimeAsync(2000);
    expect(times).toEqual([0, 250, 500]);
    await queue.shutDown();
  });

  it('shutDown drains queued keys, drops delayed ones and ignores later adds', async () => {
    const queue = new WorkQueue();
    const processed: string[] = [];
    const gate = deferred();
    queue.run(1, async (key) => {
      if (key === 'first') await gate.promise;
      processed.push(key);
    });
    queue.add('first');
    queue.add('second');
    queue.add('third');
    queue.addAfter('delayed', 100);
    await jest.advanceTimersByTimeAsync(0);
    const stopping = queue.shutDown();
    queue.add('after-shutdown');
    gate.resolve();
    await jest.advanceTimersByTimeAsync(500);
    await stopping;
    expect(processed).toEqual(['first', 'second', 'third']);
    expect(await queue.get()).toBeUndefined();
  });

  it('shutDown({ drain: false }) finishes in-flight work only', async () => {
    const queue = new WorkQueue();
    const processed: string[] = [];
    const gate = deferred();
    queue.run(1, async (key) => {
      if (key === 'first') await gate.promise;
      processed.push(key);
    });
    queue.add('first');
    queue.add('second');
    await jest.advanceTimersByTimeAsync(0);
    const stopping = queue.shutDown({ drain: false });
    gate.resolve();
    await stopping;
    expect(processed).toEqual(['first']);
  });

  it('reports depth, retries and durations through hooks', async () => {
    const depths: number[] = [];
    const retries: number[] = [];
    const waits: number[] = [];
    const works: number[] = [];
    const queue = new WorkQueue({
      rateLimit: false,
      hooks: { depth: (depth) => depths.push(depth), retry: () => retries.push(1), queueDuration: (s) => waits.push(s), workDuration: (s) => works.push(s) },
    });
    queue.add('a');
    queue.add('b');
    expect(depths).toEqual([1, 2]);
    await jest.advanceTimersByTimeAsync(40);
    let failed = false;
    queue.run(1, async (key) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (key === 'a' && !failed) {
        failed = true;
        throw new Error('once');
      }
    });
    await jest.advanceTimersByTimeAsync(200);
    expect(retries).toHaveLength(1);
    expect(waits[0]).toBeCloseTo(0.04, 5); // a waited 40 ms for a worker
    expect(works.every((seconds) => seconds >= 0.01)).toBe(true);
    expect(works).toHaveLength(3); // a (failed), b, a (retried)
    expect(depths[depths.length - 1]).toBe(0);
    await queue.shutDown();
  });

  it('keys: namespace/name for namespaced objects, name for cluster-scoped ones', () => {
    expect(objectKey('ns', 'a')).toBe('ns/a');
    expect(objectKey(undefined, 'a')).toBe('a');
    expect(splitKey('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(splitKey('a')).toEqual({ name: 'a' });
  });
});
