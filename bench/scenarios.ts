/**
 * The benchmark scenarios: fleet behaviour, endpoint settings and sizes. "quick" sizes
 * finish the whole set in about a minute on 2 cores; "default" in a few minutes.
 */
import type { FleetProfile } from "./lib/protocol.ts";

export const SCENARIOS = ["fast", "backlog", "flaky", "isolation", "fanout", "ordered", "priority", "steady", "ingest"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
export type Size = "quick" | "default";

export interface RetryPolicyPlan {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxAgeMs: number;
}

export interface EndpointGroup {
  name: string;
  count: number;
  profile: FleetProfile;
  /** Fails on purpose: excluded from "lost", delivered/s and the limit. */
  expectFailure: boolean;
  /** Listening ports (origins) of this group in the fleet. */
  ports: number;
  ordered: boolean;
  retryPolicy?: RetryPolicyPlan;
  timeoutMs?: number;
}

export interface ScenarioPlan {
  name: ScenarioName;
  summary: string;
  tenants: number;
  groups: EndpointGroup[];
  events: number;
  /** Ordering keys per tenant (0 = events carry none). */
  orderingKeys: number;
  /** Events per publish request at most (fan-out events carry many deliveries each). */
  maxBatch?: number;
  /**
   * Hold deliveries back while publishing (endpoints get a near-zero rate limit, lifted
   * when every event is acked): measures delivery from a ready backlog, like the limit does.
   */
  pauseWhilePublishing?: boolean;
  /**
   * Published right after the release, to the same endpoints, while the held-back backlog
   * drains: a steady trickle of higher-priority events (counted in `events`, last).
   */
  trickle?: TricklePlan;
  /** Publish at this steady pace, in small batches, instead of as fast as acks come back. */
  pace?: { eventsPerSecond: number; batch: number };
  /** The first events, published while the freshly started server warms up, also reported apart. */
  warmupEvents?: number;
}

export interface TricklePlan {
  events: number;
  perSecond: number;
  /** EventInput.priority of the trickle; the backlog keeps 0. */
  priority: number;
}

const profile = (name: string, p: Partial<Omit<FleetProfile, "name">>): FleetProfile => ({
  name,
  latency: { minMs: 0, maxMs: 2, tailProbability: 0, tailMs: 0 },
  errorRate: 0,
  throttleRate: 0,
  retryAfterSeconds: 1,
  gone: false,
  timeout: false,
  holdMs: 0,
  ...p,
});

export const PROFILES = {
  fast: profile("fast", {}),
  flaky: profile("flaky", { latency: { minMs: 1, maxMs: 20, tailProbability: 0.01, tailMs: 200 }, errorRate: 0.1, throttleRate: 0.01 }),
  gone: profile("gone", { gone: true }),
  timeout: profile("timeout", { timeout: true, holdMs: 5_000 }),
  orderedFlaky: profile("ordered", { latency: { minMs: 0, maxMs: 5, tailProbability: 0, tailMs: 0 }, errorRate: 0.02 }),
};

/** 20 events/s for 3 s (quick) or 5 s. */
const TRICKLE: Record<Size, TricklePlan> = {
  quick: { events: 60, perSecond: 20, priority: 9 },
  default: { events: 100, perSecond: 20, priority: 9 },
};

/** Short policies so that every retried delivery settles within the drain timeout. */
const QUICK_RETRIES: RetryPolicyPlan = { maxAttempts: 30, initialBackoffMs: 100, maxBackoffMs: 1_000, maxAgeMs: 300_000 };
const GIVE_UP_FAST: RetryPolicyPlan = { maxAttempts: 2, initialBackoffMs: 200, maxBackoffMs: 500, maxAgeMs: 60_000 };

export interface Overrides {
  events?: number | undefined;
  endpoints?: number | undefined;
  tenants?: number | undefined;
  errorRate?: number | undefined;
  throttleRate?: number | undefined;
  /** steady: events per second to publish (half of the run's measured maximum when known). */
  steadyRate?: number | undefined;
}

/** steady without a measured maximum to halve: about half of `fast` on the reference machine. */
export const DEFAULT_STEADY_EVENTS_PER_SECOND = 350;
/**
 * The first seconds of steady, reported apart: a freshly started server spends them starting
 * worker threads, opening connection pools and compiling hot code (p99 near 1 s for them).
 */
export const STEADY_WARMUP_SECONDS = 2;
/** How long steady publishes at its pace. */
const STEADY_SECONDS: Record<Size, number> = { quick: 10, default: 20 };

/** Healthy endpoints and events per scenario and size, before --events/--endpoints/--tenants. */
const SIZES: Record<ScenarioName, Record<Size, { endpoints: number; tenants: number; events: number }>> = {
  fast: { quick: { endpoints: 50, tenants: 10, events: 1_500 }, default: { endpoints: 50, tenants: 10, events: 8_000 } },
  backlog: { quick: { endpoints: 50, tenants: 10, events: 1_500 }, default: { endpoints: 50, tenants: 10, events: 8_000 } },
  flaky: { quick: { endpoints: 50, tenants: 10, events: 1_500 }, default: { endpoints: 50, tenants: 10, events: 8_000 } },
  isolation: { quick: { endpoints: 50, tenants: 10, events: 1_500 }, default: { endpoints: 50, tenants: 10, events: 8_000 } },
  fanout: { quick: { endpoints: 200, tenants: 1, events: 40 }, default: { endpoints: 200, tenants: 1, events: 200 } },
  ordered: { quick: { endpoints: 50, tenants: 10, events: 400 }, default: { endpoints: 50, tenants: 10, events: 2_000 } },
  // A few endpoints with a deep queue each, so the backlog outlasts the trickle.
  priority: { quick: { endpoints: 4, tenants: 1, events: 4_000 }, default: { endpoints: 4, tenants: 1, events: 15_000 } },
  // Events follow from the pace (events per second × STEADY_SECONDS) unless --events is given.
  steady: { quick: { endpoints: 50, tenants: 10, events: 0 }, default: { endpoints: 50, tenants: 10, events: 0 } },
  ingest: { quick: { endpoints: 0, tenants: 10, events: 10_000 }, default: { endpoints: 0, tenants: 10, events: 50_000 } },
};

export function planScenario(name: ScenarioName, size: Size, o: Overrides): ScenarioPlan {
  const base = SIZES[name][size];
  const endpoints = o.endpoints ?? base.endpoints;
  const tenants = o.tenants ?? base.tenants;
  const events = o.events ?? base.events;
  const healthy = (p: FleetProfile, extra: Partial<EndpointGroup> = {}): EndpointGroup => ({
    name: "healthy",
    count: endpoints,
    profile: p,
    expectFailure: false,
    ports: 4,
    ordered: false,
    ...extra,
  });
  switch (name) {
    case "fast":
      return { name, summary: "fast fleet (0-2 ms answers), publishing and delivering at once", tenants, groups: [healthy(PROFILES.fast)], events, orderingKeys: 0 };
    case "backlog":
      return {
        name,
        summary: "fast fleet; deliveries held back until every event is acked, then the backlog is delivered (delivered/s counts from the release)",
        tenants,
        groups: [healthy(PROFILES.fast)],
        events,
        orderingKeys: 0,
        pauseWhilePublishing: true,
      };
    case "flaky": {
      const flaky = { ...PROFILES.flaky, errorRate: o.errorRate ?? PROFILES.flaky.errorRate, throttleRate: o.throttleRate ?? PROFILES.flaky.throttleRate };
      const share = (v: number): string => `${+(v * 100).toFixed(2)}%`;
      return {
        name,
        summary: `${share(flaky.errorRate)} 500s, ${share(flaky.throttleRate)} 429 (Retry-After: 1), 1-20 ms answers; one extra endpoint answers 410`,
        tenants,
        groups: [
          healthy(flaky, { retryPolicy: QUICK_RETRIES }),
          { name: "gone", count: 1, profile: PROFILES.gone, expectFailure: true, ports: 1, ordered: false, retryPolicy: QUICK_RETRIES },
        ],
        events,
        orderingKeys: 0,
      };
    }
    case "isolation":
      return {
        name,
        summary: "the fast fleet plus one endpoint per tenant that never answers (1 s timeout)",
        tenants,
        groups: [
          healthy(PROFILES.fast),
          { name: "timeout", count: tenants, profile: PROFILES.timeout, expectFailure: true, ports: 1, ordered: false, retryPolicy: GIVE_UP_FAST, timeoutMs: 1_000 },
        ],
        events,
        orderingKeys: 0,
      };
    case "fanout":
      return {
        name,
        summary: `every event to all ${endpoints} endpoints of one tenant; 10 events per publish request`,
        tenants,
        groups: [healthy(PROFILES.fast)],
        events,
        orderingKeys: 0,
        maxBatch: 10,
      };
    case "ordered":
      return {
        name,
        summary: "ORDERED_BY_KEY endpoints, 20 keys per tenant, 2% 500s",
        tenants,
        groups: [healthy(PROFILES.orderedFlaky, { ordered: true, retryPolicy: QUICK_RETRIES })],
        events,
        orderingKeys: 20,
      };
    case "priority": {
      const trickle = TRICKLE[size];
      return {
        name,
        summary:
          `a backlog of ${events} priority-0 events held back until acked, then released; meanwhile ${trickle.events} priority-${trickle.priority} ` +
          `events at ${trickle.perSecond}/s to the same endpoints (e2e latency per lane)`,
        tenants,
        groups: [healthy(PROFILES.fast, { ports: Math.min(4, endpoints) })],
        events: events + trickle.events,
        orderingKeys: 0,
        pauseWhilePublishing: true,
        trickle,
      };
    }
    case "steady": {
      const eventsPerSecond = Math.max(1, Math.round(o.steadyRate ?? DEFAULT_STEADY_EVENTS_PER_SECOND));
      const steadyEvents = o.events ?? eventsPerSecond * STEADY_SECONDS[size];
      return {
        name,
        summary: `fast fleet; ${eventsPerSecond} events/s (${o.steadyRate === undefined ? "default pace" : "half of this run's fast delivered/s"}) in batches of 10 for ${Math.round(steadyEvents / eventsPerSecond)} s: end-to-end latency below saturation`,
        tenants,
        groups: [healthy(PROFILES.fast)],
        events: steadyEvents,
        orderingKeys: 0,
        pace: { eventsPerSecond, batch: 10 },
        warmupEvents: eventsPerSecond * STEADY_WARMUP_SECONDS,
      };
    }
    case "ingest":
      return { name, summary: "publish only, tenants without endpoints", tenants, groups: [], events, orderingKeys: 0 };
  }
}
