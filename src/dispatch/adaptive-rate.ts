/**
 * Slows an endpoint that answers 429. The first 429 after a calm spell halves the allowed
 * rate; while 429s keep coming, the rate is cut at most once per second, in proportion to
 * their share among the answers since the last cut: an endpoint answering only 429s keeps
 * halving, one sending an occasional 429 is barely touched (never below minRate). Without
 * 429s it grows back by a quarter per second, until it no longer binds.
 */
/** Without a cut for this long, the next 429 is news: it halves the rate at once. */
const CALM_MS = 10_000;

export class AdaptiveRate {
  private limit = Infinity;
  private updatedMs = 0;
  /** Deliveries started in the current second, to know the rate the endpoint saw. */
  private windowStartMs = 0;
  private windowCount = 0;
  private lastRate = 0;
  private decreasedMs = 0;
  /** Answers since the last cut, and how many of them were 429. */
  private answered = 0;
  private throttled = 0;

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

  /** One answer of the endpoint (any attempt outcome). */
  answer(tooManyRequests: boolean, nowMs: number): void {
    this.answered++;
    if (tooManyRequests) this.throttled++;
    if (!tooManyRequests || nowMs - this.decreasedMs < 1000) return;
    const calm = this.decreasedMs === 0 || nowMs - this.decreasedMs > CALM_MS;
    const share = calm ? 1 : this.throttled / this.answered;
    const seen = Math.max(this.lastRate, this.windowCount, this.minRate);
    this.limit = Math.max(this.minRate, Math.min(this.limit, seen) * (1 - share / 2));
    this.decreasedMs = this.updatedMs = nowMs;
    this.answered = this.throttled = 0;
  }
}
