// Objects waiting for another object's OVN row: a Subnet for its Vpc's router, a Port for its Subnet's switch
// and its SecurityGroups' port groups, a LoadBalancer for its Vpc's router. When that row is first made, the
// owner's Ready condition turns True and the watch on the owner's kind brings the waiters back. A row put back
// by drift repair (removed by hand, a database restored empty) changes no status, so nothing would: a waiter
// that looked while the row was gone would stay NotReady for good. So a waiter is remembered by the row it
// missed and reconciled again when the driver sees that row appear.
import type { KubeObject } from '../../apis/meta/types.ts';
import type { NorthboundDriver, NorthboundTable, Owner } from '../../agents/ovn-nb/index.ts';

/** A row another object owns, by its owner's UID. */
export interface OwnedRow {
  table: NorthboundTable;
  owner: string;
}

/** Who waits: enough to enqueue it with its kind's controller. */
export interface Waiter {
  kind: string;
  namespace?: string;
  name: string;
}

export class RowWaiters {
  /** `<table>/<owner UID>` → waiters by `<kind>/<namespace>/<name>`. */
  private readonly waiting = new Map<string, Map<string, Waiter>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ovn: NorthboundDriver,
    wake: (waiter: Waiter) => void,
  ) {
    this.unsubscribe = ovn.onOwnedRowAdded((owner: Owner, table: string) => {
      const key = rowKey(table, owner.uid);
      const waiters = this.waiting.get(key);
      if (!waiters) return;
      this.waiting.delete(key);
      for (const waiter of waiters.values()) wake(waiter);
    });
  }

  /** Whether the row is in OVN; if not, `waiter` is reconciled again when it appears. */
  has(row: OwnedRow, waiter: KubeObject): boolean {
    if (this.ovn.has(row)) return true;
    const key = rowKey(row.table, row.owner);
    const waiters = this.waiting.get(key) ?? new Map<string, Waiter>();
    const who: Waiter = { kind: waiter.kind!, namespace: waiter.metadata.namespace, name: waiter.metadata.name! };
    waiters.set(`${who.kind}/${who.namespace ?? ''}/${who.name}`, who);
    this.waiting.set(key, waiters);
    return false;
  }

  /**
   * Forgets rows whose owners no longer exist (they will never appear). The orphan sweep calls it, so what an
   * object waited for does not outlive it by more than a sweep.
   */
  forgetOwnersExcept(liveUids: ReadonlySet<string>): void {
    for (const key of this.waiting.keys()) if (!liveUids.has(key.slice(key.indexOf('/') + 1))) this.waiting.delete(key);
  }

  /** Rows waited for now (for tests and metrics). */
  get size(): number {
    return this.waiting.size;
  }

  stop(): void {
    this.unsubscribe();
    this.waiting.clear();
  }
}

function rowKey(table: string, owner: string): string {
  return `${table}/${owner}`;
}
