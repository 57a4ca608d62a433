// The store's size under churn, before and after compaction, for both backends: 100,000 updates of a
// small set of objects (the shape of status heartbeats), then compaction at the current revision.
//   etcd: the database size etcd reports, before, after compaction, and after defragmentation (compaction
//         frees pages inside the file; defragmentation gives them back to the file system).
//   embedded: the SQLite file's size and the bytes in use (freed pages are reused by later writes).
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { openEmbeddedStore } from '../../apiserver/storage/embedded.ts';
import { openEtcdStore } from '../../apiserver/storage/etcd.ts';
import type { Store } from '../../apiserver/storage/types.ts';
import { startEtcd, type EtcdInstance } from '../../test/env/etcd.ts';
import { fmt, runConcurrent } from './load.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

async function churn(store: Store, updates: number, keys: number): Promise<void> {
  const body = (index: number) => Buffer.from(JSON.stringify({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'Node', metadata: { name: `node-${index % keys}` }, status: { heartbeat: index, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'x'.repeat(200) }] } }));
  const revisions = new Map<number, number>();
  for (let key = 0; key < keys; key++) revisions.set(key, (await store.create(`/registry/bench/nodes/node-${key}`, body(key))).modRevision);
  // One writer per key keeps every compare-and-swap winning.
  await runConcurrent(keys, keys, async (key) => {
    for (let index = key; index < updates; index += keys) {
      const written = await store.update(`/registry/bench/nodes/node-${key}`, body(index), revisions.get(key)!);
      revisions.set(key, written.modRevision);
    }
  });
}

async function etcdSize(endpoint: string): Promise<{ total: number; inUse: number }> {
  const { stdout } = await run('etcdctl', ['--endpoints', endpoint, 'endpoint', 'status', '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  const status = JSON.parse(stdout)[0].Status;
  return { total: Number(status.dbSize), inUse: Number(status.dbSizeInUse ?? status.dbSize) };
}

function sqliteSize(file: string): { total: number; inUse: number } {
  const db = new Database(file, { readonly: true });
  try {
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const pages = Number(db.pragma('page_count', { simple: true }));
    const free = Number(db.pragma('freelist_count', { simple: true }));
    return { total: pages * pageSize, inUse: (pages - free) * pageSize };
  } finally {
    db.close();
  }
}

/** etcd frees compacted pages in the background: wait until the size in use stops shrinking. */
async function settledEtcdSize(endpoint: string): Promise<{ total: number; inUse: number }> {
  let last = await etcdSize(endpoint);
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await etcdSize(endpoint);
    if (now.inUse >= last.inUse) return now;
    last = now;
  }
  return last;
}

/** Runs on a fresh etcd (started here) so earlier benchmarks' data do not blur the numbers. */
export async function benchCompaction(updates: number): Promise<void> {
  const keys = 64;
  console.log(`\n## Store size under churn (${updates} updates of ${keys} objects), before and after compaction`);
  const etcd: EtcdInstance = await startEtcd();
  const etcdStore = await openEtcdStore({ endpoints: [etcd.endpoint] });
  try {
    await churn(etcdStore, updates, keys);
    const before = await etcdSize(etcd.endpoint);
    await etcdStore.compact(await etcdStore.currentRevision());
    const compacted = await settledEtcdSize(etcd.endpoint);
    await run('etcdctl', ['--endpoints', etcd.endpoint, 'defrag'], { env: { ...process.env, ETCDCTL_API: '3' } });
    const defragmented = await etcdSize(etcd.endpoint);
    console.log(`etcd:     before ${fmt(before.total / MiB)} MiB (in use ${fmt(before.inUse / MiB)})   compacted: in use ${fmt(compacted.inUse / MiB)} MiB   after defrag ${fmt(defragmented.total / MiB)} MiB   (÷${fmt(before.total / defragmented.total)})`);
  } finally {
    await etcdStore.close();
    await etcd.stop();
  }

  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-bench-sqlite-'));
  const file = path.join(directory, 'photon.db');
  try {
    let store = openEmbeddedStore({ path: file });
    await churn(store, updates, keys);
    const revision = await store.currentRevision();
    await store.close();
    const before = sqliteSize(file);
    store = openEmbeddedStore({ path: file });
    await store.compact(revision);
    await store.close();
    const after = sqliteSize(file);
    console.log(`embedded: before ${fmt(before.total / MiB)} MiB (in use ${fmt(before.inUse / MiB)})   compacted: file ${fmt(after.total / MiB)} MiB, in use ${fmt(after.inUse / MiB)} MiB   (in use ÷${fmt(before.inUse / after.inUse)}; freed pages are reused by later writes)`);
  } finally {
    await fs.rm(directory, { recursive: true, force: true });
  }
}
