// The bench's figures as data: each section records what it prints, and `npm run bench` writes them to
// hack/bench/results/latest.json (a full run; --quick writes quick.json), so committing a run keeps its figures
// in the repository's history and a regression shows as a diff.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const figures: Record<string, Record<string, number>> = {};

/** One figure of a section (e.g. record('writes', 'apiCreatesPerSecondC64', 498)). Rounded to 3 significant decimals. */
export function record(section: string, name: string, value: number): void {
  (figures[section] ??= {})[name] = Number.isFinite(value) ? Math.round(value * 1000) / 1000 : value;
}

/** Writes every recorded figure with the machine it was measured on (to `<name>.json` when named); resolves with the file. */
export async function writeResults(quick: boolean, name?: string): Promise<string> {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, name ? `${name}.json` : quick ? 'quick.json' : 'latest.json');
  const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  await fs.writeFile(file, `${JSON.stringify({ measuredAt: new Date().toISOString(), machine, figures }, null, 2)}\n`);
  return file;
}
