import { describe, expect, it } from '@jest/globals';
import type { ApiClient, ResourceRef } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Informer } from './informer.ts';
import { LifecycleReconciler, notReady, ready, type LifecycleContext, type Outcome } from './lifecycle.ts';
import type { ReconcileContext } from './reconciler.ts';

const RESOURCE = { group: 'example.photoncloud.io', version: 'v1', resource: 'things', namespaced: true } as unknown as ResourceRef;
const FINALIZER = 'example.photoncloud.io/test';

/**
 * A cache the test moves by hand, and a client whose status patches bump the resourceVersion. `during` runs
 * while a patch is in flight: before it is checked and stored, or after, before its response.
 */
function harness(apply: (object: KubeObject, context: LifecycleContext<KubeObject>) => Outcome | Promise<Outcome>, during: { beforeCommit?(): void; beforeReply?(): void } = {}) {
  let stored: KubeObject = { apiVersion: 'example.photoncloud.io/v1', kind: 'Thing', metadata: { name: 'a', namespace: 'ns', resourceVersion: '10', generation: 1, finalizers: [FINALIZER] } };
  let cached: KubeObject | undefined = structuredClone(stored);
  const seen: Array<unknown> = [];
  const client = {
    async patch(_resource: ResourceRef, _name: string, patch: { metadata: { resourceVersion: string }; status: Record<string, unknown> }) {
      during.beforeCommit?.();
      if (patch.metadata.resourceVersion !== stored.metadata.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
      stored = bumped(stored, patch.status);
      during.beforeReply?.();
      return structuredClone(stored);
    },
  } as unknown as ApiClient;
  const informer = { get: () => cached } as unknown as Informer<KubeObject>;
  const reconciler = new LifecycleReconciler<KubeObject>({
    client, resource: RESOURCE, informer, finalizer: FINALIZER, fieldManager: 'thing-controller',
    async apply(object, context) {
      seen.push(structuredClone(object.status));
      return apply(object, context);
    },
    async cleanup() { return 'done'; },
  });
  const context = { log: console, recorder: { event: async () => undefined }, signal: new AbortController().signal } as unknown as ReconcileContext;
  /** The informer's update event from the cached version to the stored one (the cache moves to it). */
  const deliver = () => {
    const old = cached!;
    cached = structuredClone(stored);
    return { old, object: cached };
  };
  return {
    reconciler,
    deliver,
    /** Another writer changes the status (e.g. a user's kubectl patch). */
    writeByOther: (status: Record<string, unknown>) => { stored = bumped(stored, status); },
    reconcile: () => reconciler.reconcile({ name: 'a', namespace: 'ns' }, context),
    catchUp: () => { cached = structuredClone(stored); },
    forget: () => { cached = undefined; },
    seen,
  };
}

function bumped(object: KubeObject, status: Record<string, unknown>): KubeObject {
  return { ...object, metadata: { ...object.metadata, resourceVersion: String(Number(object.metadata.resourceVersion) + 1) }, status: { ...(object.status as object), ...status } };
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

  describe('the echo of its own status write', () => {
    const echoOf = (thing: ReturnType<typeof harness>) => {
      const { old, object } = thing.deliver();
      return thing.reconciler.isEchoOfOwnWrite(old, object);
    };

    it('is not queued, once; a resync or another writer\'s change is', async () => {
      let count = 0;
      const thing = harness(() => ({ readiness: ready('Made', ''), status: { count: ++count } }));
      await thing.reconcile();
      const { old, object } = thing.deliver();
      expect(thing.reconciler.isEchoOfOwnWrite(old, object)).toBe(true);
      // The same event again (a relist that finds the same version) is no longer recognised.
      expect(thing.reconciler.isEchoOfOwnWrite(old, object)).toBe(false);
      expect(thing.reconciler.isEchoOfOwnWrite(object, object)).toBe(false);
      await thing.reconcile();
      expect(thing.reconciler.isEchoOfOwnWrite(object, object)).toBe(false); // resync: old === new
      const other = { ...object, metadata: { ...object.metadata, resourceVersion: '99' } };
      expect(thing.reconciler.isEchoOfOwnWrite(object, other)).toBe(false);
    });

    it('is queued when a pass was deferred waiting for it, and that pass then runs', async () => {
      let count = 0;
      const thing = harness(() => ({ readiness: ready('Made', ''), status: { count: ++count } }));
      await thing.reconcile();
      await thing.reconcile(); // another trigger (a referenced object changed) while the cache is behind: deferred
      expect(thing.seen).toHaveLength(1);
      expect(echoOf(thing)).toBe(false);
      await thing.reconcile();
      expect(thing.seen).toHaveLength(2);
    });

    it('is queued when the event folds in more than the write (its old version is not the one written on)', async () => {
      const thing = harness(() => ({ readiness: ready('Made', ''), status: { made: true } }));
      const first = thing.deliver().object; // the cache at version 10
      await thing.reconcile(); // writes 10 → 11
      const written = thing.deliver().object;
      const older = { ...first, metadata: { ...first.metadata, resourceVersion: '9' } };
      expect(thing.reconciler.isEchoOfOwnWrite(older, written)).toBe(false);
    });

    it('a progress write and the final one: both echoes unqueued; after a deferred pass only the last is queued', async () => {
      for (const deferAPass of [false, true]) {
        const thing = harness(async (_object, context) => {
          await context.progress({ readiness: notReady('Allocating', ''), status: { step: 1 } });
          return { readiness: ready('Made', ''), status: { step: 2, pass: thing.seen.length } };
        });
        await thing.reconcile(); // 10 → 11 (progress) → 12
        if (deferAPass) await thing.reconcile();
        expect(thing.seen).toHaveLength(1);
        // The informer shows each version in turn.
        const progress = thing.reconciler;
        const stored = thing.deliver(); // the cache jumps to 12 here; replay it as two events
        const at11 = { ...stored.object, metadata: { ...stored.object.metadata, resourceVersion: '11' } };
        expect(progress.isEchoOfOwnWrite(stored.old, at11)).toBe(true);
        expect(progress.isEchoOfOwnWrite(at11, stored.object)).toBe(!deferAPass);
      }
    });

    it('that comes before the write\'s response is not queued, and is not waited for afterwards', async () => {
      let echo: boolean | undefined;
      const thing = harness(() => ({ readiness: ready('Made', ''), status: { made: true } }), {
        beforeReply: () => {
          const { old, object } = thing.deliver();
          echo = thing.reconciler.isEchoOfOwnWrite(old, object);
        },
      });
      await thing.reconcile();
      expect(echo).toBe(true);
      // Seen already: the next pass (another trigger) runs instead of waiting for an echo that came.
      await thing.reconcile();
      expect(thing.seen).toHaveLength(2);
    });

    it('another writer\'s change while the write is in flight is not queued: the write fails (409) and the controller runs the pass again', async () => {
      let queued: boolean | undefined;
      const thing = harness(() => ({ readiness: ready('Made', ''), status: { made: true } }), {
        beforeCommit: () => {
          if (queued !== undefined) return;
          thing.writeByOther({ note: 'by hand' });
          const { old, object } = thing.deliver();
          queued = !thing.reconciler.isEchoOfOwnWrite(old, object);
        },
      });
      await expect(thing.reconcile()).rejects.toMatchObject({ code: 409 });
      expect(queued).toBe(false);
      await thing.reconcile(); // what Controller.process does after a 409 once the cache moved
      expect(thing.seen).toHaveLength(2);
      expect(thing.seen[1]).toMatchObject({ note: 'by hand' });
    });
  });
});
