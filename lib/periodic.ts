// A loop that runs one pass at a time on an interval and never reschedules after stop(): the shape every
// housekeeping task shares (the API server's, the network controllers' orphan cleanup).
import { errorMessage, type Logger } from './logging.ts';

export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<void>,
    private readonly log: Logger,
  ) {}

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
      if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
