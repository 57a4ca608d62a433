// Load-generation helpers shared by the benchmarks: a fixed-concurrency runner and latency statistics.

export interface RunResult {
  operations: number;
  seconds: number;
  perSecond: number;
  latenciesMs: number[];
}

/** Runs `operation(i)` for i in [0, total) with `concurrency` in flight; measures throughput and latency. */
export async function runConcurrent(total: number, concurrency: number, operation: (index: number) => Promise<unknown>): Promise<RunResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) {
      const index = next++;
      const begin = performance.now();
      await operation(index);
      latenciesMs.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { operations: total, seconds, perSecond: total / seconds, latenciesMs };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export const fmt = (value: number, digits = 1) => value.toFixed(digits);
