// Watch delivery: N watchers of one collection, M creates; every watcher must see every event, and the
// latency of each is the time from the create being sent to the event being read. Run over HTTP/1.1 (a
// connection per watch) and over HTTP/2 (watches as streams of few connections, as client-go sends them).
import { waitFor } from '../../test/env/process.ts';
import type { Client } from './api.ts';
import { fmt, percentile, runConcurrent } from './load.ts';
import { record } from './results.ts';

export interface Watcher {
  watch(urlPath: string, onLine: (line: string) => void, onOpen?: () => void): () => void;
}

/** Every watcher must see every event; latency = event received − create sent. */
export async function benchWatchDelivery(options: { client: Client; watcher: Watcher; namespace: string; how: string; recordSuffix: string; watchers: number; events: number }): Promise<void> {
  const { client, watcher, namespace, how, recordSuffix } = options;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let received = 0;
  const closers: Array<() => void> = [];
  let open = 0;
  const listPath = `/apis/network.photoncloud.io/v1alpha1/namespaces/${namespace}/vpcs`;
  const revision = JSON.parse((await client.request('GET', listPath)).text).metadata.resourceVersion;
  for (let index = 0; index < options.watchers; index++) {
    closers.push(watcher.watch(`${listPath}?watch=true&resourceVersion=${revision}`, (line) => {
      const now = performance.now();
      // The name is picked out of the line, not parsed: this process reads 1,000 × 500 lines, and parsing
      // them all made the bench's own backlog the p99 (9.4 s), not the server's delivery.
      const at = line.indexOf('"name":"w-');
      const sent = at < 0 ? undefined : sentAt.get(line.slice(at + 8, line.indexOf('"', at + 8)));
      if (line.startsWith('{"type":"ADDED"') && sent !== undefined) {
        latencies.push(now - sent);
        received++;
      }
    }, () => open++));
  }
  // Every watch connected (1,000 TLS handshakes take seconds here) before the first create: the figure is
  // delivery, not the set-up of the other watchers.
  await waitFor('every watch to connect', () => open === options.watchers, { timeoutMs: 120_000 });
  const creates = await runConcurrent(options.events, 4, async (index) => {
    const name = `w-${index}`;
    sentAt.set(name, performance.now());
    await client.create(namespace, name);
  });
  const expected = options.watchers * options.events;
  await waitFor('all watch events', () => received >= expected, { timeoutMs: 60_000 });
  for (const close of closers) close();
  console.log(`\n## Watch delivery (${options.watchers} watchers over ${how} × ${options.events} creates at concurrency 4; create sent → event received)`);
  console.log(`events delivered: ${received}/${expected}   p50 ${fmt(percentile(latencies, 50), 2)} ms   p99 ${fmt(percentile(latencies, 99), 2)} ms   max ${fmt(latencies.reduce((most, value) => Math.max(most, value), 0), 2)} ms`);
  // The create itself is part of every event's latency (the server fans out while it takes the next creates).
  console.log(`the creates themselves: ${fmt(creates.perSecond)}/s, p50 ${fmt(percentile(creates.latenciesMs, 50), 2)} ms   p99 ${fmt(percentile(creates.latenciesMs, 99), 2)} ms`);
  record('watch', `p50Ms${options.watchers}Watchers${recordSuffix}`, percentile(latencies, 50));
  record('watch', `p99Ms${options.watchers}Watchers${recordSuffix}`, percentile(latencies, 99));
}

