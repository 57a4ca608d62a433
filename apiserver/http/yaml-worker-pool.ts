// Decodes large YAML bodies on a worker thread, so a slow parse (about a microsecond per byte, seconds for
// a 3 MB body) never stalls the event loop that serves every other request. One worker, started on first
// use; each body has a time budget, and the worker has its own heap limit: a body that exceeds either is
// refused and the worker replaced (bodies queued behind it are handed to the new one). The queue is
// bounded, so a flood of YAML bodies gets 429s instead of an ever-growing backlog.
import { Worker } from 'node:worker_threads';
import { ApiError, badRequest, tooManyRequests } from '../errors.ts';
import type { YamlResult } from './yaml-worker.ts';

export interface YamlWorkerPoolOptions {
  /** Longest a single body may take to decode. */
  timeoutMs: number;
  /** Bodies waiting or being decoded at once; more get 429. */
  maxPending: number;
  /** The worker's old-generation heap limit. */
  maxHeapMb: number;
}

const DEFAULTS: YamlWorkerPoolOptions = { timeoutMs: 10_000, maxPending: 8, maxHeapMb: 512 };

interface Pending {
  text: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);
const WORKER_MODULE = new URL('./yaml-worker.ts', import.meta.url).href;

export class YamlWorkerPool {
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly options: YamlWorkerPoolOptions;

  constructor(options: Partial<YamlWorkerPoolOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  decode(text: string): Promise<unknown> {
    if (this.pending.size >= this.options.maxPending) {
      return Promise.reject(tooManyRequests(1, 'Too many large YAML bodies are being decoded; please try again later, or send JSON.'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(id, badRequest(`the YAML request body took longer than ${this.options.timeoutMs / 1000} s to decode; send JSON instead`)), this.options.timeoutMs);
      this.pending.set(id, { text, resolve, reject, timer });
      this.ensureWorker().postMessage({ id, text });
    });
  }

  /** Stops the worker; bodies still being decoded are refused. */
  close(): void {
    for (const [id] of this.pending) this.settle(id, new ApiError(503, 'ServiceUnavailable', 'the server is shutting down'));
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(BOOTSTRAP, { workerData: { module: WORKER_MODULE }, resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb } });
    worker.unref();
    worker.on('message', (result: YamlResult) => {
      if ('error' in result) this.settle(result.id, new ApiError(result.error.code, result.error.reason, result.error.message));
      else this.settle(result.id, undefined, result.value);
    });
    // Out of memory or any other death: the body being decoded (the oldest; the worker takes them in
    // order) is refused, the rest go to a new worker.
    const died = (error?: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const oldest = [...this.pending.keys()].sort((a, b) => a - b)[0];
      if (oldest !== undefined) {
        const tooBig = (error as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.settle(oldest, tooBig ? new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: decoding the YAML request body needs more than ${this.options.maxHeapMb} MiB`) : badRequest('the YAML request body could not be decoded'));
      }
      this.resubmit();
    };
    worker.on('error', died);
    worker.on('exit', () => died());
    this.worker = worker;
    return worker;
  }

  /** Refuses one body and replaces the worker that is stuck on it. */
  private fail(id: number, error: ApiError): void {
    if (!this.pending.has(id)) return;
    this.settle(id, error);
    const stuck = this.worker;
    this.worker = undefined;
    void stuck?.terminate();
    this.resubmit();
  }

  private resubmit(): void {
    if (this.pending.size === 0) return;
    const worker = this.ensureWorker();
    for (const [id, { text }] of [...this.pending].sort(([a], [b]) => a - b)) worker.postMessage({ id, text });
  }

  private settle(id: number, error: Error | undefined, value?: unknown): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(value);
  }
}
