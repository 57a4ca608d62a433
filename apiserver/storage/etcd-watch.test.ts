// EtcdWatch against a scripted Watch stream: the orderings etcd 3.4 produces only rarely (and the real-etcd
// tests in test/storage therefore hit only by chance), played out one response at a time.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { Etcd3, IEvent, IWatchRequest, IWatchResponse } from 'etcd3';
import { EtcdWatch, type EtcdWatchOwner } from './etcd-watch.ts';
import type { StorageError, WatchEvent } from './types.ts';

/** A Watch stream that records what the watch writes; the test plays etcd's responses. */
class ScriptedStream extends EventEmitter {
  readonly written: IWatchRequest[] = [];
  write(request: IWatchRequest): boolean {
    this.written.push(request);
    return true;
  }
  end(): void {}
  cancel(): void {}
  /** What was written since the last call, in short form. */
  take(): string[] {
    return this.written.splice(0).map((request) => {
      if (request.create_request) {
        const { watch_id, start_revision } = request.create_request;
        return watch_id ? `probe ${watch_id}` : `create from ${start_revision}`;
      }
      if (request.cancel_request) return `cancel ${request.cancel_request.watch_id}`;
      return 'progress';
    });
  }
  respond(response: Partial<IWatchResponse> & { revision: number }): void {
    const { revision, ...rest } = response;
    this.emit('data', { header: { revision: String(revision) }, watch_id: '0', created: false, canceled: false, events: [], ...rest });
  }
}

const PROBE = '1000000000000000000';

function put(revision: number): IEvent {
  return { type: 'Put', kv: { key: Buffer.from(`/k${revision}`), mod_revision: String(revision) } } as unknown as IEvent;
}

async function startWatch(afterRevision: number) {
  const stream = new ScriptedStream();
  const owner: EtcdWatchOwner = {
    client: { watchClient: { watch: async () => stream } } as unknown as Etcd3,
    watchRetryTimeoutMs: 30_000,
    learnCompacted: () => undefined,
    forget: () => undefined,
    event: (event) => ({ type: 'put', key: event.kv.key.toString(), modRevision: Number(event.kv.mod_revision) }),
  };
  const delivered: number[] = [];
  const progress: { revision: number; delivered: number[] }[] = [];
  const errors: StorageError[] = [];
  const watch = new EtcdWatch(owner, { key: Buffer.from('/'), end: Buffer.from('0') }, afterRevision, {
    onEvents: (events: WatchEvent[]) => delivered.push(...events.map((event) => event.modRevision)),
    onError: (error) => errors.push(error),
    onProgress: (revision) => progress.push({ revision, delivered: [...delivered] }),
  });
  watch.start();
  await new Promise((resolve) => setImmediate(resolve));
  return { stream, watch, delivered, progress, errors };
}

describe('EtcdWatch (scripted etcd)', () => {
  it('takes a watcher as caught up when its probe shows no write since the created revision', async () => {
    const { stream, watch, progress } = await startWatch(10);
    expect(stream.take()).toEqual(['create from 11', `probe ${PROBE}`, `cancel ${PROBE}`]);
    stream.respond({ created: true, revision: 10 });
    watch.requestProgress();
    expect(stream.take()).toEqual([]);
    stream.respond({ created: true, watch_id: PROBE, revision: 10 });
    expect(stream.take()).toEqual(['progress']);
    for (let answer = 0; answer < 3; answer++) {
      expect(progress).toEqual([]);
      stream.respond({ watch_id: '-1', revision: 10 });
    }
    expect(progress).toEqual([{ revision: 10, delivered: [] }]);
    watch.close();
  });

  it('does not trust a created response that a write raced: the watcher is replaced and progress waits for the replay', async () => {
    // etcd read revision 10 for the created response, then revision 11 was written before it registered the
    // watcher from 11: a watcher with 11 to replay in a later background pass.
    const { stream, watch, delivered, progress, errors } = await startWatch(10);
    stream.take();
    stream.respond({ created: true, revision: 10 });
    stream.respond({ created: true, watch_id: PROBE, revision: 11 });
    expect(stream.take()).toEqual(['cancel 0', 'create from 10', `probe ${PROBE}`, `cancel ${PROBE}`]);
    stream.respond({ created: true, watch_id: '1', revision: 11 });
    stream.respond({ created: true, watch_id: PROBE, revision: 11 });
    watch.requestProgress();
    // Answers to progress requests would come before the replay: none is asked until the replay is in.
    expect(stream.take()).toEqual([]);
    stream.respond({ watch_id: '1', revision: 11, events: [put(11)] });
    expect(delivered).toEqual([11]);
    expect(stream.take()).toEqual(['progress']);
    for (let answer = 0; answer < 3; answer++) stream.respond({ watch_id: '-1', revision: 11 });
    expect(progress).toEqual([{ revision: 11, delivered: [11] }]);
    expect(errors).toEqual([]);
    watch.close();
  });

  it('confirms an answer only after two more with no event at or below it in between', async () => {
    const { stream, watch, progress } = await startWatch(10);
    stream.respond({ created: true, revision: 10 });
    stream.respond({ created: true, watch_id: PROBE, revision: 10 });
    stream.take();
    watch.requestProgress();
    expect(stream.take()).toEqual(['progress']);
    // The candidate (12) and one undisturbed answer: not enough, the event at 12 may still be queued in etcd.
    stream.respond({ watch_id: '-1', revision: 12 });
    stream.respond({ watch_id: '-1', revision: 12 });
    expect(progress).toEqual([]);
    stream.respond({ watch_id: '0', revision: 12, events: [put(12)] });
    // Disturbed: the next answer is a new candidate, confirmed by two more.
    for (let answer = 0; answer < 3; answer++) {
      expect(progress).toEqual([]);
      stream.respond({ watch_id: '-1', revision: 12 });
    }
    expect(progress).toEqual([{ revision: 12, delivered: [12] }]);
    watch.close();
  });
});
