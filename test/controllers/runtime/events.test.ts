// The event recorder against a real API server (etcd) and the real kubectl: dedup into one Event with a
// count, the 10-minute window, the per-object cap, and never throwing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiClient, clientFromKubeconfig, EventResource, loadKubeconfig, NamespaceResource, type CoreEvent } from '../../../apis/client/index.ts';
import { VpcResource, type Vpc } from '../../../apis/network/v1alpha1/index.ts';
import { ApiEventRecorder } from '../../../controllers/runtime/index.ts';
import { startTestApiServer, type TestApiServer } from '../../env/apiserver.ts';
import { captureLogger } from './helpers.ts';

const NS = 'events-test';

describe('ApiEventRecorder', () => {
  let env: TestApiServer;
  let client: ApiClient;
  const { logger, entries } = captureLogger();

  const vpcNamed = (name: string) =>
    client.create(VpcResource, { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, namespace: NS }, spec: { cidrBlocks: ['10.0.0.0/16'] } } as Vpc);
  const eventsAbout = async (name: string) => (await client.listAll<CoreEvent>(EventResource, { namespace: NS, fieldSelector: `involvedObject.name=${name}` })).items;

  beforeAll(async () => {
    env = await startTestApiServer({ storage: 'etcd' });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'events-test' });
    await client.create(NamespaceResource, { metadata: { name: NS } });
  });

  afterAll(async () => {
    client?.close();
    await env?.stop();
  });

  it('the same event five times is one Event with count 5 (kubectl shows one line)', async () => {
    const object = await vpcNamed('deduped');
    const recorder = new ApiEventRecorder(client, { component: 'vpc-controller', instance: 'test-1', logger });
    for (let i = 0; i < 5; i++) await recorder.event(object, 'Normal', 'Provisioned', 'router ready');
    const events = await eventsAbout('deduped');
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({
      type: 'Normal',
      reason: 'Provisioned',
      message: 'router ready',
      count: 5,
      source: { component: 'vpc-controller' },
      reportingComponent: 'vpc-controller',
      reportingInstance: 'test-1',
      involvedObject: { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', name: 'deduped', namespace: NS, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion },
    });
    expect(Date.parse(event.lastTimestamp!)).toBeGreaterThanOrEqual(Date.parse(event.firstTimestamp!));

    const table = await env.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=deduped']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines).toHaveLength(2); // header + one event
    expect(lines[1]).toContain('Provisioned');
    expect(lines[1]).toContain('vpc/deduped');
    const wide = await env.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=deduped', '-o', 'jsonpath={.items[0].count}']);
    expect(wide.stdout).toBe('5');

    // Concurrent repeats (not awaited one by one) still add up, in one Event.
    await Promise.all([1, 2, 3].map(() => recorder.event(object, 'Normal', 'Provisioned', 'router ready')));
    expect((await eventsAbout('deduped')).map((item) => item.count)).toEqual([8]);
  });

  it('a different type, reason or message is a different Event', async () => {
    const object = await vpcNamed('distinct');
    const recorder = new ApiEventRecorder(client, { component: 'vpc-controller', logger });
    await recorder.event(object, 'Normal', 'Provisioned', 'router ready');
    await recorder.event(object, 'Warning', 'Provisioned', 'router ready');
    await recorder.event(object, 'Normal', 'Updated', 'router ready');
    await recorder.event(object, 'Normal', 'Provisioned', 'router ready again');
    await recorder.event(object, 'Normal', 'Provisioned', 'router ready');
    const events = await eventsAbout('distinct');
    expect(events).toHaveLength(4);
    expect(events.map((event) => event.count).sort()).toEqual([1, 1, 1, 2]);
  });

  it('after the 10-minute window the same event starts a new Event', async () => {
    const object = await vpcNamed('windowed');
    let now = Date.now();
    const recorder = new ApiEventRecorder(client, { component: 'vpc-controller', logger, now: () => now });
    await recorder.event(object, 'Normal', 'Provisioned', 'router ready');
    now += 9 * 60_000;
    await recorder.event(object, 'Normal', 'Provisioned', 'router ready');
    now += 9 * 60_000; // within 10 minutes of the last occurrence: still the same Event
    await recorder.event(object, 'Normal', 'Provisioned', 'router ready');
    now += 11 * 60_000;
    await recorder.event(object, 'Normal', 'Provisioned', 'router ready');
    const counts = (await eventsAbout('windowed')).map((event) => event.count).sort();
    expect(counts).toEqual([1, 3]);
  });

  it('caps writes per object per minute; repeats are counted locally and carried by the next write', async () => {
    const object = await vpcNamed('noisy');
    let now = Date.now();
    const recorder = new ApiEventRecorder(client, { component: 'vpc-controller', logger, maxWritesPerObjectPerMinute: 3, now: () => now });
    const warningsBefore = entries.filter((entry) => entry.level === 'warn').length;
    for (let i = 0; i < 10; i++) await recorder.event(object, 'Warning', 'Failed', `attempt ${i}`);
    expect(await eventsAbout('noisy')).toHaveLength(3);
    for (let i = 0; i < 5; i++) await recorder.event(object, 'Warning', 'Failed', 'attempt 0');
    expect((await eventsAbout('noisy')).find((event) => event.message === 'attempt 0')?.count).toBe(1);
    expect(entries.filter((entry) => entry.level === 'warn').length - warningsBefore).toBe(1); // one warning, not fifteen
    now += 61_000;
    await recorder.event(object, 'Warning', 'Failed', 'attempt 0');
    expect((await eventsAbout('noisy')).find((event) => event.message === 'attempt 0')?.count).toBe(7);
  });

  it('never throws: a failing API server only produces a log line', async () => {
    const object = await vpcNamed('unreachable');
    const broken = new ApiClient({ ...loadKubeconfig(env.kubeconfig), server: 'https://127.0.0.1:1' });
    const recorder = new ApiEventRecorder(broken, { component: 'vpc-controller', logger });
    const before = entries.length;
    await expect(recorder.event(object, 'Normal', 'Provisioned', 'router ready')).resolves.toBeUndefined();
    await recorder.flush();
    const logged = entries.slice(before).find((entry) => entry.message === 'could not record an event');
    expect(logged?.level).toBe('warn');
    expect(JSON.stringify(entries)).not.toContain(env.server.adminToken);
    broken.close();
  });
});
