// The network controllers' connection to the OVN Northbound database. Connecting happens in the background
// and keeps retrying, so the controllers run (and say why nothing is programmed) even when OVN is not
// installed or not running: reconciles then report Ready=False reason OVNUnavailable.
import { connectNorthbound, type NorthboundClient } from '../../agents/ovn-nb/index.ts';
import { errorMessage, type Logger } from '../../apis/logging.ts';

export class NorthboundConnection {
  private client?: NorthboundClient;
  private lastError = 'not connected yet';
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private connecting?: Promise<void>;

  constructor(
    readonly endpoint: string,
    private readonly log: Logger,
    private readonly retryMs = 2000,
  ) {}

  start(): void {
    void this.attempt();
  }

  private attempt(): Promise<void> {
    this.connecting ??= (async () => {
      try {
        const client = await connectNorthbound({ endpoint: this.endpoint, logger: this.log, connectTimeoutMs: 5000 });
        if (this.stopped) return void (await client.close());
        this.client = client;
        this.log.info('connected to the OVN northbound database', { endpoint: this.endpoint });
      } catch (error) {
        const message = errorMessage(error);
        if (message !== this.lastError) this.log.warn('cannot reach the OVN northbound database; retrying', { endpoint: this.endpoint, error: message });
        this.lastError = message;
        if (!this.stopped) this.timer = setTimeout(() => void this.attempt(), this.retryMs);
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  /** The client, or undefined while not connected (the OvsdbClient itself reconnects after drops). */
  get current(): NorthboundClient | undefined {
    return this.client;
  }

  /** Why there is no client: for Ready=False messages. */
  get unavailableReason(): string {
    return `cannot reach the OVN northbound database at ${this.endpoint}: ${this.lastError}`;
  }

  /** Resolves with the client once connected (or undefined after timeoutMs). */
  async waitConnected(timeoutMs: number): Promise<NorthboundClient | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.client && Date.now() < deadline && !this.stopped) await new Promise((resolve) => setTimeout(resolve, 100));
    return this.client;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.client?.close();
    this.client = undefined;
  }
}
