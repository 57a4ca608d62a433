// The informer against a real API server on etcd: add/update/delete, shared informers, an API server
// restart, a relist after 410 Expired (live compaction), catching up after downtime plus compaction
// (deletes for vanished objects, updates for changed ones), and backoff — no hot loop, one warning — while
// the server is down.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { clientFromKubeconfig, ConfigMapResource, NamespaceResource, type ApiClient, type ConfigMap } from '../../../apis/client/index.ts';
import { VpcResource, type Vpc } from '../../../apis/network/v1alpha1/index.ts';
import { Informer, InformerCache } from '../../../controllers/runtime/index.ts';
import { startTestApiServer, type TestApiServer } from '../../env/apiserver.ts';
import { startEtcd, type EtcdInstance } from '../../env/etcd.ts';
import { waitFor } from '../../env/process.ts';
import { captureLogger, sleep } from './helpers.ts';

const NS = 'informer-test';

function vpc(name: string, cidr = '10.0.0.0/16', namespace = NS): Vpc {
  return { apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Vpc', metadata: { name, namespace }, spec: { cidrBlocks: [cidr] } };
}

describe('Informer', () => {
  let etcd: EtcdInstance;
  let env: TestApiServer;
  let client: ApiClient;
  let informer: Informer<Vpc>;
  const { logger, entries } = captureLogger();
  const events: string[] = [];
  const seen = (event: string) => events.includes(event);
  const names = () => informer.list(NS).map((object) => object.metadata.name).sort();

  beforeAll(async () => {
    etcd = await startEtcd();
    env = await startTestApiServer({ storage: 'etcd', etcd, overrides: { compactionPollMs: 200, minRequestTimeoutSeconds: 1 } });
    client = clientFromKubeconfig(env.kubeconfig, { component: 'informer-test' });
    await client.create(NamespaceResource, { metadata: { name: NS } });
    await client.create(VpcResource, vpc('existing'));
    // Short watches (1–2 s) so it re-watches often, as it would over hours with the defaults.
    informer = new Informer<Vpc>(client, VpcResource, { namespace: NS, logger, minWatchTimeoutSeconds: 1 });
    informer.addEventHandler({
      onAdd: (object) => events.push(`add ${object.metadata.name}`),
      onUpdate: (old, object) => events.push(`update ${object.metadata.name} ${old.spec.cidrBlocks[0]}→${object.spec.cidrBlocks[0]}`),
      onDelete: (object) => events.push(`delete ${object.metadata.name}`),
    });
    informer.start();
    expect(await informer.waitForSync(10_000)).toBe(true);
  });

  afterAll(async () => {
    await informer?.stop();
    client?.close();
    await env?.stop();
    await etcd?.stop();
  });

  it('lists first, then sees adds, updates and deletes; late handlers get the cache replayed', async () => {
    expect(informer.hasSynced()).toBe(true);
    expect(events).toEqual(['add existing']);
    await client.create(VpcResource, vpc('first'));
    await waitFor('add first', () => seen('add first'));
    await client.patch(VpcResource, 'first', { spec: { cidrBlocks: ['10.1.0.0/16'] } }, { namespace: NS });
    await waitFor('update first', () => seen('update first 10.0.0.0/16→10.1.0.0/16'));
    expect(informer.get('first', NS)?.spec.cidrBlocks).toEqual(['10.1.0.0/16']);
    expect(informer.get('first', NS)?.kind).toBe('Vpc');
    await client.delete(VpcResource, 'first', { namespace: NS });
    await waitFor('delete first', () => seen('delete first'));
    expect(names()).toEqual(['existing']);

    const late: string[] = [];
    informer.addEventHandler({ onAdd: (object) => late.push(object.metadata.name!) });
    expect(late).toEqual(['existing']);
  });

  it('shares one informer per resource, namespace and selector', async () => {
    const cache = new InformerCache(client, { defaults: { logger } });
    const a = cache.informerFor(VpcResource, { namespace: NS });
    const b = cache.informerFor(VpcResource, { namespace: NS });
    const c = cache.informerFor(ConfigMapResource, { namespace: NS });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    cache.start();
    expect(await cache.waitForSync(10_000)).toBe(true);
    expect(a.list().map((object) => object.metadata.name)).toEqual(['existing']);
    await client.create<ConfigMap>(ConfigMapResource, { metadata: { name: 'cm', namespace: NS }, data: { a: '1' } });
    await waitFor('configmap seen', () => c.get('cm', NS));
    await cache.stop();
    expect(a.isRunning).toBe(false);
  });

  it('lists one namespace of an all-namespaces informer, through adds and deletes', async () => {
    const other = 'informer-test-other';
    await client.create(NamespaceResource, { metadata: { name: other } });
    await client.create(VpcResource, vpc('there', '10.9.0.0/16', other));
    const everywhere = new Informer<Vpc>(client, VpcResource, { logger });
    everywhere.start();
    try {
      expect(await everywhere.waitForSync(10_000)).toBe(true);
      const namesIn = (namespace: string) => everywhere.list(namespace).map((object) => object.metadata.name).sort();
      expect(namesIn(other)).toEqual(['there']);
      expect(namesIn(NS)).toEqual(['existing']);
      expect(namesIn('no-such-namespace')).toEqual([]);
      await client.create(VpcResource, vpc('also-there', '10.8.0.0/16', other));
      await waitFor('also-there seen', () => namesIn(other).length === 2);
      expect(namesIn(other)).toEqual(['also-there', 'there']);
      await client.delete(VpcResource, 'there', { namespace: other });
      await client.delete(VpcResource, 'also-there', { namespace: other });
      await waitFor('both deleted', () => namesIn(other).length === 0);
      expect(namesIn(NS)).toEqual(['existing']);
      expect(everywhere.list().map((object) => object.metadata.name)).toContain('existing');
    } finally {
      await everywhere.stop();
    }
  });

  it('survives an API server restart and keeps watching', async () => {
    const watchesBefore = informer.stats.watches;
    await env.restart();
    await client.create(VpcResource, vpc('after-restart'));
    await waitFor('add after-restart', () => seen('add after-restart'), { timeoutMs: 30_000 });
    expect(informer.stats.watches).toBeGreaterThan(watchesBefore);
    expect(names()).toEqual(['after-restart', 'existing']);
  });

  it('relists after 410 Expired when the revision it would resume from is compacted away', async () => {
    // Without bookmarks its resume point moves only with Vpc events, so writes elsewhere plus a compaction
    // leave it behind; its next re-watch (within 2 s) gets 410 and it relists.
    const quiet = new Informer<Vpc>(client, VpcResource, { namespace: NS, logger, minWatchTimeoutSeconds: 1, allowWatchBookmarks: false });
    const quietEvents: string[] = [];
    quiet.addEventHandler({ onAdd: (object) => quietEvents.push(`add ${object.metadata.name}`), onDelete: (object) => quietEvents.push(`delete ${object.metadata.name}`) });
    quiet.start();
    try {
      await quiet.waitForSync(10_000);
      const { lists, failures } = quiet.stats;
      for (let i = 0; i < 3; i++) await client.create<ConfigMap>(ConfigMapResource, { metadata: { name: `elsewhere-${i}`, namespace: NS } });
      await env.server.store.compact(await env.server.store.currentRevision());
      await waitFor('a relist caused by 410', () => quiet.stats.lists > lists, { timeoutMs: 15_000 });
      expect(quiet.stats.relists).toBeGreaterThan(0);
      expect(quiet.stats.failures).toBe(failures); // 410 is a relist, not a failure
      // Nothing changed for it: the relist emitted no events; it keeps watching.
      expect(quietEvents.sort()).toEqual(['add after-restart', 'add existing']);
      await client.create(VpcResource, vpc('after-410'));
      await waitFor('quiet sees after-410', () => quietEvents.includes('add after-410'));
      await waitFor('main sees after-410', () => seen('add after-410'));
    } finally {
      await quiet.stop();
    }
  });

  it('catches up after downtime and compaction: deletes for vanished objects, updates for changed ones', async () => {
    await env.stopServer();
    const before = events.length;
    // Another API server on the same etcd takes writes the informer cannot see.
    const other = await startTestApiServer({ storage: 'etcd', etcd });
    try {
      const otherClient = clientFromKubeconfig(other.kubeconfig);
      await otherClient.create(VpcResource, vpc('while-down'));
      await otherClient.delete(VpcResource, 'after-restart', { namespace: NS });
      await otherClient.patch(VpcResource, 'existing', { spec: { cidrBlocks: ['10.5.0.0/16'] } }, { namespace: NS });
      await other.server.store.compact(await other.server.store.currentRevision());
      otherClient.close();
    } finally {
      await other.stop();
    }
    await env.startServer();
    await waitFor('caught up', () => names().join() === 'after-410,existing,while-down', { timeoutMs: 30_000 }).catch((error: Error) => {
      throw new Error(`${error.message}; cache ${names().join()}; stats ${JSON.stringify(informer.stats)}; log ${entries.slice(-8).map((entry) => `${entry.message} ${entry.error ?? ''}`).join(' | ')}`);
    });
    expect(events.slice(before).sort()).toEqual(['add while-down', 'delete after-restart', 'update existing 10.0.0.0/16→10.5.0.0/16']);
    expect(informer.get('existing', NS)?.spec.cidrBlocks).toEqual(['10.5.0.0/16']);
  });

  it('backs off while the server is down (no hot loop, one warning per failure streak) and recovers', async () => {
    await waitFor('healthy', () => informer.stats.failureStreak === 0);
    const warningsBefore = entries.filter((entry) => entry.level === 'warn').length;
    const failuresBefore = informer.stats.failures;
    const attemptsBefore = informer.stats.lists + informer.stats.watches;
    await env.stopServer();
    await sleep(4000);
    const failures = informer.stats.failures - failuresBefore;
    const attempts = informer.stats.lists + informer.stats.watches - attemptsBefore;
    // 250 ms doubling with jitter in [d/2, d): about 4–6 tries in 4 s; a hot loop would make thousands.
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(failures).toBeLessThanOrEqual(10);
    expect(attempts).toBeLessThanOrEqual(12);
    const warnings = entries.filter((entry) => entry.level === 'warn').slice(warningsBefore);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(/list\/watch failed/);
    expect(JSON.stringify(entries)).not.toContain(env.server.adminToken);

    await env.startServer();
    await client.create(VpcResource, vpc('after-outage'));
    await waitFor('add after-outage', () => seen('add after-outage'), { timeoutMs: 30_000 });
    expect(informer.stats.failureStreak).toBe(0);
    expect(entries.some((entry) => entry.message === 'list/watch recovered')).toBe(true);
  });
});
