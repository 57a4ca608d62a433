// A tiny sample controller on the runtime, against a real API server (embedded store) and the real kubectl:
// it puts a finalizer on Vpcs, marks them Ready through /status with observedGeneration, records an
// Event, retries transient failures with backoff, stalls on TerminalError, reacts to owned ConfigMaps, and
// cleans up on delete. `kubectl wait --for=condition=Ready` is the judge.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { ConfigMapResource, isNotFound, type ApiClient, type ConfigMap } from '../../../apis/client/index.ts';
import type { Condition, KubeObject } from '../../../apis/meta/types.ts';
import { VpcResource, type Vpc } from '../../../apis/network/v1alpha1/index.ts';
import { Controller, ensureFinalizer, InformerCache, removeFinalizer, RuntimeMetrics, TerminalError, watchOf, writeStatusIfChanged, type Informer, type ReconcileContext, type ReconcileRequest, type Reconciler, type Result } from '../../../controllers/runtime/index.ts';
import { findCondition, setCondition } from '../../../apis/meta/conditions.ts';
import { type TestApiServer } from '../../env/apiserver.ts';
import { waitFor } from '../../env/process.ts';
import { captureLogger, sleep, startRuntimeFixture, type RuntimeFixture } from './helpers.ts';

const NS = 'controller-test';
const FINALIZER = 'network.photoncloud.io/sample';

function vpc(name: string, labels: Record<string, string> = {}): Vpc {
  return { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, namespace: NS, labels }, spec: { cidrBlocks: ['10.0.0.0/16'] } };
}

/** The reconcile shape of docs/architecture.md ("A reconcile"), in miniature. */
class SampleVpcReconciler implements Reconciler {
  readonly calls = new Map<string, number>();
  readonly failuresLeft = new Map<string, number>();
  cleanedUp: string[] = [];

  constructor(
    private readonly client: ApiClient,
    private readonly cache: () => Informer<Vpc>,
  ) {}

