import { AdaptiveRate } from "./adaptive-rate.ts";
import { CircuitBreaker, type BreakerOptions } from "./breaker.ts";
import { AttemptWindow } from "./endpoint-stats.ts";
import { TokenBucket } from "./token-bucket.ts";

/** The dispatcher's live view of one endpoint; rebuilt empty after a restart (but failingSince). */
export class EndpointState {
  inFlight = 0;
  /** Deliveries queued by publish commits that are not durable yet: the fast lane may not pass them. */
  queuedUncommitted = 0;
  /** Earliest due time of the endpoint's unclaimed open deliveries; Infinity when none. */
  dueAt = Infinity;
  /** Start of the current failing streak (0 = last attempt succeeded). */
  failingSinceMs = 0;
  /** The streak start the store holds, so a change (including a reset) gets written once. */
  storedFailingSinceMs = 0;
  readonly breaker: CircuitBreaker;
  readonly bucket: TokenBucket;
  readonly throttle = new AdaptiveRate();
  readonly window = new AttemptWindow();

  constructor(
    readonly endpointId: string,
    readonly tenantId: string,
    breaker: BreakerOptions,
    nowMs: number,
  ) {
    this.breaker = new CircuitBreaker(breaker);
    this.bucket = new TokenBucket(0, nowMs);
  }

  /** Configured rate tightened by the 429 throttle; 0 means unlimited. */
  effectiveRate(configured: number, nowMs: number): number {
    const adaptive = this.throttle.current(nowMs);
    if (adaptive === Infinity) return configured;
    return configured > 0 ? Math.min(configured, adaptive) : adaptive;
  }
}
