// One store, several API server processes: the embedded store (one SQLite file, one writer, watches served
// in-process) lives in the process that opened it, and every API server worker reaches it through a
// RemoteStore over a message channel — the same Store semantics, so each worker keeps its own watch cache
// exactly as several API servers share one etcd. etcd needs none of this: each worker opens its own client.
//
// The protocol is plain messages, one request → one answer, matched by id; a watch is a stream of messages
// under its own id:
//   worker → host   {call: id, method, args}     {watch: id, prefix, after}   {progress: id}   {unwatch: id}
//   host → worker   {answer: id, value | error}  {events|progress|watchError: id, …}
// Buffers cross as they are (the channel is expected to carry structured clones: Node's IPC with
// serialization 'advanced'); Uint8Arrays that arrive are turned back into Buffers.
// When the channel closes, the worker's pending calls and watches fail with Unavailable (its API server then
// answers 503 and its watchers reconnect elsewhere) and the host closes that worker's watches.
import { StorageError, type KeyValue, type ListOptions, type ListResult, type Store, type WatchEvent, type WatchHandle, type WatchHandler } from './types.ts';

/** What carries messages between one worker and the host, in order. */
export interface StoreChannel {
  send(message: StoreMessage): void;
  onMessage(listener: (message: StoreMessage) => void): void;
  /** Called once when the other side is gone. */
  onClose(listener: () => void): void;
}

export type StoreMessage = Record<string, unknown> & { storeProtocol: 1 };

interface SerializedError {
  name: string;
  message: string;
  code?: StorageError['code'];
  revision?: number;
}

/** The calls a worker may make: every Store method but watch (a stream) and close (the worker's own). */
const CALLS = ['get', 'list', 'count', 'create', 'update', 'delete', 'currentRevision', 'compact', 'compactedRevision'] as const;
type Call = (typeof CALLS)[number];

const message = (fields: Record<string, unknown>): StoreMessage => ({ storeProtocol: 1, ...fields });

export function isStoreMessage(value: unknown): value is StoreMessage {
  return typeof value === 'object' && value !== null && (value as { storeProtocol?: unknown }).storeProtocol === 1;
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof StorageError) return { name: error.name, message: error.message, code: error.code, revision: error.revision };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

function deserializeError(error: SerializedError): Error {
  if (error.code) return new StorageError(error.code, error.message, error.revision);
  // RangeError is part of the Store contract (a revision in the future); anything else is just an Error.
  return error.name === 'RangeError' ? new RangeError(error.message) : new Error(error.message);
}

const asBuffer = (value: unknown): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from((value as Uint8Array).buffer, (value as Uint8Array).byteOffset, (value as Uint8Array).byteLength));

function reviveKeyValue(value: KeyValue): KeyValue {
  return { ...value, value: asBuffer(value.value) };
}

function reviveEvent(event: WatchEvent): WatchEvent {
  const revived: WatchEvent = { ...event };
  if (event.value !== undefined) revived.value = asBuffer(event.value);
  if (event.prevValue !== undefined) revived.prevValue = asBuffer(event.prevValue);
  return revived;
}

/**
 * Serves `store` to one worker over `channel` until the channel closes. The store stays the caller's: it is
 * shared by every worker and closed by the host when they are all gone.
 */
