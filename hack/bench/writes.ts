// Write amplification: how many API writes (creates, updates and patches that succeeded, any subresource) an
// object costs from creation to Ready, by resource, from the API server's own `apiserver_request_total`. A
// bench reads the counters before and after its objects settle; the difference over the object count is what
// each one took (the object's own create included; Events and Leases shown apart, since they are not state).
import { record } from './results.ts';

const WRITE_VERBS = new Set(['CREATE', 'UPDATE', 'PATCH']);
const LINE = /^apiserver_request_total\{([^}]*)\} (\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/;

/** Successful writes by resource ("ports", "ports/status"), summed from a Prometheus text exposition. */
export function writesByResource(metricsText: string): Map<string, number> {
  const writes = new Map<string, number>();
  for (const line of metricsText.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
    if (!WRITE_VERBS.has(labels.verb ?? '') || !/^2\d\d$/.test(labels.code ?? '')) continue;
    const key = labels.subresource ? `${labels.resource}/${labels.subresource}` : labels.resource!;
    writes.set(key, (writes.get(key) ?? 0) + Number(match[2]));
  }
  return writes;
}

/** What happened between two readings. */
export function writesBetween(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const difference = new Map<string, number>();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) difference.set(key, delta);
  }
  return difference;
}

/**
 * Prints and records the writes per object of `kind` (its resource `plural`, every subresource), with the
 * other resources written meanwhile (Ports a VM made, Events) beside it. Returns the object's own writes.
 */
export function reportWrites(kind: string, plural: string, objects: number, writes: Map<string, number>): number {
  let own = 0;
  const parts: string[] = [];
  const others: string[] = [];
  for (const [key, value] of [...writes].sort((a, b) => b[1] - a[1])) {
    const perObject = (value / objects).toFixed(2);
    if (key === plural || key.startsWith(`${plural}/`)) {
      own += value;
      parts.push(`${key} ${perObject}`);
    } else {
      others.push(`${key} ${perObject}`);
    }
  }
  console.log(`API writes per ${kind}: ${(own / objects).toFixed(2)} (${parts.join(', ') || 'none'})${others.length ? `; meanwhile per ${kind}: ${others.join(', ')}` : ''}`);
  record('writesPerObject', kind, own / objects);
  return own / objects;
}

/** Reads the counters of an API server running in this process (the test environments' servers). */
export function inProcessWrites(server: { metrics: { registry: { metrics(): Promise<string> } } }): () => Promise<Map<string, number>> {
  return async () => writesByResource(await server.metrics.registry.metrics());
}

/** The sum of a Prometheus text exposition's samples of `name` whose labels include `filter` (all when empty). */
export function metricSum(text: string, name: string, filter = ''): number {
  return text
    .split('\n')
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(filter))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}
