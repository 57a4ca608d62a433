// The finalizer-aware reconcile helper (controllers/runtime/lifecycle.ts) against a real API server and the
// real kubectl. The "external system" is a Map: this test is about the helper's logic (finalizer, Ready with
// observedGeneration, status fields, progress writes, waiting cleanup, Stalled on TerminalError); the network
// controllers run it against real OVN in test/network/.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { isNotFound, type ApiClient } from '../../../apis/client/index.ts';
import { findCondition } from '../../../apis/meta/conditions.ts';
import type { KubeObject } from '../../../apis/meta/types.ts';
import { VpcResource, type Vpc } from '../../../apis/network/v1alpha1/index.ts';
import { Controller, InformerCache, LifecycleReconciler, notReady, ready, RuntimeMetrics, TerminalError, type Informer } from '../../../controllers/runtime/index.ts';
import { type TestApiServer } from '../../env/apiserver.ts';
import { waitFor } from '../../env/process.ts';
import { captureLogger, startRuntimeFixture, type RuntimeFixture } from './helpers.ts';

const NS = 'lifecycle-test';
const FINALIZER = 'network.photoncloud.io/lifecycle-sample';
type VpcObject = Vpc & KubeObject;

describe('LifecycleReconciler', () => {
  let fixture: RuntimeFixture;
  let env: TestApiServer;
  let client: ApiClient;
  let informers: InformerCache;
  let controller: Controller;
  const registry = new Registry();
  const { logger } = captureLogger();
  /** What the sample "owns" outside the API: router name → CIDR blocks. */
  const routers = new Map<string, string[]>();
  /** Names whose cleanup must wait (as a Vpc waits for its Subnets). */
  const blockedCleanup = new Set<string>();
  const progressSeen = new Map<string, unknown>();

  const getVpc = (name: string) => client.get<VpcObject>(VpcResource, name, { namespace: NS });
  const readyOf = async (name: string) => findCondition((await getVpc(name)).status?.conditions, 'Ready');
  const vpc = (name: string, labels: Record<string, string> = {}): Vpc => ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, namespace: NS, labels }, spec: { cidrBlocks: ['10.0.0.0/16'] } });
  const terminalCount = async () => {
    const metric = await registry.getSingleMetric('photon_controller_reconcile_total')!.get();
    return metric.values.find((value) => value.labels.controller === 'lifecycle-sample' && value.labels.result === 'terminal')?.value ?? 0;
  };

  beforeAll(async () => {
    fixture = await startRuntimeFixture(NS, 'lifecycle-sample', logger);
    ({ env, client, informers } = fixture);
    const informer: Informer<VpcObject> = informers.informerFor<VpcObject>(VpcResource, { namespace: NS });
    const reconciler = new LifecycleReconciler<VpcObject>({
      client,
      resource: VpcResource,
      informer,
      finalizer: FINALIZER,
      fieldManager: 'lifecycle-sample',
      apply: async (object, context) => {
        const name = object.metadata.name!;
        if (object.metadata.labels?.['sample/invalid']) throw new TerminalError('InvalidSpec', 'this spec can never be provisioned');
        if (object.metadata.labels?.['sample/waitFor']) return { readiness: notReady('PeerNotFound', `waiting for ${object.metadata.labels['sample/waitFor']}`) };
        // Like a Port's address: committed once, before the external work, never again.
        if (!object.status?.subnets) {
          const after = await context.progress({ readiness: notReady('Provisioning', 'router being created'), status: { subnets: [`r-${name}`] } });
          progressSeen.set(name, after.status);
        }
        routers.set(`r-${name}`, object.spec.cidrBlocks);
        return { readiness: ready('Provisioned', `${object.spec.cidrBlocks.length} CIDR block(s) routed`), status: { subnets: [`r-${name}`] } };
      },
      cleanup: async (object) => {
        const name = object.metadata.name!;
        if (blockedCleanup.has(name)) return { readiness: notReady('ChildrenRemaining', 'waiting for children'), eventReason: 'Deleting' };
        routers.delete(`r-${name}`);
        return 'done';
      },
    });
    controller = new Controller({ name: 'lifecycle-sample', client, resource: VpcResource, reconciler, informers, namespace: NS, logger, metrics: new RuntimeMetrics(registry) });
    await controller.start();
  });

  afterAll(() => fixture?.stop(controller));

  it('adds its finalizer, writes progress then Ready with observedGeneration and status fields, and records an event', async () => {
    await client.create(VpcResource, vpc('web'));
    expect((await env.kubectl(['wait', '--for=condition=Ready', 'vpc/web', '-n', NS, '--timeout=30s'])).code).toBe(0);
    const object = await getVpc('web');
    expect(object.metadata.finalizers).toEqual([FINALIZER]);
    expect(object.status).toMatchObject({ observedGeneration: 1, subnets: ['r-web'] });
    expect(findCondition(object.status?.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'Provisioned', observedGeneration: 1 });
    expect(progressSeen.get('web')).toMatchObject({ subnets: ['r-web'], conditions: [expect.objectContaining({ reason: 'Provisioning' })] });
    expect(routers.get('r-web')).toEqual(['10.0.0.0/16']);
    await waitFor('the Provisioned event', async () => (await env.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=web,reason=Provisioned', '-o', 'name'])).stdout.trim() !== '');
  });

  it('reports a missing reference as Ready=False and converges when the object changes', async () => {
    await client.create(VpcResource, vpc('early', { 'sample/waitFor': 'peer' }));
    await waitFor('PeerNotFound', async () => (await readyOf('early'))?.reason === 'PeerNotFound');
    expect(await terminalCount()).toBe(0);
    await client.patch(VpcResource, 'early', { metadata: { labels: { 'sample/waitFor': null } } }, { namespace: NS });
    await waitFor('Ready', async () => (await readyOf('early'))?.status === 'True');
  });

  it('stalls on a TerminalError without retrying, and clears Stalled once the spec is fixed', async () => {
    await client.create(VpcResource, vpc('bad', { 'sample/invalid': 'yes' }));
    await waitFor('Stalled', async () => findCondition((await getVpc('bad')).status?.conditions, 'Stalled')?.status === 'True');
    expect(await readyOf('bad')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    const terminal = await terminalCount();
    expect(terminal).toBeGreaterThanOrEqual(1);
    await client.patch(VpcResource, 'bad', { metadata: { labels: { 'sample/invalid': null } } }, { namespace: NS });
    await waitFor('Ready without Stalled', async () => {
      const conditions = (await getVpc('bad')).status?.conditions;
      return findCondition(conditions, 'Ready')?.status === 'True' && findCondition(conditions, 'Stalled') === undefined;
    });
    expect(await terminalCount()).toBe(terminal);
  });

  it('on delete: cleanup that must wait says why, then the finalizer goes with what the object owned', async () => {
    await client.create(VpcResource, vpc('parent'));
    await waitFor('parent Ready', async () => (await readyOf('parent'))?.status === 'True');
    blockedCleanup.add('parent');
    await client.delete(VpcResource, 'parent', { namespace: NS });
    await waitFor('ChildrenRemaining', async () => (await readyOf('parent'))?.reason === 'ChildrenRemaining');
    expect(routers.has('r-parent')).toBe(true);
    await waitFor('the Deleting event', async () => (await env.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=parent,reason=Deleting', '-o', 'name'])).stdout.trim() !== '');
    blockedCleanup.delete('parent');
    controller.enqueue({ namespace: NS, name: 'parent' });
    await waitFor('parent gone', async () => {
      try {
        await getVpc('parent');
        return false;
      } catch (error) {
        return isNotFound(error);
      }
    });
    expect(routers.has('r-parent')).toBe(false);
  });
});
