// The garbage collector against a real API server, with deletions made by the real kubectl: cascading
// delete in background, foreground and orphan modes, blockOwnerDeletion, UID-mismatched owners, several
// owners, dependents of a kind defined after the collector started (found by discovery refresh), and
// dependents orphaned while the collector was down (collected when it comes back).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import YAML from 'yaml';
import { clientFromKubeconfig, type ApiClient } from '../../apis/client/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { SubnetResource } from '../../apis/network/v1alpha1/index.ts';
import { VpcResource } from '../../apis/network/v1alpha1/index.ts';
import { GarbageCollector } from '../../controllers/gc/collector.ts';
import { InformerCache } from '../../controllers/runtime/informer.ts';
import { RuntimeMetrics } from '../../controllers/runtime/metrics.ts';
import { kubectlOk as ok, startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { waitFor } from '../env/process.ts';

const NS = 'gc';

describe('garbage collector', () => {
  let env: TestApiServer;
  let client: ApiClient;
  let gc: GarbageCollector | undefined;
  let informers: InformerCache | undefined;
  let metrics: RuntimeMetrics;
  let nextSubnet = 1;
  const kubectl = (args: string[], stdin?: string) => env.kubectl(args, { stdin });

  // As the controller manager runs it: on the informers its term shares, stopped with them.
  const startGc = async () => {
    informers = new InformerCache(client);
    metrics = new RuntimeMetrics(new Registry());
    gc = new GarbageCollector({ client, informers, metrics, discoveryIntervalMs: 1000 });
    await gc.start();
  };
  const stopGc = async () => {
    await gc?.stop();
    await informers?.stop();
    gc = undefined;
    informers = undefined;
  };
  const vpc = (name: string) => client.create(VpcResource, { apiVersion: VpcResource.apiVersion, kind: 'Vpc', metadata: { name, namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } } as KubeObject);
  const subnet = (name: string, owners: KubeObject[], options: { block?: boolean; finalizers?: string[]; uid?: string } = {}) =>
    client.create(SubnetResource, {
      apiVersion: SubnetResource.apiVersion,
      kind: 'Subnet',
      metadata: {
        name,
        namespace: NS,
        finalizers: options.finalizers,
        ownerReferences: owners.map((owner) => ({ apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata.name!, uid: options.uid ?? owner.metadata.uid!, blockOwnerDeletion: options.block ?? true, controller: owners.length === 1 })),
      },
      // Distinct CIDRs: sibling subnets of one VPC may not overlap.
      spec: { vpcRef: owners[0]?.metadata.name ?? 'none', cidr: `10.0.${nextSubnet++}.0/24` },
    } as KubeObject);
  const exists = async (resource: typeof VpcResource | typeof SubnetResource, name: string) => {
    try {
      return await client.get(resource, name, { namespace: NS });
    } catch {
      return undefined;
    }
  };

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd' });
    ok(await kubectl(['create', 'namespace', NS]));
    client = clientFromKubeconfig(env.kubeconfig, { component: 'gc-test' });
    await startGc();
  });
  afterAll(async () => {
    await stopGc();
    client?.close();
    await env?.stop();
  });

  it('deletes dependents after their owner in the background (the default)', async () => {
    const owner = await vpc('bg');
    await subnet('bg-a', [owner]);
    await subnet('bg-b', [owner]);
    ok(await kubectl(['delete', 'vpc', 'bg', '-n', NS]));
    await waitFor('dependents collected', async () => !(await exists(SubnetResource, 'bg-a')) && !(await exists(SubnetResource, 'bg-b')));
  });

  it('deletes dependents first in the foreground, and keeps the owner while a blocking dependent remains', async () => {
    const owner = await vpc('fg');
    await subnet('fg-blocking', [owner], { block: true, finalizers: ['example.com/hold'] });
    await subnet('fg-free', [owner], { block: false });
    const deleting = kubectl(['delete', 'vpc', 'fg', '-n', NS, '--cascade=foreground', '--timeout=60s']);
    await waitFor('owner marked for foreground deletion', async () => (await exists(VpcResource, 'fg'))?.metadata.finalizers?.includes('foregroundDeletion'));
    await waitFor('the non-blocking dependent gone, the blocking one deleting', async () => !(await exists(SubnetResource, 'fg-free')) && (await exists(SubnetResource, 'fg-blocking'))?.metadata.deletionTimestamp !== undefined);
    expect(await exists(VpcResource, 'fg')).toBeDefined(); // blockOwnerDeletion holds the owner
    ok(await kubectl(['patch', 'subnet', 'fg-blocking', '-n', NS, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']));
    expect((await deleting).code).toBe(0);
    expect(await exists(VpcResource, 'fg')).toBeUndefined();
  });

  it('orphans dependents: the owner goes, they stay without the reference', async () => {
    const owner = await vpc('orphaning');
    await subnet('kept', [owner]);
    ok(await kubectl(['delete', 'vpc', 'orphaning', '-n', NS, '--cascade=orphan', '--timeout=60s']));
    await waitFor('owner gone', async () => !(await exists(VpcResource, 'orphaning')));
    const kept = await exists(SubnetResource, 'kept');
    expect(kept).toBeDefined();
    expect(kept!.metadata.ownerReferences).toBeUndefined();
  });

  it('collects dependents whose owner has another UID, and drops only dangling references when owners remain', async () => {
    const owner = await vpc('uid-owner');
    await subnet('wrong-uid', [owner], { uid: '00000000-0000-0000-0000-000000000000' });
    const second = await vpc('second-owner');
    const doomed = await vpc('doomed-owner');
    await subnet('two-owners', [second, doomed]);
    await waitFor('wrong-uid collected', async () => !(await exists(SubnetResource, 'wrong-uid')));
    ok(await kubectl(['delete', 'vpc', 'doomed-owner', '-n', NS]));
    await waitFor('dangling reference removed', async () => (await exists(SubnetResource, 'two-owners'))?.metadata.ownerReferences?.length === 1);
    expect((await exists(SubnetResource, 'two-owners'))!.metadata.ownerReferences![0].name).toBe('second-owner');
  });

  it('queues nothing for an update that changes nothing it decides by; a new owner reference is queued and judged', async () => {
    const owner = await vpc('quiet');
    const child = await subnet('quiet-a', [owner]);
    const queued = async () => (await metrics.queueAdds.get()).values.find((value) => value.labels.name === 'garbage-collector')?.value ?? 0;
    // The collector's handlers run when its informer takes the event, so once the informer shows a version, any
    // key that version queues has been counted.
    const seen = (written: KubeObject) => waitFor('the collector\'s informer to show the write', () => informers!.informerFor(SubnetResource).get('quiet-a', NS)?.metadata.resourceVersion === written.metadata.resourceVersion);
    await seen(child);
    const before = await queued();
    let last = child;
    for (let round = 0; round < 3; round++) last = await client.patch(SubnetResource, 'quiet-a', { metadata: { labels: { round: String(round) } } }, { namespace: NS });
    last = await client.patch(SubnetResource, 'quiet-a', { status: { observedGeneration: 1 } }, { namespace: NS, subresource: 'status' });
    await seen(last);
    expect(await queued()).toBe(before);

    // A second owner that is not there: the update is queued, and the dangling reference dropped.
    const references = [...last.metadata.ownerReferences!, { apiVersion: VpcResource.apiVersion, kind: 'Vpc', name: 'nobody', uid: '11111111-1111-1111-1111-111111111111' }];
    await client.patch(SubnetResource, 'quiet-a', { metadata: { ownerReferences: references } }, { namespace: NS });
    await waitFor('the update queued', async () => (await queued()) > before);
    await waitFor('dangling reference removed', async () => (await exists(SubnetResource, 'quiet-a'))?.metadata.ownerReferences?.map((reference) => reference.name).join() === 'quiet');
  });

  it('collects dependents of a kind defined after it started (discovery refresh adds it as a primary)', async () => {
    const gadget = { group: 'example.com', version: 'v1', plural: 'gadgets', kind: 'Gadget', namespaced: true };
    ok(await kubectl(['apply', '-f', '-'], YAML.stringify({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gadgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } } }],
      },
    })));
    ok(await kubectl(['wait', '--for=condition=Established', 'crd/gadgets.example.com', '--timeout=10s']));
    const owner = await vpc('crd-owner');
    const reference = { apiVersion: owner.apiVersion!, kind: 'Vpc', name: 'crd-owner', uid: owner.metadata.uid! };
    const gadgetOwnedBy = (name: string, owner: typeof reference) => client.create(gadget, { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name, namespace: NS, ownerReferences: [owner] }, spec: {} } as KubeObject);
    const gadgets = async () => (await kubectl(['get', 'gadgets', '-n', NS, '-o', 'name'])).stdout.trim();
    await waitFor('the new kind served', () => gadgetOwnedBy('owned', reference));
    // Its own add event is all that can queue this one (no owner in the graph points at it).
    await gadgetOwnedBy('stray', { ...reference, uid: '00000000-0000-0000-0000-000000000001' });
    await waitFor('the stray Gadget collected', async () => (await gadgets()) === 'gadget.example.com/owned');
    ok(await kubectl(['delete', 'vpc', 'crd-owner', '-n', NS]));
    await waitFor('the owned Gadget collected', async () => (await gadgets()) === '');
  });

  it('collects dependents orphaned while it was down, when it comes back', async () => {
    await stopGc();
    const owner = await vpc('while-down');
    await subnet('left-behind', [owner]);
    ok(await kubectl(['delete', 'vpc', 'while-down', '-n', NS]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await exists(SubnetResource, 'left-behind')).toBeDefined(); // nobody collects it…
    await startGc();
    await waitFor('collected after restart', async () => !(await exists(SubnetResource, 'left-behind')));
  });
});
