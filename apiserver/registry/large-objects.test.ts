// A large object's write is several passes of tens of milliseconds each (checks, field ownership, apply's
// merge and comparison, encoding): between passes the write waits a loop turn, so other requests (/readyz,
// watches, other tenants) are served in between instead of after the whole write. Here the turns are counted
// with a chain of setImmediate callbacks running beside the write; the embedded store on :memory: answers
// without I/O, so the turns counted are the write's own.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import { applySteps } from '../fieldmanager/index.ts';
import { openEmbeddedStore } from '../storage/embedded.ts';
import type { Store } from '../storage/types.ts';
import { defaultWriteOptions } from './admit.ts';
import { builtinResources } from './builtins/index.ts';
import { fieldContext, ObjectStore, runSteps } from './object-store.ts';
import type { ResourceInfo } from './resource.ts';

const configMaps = builtinResources().find((resource) => resource.plural === 'configmaps' && resource.group === '')! as ResourceInfo;
const NS = 'default';

let store: Store;
let objects: ObjectStore;

beforeEach(() => {
  store = openEmbeddedStore({ path: ':memory:' });
  objects = new ObjectStore(store);
});

afterEach(async () => {
  await store.close();
});

const configMap = (name: string, keys: number, tag: string): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: Object.fromEntries(Array.from({ length: keys }, (_, index) => [`key-${index}`, `${tag} ${index}`])) }) as KubeObject;

/** How many loop turns passed while `work` ran. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}

describe('writes of large objects wait loop turns between their passes', () => {
  it('create, update and apply of a 5,000-key ConfigMap each let the loop turn several times', async () => {
    const created = await turnsDuring(() => objects.create(configMaps, NS, configMap('big', 5000, 'a'), defaultWriteOptions()));
    expect(created.turns).toBeGreaterThanOrEqual(2);
    const updated = await turnsDuring(() => objects.update(configMaps, NS, 'big', configMap('big', 5000, 'b'), defaultWriteOptions()));
    expect(updated.turns).toBeGreaterThanOrEqual(3);
    expect((updated.result as unknown as { data: Record<string, string> }).data['key-4999']).toBe('b 4999');
    const config = configMap('big', 5000, 'c');
    const applied = await turnsDuring(() =>
      objects.guaranteedUpdate(configMaps, NS, 'big', { ...defaultWriteOptions(), operation: 'Apply' }, (current) =>
        runSteps(applySteps(current, config, 'applier', { force: true }, fieldContext(configMaps)), current, config),
      ),
    );
    // The update's own turns and apply's (views, applied set, merge, comparison, result).
    expect(applied.turns).toBeGreaterThanOrEqual(7);
    expect((applied.result as unknown as { data: Record<string, string> }).data['key-0']).toBe('c 0');
    expect(applied.result.metadata.managedFields?.map((entry) => entry.manager)).toContain('applier');
  });

  it('a small object is written without waiting for a turn', async () => {
    const created = await turnsDuring(() => objects.create(configMaps, NS, configMap('small', 10, 'a'), defaultWriteOptions()));
    const updated = await turnsDuring(() => objects.update(configMaps, NS, 'small', configMap('small', 10, 'b'), defaultWriteOptions()));
    const config = configMap('small', 10, 'c');
    const applied = await turnsDuring(() =>
      objects.guaranteedUpdate(configMaps, NS, 'small', { ...defaultWriteOptions(), operation: 'Apply' }, (current) =>
        runSteps(applySteps(current, config, 'applier', { force: true }, fieldContext(configMaps)), current, config),
      ),
    );
    expect([created.turns, updated.turns, applied.turns]).toEqual([0, 0, 0]);
  });
});
