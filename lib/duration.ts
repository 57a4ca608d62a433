// Durations as kubectl and kubeadm take them (Go's time.ParseDuration, whole seconds), plus days: 24h, 90m,
// 1h30m, 7d.
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = /^(\d+[smhd])+$/;

/** Seconds in a duration such as 24h or 1h30m; undefined when it is not one. */
export function parseDurationSeconds(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhd])/g)) seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** 2592000 → 30d, 5400 → 1h30m: how a bound is shown back to the user. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of Object.entries(UNIT_SECONDS).reverse()) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}
