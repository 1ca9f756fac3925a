export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerOptions {
  /** Consecutive failed attempts that open the breaker. */
  failureThreshold: number;
  /** First pause; doubles after each failed probe up to maxCooldownMs. */
  cooldownMs: number;
  maxCooldownMs: number;
}

/**
 * Per-endpoint circuit breaker. Closed: send freely. Open: send nothing until the cool-down
 * ends. Half-open: send exactly one probe; success closes, failure re-opens for longer.
 */
export class CircuitBreaker {
  state: BreakerState = "closed";
  consecutiveFailures = 0;
  private openUntilMs = 0;
  private cooldownMs: number;
  private probing = false;

  constructor(private readonly o: BreakerOptions) {
    this.cooldownMs = o.cooldownMs;
  }

  /** How many attempts may start now (Infinity when closed). */
  permits(nowMs: number): number {
    if (this.state === "closed") return Infinity;
    if (this.state === "open") {
      if (nowMs < this.openUntilMs) return 0;
      this.state = "half_open";
      this.probing = false;
    }
    return this.probing ? 0 : 1;
  }

  /** When an open breaker lets its probe through. */
  reopensAt(): number {
    return this.state === "open" ? this.openUntilMs : 0;
  }

  started(count: number): void {
    if (this.state === "half_open" && count > 0) this.probing = true;
  }

  record(success: boolean, nowMs: number): void {
    if (success) {
      this.state = "closed";
      this.consecutiveFailures = 0;
      this.cooldownMs = this.o.cooldownMs;
      this.probing = false;
      return;
    }
    this.consecutiveFailures++;
    if (this.state === "half_open") {
      this.cooldownMs = Math.min(this.cooldownMs * 2, this.o.maxCooldownMs);
      this.open(nowMs);
    } else if (this.state === "closed" && this.consecutiveFailures >= this.o.failureThreshold) {
      this.open(nowMs);
    }
  }

  private open(nowMs: number): void {
    this.state = "open";
    this.probing = false;
    this.openUntilMs = nowMs + this.cooldownMs;
  }
}
