// Events expire an hour after they last happened (Kubernetes' --event-ttl), so the store keeps recent
// history only. Works on both backends (etcd leases would not help the embedded store). Deletes are
// conditional on the resourceVersion seen, so an event updated meanwhile (count++) is kept.
import type { Logger } from '../../lib/logging.ts';
import { isGoneOrChanged } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import { lastSeen } from '../registry/builtins/events.ts';
import type { ObjectStore } from '../registry/object-store.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import type { WatchCache } from '../watch/cache.ts';
import { PeriodicTask } from '../../lib/periodic.ts';

export class EventExpiry {
  private readonly loop: PeriodicTask;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly objects: ObjectStore,
    private readonly cache: WatchCache,
    private readonly ttlMs: number,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.loop = new PeriodicTask('event expiry', intervalMs, async () => void (await this.pass()), log);
  }

  start(): void {
    this.loop.start(Math.min(5000, this.ttlMs));
  }

  stop(): void {
    this.loop.stop();
  }

  async pass(now = Date.now()): Promise<number> {
    const events = this.registry.get('', 'v1', 'events');
    if (!events) return 0;
    let expired = 0;
    for (const { object } of this.cache.list(events.storagePrefix)) {
      const last = Date.parse(lastSeen(object) ?? '');
      if (Number.isNaN(last) || now - last < this.ttlMs) continue;
      try {
        await this.objects.delete(events, object.metadata.namespace, object.metadata.name!, { preconditions: { resourceVersion: object.metadata.resourceVersion } }, defaultWriteOptions());
        expired++;
      } catch (error) {
        if (!isGoneOrChanged(error)) throw error;
      }
    }
    if (expired > 0) this.log.debug('expired events', { count: expired });
    return expired;
  }
}
