import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { BacklogSummary } from "../store/store.ts";
import type { Logger } from "./logger.ts";

/** What the gauges read at scrape time; wired in once the dispatcher exists. */
export interface GaugeSources {
  /** Open deliveries by state and the oldest one's creation (may query the store). */
  backlog(): Promise<BacklogSummary>;
  /** Endpoints whose circuit breaker is open or half-open (probing). */
  breakersOpen(): number;
  endpointsDisabled(): number;
  /** Webhook HTTP requests this process has in flight. */
  attemptsInFlight(): number;
  /** Open WatchDeliveries streams. */
  watchers(): number;
  now(): number;
}

export interface BuildInfo {
  version: string;
  store: string;
}

/** The backlog query runs at most this often; scrapes in between reuse its answer. */
const BACKLOG_REFRESH_MS = 5_000;

/**
 * The metrics hookline exports on GET /metrics, on prom-client. Labels are bounded: no
 * per-tenant or per-endpoint series (GetEndpointStats and the CLI answer those questions).
 */
export function createMetrics(build: BuildInfo = { version: "dev", store: "none" }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let sources: GaugeSources | undefined;
  const backlog = cachedBacklog(() => sources, BACKLOG_REFRESH_MS);
  const register = { registers: [registry] };

  new Gauge({
    ...register,
    name: "hookline_build_info",
    help: "Always 1; the labels say which hookline this is.",
    labelNames: ["version", "node_version", "store"],
  }).set({ version: build.version, node_version: process.version, store: build.store }, 1);

  new Gauge({
    ...register,
    name: "hookline_deliveries_open",
    help: "Open deliveries by state: pending (not attempted yet), retrying (waiting for the next attempt), in_flight.",
    labelNames: ["state"],
    async collect() {
      const b = await backlog();
      if (!b) return;
      this.set({ state: "pending" }, b.pending);
      this.set({ state: "retrying" }, b.retrying);
      this.set({ state: "in_flight" }, b.inFlight);
    },
  });
  new Gauge({
    ...register,
    name: "hookline_oldest_open_delivery_age_seconds",
    help: "Age of the oldest open (pending or retrying) delivery; 0 when there is none.",
    async collect() {
      const b = await backlog();
      if (!b || !sources) return;
      this.set(b.oldestOpenMs === undefined ? 0 : Math.max(0, sources.now() - b.oldestOpenMs) / 1000);
    },
  });
  const fromSources = (name: string, help: string, read: (s: GaugeSources) => number): void => {
    new Gauge({
      ...register,
      name,
      help,
      collect() {
        if (sources) this.set(read(sources));
      },
    });
  };
  fromSources("hookline_endpoints_breaker_open", "Endpoints paused by their circuit breaker (open or probing).", (s) => s.breakersOpen());
  fromSources("hookline_endpoints_disabled", "Endpoints disabled (by a user, a 410 Gone, or failing too long).", (s) => s.endpointsDisabled());
  fromSources("hookline_attempts_in_flight", "Webhook HTTP requests this process has in flight.", (s) => s.attemptsInFlight());
  fromSources("hookline_watch_streams", "Open WatchDeliveries streams.", (s) => s.watchers());

  return {
    registry,
    /** Connects the scrape-time gauges to the running dispatcher and store. */
    readFrom(s: GaugeSources): void {
      sources = s;
    },
    eventsPublished: new Counter({ ...register, name: "hookline_events_published_total", help: "Events stored (duplicates excluded)." }),
    eventsDuplicate: new Counter({ ...register, name: "hookline_events_duplicate_total", help: "Publishes answered from the idempotency window." }),
    deliveriesCreated: new Counter({ ...register, name: "hookline_deliveries_created_total", help: "Deliveries created by fan-out." }),
    deliveriesFastLane: new Counter({
      ...register,
      name: "hookline_deliveries_fast_lane_total",
      help: "Deliveries started as soon as their publish was durable, without a claim: their endpoint had room and nothing queued.",
    }),
    attempts: new Counter({
      ...register,
      name: "hookline_attempts_total",
      help: "HTTP attempts by outcome: success, retry (another attempt follows), fail (the delivery is dead), gone (410, endpoint disabled).",
      labelNames: ["outcome"],
    }),
    deliveriesFinished: new Counter({
      ...register,
      name: "hookline_deliveries_finished_total",
      help: "Deliveries reaching a final state, by status (succeeded, dead).",
      labelNames: ["status"],
    }),
    attemptSeconds: new Histogram({
      ...register,
      name: "hookline_attempt_duration_seconds",
      help: "Duration of HTTP attempts.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    commitSeconds: new Histogram({
      ...register,
      name: "hookline_publish_commit_duration_seconds",
      help: "Duration of group commits.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    }),
    rpcRequests: new Counter({
      ...register,
      name: "hookline_rpc_requests_total",
      help: "RPCs by service, method and final status code (ok, invalid_argument, unauthenticated, ...); streams count when they end.",
      labelNames: ["service", "method", "code"],
    }),
    rpcSeconds: new Histogram({
      ...register,
      name: "hookline_rpc_duration_seconds",
      help: "Duration of RPCs (of streams: until they end).",
      labelNames: ["service", "method"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    }),
    operationalEvents: new Counter({
      ...register,
      name: "hookline_operational_events_total",
      help: "Operational webhook events (endpoint.disabled, delivery.dead, ...) by type and outcome: published, suppressed (rate limit), failed.",
      labelNames: ["type", "outcome"],
    }),
    pruned: new Counter({
      ...register,
      name: "hookline_retention_pruned_total",
      help: "Rows removed by retention, by kind (events, deliveries, attempts).",
      labelNames: ["kind"],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** What GET /metrics writes to: an HTTP/1 or HTTP/2 response. */
interface MetricsResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

/** Answers GET /metrics: the Prometheus text, or 500 when a collector failed. */
export function writeMetrics(metrics: Metrics, res: MetricsResponse, logger: Logger): void {
  metrics.registry.metrics().then(
    (text) => {
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(text);
    },
    (err: unknown) => {
      logger.error({ err }, "collecting metrics failed");
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("collecting metrics failed; the server log has the details\n");
    },
  );
}

/**
 * The backlog summary, refreshed at most every `refreshMs`: on a busy store a scrape must not
 * queue a count behind every other scrape. A failed read keeps the last answer.
 */
function cachedBacklog(sources: () => GaugeSources | undefined, refreshMs: number): () => Promise<BacklogSummary | undefined> {
  let last: BacklogSummary | undefined;
  let readAt = -Infinity;
  let reading: Promise<BacklogSummary | undefined> | undefined;
  return () => {
    const s = sources();
    if (!s) return Promise.resolve(undefined);
    if (s.now() - readAt < refreshMs) return Promise.resolve(last);
    reading ??= s
      .backlog()
      .then(
        (b) => {
          last = b;
          readAt = s.now();
          return b;
        },
        () => last,
      )
      .finally(() => (reading = undefined));
    return reading;
  };
}
