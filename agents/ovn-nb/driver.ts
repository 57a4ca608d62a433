// The OVN Northbound driver the network controllers program OVN through. A controller computes the rows an
// object should own as plain data (desired-state.ts) and calls apply(owner, rows): the driver diffs them
// against its replica (diff.ts) and sends the difference as one transaction, or nothing when OVN already
// matches. remove(owner) is apply(owner, []); removeOrphans() does the same for owners that no longer exist.
//
// Connecting happens in the background and keeps retrying, so the controllers run (and say why nothing is
// programmed) even when OVN is not installed or not running, or while the connection is down: reconciles
// then report Ready=False reason OVNUnavailable (and retry).
//
// It also reports owned rows that disappear from OVN (deleted by hand, or a database restored from an
// older backup or recreated empty: the client's fresh snapshot after the reconnect drops them), so the
// owning object is reconciled again and its rows come back; and rows that appear, so objects that waited
// for another's row (a Subnet for its Vpc's router) go on once it is back.
import type { OvsdbTlsFiles, Row } from '../ovsdb/index.ts';
import { BackgroundConnection } from '../ovsdb/background.ts';
import type { Logger } from '../../lib/logging.ts';
import type { DesiredRow, RowLink } from './desired-state.ts';
import { findLinked, MANAGED_TABLES, ownedRows, planOwnerTransaction, type ReplicaView } from './diff.ts';
import { connectNorthbound, type NorthboundClient } from './connect.ts';
import type { NorthboundTable, NorthboundTables } from './schema.ts';
import { OwnerIndex } from './owner-index.ts';
import { ownerOf, type Owner } from './ownership.ts';

/** What controllers need from OVN: the shape every driver of the coming kinds (QEMU, DNS, LB, storage) follows. */
export interface NorthboundDriver {
  /** Why OVN cannot be programmed right now, or undefined while connected. */
  readonly unavailableReason: string | undefined;
  /** Whether the row a link names exists (e.g. a Subnet waits for its Vpc's router). */
  has(target: RowLink): boolean;
  /** The rows an owner has now (empty while disconnected): what a controller programmed, read back. */
  ownedRows(uid: string): Array<{ table: NorthboundTable; row: Row }>;
  /** Makes the owner's rows exactly `desired` in one transaction; resolves with the transactions sent (0 or 1). */
  apply(owner: Owner, desired: readonly DesiredRow[]): Promise<number>;
  /** Removes every row of owners of these kinds whose UID is not live; resolves with the owners cleaned. */
  removeOrphans(live: ReadonlyMap<string, ReadonlySet<string>>): Promise<number>;
  /** Calls listener for every owned row that leaves the database; returns an unsubscribe. */
  onOwnedRowRemoved(listener: (owner: Owner, table: string) => void): () => void;
  /** Calls listener for every owned row that enters the replica (a new row, or every row after a reconnect). */
  onOwnedRowAdded(listener: (owner: Owner, table: string) => void): () => void;
}

/** OVN is not reachable: the reconcile reports OVNUnavailable and retries shortly. */
export class OvnUnavailableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'OvnUnavailableError';
  }
}

export class OvnNorthboundDriver implements NorthboundDriver {
  private readonly connection: BackgroundConnection<NorthboundTables>;
  /** The replica's rows by owner UID (planning reads one object's rows, not every table). */
  private index?: OwnerIndex;
  private readonly rowRemovedListeners = new Set<(owner: Owner, table: string) => void>();
  private readonly rowAddedListeners = new Set<(owner: Owner, table: string) => void>();
  private stopped = false;

