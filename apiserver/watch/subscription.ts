// An in-process subscription to the watch cache for the server's own controllers (CRDs, namespaces): the
// handler first sees every current object as ADDED, then each change; after a cache re-initialisation it is
// re-subscribed and sees the whole state again, so handlers must be level-based.
import type { Logger } from '../../lib/logging.ts';
import type { CacheEvent, WatchCache } from './cache.ts';

export class CacheSubscription {
  private registration?: { cancel(): void };
  private stopped = false;

  constructor(
    private readonly cache: WatchCache,
    private readonly keyPrefix: string,
    private readonly handler: (event: CacheEvent) => void,
    private readonly log: Logger,
  ) {}

  /** Subscribes; the current objects are handed to the handler before this returns. */
  start(): void {
    if (this.stopped) return;
    const { initial, registration } = this.cache.watch(
      {
        keyPrefix: this.keyPrefix,
        onEvent: (event) => this.deliver(event),
        onTerminate: () => {
          this.registration = undefined;
          void this.cache.waitUntilReady(60_000).then(() => this.start());
        },
      },
      undefined,
    );
    this.registration = registration;
    for (const event of initial) this.deliver(event);
  }

  stop(): void {
    this.stopped = true;
    this.registration?.cancel();
  }

  private deliver(event: CacheEvent): void {
    try {
      this.handler(event);
    } catch (error) {
      this.log.error('cache subscription handler failed', { prefix: this.keyPrefix, error: (error as Error).message });
    }
  }
}
