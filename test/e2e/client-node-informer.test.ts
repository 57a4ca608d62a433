// @kubernetes/client-node 1.4.0, as a program would use it: an informer over Vpcs sees adds, updates and
// deletes, and survives an API server restart and an etcd compaction (its resourceVersion is then gone:
// 410 Expired → it relists and catches up on what it missed).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { startEtcd, type EtcdInstance } from '../env/etcd.ts';
import { openEtcdStore } from '../../apiserver/storage/etcd.ts';
import { waitFor } from '../env/process.ts';

const GROUP = 'network.photoncloud.io';
const VERSION = 'v1alpha1';
const NAMESPACE = 'informer-ns';

type Vpc = k8s.KubernetesObject & { spec: { cidrBlocks: string[] } };

function vpc(name: string, cidr = '10.0.0.0/16'): Vpc {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'Vpc', metadata: { name, namespace: NAMESPACE }, spec: { cidrBlocks: [cidr] } };
}

async function etcdRevision(endpoint: string): Promise<number> {
  const { stdout } = await promisify(execFile)('etcdctl', ['--endpoints', endpoint, 'endpoint', 'status', '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  return Number(JSON.parse(stdout)[0].Status.header.revision);
}

describe('client-node informer', () => {
  let etcd: EtcdInstance;
  let env: TestApiServer;
  let informer: k8s.Informer<Vpc> & k8s.ObjectCache<Vpc>;
  let stopped = false;
  const events: Array<[string, string]> = [];
  const errors: unknown[] = [];
  let lists = 0;

  const clientFor = (server: TestApiServer) => {
    const config = new k8s.KubeConfig();
    config.loadFromFile(server.kubeconfig);
    return { config, api: config.makeApiClient(k8s.CustomObjectsApi) };
  };

  beforeAll(async () => {
    etcd = await startEtcd();
    // Short watch lifetimes make the informer re-watch often, as it would over hours with the defaults.
    env = await startTestApiServer({ storage: 'etcd', etcd, overrides: { minRequestTimeoutSeconds: 1, compactionPollMs: 200 } });
    await env.kubectl(['create', 'namespace', NAMESPACE]);
    const { config, api } = clientFor(env);
    const list = () => (lists++, api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs' })) as Promise<k8s.KubernetesListObject<Vpc>>;
    informer = k8s.makeInformer(config, `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/vpcs`, list);
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, (object) => events.push([verb, object.metadata!.name!]));
    // client-node stops on any error but 410; restarting is the documented way to keep an informer alive.
    informer.on('error', (error) => {
      errors.push(error);
      if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 200);
    });
    await informer.start();
  });

  afterAll(async () => {
    stopped = true;
    await informer?.stop();
    await env?.stop();
    await etcd?.stop();
  });

  const seen = (verb: string, name: string) => events.some(([v, n]) => v === verb && n === name);

  it('sees add, update and delete', async () => {
    const { api } = clientFor(env);
    await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', body: vpc('first') });
    await waitFor('add first', () => seen('add', 'first'));
    await api.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', name: 'first', body: { spec: { cidrBlocks: ['10.1.0.0/16'] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitFor('update first', () => seen('update', 'first') && informer.get('first', NAMESPACE)?.spec.cidrBlocks[0] === '10.1.0.0/16');
    await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', body: vpc('second') });
    await api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', name: 'first' });
    await waitFor('delete first', () => seen('delete', 'first'));
    expect(informer.list(NAMESPACE).map((object) => object.metadata!.name)).toEqual(['second']);
  });

  it('survives an API server restart', async () => {
    await env.restart();
    const { api } = clientFor(env);
    await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', body: vpc('after-restart') });
    await waitFor('add after-restart', () => seen('add', 'after-restart'), { timeoutMs: 30_000 });
    expect(informer.list(NAMESPACE).map((object) => object.metadata!.name).sort()).toEqual(['after-restart', 'second']);
  });

  it('relists on 410 Expired when the revision it would resume from has been compacted', async () => {
    const errorsBefore = errors.length;
    const listsBefore = lists;
    // Writes elsewhere move the store past the informer's resourceVersion; compaction then removes it.
    await env.kubectl(['create', 'namespace', 'elsewhere']);
    const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    try {
      await store.compact(await store.currentRevision());
    } finally {
      await store.close();
    }
    await waitFor('a relist caused by 410', () => lists > listsBefore, { timeoutMs: 30_000 });
    expect(errors.length).toBe(errorsBefore); // the relist came from 410 Expired, not from an error restart
    const { api } = clientFor(env);
    await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', body: vpc('after-410') });
    await waitFor('add after-410', () => seen('add', 'after-410'));
  });

  it('catches up on changes made while its server was down and history was compacted', async () => {
    await env.stopServer();
    // Another API server on the same etcd keeps serving writes the informer misses.
    const other = await startTestApiServer({ storage: 'etcd', etcd });
    try {
      const { api } = clientFor(other);
      await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', body: vpc('while-down') });
      await api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', name: 'second' });
    } finally {
      await other.stop();
    }
    const revision = await etcdRevision(etcd.endpoint);
    await promisify(execFile)('etcdctl', ['--endpoints', etcd.endpoint, 'compact', String(revision)], { env: { ...process.env, ETCDCTL_API: '3' } });
    await env.startServer();
    await waitFor('relist after compaction', () => seen('add', 'while-down') && seen('delete', 'second'), { timeoutMs: 30_000 });
    expect(informer.list(NAMESPACE).map((object) => object.metadata!.name).sort()).toEqual(['after-410', 'after-restart', 'while-down']);
    // And it keeps watching afterwards.
    const { api } = clientFor(env);
    await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'vpcs', body: vpc('after-compaction') });
    await waitFor('add after-compaction', () => seen('add', 'after-compaction'), { timeoutMs: 30_000 });
  });
});
