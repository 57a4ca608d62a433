// Kubernetes' timestamp formats: metav1.Time (seconds) and metav1.MicroTime (microseconds).

/** The last second timestamp() formatted, and its text. */
let lastSecond = { second: Number.NaN, text: '' };

/**
 * RFC 3339 with second precision (metav1.Time), e.g. 2026-01-02T03:04:05Z. A busy API server stamps
 * several objects a millisecond, nearly always within the second it formatted last: that second's text is
 * kept (Date's toISOString and the regex that cut its milliseconds were ~1% of a create's CPU).
 */
export function timestamp(date?: Date): string {
  const second = Math.floor((date ? date.getTime() : Date.now()) / 1000);
  if (second !== lastSecond.second) {
    // An invalid Date throws here (RangeError), as toISOString always did.
    const text = new Date(second * 1000).toISOString();
    lastSecond = { second, text: `${text.slice(0, -5)}Z` };
  }
  return lastSecond.text;
}

/** RFC 3339 with microseconds (metav1.MicroTime), e.g. 2026-01-02T03:04:05.123000Z. */
export function microTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
