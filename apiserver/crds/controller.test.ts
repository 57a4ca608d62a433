// The CRD controller against a real (in-memory embedded) store and watch cache: stored CRDs that bypassed
// admission (written before today's rules, or straight into storage) must neither crash it, nor make it
// retry in a loop, nor let a CRD's deletion touch any storage but its own.
import { afterEach, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { KubeObject } from '../../apis/meta/types.ts';
import { waitFor } from '../../test/env/process.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { builtinResources } from '../registry/builtins/index.ts';
import { ObjectStore } from '../registry/object-store.ts';
import { ResourceRegistry } from '../registry/registry.ts';
import { openEmbeddedStore } from '../storage/embedded.ts';
import type { Store } from '../storage/types.ts';
import { WatchCache } from '../watch/cache.ts';
import { CrdController } from './controller.ts';
import { CRD_CLEANUP_FINALIZER, customResourceDefinitionResource } from './resource.ts';

const PREFIX = '/registry/apiextensions.k8s.io/customresourcedefinitions/';

interface Env {
  store: Store;
  registry: ResourceRegistry;
  objects: ObjectStore;
  cache: WatchCache;
  controller: CrdController;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

let env: Env | undefined;

afterEach(async () => {
  await env?.stop();
  env = undefined;
});

async function start(seed: (store: Store) => Promise<void> = async () => undefined): Promise<Env> {
  const store = openEmbeddedStore({ path: ':memory:' });
  await seed(store);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
  const registry = new ResourceRegistry();
  const crds = customResourceDefinitionResource();
  registry.setSource('builtin', [...builtinResources(), crds]);
  const cache = new WatchCache(store, { logger });
  await cache.start();
  const objects = new ObjectStore(store);
  const controller = new CrdController(crds, registry, objects, cache, logger);
  controller.start();
  env = {
    store, registry, objects, cache, controller, logs,
    async stop() {
      controller.stop();
      cache.stop();
      await store.close();
    },
  };
  return env;
}

function crd(group: string, plural: string, kind: string, overrides: { versions?: string[]; created?: string; finalizers?: string[] } = {}): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, uid: `uid-${plural}.${group}`, creationTimestamp: overrides.created ?? '2025-01-01T00:00:00Z', finalizers: overrides.finalizers ?? [CRD_CLEANUP_FINALIZER] },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural, kind },
      versions: (overrides.versions ?? ['v1']).map((name, index) => ({ name, served: true, storage: index === 0 })),
    },
  } as KubeObject;
}

/** Writes a value straight into storage under a CRD name, bypassing admission (create or overwrite). */
async function writeRaw(store: Store, name: string, value: unknown): Promise<void> {
  const key = `${PREFIX}${name}`;
  const encoded = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  const existing = await store.get(key);
  if (existing) await store.update(key, encoded, existing.modRevision);
  else await store.create(key, encoded);
}

async function stored(store: Store, key: string): Promise<KubeObject | undefined> {
  const kv = await store.get(key);
  return kv ? (JSON.parse(kv.value.toString('utf8')) as KubeObject) : undefined;
}

function condition(object: KubeObject | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return ((object?.status as { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } | undefined)?.conditions ?? []).find((entry) => entry.type === type);
}

async function eventsAbout(store: Store, name: string): Promise<KubeObject[]> {
  const { items } = await store.list('/registry/core/events/default/');
  return items.map((kv) => JSON.parse(kv.value.toString('utf8')) as KubeObject).filter((event) => (event.involvedObject as { name?: string }).name === name);
}

const MALFORMED: Record<string, unknown> = {
  'nospec.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'nospec.example.com' } },
  'stringspec.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'stringspec.example.com' }, spec: 'nope' },
  'wrongtypes.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'wrongtypes.example.com' }, spec: { group: 5, names: [], scope: 'Namespaced', versions: 'v1' }, status: 'broken' },
  'noversions.example.com': { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'noversions.example.com' }, spec: { group: 'example.com', names: { plural: 'noversions', kind: 'NoVersion' }, scope: 'Namespaced' } },
  'leases.coordination.k8s.io': crd('coordination.k8s.io', 'leases', 'Lease', { versions: ['v2'] }),
  'customresourcedefinitions.apiextensions.k8s.io': crd('apiextensions.k8s.io', 'customresourcedefinitions', 'CustomResourceDefinition', { versions: ['v2'] }),
};

