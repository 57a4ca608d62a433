// Connecting to an OVSDB database in the background: the first connection is tried until it succeeds (one
// attempt in flight at a time, retryMs apart), so the components using it run — and say why nothing reaches
// the database — while it is not installed, not running or unreachable. Once connected, the OvsdbClient
// itself reconnects after drops. Used by the OVN Northbound driver and the Southbound health reader.
import { errorMessage } from '../../lib/logging.ts';
import type { OvsdbClient, OvsdbLogger, TableRows } from './client.ts';

export interface BackgroundConnectionOptions<T extends TableRows> {
  /** e.g. "the OVN northbound database" (log lines and unavailable reasons). */
  what: string;
  endpoint: string;
  /** One attempt; aborting the signal gives it up. */
  connect(signal: AbortSignal): Promise<OvsdbClient<T>>;
  /** Called once with the connected client, before it is offered as current. */
  onConnected?(client: OvsdbClient<T>): void;
  log: OvsdbLogger;
  retryMs?: number;
}

export class BackgroundConnection<T extends TableRows> {
  private client?: OvsdbClient<T>;
  private lastError = 'not connected yet';
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Aborts a connect still in flight when stop() comes (it would retry, holding timers, for seconds). */
  private readonly stopping = new AbortController();

  constructor(private readonly options: BackgroundConnectionOptions<T>) {}

  start(): void {
    void this.attempt();
  }

  /** One connection attempt; a failed one schedules the next (so only one is ever in flight). */
  private async attempt(): Promise<void> {
    const { what, endpoint, log } = this.options;
    try {
      const client = await this.options.connect(this.stopping.signal);
      if (this.stopped) return void (await client.close());
      client.onStateChange((state) => {
        if (state === 'disconnected') this.lastError = 'the connection was lost; reconnecting';
      });
      this.options.onConnected?.(client);
      this.client = client;
      log.info(`connected to ${what}`, { endpoint });
    } catch (error) {
      if (this.stopped) return;
      const message = errorMessage(error);
      if (message !== this.lastError) log.warn(`cannot reach ${what}; retrying`, { endpoint, error: message });
      this.lastError = message;
      this.timer = setTimeout(() => void this.attempt(), this.options.retryMs ?? 2000);
    }
  }

  /** The client, or undefined while not connected. */
  get current(): OvsdbClient<T> | undefined {
    return this.client?.connected ? this.client : undefined;
  }

  /** The client ever connected (also while it reconnects), e.g. for counters kept across reconnects. */
  get everConnected(): OvsdbClient<T> | undefined {
    return this.client;
  }

  /** Why the database cannot be used right now, or undefined while connected. */
  get unavailableReason(): string | undefined {
    return this.current ? undefined : `cannot reach ${this.options.what} at ${this.options.endpoint}: ${this.lastError}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.client?.close();
    this.client = undefined;
  }
}
