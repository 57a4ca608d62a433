// Command-line options of the benches that take them (`npm run bench -- scale …`, `npm run bench -- ab …`).

/** The value after `flag`, or undefined without the flag. */
export function stringOption(argv: readonly string[], flag: string): string | undefined {
  const index = argv.indexOf(flag);
  return index < 0 ? undefined : argv[index + 1];
}

/** A positive whole number after `flag` (fallback without the flag); anything else is an error naming the flag. */
export function wholeNumberOption(argv: readonly string[], flag: string, fallback: number): number {
  const index = argv.indexOf(flag);
  if (index < 0) return fallback;
  const number = Number(argv[index + 1]);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`${flag} needs a whole number, got ${JSON.stringify(argv[index + 1])}`);
  return number;
}