/** Stored under one name, claiming another CRD's: served under neither, and the claimed CRD untouched. */
const HIJACK = { ...crd('example.com', 'widgets', 'Hijack', { versions: ['v9'] }) };

describe('CrdController with malformed stored CRDs', () => {
  it('reports each (NamesAccepted/Established False, a warning, one Event), serves none, and serves the valid ones', async () => {
    const { store, registry } = await start(async (store) => {
      for (const [name, value] of Object.entries(MALFORMED)) await writeRaw(store, name, value);
      await writeRaw(store, 'widgets.example.com', crd('example.com', 'widgets', 'Widget'));
      await writeRaw(store, 'array.example.com', '[1, 2]');
      await writeRaw(store, 'garbage.example.com', 'not json at all');
      await writeRaw(store, 'hijack1.example.com', HIJACK);
    });
    await writeRaw(store, 'hijack2.example.com', HIJACK);
    expect(registry.resourcesOf('widgets.example.com').map((resource) => resource.group)).toEqual(['example.com']);
    for (const name of [...Object.keys(MALFORMED), 'array.example.com', 'garbage.example.com']) expect(registry.resourcesOf(name)).toEqual([]);
    // The built-ins are untouched: no alias of CRD or Lease storage was registered.
    expect(registry.get('apiextensions.k8s.io', 'v2', 'customresourcedefinitions')).toBeUndefined();
    expect(registry.get('coordination.k8s.io', 'v2', 'leases')).toBeUndefined();
    expect(registry.get('coordination.k8s.io', 'v1', 'leases')?.source).toBe('builtin');

    for (const name of Object.keys(MALFORMED)) {
      const object = await waitFor(`a condition on ${name}`, async () => {
        const current = await stored(store, `${PREFIX}${name}`);
        return condition(current, 'NamesAccepted') ? current : undefined;
      });
      expect(condition(object, 'NamesAccepted')).toMatchObject({ status: 'False' });
      expect(condition(object, 'Established')).toMatchObject({ status: 'False' });
      await waitFor(`an Event about ${name}`, async () => (await eventsAbout(store, name)).length === 1);
    }
    expect(condition(await stored(store, `${PREFIX}leases.coordination.k8s.io`), 'NamesAccepted')?.message).toContain('spec.group: Forbidden: "coordination.k8s.io" is a protected group');
    await waitFor('InvalidObject on the CRD stored under another name', async () => condition(await stored(store, `${PREFIX}hijack2.example.com`), 'NamesAccepted')?.reason === 'InvalidObject');
    expect(registry.resourcesOf('widgets.example.com').map((resource) => [resource.version, resource.kind])).toEqual([['v1', 'Widget']]);
    expect(condition(await stored(store, `${PREFIX}widgets.example.com`), 'Established')).toMatchObject({ status: 'True' });
    // An array is no CRD: it gets no status, but is reported once its key is known (listings carry none).
    await writeRaw(store, 'array2.example.com', '[1]');
    await waitFor('an Event about the array', async () => (await eventsAbout(store, 'array2.example.com')).length === 1);
    expect(registry.resourcesOf('array2.example.com')).toEqual([]);
  });

  it('does not retry a problem only a change can fix, and looks again at once when the CRD changes', async () => {
    const { store, registry, logs } = await start(async (store) => writeRaw(store, 'widgets.example.com', { ...crd('example.com', 'widgets', 'Widget'), spec: { group: 'example.com' } }));
    const key = `${PREFIX}widgets.example.com`;
    await waitFor('the InvalidSpec condition', async () => condition(await stored(store, key), 'NamesAccepted')?.reason === 'InvalidSpec');
    const revision = (await store.get(key))!.modRevision;
    const passesLogged = () => logs.filter((entry) => entry.crd === 'widgets.example.com').length;
    const logged = passesLogged();
    // Three of the old retry periods (500 ms): the old controller logged and retried ~6 times meanwhile.
    const observedUntil = Date.now() + 1500;
    await waitFor('the observation window', () => Date.now() >= observedUntil, { timeoutMs: 5000, intervalMs: 100 });
    expect((await store.get(key))!.modRevision).toBe(revision);
    expect(passesLogged()).toBe(logged);
    expect(await eventsAbout(store, 'widgets.example.com')).toHaveLength(1);

    // A fixed spec (here written as raw as the broken one) is served at once.
    await writeRaw(store, 'widgets.example.com', { ...(await stored(store, key)), spec: crd('example.com', 'widgets', 'Widget').spec });
    await waitFor('the fixed CRD to be served', () => registry.resourcesOf('widgets.example.com').length === 1);
    await waitFor('Established True', async () => condition(await stored(store, key), 'Established')?.status === 'True');
  });

  it('deleting a never-served CRD over built-in storage deletes nothing else and releases it', async () => {
    const { store, registry, objects } = await start(async (store) => {
      await writeRaw(store, 'leases.coordination.k8s.io', crd('coordination.k8s.io', 'leases', 'Lease', { versions: ['v2'] }));
      await writeRaw(store, 'customresourcedefinitions.apiextensions.k8s.io', crd('apiextensions.k8s.io', 'customresourcedefinitions', 'CustomResourceDefinition', { versions: ['v2'] }));
      await writeRaw(store, 'widgets.example.com', crd('example.com', 'widgets', 'Widget'));
      // 'builtin' is the registry's name for the server's own kinds: a CRD stored under it must not be them.
      await writeRaw(store, 'builtin', { ...crd('example.com', 'builtins', 'Builtin'), metadata: { name: 'builtin', finalizers: [CRD_CLEANUP_FINALIZER] } });
      await store.create('/registry/coordination.k8s.io/leases/default/holder', Buffer.from(JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'holder', namespace: 'default', uid: 'l1' }, spec: {} })));
    });
    const widgets = registry.resourcesOf('widgets.example.com')[0];
    await objects.create(widgets, 'default', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }, defaultWriteOptions());
    const crds = registry.get('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
    for (const name of ['leases.coordination.k8s.io', 'customresourcedefinitions.apiextensions.k8s.io', 'builtin']) {
      await objects.delete(crds, undefined, name, {}, defaultWriteOptions());
      await waitFor(`${name} to be gone`, async () => !(await store.get(`${PREFIX}${name}`)));
    }
    expect(await store.get('/registry/coordination.k8s.io/leases/default/holder')).not.toBeNull();
    expect(await store.get(`${PREFIX}widgets.example.com`)).not.toBeNull();
    expect(await store.get('/registry/example.com/widgets/default/w')).not.toBeNull();
    expect(registry.get('', 'v1', 'namespaces')?.source).toBe('builtin');
    expect(registry.get('coordination.k8s.io', 'v1', 'leases')?.source).toBe('builtin');
    expect(registry.resourcesOf('widgets.example.com')).toHaveLength(1);

    // A served CRD's deletion deletes its own objects, and only those.
    await objects.delete(crds, undefined, 'widgets.example.com', {}, defaultWriteOptions());
    await waitFor('widgets.example.com to be gone', async () => !(await store.get(`${PREFIX}widgets.example.com`)));
    expect(await store.get('/registry/example.com/widgets/default/w')).toBeNull();
    expect(await store.get('/registry/coordination.k8s.io/leases/default/holder')).not.toBeNull();
  });
});

