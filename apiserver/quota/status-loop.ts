// Keeps every ResourceQuota's status true to what exists: status.hard follows spec.hard, status.used is
// recounted from the watch cache (releasing what deleted objects and failed writes were charged). Runs every
// couple of seconds and soon after any quota changes; level-based, so a restart converges.
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/logging.ts';
import { PeriodicTask } from '../../lib/periodic.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import type { WatchCache, WatchRegistration } from '../watch/cache.ts';
import type { QuotaLedger } from './ledger.ts';

export class QuotaStatusLoop {
  private readonly loop: PeriodicTask;
  private registration?: WatchRegistration;
  private soon?: NodeJS.Timeout;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly cache: WatchCache,
    private readonly ledger: QuotaLedger,
    private readonly log: Logger,
    intervalMs = 2000,
  ) {
    this.loop = new PeriodicTask('quota status', intervalMs, () => this.pass(), log);
  }

  start(): void {
    const quotas = this.registry.get('', 'v1', 'resourcequotas')!;
    // A new or changed quota gets its status within a fraction of a second, not at the next interval.
    this.registration = this.cache.watch({ keyPrefix: quotas.storagePrefix, onEvent: () => this.passSoon(), onTerminate: () => this.passSoon() }, undefined).registration;
    this.loop.start();
  }

  stop(): void {
    this.registration?.cancel();
    clearTimeout(this.soon);
    this.loop.stop();
  }

  private passSoon(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.pass().catch((error) => this.log.warn('quota status pass failed', { error: errorMessage(error) }));
    }, 100);
  }

  async pass(): Promise<void> {
    const quotas = this.registry.get('', 'v1', 'resourcequotas')!;
    for (const { object } of this.cache.list(quotas.storagePrefix)) {
      try {
        await this.ledger.recount(object);
      } catch (error) {
        this.log.warn('recounting a quota failed', { quota: `${object.metadata.namespace}/${object.metadata.name}`, error: errorMessage(error) });
      }
    }
  }
}
