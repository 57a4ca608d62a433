// The network controllers' connection to the OVN Northbound database. Connecting happens in the background
// and keeps retrying, so the controllers run (and say why nothing is programmed) even when OVN is not
// installed or not running, or while the connection is down: reconciles then report Ready=False reason
// OVNUnavailable (and retry).
//
// It also reports owned rows that disappear from OVN (deleted by hand, or a database restored from an
// older backup or recreated empty: the client's fresh snapshot after the reconnect drops them), so the
// owning object is reconciled again and its rows come back.
import { connectNorthbound, ownerOf, type NorthboundClient, type Owner } from '../../agents/ovn-nb/index.ts';
import type { OvsdbTlsFiles } from '../../agents/ovsdb/index.ts';
import { errorMessage, type Logger } from '../../lib/logging.ts';

export class NorthboundConnection {
  private client?: NorthboundClient;
  private lastError = 'not connected yet';
  private readonly rowRemovedListeners = new Set<(owner: Owner, table: string) => void>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    readonly endpoint: string,
    private readonly log: Logger,
    private readonly retryMs = 2000,
    /** Credentials for ssl: endpoints. */
    private readonly tls?: OvsdbTlsFiles,
  ) {}

  start(): void {
    void this.attempt();
  }

  /** One connection attempt; a failed one schedules the next (so only one is ever in flight). */
  private async attempt(): Promise<void> {
    try {
      const client = await connectNorthbound({ endpoint: this.endpoint, tls: this.tls, logger: this.log, connectTimeoutMs: 5000 });
      if (this.stopped) return void (await client.close());
      client.onStateChange((state) => {
        if (state === 'disconnected') this.lastError = 'the connection was lost; reconnecting';
      });
      client.onUpdate((table, _uuid, oldRow, newRow) => {
        const owner = oldRow && !newRow ? ownerOf(oldRow) : undefined;
        if (owner) for (const listener of this.rowRemovedListeners) listener(owner, table);
      });
      this.client = client;
      this.log.info('connected to the OVN northbound database', { endpoint: this.endpoint });
    } catch (error) {
      const message = errorMessage(error);
      if (message !== this.lastError) this.log.warn('cannot reach the OVN northbound database; retrying', { endpoint: this.endpoint, error: message });
      this.lastError = message;
      if (!this.stopped) this.timer = setTimeout(() => void this.attempt(), this.retryMs);
    }
  }

  /** The client, or undefined while not connected (the OvsdbClient itself reconnects after drops). */
  get current(): NorthboundClient | undefined {
    return this.client?.connected ? this.client : undefined;
  }

  /** Transactions sent on this connection (kept across reconnects; zero before the first connect). */
  get stats(): { transactions: number; failedTransactions: number } {
    return this.client?.stats ?? { transactions: 0, failedTransactions: 0 };
  }

  /** Calls listener for every row with a PhotonCloud owner that leaves the database; returns an unsubscribe. */
  onOwnedRowRemoved(listener: (owner: Owner, table: string) => void): () => void {
    this.rowRemovedListeners.add(listener);
    return () => this.rowRemovedListeners.delete(listener);
  }

  /** Why there is no client: for Ready=False messages. */
  get unavailableReason(): string {
    return `cannot reach the OVN northbound database at ${this.endpoint}: ${this.lastError}`;
  }

  /** Resolves with the client once connected (or undefined after timeoutMs). */
  async waitConnected(timeoutMs: number): Promise<NorthboundClient | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.current && Date.now() < deadline && !this.stopped) await new Promise((resolve) => setTimeout(resolve, 100));
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.client?.close();
    this.client = undefined;
  }
}
