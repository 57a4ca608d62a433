// Kubernetes' timestamp formats: metav1.Time (seconds) and metav1.MicroTime (microseconds).

/** RFC 3339 with second precision (metav1.Time), e.g. 2026-01-02T03:04:05Z. */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with microseconds (metav1.MicroTime), e.g. 2026-01-02T03:04:05.123000Z. */
export function microTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
