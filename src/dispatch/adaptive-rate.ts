/**
 * Slows an endpoint that answers 429: the allowed rate halves at most once per second of
 * 429s (a burst of them answers one overshoot, not many; never below minRate) and grows
 * back by a quarter per second without one, until it no longer binds.
 */
export class AdaptiveRate {
  private limit = Infinity;
  private updatedMs = 0;
  /** Deliveries started in the current second, to know the rate the endpoint saw. */
  private windowStartMs = 0;
  private windowCount = 0;
  private lastRate = 0;
  private decreasedMs = 0;

  constructor(private readonly minRate = 1) {}

  /** The current cap in deliveries per second; Infinity when not throttled. */
  current(nowMs: number): number {
    if (this.limit === Infinity) return Infinity;
    const seconds = (nowMs - this.updatedMs) / 1000;
    if (seconds >= 1) {
      this.limit *= 1.25 ** Math.floor(seconds);
      this.updatedMs = nowMs;
      if (this.limit > Math.max(this.lastRate, this.minRate) * 8) this.limit = Infinity;
    }
    return this.limit;
  }

  started(count: number, nowMs: number): void {
    if (nowMs - this.windowStartMs >= 1000) {
      this.lastRate = this.windowCount * (1000 / Math.max(1000, nowMs - this.windowStartMs));
      this.windowStartMs = nowMs;
      this.windowCount = 0;
    }
    this.windowCount += count;
  }

  tooManyRequests(nowMs: number): void {
    if (this.limit !== Infinity && nowMs - this.decreasedMs < 1000) return;
    this.decreasedMs = nowMs;
    const seen = Math.max(this.lastRate, this.windowCount, this.minRate);
    this.limit = Math.max(this.minRate, Math.min(this.limit, seen) / 2);
    this.updatedMs = nowMs;
  }
}
