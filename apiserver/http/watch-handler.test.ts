// The watch handler's fan-out: a live event is encoded once per shape (representation, includeObject,
// version, type), and that one Buffer is what every watcher of the shape writes to its socket. Watchers are
// served over loopback HTTP from a real watch cache on the embedded store; each response's writes are
// recorded as they go to the socket.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import type { KubeObject } from '../../apis/meta/types.ts';
import { waitFor } from '../../test/env/process.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { builtinResources } from '../registry/builtins/index.ts';
import { ObjectStore } from '../registry/object-store.ts';
import type { ResourceInfo } from '../registry/resource.ts';
import { openEmbeddedStore } from '../storage/embedded.ts';
import type { Store } from '../storage/types.ts';
import { WatchCache } from '../watch/cache.ts';
import { WatchHandler } from './watch-handler.ts';

const configMaps = builtinResources().find((resource) => resource.plural === 'configmaps' && resource.group === '')! as ResourceInfo;
const NS = 'default';
const silentLogger = winston.createLogger({ silent: true });

let store: Store;
let cache: WatchCache;
let handler: WatchHandler;
let server: http.Server;
let base: string;
/** Everything each watch's response wrote, in order, as written (string or Buffer). */
const written = new Map<string, unknown[]>();
const clients: http.ClientRequest[] = [];

beforeEach(async () => {
  store = openEmbeddedStore({ path: ':memory:' });
  cache = new WatchCache(store, { logger: silentLogger });
  await cache.start();
  handler = new WatchHandler(cache, { bookmarkIntervalMs: 60_000, maxTimeoutSeconds: 60, maxBufferedBytes: 1 << 20, logger: silentLogger });
  server = http.createServer((request, response) => {
    const url = new URL(request.url!, 'http://x');
    const chunks: unknown[] = [];
    written.set(url.searchParams.get('watcher')!, chunks);
    const write = response.write.bind(response) as (...args: unknown[]) => boolean;
    response.write = ((chunk: unknown, ...rest: unknown[]) => (chunks.push(chunk), write(chunk, ...rest))) as typeof response.write;
    request.headers.accept = url.searchParams.get('as') === 'table' ? 'application/json;as=Table;v=v1;g=meta.k8s.io' : 'application/json';
    handler.serve(request, response, configMaps, NS, url.searchParams).catch((error: unknown) => response.destroy(error as Error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  handler.closeAll();
  cache.stop();
  await new Promise((resolve) => server.close(resolve));
  await store.close();
  written.clear();
});

/** Opens a watch from `revision`; resolves once its headers arrive. Returns the lines it receives. */
async function watch(watcher: string, revision: number, extra = ''): Promise<string[]> {
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const client = http.get(`${base}/?watch=true&resourceVersion=${revision}&watcher=${watcher}${extra}`, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        const parts = text.split('\n');
        text = parts.pop()!;
        lines.push(...parts);
      });
      resolve();
    });
    client.on('error', reject);
    clients.push(client);
  });
  return lines;
}

describe('watch fan-out', () => {
  it('writes one Buffer per live event to every watcher of the same shape, and another to a different shape', async () => {
    const objects = new ObjectStore(store);
    const first = await objects.create(configMaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: NS }, data: { k: 'é' } } as KubeObject, defaultWriteOptions());
    await waitFor('the cache to see the first create', () => cache.revision >= Number(first.metadata.resourceVersion), { intervalMs: 5 });
    const from = cache.revision;
    const one = await watch('one', from);
    const two = await watch('two', from);
    const table = await watch('table', from, '&as=table');
    await waitFor('three watchers', () => cache.watcherCount() === 3, { intervalMs: 5 });

    await objects.create(configMaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: NS }, data: { k: 'ü' } } as KubeObject, defaultWriteOptions());
    await waitFor('the event at every watcher', () => one.length === 1 && two.length === 1 && table.length === 1, { intervalMs: 5 });

    const event = JSON.parse(one[0]!);
    expect(event).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'b' }, data: { k: 'ü' } } });
    expect(two[0]).toBe(one[0]);
    const lineOf = (watcher: string) => written.get(watcher)!.filter((chunk) => Buffer.isBuffer(chunk));
    const [sent] = lineOf('one') as Buffer[];
    expect(sent!.toString('utf8')).toBe(`${one[0]}\n`);
    // The same bytes object, not an equal copy: the line was encoded once for both.
    expect(lineOf('two')).toHaveLength(1);
    expect(lineOf('two')[0]).toBe(sent);
    // A Table watcher's line is its own, encoded once for its shape.
    expect(JSON.parse(table[0]!)).toMatchObject({ type: 'ADDED', object: { kind: 'Table' } });
    expect(lineOf('table')).toHaveLength(1);
    expect(lineOf('table')[0]).not.toBe(sent);
  });
});
