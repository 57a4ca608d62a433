// Kubernetes' timestamp formats: metav1.Time (seconds) and metav1.MicroTime (microseconds).

/** The last second secondText() formatted, and its text. */
let lastSecond = { second: Number.NaN, text: '' };

/**
 * `YYYY-MM-DDTHH:MM:SSZ` of a second since the epoch. A busy API server stamps several objects and audit
 * events a millisecond, nearly always within the second it formatted last: that second's text is kept
 * (Date's toISOString, and the regex that cut its milliseconds, were ~1% of a create's CPU). An invalid
 * second (NaN) throws a RangeError, as toISOString does.
 */
export function secondText(epochSecond: number): string {
  if (epochSecond !== lastSecond.second) lastSecond = { second: epochSecond, text: `${new Date(epochSecond * 1000).toISOString().slice(0, -5)}Z` };
  return lastSecond.text;
}

/** RFC 3339 with second precision (metav1.Time), e.g. 2026-01-02T03:04:05Z. */
export function timestamp(date?: Date): string {
  return secondText(Math.floor((date ? date.getTime() : Date.now()) / 1000));
}

/** RFC 3339 with microseconds (metav1.MicroTime), e.g. 2026-01-02T03:04:05.123000Z. */
export function microTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
