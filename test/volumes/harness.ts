// The storage tests' environment: an API server on etcd, a real one-node Ceph (with radosgw for Buckets when
// asked), and the storage controllers in this process as the controller manager runs them, given that Ceph's
// client configuration and the gateway's admin user.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clientFromKubeconfig, NamespaceResource, type ApiClient, type ResourceRef } from '../../apis/client/index.ts';
import { findCondition } from '../../apis/meta/conditions.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { startTestApiServer, type TestApiServer } from '../env/apiserver.ts';
import { startTestCeph, type TestCeph } from '../env/ceph.ts';
import { waitFor } from '../env/process.ts';

export const STORAGE_CONTROLLERS = ['storageclass', 'volume', 'volumesnapshot'];

export interface StorageEnv {
  api: TestApiServer;
  ceph: TestCeph;
  client: ApiClient;
  manager: ControllerManager;
  stop(): Promise<void>;
}

/** leaderElect: run the manager on its leader Lease, as production does (it then announces its finalizers; benches). */
export async function startStorageEnv(options: { controllers?: string[]; rgw?: boolean; leaderElect?: boolean } = {}): Promise<StorageEnv> {
  const [api, ceph] = await Promise.all([startTestApiServer({ storage: 'etcd' }), startTestCeph({ rgw: options.rgw })]);
  const client = clientFromKubeconfig(api.kubeconfig, { component: 'storage-test' });
  const imageCacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'photon-images-'));
  const manager = startControllerManager({
    kubeconfig: api.kubeconfig,
    ovnNorthbound: 'unix:/nonexistent/nb.sock',
    leaderElect: options.leaderElect ?? false,
    controllers: options.controllers ?? STORAGE_CONTROLLERS,
    metricsAddress: '127.0.0.1:0',
    storage: { ceph: ceph.client, imageCacheDir, ...(ceph.s3 ? { objectStorage: { endpoint: ceph.s3.endpoint, credentials: ceph.s3.admin }, bucketResyncMs: 2000 } : {}) },
  });
  return {
    api,
    ceph,
    client,
    manager,
    async stop() {
      await manager.stop();
      client.close();
      await Promise.all([api.stop(), ceph.stop()]);
      fs.rmSync(imageCacheDir, { recursive: true, force: true });
    },
  };
}

export async function namespace(env: StorageEnv, name: string): Promise<void> {
  await env.client.create(NamespaceResource, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

const object = (kind: string, metadata: Record<string, string>, spec: Record<string, unknown>) => ({ apiVersion: 'storage.photoncloud.io/v1alpha1', kind, metadata, spec });
export const storageClass = (name: string, spec: Record<string, unknown>) => object('StorageClass', { name }, spec);
export const volume = (namespace: string, name: string, spec: Record<string, unknown>) => object('Volume', { name, namespace }, spec);
export const volumeSnapshot = (namespace: string, name: string, volumeRef: string) => object('VolumeSnapshot', { name, namespace }, { volumeRef });

/** Waits until the object's Ready condition has this status (and reason, if given) for its current generation. */
export async function waitReady<T extends KubeObject>(env: StorageEnv, resource: ResourceRef, namespace: string | undefined, name: string, status: 'True' | 'False', reason?: string, timeoutMs = 60_000): Promise<T> {
  return waitFor(`${resource.kind} ${namespace ?? ''}/${name} Ready=${status}${reason ? ` ${reason}` : ''}`, async () => {
    const found = (await env.client.get(resource, name, { namespace }).catch(() => undefined)) as (KubeObject & { status?: { conditions?: never[]; observedGeneration?: number } }) | undefined;
    const ready = findCondition(found?.status?.conditions, 'Ready');
    const current = found?.status?.observedGeneration === found?.metadata.generation;
    return ready?.status === status && current && (!reason || ready.reason === reason) ? (found as T) : undefined;
  }, { timeoutMs, intervalMs: 100 });
}

/** Waits until the object no longer exists. */
export async function waitGone(env: StorageEnv, resource: ResourceRef, namespace: string | undefined, name: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${resource.kind} ${namespace ?? ''}/${name} gone`, async () => (await env.client.get(resource, name, { namespace }).then(() => false, () => true)), { timeoutMs, intervalMs: 100 });
}
