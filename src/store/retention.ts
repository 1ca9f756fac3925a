import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Logger } from "../observability/logger.ts";
import type { HistoryStore, PruneStep } from "./history-store.ts";

export interface RetentionOptions {
  history: HistoryStore;
  /** Age beyond which history is pruned; 0 turns retention off. */
  windowMs: number;
  intervalMs: number;
  /** Events looked at per step (one short transaction or one round of requests). */
  batch: number;
  now: () => number;
  logger: Logger;
  onPruned?: (step: PruneStep) => void;
}

export interface SweepTotals {
  events: number;
  deliveries: number;
  attempts: number;
  kept: number;
}

/**
 * Prunes history older than the retention window: a sweep every interval, each sweep many
 * small steps with a turn of the event loop between them, so publishes and deliveries never
 * wait behind more than one step.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepTotals> | undefined;
  private stopped = false;

  constructor(private readonly o: RetentionOptions) {}

  start(): void {
    if (this.o.windowMs === 0) return;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.sweep()
          .catch((err: unknown) => this.o.logger.warn({ err }, "retention sweep failed; retrying at the next interval"))
          .finally(() => {
            if (!this.stopped) tick();
          });
      }, this.o.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** One sweep over everything older than the window; concurrent calls share it. */
  sweep(): Promise<SweepTotals> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<SweepTotals> {
    const totals: SweepTotals = { events: 0, deliveries: 0, attempts: 0, kept: 0 };
    const beforeMs = this.o.now() - this.o.windowMs;
    let afterId: string | undefined;
    do {
      if (this.stopped) break;
      const step = await this.o.history.prune(beforeMs, afterId, this.o.batch);
      totals.events += step.events;
      totals.deliveries += step.deliveries;
      totals.attempts += step.attempts;
      totals.kept += step.kept;
      this.o.onPruned?.(step);
      afterId = step.lastId;
      await yieldToEventLoop();
    } while (afterId !== undefined);
    if (totals.events > 0) this.o.logger.info({ ...totals, windowMs: this.o.windowMs }, "retention sweep");
    return totals;
  }

  /** Stops sweeping; waits for the current step to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