  constructor(
    readonly endpoint: string,
    private readonly log: Logger,
    retryMs = 2000,
    /** Credentials for ssl: endpoints. */
    tls?: OvsdbTlsFiles,
  ) {
    this.connection = new BackgroundConnection<NorthboundTables>({
      what: 'the OVN northbound database',
      endpoint,
      retryMs,
      log,
      connect: (signal) => connectNorthbound({ endpoint, tls, logger: log, connectTimeoutMs: 5000, signal }),
      onConnected: (client) => {
        this.index?.close();
        this.index = new OwnerIndex(client);
        client.onUpdate((table, _uuid, oldRow, newRow) => {
          const removed = oldRow && !newRow ? ownerOf(oldRow) : undefined;
          if (removed) for (const listener of this.rowRemovedListeners) listener(removed, table);
          const added = newRow && !oldRow && this.rowAddedListeners.size > 0 ? ownerOf(newRow) : undefined;
          if (added) for (const listener of this.rowAddedListeners) listener(added, table);
        });
      },
    });
  }

  start(): void {
    this.connection.start();
  }

  /** The client, or undefined while not connected (the OvsdbClient itself reconnects after drops). */
  get current(): NorthboundClient | undefined {
    return this.connection.current;
  }

  has(target: RowLink): boolean {
    const nb = this.current;
    return nb !== undefined && findLinked(this.replicaOf(nb), target) !== undefined;
  }

  ownedRows(uid: string): Array<{ table: NorthboundTable; row: Row }> {
    const nb = this.current;
    return nb ? ownedRows(this.replicaOf(nb), uid) : [];
  }

  async apply(owner: Owner, desired: readonly DesiredRow[]): Promise<number> {
    const nb = this.connected();
    const ops = planOwnerTransaction(this.replicaOf(nb), owner, desired);
    if (ops.length === 0) return 0;
    await nb.transact(ops);
    return 1;
  }

  async removeOrphans(live: ReadonlyMap<string, ReadonlySet<string>>): Promise<number> {
    const nb = this.connected();
    const orphans = new Map<string, Owner>();
    for (const table of MANAGED_TABLES) {
      for (const row of nb.rows(table).values()) {
        const owner = ownerOf(row);
        // Rows of kinds not listed (other controllers', other tools') are never garbage here.
        if (owner && live.has(owner.kind) && !live.get(owner.kind)!.has(owner.uid)) orphans.set(owner.uid, owner);
      }
    }
    const ops = [...orphans.values()].flatMap((owner) => planOwnerTransaction(this.replicaOf(nb), owner, []));
    if (ops.length > 0) {
      await nb.transact(ops);
      this.log.info('removed OVN rows whose objects no longer exist', { owners: orphans.size, operations: ops.length });
    }
    return orphans.size;
  }

  private replicaOf(nb: NorthboundClient): ReplicaView {
    const index = this.index;
    return { rows: (table) => nb.rows(table), ...(index ? { ownedBy: (uid: string) => index.ownedBy(uid), named: (table: NorthboundTable, name: string) => index.named(table, name) } : {}) };
  }

  private connected(): NorthboundClient {
    const nb = this.current;
    if (!nb) throw new OvnUnavailableError(this.connection.unavailableReason!);
    return nb;
  }

  /** Transactions sent on this connection (kept across reconnects; zero before the first connect). */
  get stats(): { transactions: number; failedTransactions: number } {
    return this.connection.everConnected?.stats ?? { transactions: 0, failedTransactions: 0 };
  }

  /** Calls listener for every row with a PhotonCloud owner that leaves the database; returns an unsubscribe. */
  onOwnedRowRemoved(listener: (owner: Owner, table: string) => void): () => void {
    this.rowRemovedListeners.add(listener);
    return () => this.rowRemovedListeners.delete(listener);
  }

  /** Calls listener for every row with a PhotonCloud owner that enters the replica; returns an unsubscribe. */
  onOwnedRowAdded(listener: (owner: Owner, table: string) => void): () => void {
    this.rowAddedListeners.add(listener);
    return () => this.rowAddedListeners.delete(listener);
  }

  get unavailableReason(): string | undefined {
    return this.connection.unavailableReason;
  }

  /** Resolves with the client once connected (or undefined after timeoutMs). */
  async waitConnected(timeoutMs: number): Promise<NorthboundClient | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.current && Date.now() < deadline && !this.stopped) await new Promise((resolve) => setTimeout(resolve, 100));
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.index?.close();
    await this.connection.stop();
  }
}