  async reconcile(request: ReconcileRequest, { log, recorder, signal }: ReconcileContext): Promise<Result> {
    const key = `${request.namespace}/${request.name}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    const cached = this.cache().get(request.name, request.namespace);
    if (!cached) return {};
    const object = structuredClone(cached);
    if (object.metadata.deletionTimestamp) {
      this.cleanedUp.push(request.name);
      await removeFinalizer(this.client, VpcResource, object, FINALIZER, { signal });
      return {};
    }
    if (await ensureFinalizer(this.client, VpcResource, object, FINALIZER, { signal })) return {};
    const failures = this.failuresLeft.get(request.name) ?? 0;
    if (failures > 0) {
      this.failuresLeft.set(request.name, failures - 1);
      throw new Error('the network backend is not answering');
    }
    if (object.metadata.labels?.['sample/invalid']) throw new TerminalError('InvalidSpec', `label sample/invalid=${object.metadata.labels['sample/invalid']} cannot be provisioned`);
    const generation = object.metadata.generation;
    const conditions = setCondition(object.status?.conditions, { type: 'Ready', status: 'True', reason: 'Provisioned', message: `${object.spec.cidrBlocks.length} CIDR block(s) routed` }, generation);
    const result = await writeStatusIfChanged(this.client, VpcResource, object, { ...object.status, observedGeneration: generation, conditions }, { fieldManager: 'sample-controller', signal });
    if (result.changed) {
      log.info('provisioned');
      await recorder.event(object, 'Normal', 'Provisioned', `router for ${object.spec.cidrBlocks.join(', ')} is ready`);
    }
    return {};
  }
}

describe('Controller', () => {
  let fixture: RuntimeFixture;
  let env: TestApiServer;
  let client: ApiClient;
  let informers: InformerCache;
  let controller: Controller;
  let reconciler: SampleVpcReconciler;
  const registry = new Registry();
  const { logger, entries } = captureLogger();

  const getVpc = (name: string) => client.get<Vpc>(VpcResource, name, { namespace: NS });
  const condition = async (name: string, type: string): Promise<Condition | undefined> => findCondition((await getVpc(name)).status?.conditions, type);
  const wait = (name: string, forWhat: string) => env.kubectl(['wait', `--for=${forWhat}`, `vpc/${name}`, '-n', NS, '--timeout=30s']);

  beforeAll(async () => {
    fixture = await startRuntimeFixture(NS, 'sample-controller', logger);
    ({ env, client, informers } = fixture);
    reconciler = new SampleVpcReconciler(client, () => controller.informer as unknown as Informer<Vpc>);
    controller = new Controller({
      name: 'sample-controller',
      client,
      resource: VpcResource,
      reconciler,
      informers,
      namespace: NS,
      watches: [{ resource: ConfigMapResource, namespace: NS }],
      workers: 2,
      logger,
      metrics: new RuntimeMetrics(registry),
    });
    await controller.start();
  });

  afterAll(() => fixture?.stop(controller));

  it('converges: finalizer, Ready through /status with observedGeneration, an Event; kubectl wait agrees', async () => {
    await client.create(VpcResource, vpc('web'));
    const result = await wait('web', 'condition=Ready');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const object = await getVpc('web');
    expect(object.metadata.finalizers).toEqual([FINALIZER]);
    expect(object.status?.observedGeneration).toBe(1);
    expect(findCondition(object.status?.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'Provisioned', observedGeneration: 1 });
    await waitFor('the Provisioned event', async () => (await env.kubectl(['get', 'events', '-n', NS])).stdout.includes('Provisioned'));
    const events = await env.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=web', '-o', 'json']);
    const items = JSON.parse(events.stdout).items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'Normal', reason: 'Provisioned', count: 1, source: { component: 'sample-controller' }, reportingComponent: 'sample-controller', involvedObject: { kind: 'Vpc', name: 'web', uid: object.metadata.uid } });

    // A spec change bumps generation; the controller catches up and kubectl wait sees it.
    await client.patch(VpcResource, 'web', { spec: { cidrBlocks: ['10.0.0.0/16', '10.1.0.0/16'] } }, { namespace: NS });
    expect((await wait('web', 'jsonpath={.status.observedGeneration}=2')).code).toBe(0);
    expect((await wait('web', 'condition=Ready')).code).toBe(0);
    expect((await condition('web', 'Ready'))?.message).toBe('2 CIDR block(s) routed');
  });

  it('does not rewrite an unchanged status (no reconcile loop)', async () => {
    await sleep(500);
    const before = (await getVpc('web')).metadata.resourceVersion;
    const calls = reconciler.calls.get(`${NS}/web`)!;
    controller.enqueue({ namespace: NS, name: 'web' });
    await waitFor('one more reconcile', () => reconciler.calls.get(`${NS}/web`)! > calls);
    await sleep(500);
    expect((await getVpc('web')).metadata.resourceVersion).toBe(before);
    expect(reconciler.calls.get(`${NS}/web`)).toBe(calls + 1);
  });

  it('retries transient failures with backoff until Ready', async () => {
    reconciler.failuresLeft.set('flaky', 4);
    await client.create(VpcResource, vpc('flaky'));
    expect((await wait('flaky', 'condition=Ready')).code).toBe(0);
    expect(reconciler.failuresLeft.get('flaky')).toBe(0);
    const failures = entries.filter((entry) => entry.message === 'reconcile failed; retrying with backoff' && entry.name === 'flaky');
    expect(failures).toHaveLength(4);
    // One child logger per reconcile: {controller, namespace, name, reconcileID}, a new ID each time.
    expect(failures[0]).toMatchObject({ controller: 'sample-controller', namespace: NS, name: 'flaky' });
    expect(new Set(failures.map((entry) => entry.reconcileID)).size).toBe(4);
    expect(failures.map((entry) => entry.retries)).toEqual([0, 1, 2, 3]);
  });

  it('TerminalError sets Stalled=True (reason from the error) and does not retry; fixing the spec clears it', async () => {
    await client.create(VpcResource, vpc('broken', { 'sample/invalid': 'yes' }));
    expect((await wait('broken', 'condition=Stalled')).code).toBe(0);
    const stalled = await condition('broken', 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason: 'InvalidSpec', message: 'label sample/invalid=yes cannot be provisioned', observedGeneration: 1 });
    expect(await condition('broken', 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect((await getVpc('broken')).status?.observedGeneration).toBe(1);
    // No retry: the count settles (the Stalled write itself causes one more pass, which changes nothing).
    await sleep(300);
    const calls = reconciler.calls.get(`${NS}/broken`)!;
    await sleep(1500);
    expect(reconciler.calls.get(`${NS}/broken`)).toBe(calls);
    expect(calls).toBeLessThanOrEqual(4);
    await waitFor('a Warning event', async () => (await env.kubectl(['get', 'events', '-n', NS, '--field-selector', 'type=Warning'])).stdout.includes('InvalidSpec'));

    await client.patch(VpcResource, 'broken', { metadata: { labels: { 'sample/invalid': null } } }, { namespace: NS });
    expect((await wait('broken', 'condition=Ready')).code).toBe(0);
    await waitFor('Stalled removed', async () => (await condition('broken', 'Stalled')) === undefined);
  });

  it('requeues the owner when an owned object of another kind changes', async () => {
    const owner = await getVpc('web');
    const calls = reconciler.calls.get(`${NS}/web`)!;
    await client.create<ConfigMap>(ConfigMapResource, {
      metadata: { name: 'web-routes', namespace: NS, ownerReferences: [{ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', name: 'web', uid: owner.metadata.uid!, controller: true }] },
      data: { routes: '' },
    });
    await waitFor('reconcile of the owner', () => reconciler.calls.get(`${NS}/web`)! > calls);
    const unowned = reconciler.calls.get(`${NS}/web`)!;
    await client.create<ConfigMap>(ConfigMapResource, { metadata: { name: 'unowned', namespace: NS } });
    await sleep(500);
    expect(reconciler.calls.get(`${NS}/web`)).toBe(unowned);
  });

  it('deletion: removes its finalizer and the object goes away', async () => {
    await client.delete(VpcResource, 'flaky', { namespace: NS });
    await waitFor('flaky gone', async () => {
      try {
        await getVpc('flaky');
        return false;
      } catch (error) {
        return isNotFound(error);
      }
    });
    expect(reconciler.cleanedUp).toContain('flaky');
    expect((await env.kubectl(['get', 'vpc', 'flaky', '-n', NS])).stderr).toContain('NotFound');
  });

  it('retries a 409 (stale view) as soon as the informer shows the newer version, before the keys queued behind it', async () => {
    // One worker, 21 ConfigMaps queued at start: a-racy first. Its first pass changes the object behind its own
    // back and then writes its stale copy (409). Requeued, it would come back after all 20 others.
    const order: string[] = [];
    let raced = false;
    const racer: Reconciler = {
      async reconcile(request) {
        order.push(request.name);
        if (request.name === 'a-racy' && !raced) {
          raced = true;
          const stale = await client.get<ConfigMap>(ConfigMapResource, request.name, { namespace: NS });
          await client.patch(ConfigMapResource, request.name, { metadata: { annotations: { bumped: 'yes' } } }, { namespace: NS });
          await client.update(ConfigMapResource, { ...stale, data: { reconciled: 'yes' } });
        }
        if (request.name !== 'a-racy') await sleep(20);
        return {};
      },
    };
    const labels = { 'queue-test': 'true' };
    for (const name of ['a-racy', ...Array.from({ length: 20 }, (_, index) => `slow-${String(index).padStart(2, '0')}`)]) {
      await client.create(ConfigMapResource, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS, labels } });
    }
    const queued = new Controller({ name: 'queue-order', client, resource: ConfigMapResource, reconciler: racer, informers, namespace: NS, labelSelector: 'queue-test=true', workers: 1, logger });
    await queued.start();
    try {
      await waitFor('every ConfigMap reconciled', () => new Set(order).size === 21 && order.filter((name) => name === 'a-racy').length >= 2, { timeoutMs: 20_000 });
      expect(order.slice(0, 2)).toEqual(['a-racy', 'a-racy']);
    } finally {
      await queued.stop();
    }
  });

  it('a watch\'s update predicate drops the updates it rules out; adds, the updates it keeps and deletes are queued', async () => {
    // Its primaries: no Vpc has the label, so every key queued comes from the ConfigMap watch.
    const labelSelector = 'predicate-test=true';
    const passes: string[] = [];
    const own = new Registry();
    const watching = new Controller({
      name: 'predicate',
      client,
      resource: VpcResource,
      labelSelector,
      namespace: NS,
      reconciler: { reconcile: async (request) => (passes.push(request.name), {}) },
      informers,
      watches: [watchOf(informers.informerFor<ConfigMap>(ConfigMapResource, { namespace: NS, labelSelector }), (map) => [{ namespace: NS, name: `for-${map.metadata.name}` }], (old, map) => old.data?.routes !== map.data?.routes)],
      logger,
      metrics: new RuntimeMetrics(own),
    });
    await watching.start();
    try {
      const adds = async () => (await own.getSingleMetricAsString('photon_workqueue_adds_total')).match(/name="predicate"\} (\d+)/)?.[1];
      const seen = (written: KubeObject) => waitFor('the informer to show the write', () => informers.informerFor(ConfigMapResource, { namespace: NS, labelSelector }).get('routes', NS)?.metadata.resourceVersion === written.metadata.resourceVersion);
      let map = await client.create<ConfigMap>(ConfigMapResource, { metadata: { name: 'routes', namespace: NS, labels: { 'predicate-test': 'true' } }, data: { routes: 'a' } });
      await waitFor('the add reconciled', () => passes.includes('for-routes'));
      const afterAdd = await adds();
      for (let round = 0; round < 3; round++) map = await client.patch<ConfigMap>(ConfigMapResource, 'routes', { metadata: { annotations: { round: String(round) } } }, { namespace: NS });
      await seen(map);
      expect(await adds()).toBe(afterAdd);
      map = await client.patch<ConfigMap>(ConfigMapResource, 'routes', { data: { routes: 'b' } }, { namespace: NS });
      await seen(map);
      expect(Number(await adds())).toBeGreaterThan(Number(afterAdd));
      await client.delete(ConfigMapResource, 'routes', { namespace: NS });
      await waitFor('the delete queued', async () => Number(await adds()) > Number(afterAdd) + 1);
    } finally {
      await watching.stop();
    }
  });

  it('exports queue and reconcile metrics on the given registry', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/photon_workqueue_adds_total\{name="sample-controller"\} \d+/);
    expect(text).toMatch(/photon_workqueue_depth\{name="sample-controller"\} 0/);
    expect(text).toMatch(/photon_workqueue_retries_total\{name="sample-controller"\} [1-9]/);
    expect(text).toMatch(/photon_controller_reconcile_total\{controller="sample-controller",result="success"\} [1-9]/);
    expect(text).toMatch(/photon_controller_reconcile_total\{controller="sample-controller",result="terminal"\} [1-9]/);
    expect(text).toMatch(/photon_controller_reconcile_errors_total\{controller="sample-controller"\} [1-9]/);
    expect(text).toContain('photon_controller_reconcile_duration_seconds_bucket');
    expect(text).toContain('photon_workqueue_work_duration_seconds_bucket');
  });
});
