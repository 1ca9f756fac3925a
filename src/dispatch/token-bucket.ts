import { MAX_TIMER_DELAY_MS } from "../core/timers.ts";

/** A token bucket: `rate` tokens per second, holding at most `burst`. rate 0 means unlimited. */
export class TokenBucket {
  private tokens: number;
  private updatedMs: number;

  constructor(
    private rate: number,
    nowMs: number,
    private burst = Math.max(1, rate),
  ) {
    this.tokens = this.burst;
    this.updatedMs = nowMs;
  }

  get unlimited(): boolean {
    return this.rate <= 0;
  }

  /** Changes the rate; tokens already earned are kept up to the new burst. */
  setRate(rate: number, nowMs: number): void {
    if (rate === this.rate) return;
    this.refill(nowMs);
    this.rate = rate;
    this.burst = Math.max(1, rate);
    this.tokens = Math.min(this.tokens, this.burst);
  }

  /** Whole tokens available now. */
  available(nowMs: number): number {
    if (this.unlimited) return Infinity;
    this.refill(nowMs);
    return Math.floor(this.tokens);
  }

  take(n: number, nowMs: number): void {
    if (this.unlimited) return;
    this.refill(nowMs);
    this.tokens -= n;
  }

  /** Returns tokens taken but not used, never above the burst. */
  giveBack(n: number): void {
    if (this.unlimited || n <= 0) return;
    this.tokens = Math.min(this.burst, this.tokens + n);
  }

  /** Milliseconds until one whole token is available, capped at what a timer can wait. */
  msUntilToken(nowMs: number): number {
    if (this.unlimited) return 0;
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : Math.min(MAX_TIMER_DELAY_MS, Math.ceil(((1 - this.tokens) / this.rate) * 1000));
  }

  private refill(nowMs: number): void {
    const elapsed = nowMs - this.updatedMs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.rate);
      this.updatedMs = nowMs;
    }
  }
}
