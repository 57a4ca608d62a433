// Memory per object held by the watch cache, measured in its own process with forced garbage collection
// (run with `node --expose-gc --import tsx hack/bench/cache-memory.ts N`). Objects are Vpcs as the API
// stores them, on the embedded store.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedStore } from '../../apiserver/storage/embedded.ts';
import { WatchCache } from '../../apiserver/watch/cache.ts';

const count = Number(process.argv[2] ?? 10000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-bench-cache-'));
const store = openEmbeddedStore({ path: path.join(directory, 'photon.db') });
try {
  const object = (index: number) => ({
    apiVersion: 'network.photoncloud.io/v1alpha1',
    kind: 'Vpc',
    metadata: { name: `vpc-${index}`, namespace: 'bench', uid: crypto.randomUUID(), creationTimestamp: '2026-11-28T00:00:00Z', generation: 1, labels: { bench: 'true' } },
    spec: { cidrBlocks: ['10.0.0.0/16'], staticRoutes: [{ destination: '0.0.0.0/0', nextHop: '10.0.0.1' }] },
    status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'Programmed', message: 'router programmed in OVN', lastTransitionTime: '2026-11-28T00:00:00Z' }] },
  });
  const bytes = Buffer.byteLength(JSON.stringify(object(0)));
  for (let index = 0; index < count; index++) await store.create(`/registry/network.photoncloud.io/vpcs/bench/vpc-${index}`, Buffer.from(JSON.stringify(object(index))));
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = new WatchCache(store, { logger: { info() {}, warn() {}, error() {}, debug() {} } as never });
  await cache.start();
  gc();
  const after = process.memoryUsage().heapUsed;
  console.log(JSON.stringify({ objects: cache.count('/registry/network.photoncloud.io/vpcs/'), bytesPerObject: Math.round((after - before) / count), jsonBytesPerObject: bytes }));
  cache.stop();
} finally {
  await store.close();
  await fs.rm(directory, { recursive: true, force: true });
}