describe('CrdController name clashes', () => {
  it('a second CRD for a kind in the same group is refused (KindConflict) and served once the first is gone', async () => {
    const { store, registry, objects } = await start(async (store) => {
      // Stored in key order "fakes" < "vpcs", but vpcs is older: after a restart the older keeps the kind.
      await writeRaw(store, 'vpcs.net.example.com', crd('net.example.com', 'vpcs', 'Vpc', { created: '2024-01-01T00:00:00Z' }));
      const fakes = crd('net.example.com', 'fakes', 'Vpc', { created: '2025-01-01T00:00:00Z' });
      (fakes.spec as { names: { singular?: string } }).names.singular = 'fake'; // else "vpc", the first clash
      await writeRaw(store, 'fakes.net.example.com', fakes);
    });
    expect(registry.resourcesOf('vpcs.net.example.com')).toHaveLength(1);
    expect(registry.resourcesOf('fakes.net.example.com')).toEqual([]);
    await waitFor('KindConflict', async () => condition(await stored(store, `${PREFIX}fakes.net.example.com`), 'NamesAccepted')?.reason === 'KindConflict');
    const crds = registry.get('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
    await objects.delete(crds, undefined, 'vpcs.net.example.com', {}, defaultWriteOptions());
    await waitFor('the refused CRD to be served', () => registry.resourcesOf('fakes.net.example.com').length === 1);
    await waitFor('its NamesAccepted True', async () => condition(await stored(store, `${PREFIX}fakes.net.example.com`), 'NamesAccepted')?.status === 'True');
  });
});
