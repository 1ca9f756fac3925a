/**
 * Slows an endpoint that answers 429. A 429 without Retry-After after a calm spell halves the
 * allowed rate at once: the endpoint said "too fast" and nothing more. Otherwise the rate is
 * cut at most once per second, in proportion to the share of 429s among the answers since the
 * last look, when that share says the endpoint is refusing work rather than shedding the odd
 * request: at least SPORADIC_SHARE, or RETRY_AFTER_SHARE when the 429 carried Retry-After
 * (its delivery already waits as told, so only refusals of most requests slow the rest
 * down), over at least MIN_ANSWERS answers. An endpoint answering only 429s keeps halving;
 * never below minRate. Without cuts the rate grows back by a quarter per second, until it no
 * longer binds.
 */
/** Without a cut for this long, the next 429 is news: it halves the rate at once. */
const CALM_MS = 10_000;
/** Below this share of 429s since the last look, the answers do not move the rate. */
const SPORADIC_SHARE = 0.05;
/**
 * The same for 429s with Retry-After. `npm run bench -- --scenario flaky --events 2000` (1%
 * of answers 429 with Retry-After: 1) delivered 1.2k/s with 0.05 and 2.5k/s with 0.5.
 */
const RETRY_AFTER_SHARE = 0.5;
/**
 * Fewest answers a share is taken over. At the end of a drain an endpoint answers a few
 * retries a second; without this one 429 among them cut the rate and held back the rest
 * (the same bench: a 5 s tail at 100 deliveries/s).
 */
const MIN_ANSWERS = 10;

export class AdaptiveRate {
  private limit = Infinity;
  private updatedMs = 0;
  /** Deliveries started in the current second, to know the rate the endpoint saw. */
  private windowStartMs = 0;
  private windowCount = 0;
  private lastRate = 0;
  private decreasedMs = 0;
  /** When the share of 429s was last looked at; answers since then, and how many were 429. */
  private lookedMs = 0;
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

  /**
   * One answer of the endpoint (any attempt outcome). `waitGiven`: a 429 whose Retry-After
   * told when to try again.
   */
  answer(tooManyRequests: boolean, nowMs: number, waitGiven = false): void {
    this.answered++;
    if (tooManyRequests) this.throttled++;
    if (!tooManyRequests || nowMs - this.lookedMs < 1000) return;
    const calm = this.decreasedMs === 0 || nowMs - this.decreasedMs > CALM_MS;
    const halve = calm && !waitGiven;
    // A share of a handful of answers is chance: wait until there are enough to weigh.
    if (!halve && this.answered < MIN_ANSWERS) return;
    const share = halve ? 1 : this.throttled / this.answered;
    this.lookedMs = nowMs;
    this.answered = this.throttled = 0;
    if (share < (waitGiven ? RETRY_AFTER_SHARE : SPORADIC_SHARE)) return;
    const seen = Math.max(this.lastRate, this.windowCount, this.minRate);
    this.limit = Math.max(this.minRate, Math.min(this.limit, seen) * (1 - share / 2));
    this.decreasedMs = this.updatedMs = nowMs;
  }
}
