// EtcdWatch against a scripted Watch stream: the orderings etcd 3.4 produces only rarely (and the real-etcd
// tests in test/storage therefore hit only by chance), played out one response at a time.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { EventMessage, WatchRequest, WatchResponse } from './etcd-proto.ts';
import { EtcdWatch, type EtcdWatchOwner, type WatchStream } from './etcd-watch.ts';
import type { StorageError, WatchEvent } from './types.ts';

/** A Watch stream that records what the watch writes; the test plays etcd's responses. */
class ScriptedStream extends EventEmitter implements WatchStream {
  readonly written: WatchRequest[] = [];
  write(request: WatchRequest): void {
    this.written.push(request);
  }
  cancel(): void {}
  /** What was written since the last call, in short form. */
  take(): string[] {
    return this.written.splice(0).map((request) => {
      if ('create' in request) {
        const { watchId, startRevision } = request.create;
        return watchId ? `probe ${watchId}` : `create from ${startRevision}`;
      }
      if ('cancel' in request) return `cancel ${request.cancel.watchId}`;
      return 'progress';
    });
  }
  respond(response: Partial<WatchResponse> & { revision: number }): void {
    const full: WatchResponse = { watchId: '0', created: false, canceled: false, compactRevision: 0, cancelReason: '', events: [], ...response };
    this.emit('data', full);
  }
}

const PROBE = '1000000000000000000';

function put(revision: number): EventMessage {
  return { type: 'put', kv: { key: Buffer.from(`/k${revision}`), value: Buffer.alloc(0), createRevision: revision, modRevision: revision, version: 1 }, prevKv: null };
}

async function startWatch(afterRevision: number) {
  const stream = new ScriptedStream();
  const owner: EtcdWatchOwner = {
    openWatchStream: () => stream,
    watchRetryTimeoutMs: 30_000,
    learnCompacted: () => undefined,
    forget: () => undefined,
    event: (event) => ({ type: 'put', key: event.kv.key.toString(), modRevision: event.kv.modRevision }),
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
    stream.respond({ created: true, watchId: PROBE, revision: 10 });
    expect(stream.take()).toEqual(['progress']);
    for (let answer = 0; answer < 3; answer++) {
      expect(progress).toEqual([]);
      stream.respond({ watchId: '-1', revision: 10 });
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
    stream.respond({ created: true, watchId: PROBE, revision: 11 });
    expect(stream.take()).toEqual(['cancel 0', 'create from 10', `probe ${PROBE}`, `cancel ${PROBE}`]);
    stream.respond({ created: true, watchId: '1', revision: 11 });
    stream.respond({ created: true, watchId: PROBE, revision: 11 });
    watch.requestProgress();
    // Answers to progress requests would come before the replay: none is asked until the replay is in.
    expect(stream.take()).toEqual([]);
    stream.respond({ watchId: '1', revision: 11, events: [put(11)] });
    expect(delivered).toEqual([11]);
    expect(stream.take()).toEqual(['progress']);
    for (let answer = 0; answer < 3; answer++) stream.respond({ watchId: '-1', revision: 11 });
    expect(progress).toEqual([{ revision: 11, delivered: [11] }]);
    expect(errors).toEqual([]);
    watch.close();
  });

  it('confirms an answer only after two more with no event at or below it in between', async () => {
    const { stream, watch, progress } = await startWatch(10);
    stream.respond({ created: true, revision: 10 });
    stream.respond({ created: true, watchId: PROBE, revision: 10 });
    stream.take();
    watch.requestProgress();
    expect(stream.take()).toEqual(['progress']);
    // The candidate (12) and one undisturbed answer: not enough, the event at 12 may still be queued in etcd.
    stream.respond({ watchId: '-1', revision: 12 });
    stream.respond({ watchId: '-1', revision: 12 });
    expect(progress).toEqual([]);
    stream.respond({ watchId: '0', revision: 12, events: [put(12)] });
    // Disturbed: the next answer is a new candidate, confirmed by two more.
    for (let answer = 0; answer < 3; answer++) {
      expect(progress).toEqual([]);
      stream.respond({ watchId: '-1', revision: 12 });
    }
    expect(progress).toEqual([{ revision: 12, delivered: [12] }]);
    watch.close();
  });
});