export function serveStore(store: Store, channel: StoreChannel): void {
  const watches = new Map<number, WatchHandle>();
  let open = true;
  channel.onClose(() => {
    open = false;
    for (const watch of watches.values()) watch.close();
    watches.clear();
  });
  const send = (fields: Record<string, unknown>) => {
    if (open) channel.send(message(fields));
  };
  channel.onMessage((received) => {
    if (typeof received.call === 'number') {
      const method = received.method as Call;
      if (!CALLS.includes(method)) return send({ answer: received.call, error: serializeError(new Error(`unknown store call ${String(method)}`)) });
      const args = (received.args as unknown[]).map((arg) => (arg instanceof Uint8Array ? asBuffer(arg) : arg));
      // Every argument list is checked by the store itself; the worker is this server's own code.
      (store[method] as (...values: unknown[]) => Promise<unknown>)(...args).then(
        (value) => send({ answer: received.call, value }),
        (error: unknown) => send({ answer: received.call, error: serializeError(error) }),
      );
    } else if (typeof received.watch === 'number') {
      const id = received.watch;
      const handler: WatchHandler = {
        onEvents: (events) => send({ events, id }),
        onError: (error) => {
          watches.delete(id);
          send({ watchError: id, error: serializeError(error) });
        },
        onProgress: (revision) => send({ progress: id, revision }),
      };
      try {
        watches.set(id, store.watch(received.prefix as string, received.after as number, handler));
      } catch (error) {
        send({ watchError: id, error: serializeError(error) });
      }
    } else if (typeof received.requestProgress === 'number') {
      watches.get(received.requestProgress)?.requestProgress?.();
    } else if (typeof received.unwatch === 'number') {
      watches.get(received.unwatch)?.close();
      watches.delete(received.unwatch);
    }
  });
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** A Store whose every call is answered by the host's store (see the top of this file). */
export class RemoteStore implements Store {
  readonly backend = 'embedded' as const;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<number, WatchHandler>();
  private closedReason: string | undefined;

  constructor(private readonly channel: StoreChannel) {
    channel.onMessage((received) => this.receive(received));
    channel.onClose(() => this.end('the process holding the store is gone'));
  }

  get(key: string): Promise<KeyValue | null> {
    return this.call<KeyValue | null>('get', [key]).then((value) => value && reviveKeyValue(value));
  }

  list(prefix: string, options?: ListOptions): Promise<ListResult> {
    return this.call<ListResult>('list', [prefix, options]).then((result) => ({ ...result, items: result.items.map(reviveKeyValue) }));
  }

  count(prefix: string): Promise<number> {
    return this.call('count', [prefix]);
  }

  create(key: string, value: Buffer): Promise<KeyValue> {
    return this.call<KeyValue>('create', [key, value]).then(reviveKeyValue);
  }

  update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue> {
    return this.call<KeyValue>('update', [key, value, expectedModRevision]).then(reviveKeyValue);
  }

  delete(key: string, expectedModRevision?: number): Promise<{ revision: number; deleted: KeyValue }> {
    return this.call<{ revision: number; deleted: KeyValue }>('delete', [key, expectedModRevision]).then((result) => ({ revision: result.revision, deleted: reviveKeyValue(result.deleted) }));
  }

  currentRevision(): Promise<number> {
    return this.call('currentRevision', []);
  }

  compact(revision: number): Promise<void> {
    return this.call('compact', [revision]);
  }

  compactedRevision(): Promise<number> {
    return this.call('compactedRevision', []);
  }

  watch(prefix: string, afterRevision: number, handler: WatchHandler): WatchHandle {
    if (this.closedReason) throw new StorageError('Unavailable', `store closed: ${this.closedReason}`);
    const id = this.nextId++;
    this.watches.set(id, handler);
    this.channel.send(message({ watch: id, prefix, after: afterRevision }));
    return {
      close: () => {
        if (!this.watches.delete(id) || this.closedReason) return;
        this.channel.send(message({ unwatch: id }));
      },
      requestProgress: () => {
        if (this.watches.has(id) && !this.closedReason) this.channel.send(message({ requestProgress: id }));
      },
    };
  }

  async close(): Promise<void> {
    for (const id of this.watches.keys()) this.channel.send(message({ unwatch: id }));
    this.watches.clear();
    this.end('closed');
  }

  private call<T>(method: Call, args: unknown[]): Promise<T> {
    if (this.closedReason) return Promise.reject(new StorageError('Unavailable', `store closed: ${this.closedReason}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.channel.send(message({ call: id, method, args }));
    });
  }

  private receive(received: StoreMessage): void {
    if (typeof received.answer === 'number') {
      const pending = this.pending.get(received.answer);
      if (!pending) return;
      this.pending.delete(received.answer);
      if (received.error) pending.reject(deserializeError(received.error as SerializedError));
      else pending.resolve(received.value);
    } else if (Array.isArray(received.events)) {
      this.watches.get(received.id as number)?.onEvents((received.events as WatchEvent[]).map(reviveEvent));
    } else if (typeof received.progress === 'number') {
      this.watches.get(received.progress)?.onProgress?.(received.revision as number);
    } else if (typeof received.watchError === 'number') {
      const handler = this.watches.get(received.watchError);
      this.watches.delete(received.watchError);
      handler?.onError(deserializeError(received.error as SerializedError) as StorageError);
    }
  }

  /** Fails everything still waiting; later calls fail at once. */
  private end(reason: string): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    const error = () => new StorageError('Unavailable', `store closed: ${reason}`);
    for (const pending of this.pending.values()) pending.reject(error());
    this.pending.clear();
    const handlers = [...this.watches.values()];
    this.watches.clear();
    for (const handler of handlers) handler.onError(error());
  }
}
