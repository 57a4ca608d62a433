import { describe, expect, it } from '@jest/globals';
import type { ApiClient, ResourceRef } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Informer } from './informer.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from './lifecycle.ts';
import type { ReconcileContext } from './reconciler.ts';

const RESOURCE = { group: 'example.photoncloud.io', version: 'v1', resource: 'things', namespaced: true } as unknown as ResourceRef;
const FINALIZER = 'example.photoncloud.io/test';

/** A cache the test moves by hand, and a client whose status patches bump the resourceVersion. */
function harness(apply: (object: KubeObject) => Outcome) {
  let stored: KubeObject = { apiVersion: 'example.photoncloud.io/v1', kind: 'Thing', metadata: { name: 'a', namespace: 'ns', resourceVersion: '10', generation: 1, finalizers: [FINALIZER] } };
  let cached: KubeObject | undefined = structuredClone(stored);
  const seen: Array<unknown> = [];
  const client = {
    async patch(_resource: ResourceRef, _name: string, patch: { metadata: { resourceVersion: string }; status: Record<string, unknown> }) {
      if (patch.metadata.resourceVersion !== stored.metadata.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
      stored = { ...stored, metadata: { ...stored.metadata, resourceVersion: String(Number(stored.metadata.resourceVersion) + 1) }, status: { ...(stored.status as object), ...patch.status } };
      return structuredClone(stored);
    },
  } as unknown as ApiClient;
  const informer = { get: () => cached } as unknown as Informer<KubeObject>;
  const reconciler = new LifecycleReconciler<KubeObject>({
    client, resource: RESOURCE, informer, finalizer: FINALIZER, fieldManager: 'thing-controller',
    async apply(object) {
      seen.push(structuredClone(object.status));
      return apply(object);
    },
    async cleanup() { return 'done'; },
  });
  const context = { log: console, recorder: { event: async () => undefined }, signal: new AbortController().signal } as unknown as ReconcileContext;
  return {
    reconcile: () => reconciler.reconcile({ name: 'a', namespace: 'ns' }, context),
    catchUp: () => { cached = structuredClone(stored); },
    forget: () => { cached = undefined; },
    seen,
  };
}

describe('LifecycleReconciler', () => {
  it('skips a pass whose cache is older than its own last status write, and resumes once the cache shows it', async () => {
    let made = 0;
    const thing = harness((object) => {
      if (!(object.status as { made?: boolean } | undefined)?.made) made += 1;
      return { readiness: ready('Made', ''), status: { made: true } };
    });
    await thing.reconcile();
    expect(made).toBe(1);
    // Another event arrives before the watch has delivered the write: acting on it would make the thing again.
    await thing.reconcile();
    expect(made).toBe(1);
    expect(thing.seen).toHaveLength(1);
    thing.catchUp();
    await thing.reconcile();
    expect(made).toBe(1);
    expect(thing.seen).toHaveLength(2);
    expect(thing.seen[1]).toMatchObject({ made: true });
  });

  it('a pass that wrote nothing leaves later passes free, and a vanished object forgets its key', async () => {
    const thing = harness(() => ({ readiness: notReady('Waiting', 'for something') }));
    await thing.reconcile();
    thing.catchUp();
    await thing.reconcile();
    await thing.reconcile();
    expect(thing.seen).toHaveLength(3);
    thing.forget();
    await expect(thing.reconcile()).resolves.toEqual({});
  });
});
