// Compacts storage history on an interval (kube-apiserver's --etcd-compaction-interval), for both backends,
// so the store does not grow without bound. Each pass compacts to the revision seen one interval earlier:
// watchers up to one interval behind can still resume; older ones get 410 Expired and relist.
import type { Logger } from '../../lib/logging.ts';
import type { Store } from '../storage/types.ts';
import type { WatchCache } from '../watch/cache.ts';
import { PeriodicTask } from '../../lib/periodic.ts';

export class Compactor {
  private readonly loop: PeriodicTask;
  private previous?: number;

  constructor(
    private readonly store: Store,
    private readonly cache: WatchCache,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.loop = new PeriodicTask('compaction', intervalMs, () => this.pass(), log);
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  async pass(): Promise<void> {
    const current = await this.store.currentRevision();
    const target = this.previous;
    this.previous = current;
    if (target === undefined) return;
    const compacted = await this.store.compactedRevision();
    if (target <= compacted) return;
    await this.store.compact(target);
    this.cache.compactedTo(target);
    this.log.info('compacted storage history', { revision: target });
  }
}
