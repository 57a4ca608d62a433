// A loop that runs one pass at a time on an interval and never reschedules after stop(): the shape every
// housekeeping task shares (the API server's, the network controllers' orphan cleanup, a node's heartbeats).
// With `jitter`, each wait is stretched by a random share of the interval (Kubernetes' wait.JitterUntil): many
// processes started together (5,000 node agents, or a data centre coming back from a power cut) do not then
// hit the API server in step forever.
import { errorMessage, type Logger } from './logging.ts';

export interface PeriodicTaskOptions {
  /** Each wait is intervalMs × (1 + jitter × random()); default 0 (exactly intervalMs). */
  jitter?: number;
  /** A number in [0, 1) (tests pass their own). */
  random?: () => number;
}

export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<void>,
    private readonly log: Logger,
    private readonly options: PeriodicTaskOptions = {},
  ) {}

  /** The wait before the next pass. */
  nextDelayMs(): number {
    const jitter = this.options.jitter ?? 0;
    return jitter > 0 ? this.intervalMs * (1 + jitter * (this.options.random ?? Math.random)()) : this.intervalMs;
  }

  start(initialDelayMs = 0): void {
    const tick = async () => {
      if (!this.running) {
        this.running = true;
        try {
          await this.pass();
        } catch (error) {
          this.log.warn(`${this.name} pass failed`, { error: errorMessage(error) });
        } finally {
          this.running = false;
        }
      }
      // A pass that was running when stop() came must not schedule another.
      if (!this.stopped) this.timer = setTimeout(tick, this.nextDelayMs());
    };
    this.timer = setTimeout(tick, initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
