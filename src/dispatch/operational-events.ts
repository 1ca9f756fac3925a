import {
  OperationalEventType,
  isOperationalEventType,
  operationalPayload,
  type DisableCause,
  type OperationalData,
} from "../core/operational-events.ts";
import type { Endpoint, EventInput } from "../core/types.ts";
import type { Logger } from "../observability/logger.ts";
import { RateLimitedLog } from "../observability/rate-limited-log.ts";
import { TokenBucket } from "./token-bucket.ts";

/** How many events of one type a tenant gets at once (burst), and how fast that refills. */
export interface OperationalRate {
  burst: number;
  perSecond: number;
}

/**
 * Per tenant and type. An incident that disables or trips many endpoints, or kills a backlog,
 * sends a first burst, then a trickle whose events say how many were left out in between.
 */
export const OPERATIONAL_RATES: Readonly<Record<OperationalEventType, OperationalRate>> = {
  "endpoint.disabled": { burst: 5, perSecond: 0.2 },
  "endpoint.enabled": { burst: 5, perSecond: 0.2 },
  "endpoint.breaker_opened": { burst: 5, perSecond: 0.2 },
  "delivery.dead": { burst: 10, perSecond: 1 },
};

/** Limiters that sat idle this long with nothing suppressed are forgotten (a fresh one is the same). */
const FORGET_IDLE_MS = 10 * 60_000;
const SWEEP_ABOVE = 10_000;

interface Limiter {
  bucket: TokenBucket;
  suppressed: number;
  touchedMs: number;
}

/**
 * Token buckets per tenant and type. `admit` says whether an event may go now and, when it
 * may, how many of its kind were suppressed since the last one that went.
 */
export class OperationalRateLimit {
  private readonly limiters = new Map<string, Limiter>();

  constructor(private readonly rates: Readonly<Record<OperationalEventType, OperationalRate>> = OPERATIONAL_RATES) {}

  admit(tenantId: string, type: OperationalEventType, nowMs: number): { admitted: true; suppressed: number } | { admitted: false } {
    const key = `${tenantId}\u0000${type}`;
    let limiter = this.limiters.get(key);
    if (!limiter) {
      if (this.limiters.size >= SWEEP_ABOVE) this.sweep(nowMs);
      const { burst, perSecond } = this.rates[type];
      limiter = { bucket: new TokenBucket(perSecond, nowMs, burst), suppressed: 0, touchedMs: nowMs };
      this.limiters.set(key, limiter);
    }
    limiter.touchedMs = nowMs;
    if (limiter.bucket.available(nowMs) < 1) {
      limiter.suppressed++;
      return { admitted: false };
    }
    limiter.bucket.take(1, nowMs);
    const suppressed = limiter.suppressed;
    limiter.suppressed = 0;
    return { admitted: true, suppressed };
  }

  /** Tenants × types with a limiter, for tests and the sweep. */
  get size(): number {
    return this.limiters.size;
  }

  private sweep(nowMs: number): void {
    for (const [key, l] of this.limiters) if (l.suppressed === 0 && nowMs - l.touchedMs > FORGET_IDLE_MS) this.limiters.delete(key);
  }
}

export interface OperationalEventsOptions {
  /** Stores events and fans them out (the publish pipeline: group commit). */
  submit(events: EventInput[]): Promise<unknown>;
  /** Whether any endpoint of the tenant would receive the type (nothing is stored otherwise). */
  subscribed(tenantId: string, type: OperationalEventType): boolean;
  logger: Logger;
  /** Counts events by type and outcome: published, suppressed (rate limit), failed. */
  count(type: OperationalEventType, outcome: "published" | "suppressed" | "failed"): void;
  now: () => number;
  rates?: Readonly<Record<OperationalEventType, OperationalRate>>;
}

/**
 * Publishes hookline's own events about endpoints and deliveries into the tenant's event
 * stream, so they are stored, signed, retried and replayable like any other. Called from the
 * delivery path after its state change is committed: it never throws and never waits, and a
 * failure is logged and counted, never passed back.
 */
export class OperationalEvents {
  private readonly limit: OperationalRateLimit;
  private readonly log: RateLimitedLog;

  constructor(private readonly o: OperationalEventsOptions) {
    this.limit = new OperationalRateLimit(o.rates);
    this.log = new RateLimitedLog(o.logger, { perWindow: 10, windowMs: 10_000, now: o.now });
  }

  endpointDisabled(endpoint: Endpoint, reason: string, cause: DisableCause): void {
    this.emit({ type: OperationalEventType.EndpointDisabled, data: { ...facts(endpoint), reason, cause } });
  }

  endpointEnabled(endpoint: Endpoint): void {
    this.emit({ type: OperationalEventType.EndpointEnabled, data: facts(endpoint) });
  }

  breakerOpened(endpoint: Endpoint, consecutiveFailures: number, probeAtMs: number): void {
    this.emit({ type: OperationalEventType.EndpointBreakerOpened, data: { ...facts(endpoint), consecutiveFailures, probeAtMs } });
  }

  deliveryDead(dead: Extract<OperationalData, { type: "delivery.dead" }>["data"]): void {
    // A dead operational delivery says nothing new (its endpoint's trouble is reported by the
    // endpoint events) and reporting it could feed on itself: no delivery.dead about it.
    if (isOperationalEventType(dead.eventType)) return;
    this.emit({ type: OperationalEventType.DeliveryDead, data: dead });
  }

  private emit(event: OperationalData): void {
    const { type } = event;
    const { tenantId } = event.data;
    try {
      if (!this.o.subscribed(tenantId, type)) return;
      const nowMs = this.o.now();
      const admitted = this.limit.admit(tenantId, type, nowMs);
      if (!admitted.admitted) {
        this.o.count(type, "suppressed");
        return;
      }
      const input: EventInput = {
        tenantId,
        type,
        payload: operationalPayload(event, nowMs, admitted.suppressed),
        idempotencyKey: "",
        orderingKey: "",
        priority: 0,
      };
      this.o.submit([input]).then(
        () => this.o.count(type, "published"),
        (err: unknown) => this.failed(type, tenantId, err),
      );
    } catch (err) {
      this.failed(type, tenantId, err);
    }
  }

  private failed(type: OperationalEventType, tenantId: string, err: unknown): void {
    try {
      this.o.count(type, "failed");
      this.log.warn(`operational-${type}`, { err, tenantId, type }, "publishing an operational event failed; it is dropped");
    } catch {
      // Reporting must not break the caller either.
    }
  }
}

function facts(endpoint: Endpoint): { tenantId: string; endpointId: string; url: string } {
  return { tenantId: endpoint.tenantId, endpointId: endpoint.id, url: endpoint.url };
}
