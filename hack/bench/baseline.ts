// The baseline the API's write figures are divided by: raw etcd puts/s of objects the size of a stored Vpc,
// on an etcd of their own that is stopped before the API's etcd starts. Not on the API's etcd: deleting the
// baseline's keys afterwards (one range delete) left etcd spending ~4× the CPU per write until the next
// compaction (242 → 1,064 µs per API create after 22,000 puts and their deletion; measured with etcd 3.4.23),
// which halved the API's creates/s measured after it.
import { Etcd3 } from 'etcd3';
import { encodePutRequest } from '../../apiserver/storage/etcd-proto.ts';
import { EtcdRpcClient } from '../../apiserver/storage/etcd-rpc.ts';
import { startEtcd } from '../../test/env/etcd.ts';
import { runConcurrent, type RunResult } from './load.ts';

export interface RawPutRates {
  /** Through the etcd3 package (grpc-js), as every run before the store had its own client. */
  etcd3: RunResult;
  /** Through the store's own gRPC client (etcd-rpc.ts): a third of etcd3's client CPU per call. */
  store: RunResult;
}

/** Measures `count` puts of `value` at `concurrency` through each client, on a fresh etcd. */
export async function measureRawPuts(count: number, concurrency: number, value: string): Promise<RawPutRates> {
  const etcd = await startEtcd();
  const etcd3 = new Etcd3({ hosts: etcd.endpoint });
  const store = new EtcdRpcClient({ endpoints: [etcd.endpoint], timeoutMs: 10_000 });
  try {
    const bytes = Buffer.from(value);
    const viaEtcd3 = await runConcurrent(count, concurrency, (index) => etcd3.put(`/bench/etcd3/${concurrency}/${index}`).value(value).exec());
    const viaStore = await runConcurrent(count, concurrency, (index) => store.call('KV', 'Put', encodePutRequest(Buffer.from(`/bench/store/${concurrency}/${index}`), bytes)));
    return { etcd3: viaEtcd3, store: viaStore };
  } finally {
    etcd3.close();
    store.close();
    await etcd.stop();
  }
}
