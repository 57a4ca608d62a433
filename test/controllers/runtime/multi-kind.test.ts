// A Controller with several primary kinds (as the garbage collector runs), against a real API server: built
// without `resource`, it reconciles objects of every kind given to addPrimary() — also one added while it
// runs — and hands each request to the reconciler with its kind, so equal names of two kinds are two keys.
// Requests given to it must name a primary kind. Reconciles count in the runtime metrics under its name.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { ConfigMapResource, groupResourceOf, SecretResource, type ApiClient } from '../../../apis/client/index.ts';
import { VpcResource } from '../../../apis/network/v1alpha1/index.ts';
import { Controller, InformerCache, RuntimeMetrics, type ReconcileContext, type ReconcileRequest, type Reconciler, type Result } from '../../../controllers/runtime/index.ts';
import { waitFor } from '../../env/process.ts';
import { captureLogger, startRuntimeFixture, type RuntimeFixture } from './helpers.ts';

const NS = 'multi-kind';

/** Records what it was asked to reconcile and whether the object was in the informer cache. */
class RecordingReconciler implements Reconciler {
  readonly seen: string[] = [];

  constructor(private readonly informers: InformerCache) {}

  async reconcile(request: ReconcileRequest, { log }: ReconcileContext): Promise<Result> {
    const resource = request.resource!;
    const cached = this.informers.informerFor(resource, { namespace: NS }).get(request.name, request.namespace);
    this.seen.push(`${groupResourceOf(resource)} ${request.namespace}/${request.name} ${cached?.kind ?? 'gone'}`);
    log.info('reconciled');
    return {};
  }
}

describe('Controller with several primary kinds', () => {
  let fixture: RuntimeFixture;
  let client: ApiClient;
  let informers: InformerCache;
  let controller: Controller;
  let reconciler: RecordingReconciler;
  const registry = new Registry();
  const { logger, entries } = captureLogger();

  beforeAll(async () => {
    fixture = await startRuntimeFixture(NS, 'multi-kind-test', logger);
    ({ client, informers } = fixture);
    reconciler = new RecordingReconciler(informers);
    controller = new Controller({ name: 'multi-kind', client, reconciler, informers, logger, metrics: new RuntimeMetrics(registry), stalledConditions: false });
    controller.addPrimary(VpcResource, { namespace: NS });
    await controller.start();
  });

  afterAll(() => fixture?.stop(controller));

  it('reconciles each kind under its own key, including a kind added while running', async () => {
    await client.create(VpcResource, { apiVersion: VpcResource.apiVersion, kind: 'Vpc', metadata: { name: 'same', namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
    await client.create(ConfigMapResource, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'same', namespace: NS }, data: { a: 'b' } });
    await waitFor('the Vpc reconciled', () => reconciler.seen.includes(`vpcs.network.photoncloud.io ${NS}/same Vpc`));
    expect(reconciler.seen.some((entry) => entry.startsWith('configmaps '))).toBe(false); // not primary yet

    controller.addPrimary(ConfigMapResource, { namespace: NS });
    await waitFor('the ConfigMap of the same name reconciled', () => reconciler.seen.includes(`configmaps ${NS}/same ConfigMap`));
    const logged = entries.find((entry) => entry.message === 'reconciled' && entry.resource === 'configmaps');
    expect(logged).toMatchObject({ controller: 'multi-kind', namespace: NS, name: 'same' });

    await client.delete(ConfigMapResource, 'same', { namespace: NS });
    await waitFor('the deletion reconciled', () => reconciler.seen.includes(`configmaps ${NS}/same gone`));
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/photon_controller_reconcile_total\{controller="multi-kind",result="success"\} [1-9]/);
    expect(metrics).toContain('photon_workqueue_depth{name="multi-kind"}');
  });

  it('takes only requests that name one of its primary kinds', () => {
    expect(() => controller.enqueue({ namespace: NS, name: 'same' })).toThrow(/several primary kinds/);
    expect(() => controller.enqueue({ resource: SecretResource, namespace: NS, name: 'same' })).toThrow(/not one of its primary resources/);
    const before = reconciler.seen.length;
    controller.enqueue({ resource: VpcResource, namespace: NS, name: 'same' });
    return waitFor('the enqueued Vpc reconciled again', () => reconciler.seen.length > before && reconciler.seen.at(-1) === `vpcs.network.photoncloud.io ${NS}/same Vpc`);
  });
});
