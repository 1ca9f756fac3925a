/** Messages between the orchestrator (bench/run.ts) and its child processes. */

import type { LatencySummary } from "./samples.ts";

/** How a group of mock endpoints behaves; probabilities are per request. */
export interface FleetProfile {
  name: string;
  /** Answer delay drawn uniformly from [minMs, maxMs]; with tailProbability, tailMs instead. */
  latency: { minMs: number; maxMs: number; tailProbability: number; tailMs: number };
  /** Share of requests answered 500. */
  errorRate: number;
  /** Share of requests answered 429 with Retry-After. */
  throttleRate: number;
  retryAfterSeconds: number;
  /** Every request is answered 410 Gone. */
  gone: boolean;
  /** Requests are never answered (held for holdMs, then 504), so the sender times out. */
  timeout: boolean;
  holdMs: number;
}

export interface FleetEndpoint {
  index: number;
  secret: string;
  profile: number;
  /** Which of the fleet's listening ports serves it. */
  port: number;
}

export interface FleetSetup {
  /** Part of every URL; requests for another run are counted as stray and refused. */
  runId: string;
  profiles: FleetProfile[];
  endpoints: FleetEndpoint[];
  /** Listening ports to open (distinct origins, so one slow group cannot hold another's connections). */
  ports: number;
  /** Events numbered from here on are past the warm-up: their latency is also reported on its own (`latency.settled`). */
  settledFromSeq?: number;
}

export interface FleetSetupReply {
  ports: number[];
}

export interface FleetStats {
  received: number;
  /** First 2xx receipts (duplicates excluded) per endpoint index. */
  okByEndpoint: number[];
  lastOkMs: number;
  badSignatures: number;
  duplicates: number;
  stray: number;
  answered: { ok: number; error: number; throttled: number; gone: number; held: number };
}

export interface FleetEndpointReport {
  index: number;
  ok: number;
  firstOkMs: number;
  lastOkMs: number;
  /** Event numbers received with a 2xx answer, base64 bitmap. */
  received: string;
}

export interface FleetReport extends FleetStats {
  endpoints: FleetEndpointReport[];
  /** Publish → receipt, ms, by profile name and overall. */
  latency: Record<string, LatencySummary>;
  badSignatureReasons: Record<string, number>;
  /** Same webhook-id answered 2xx twice / same event at the same endpoint under a second webhook-id. */
  duplicateWebhookIds: number;
  duplicateEvents: number;
  /** An event with a lower per-key position arrived after a higher one (ordered runs). */
  orderViolations: number;
  /** A request arrived while another of the same key and endpoint was still open. */
  orderOverlaps: number;
  unparsable: number;
  /** First 2xx receipts by event priority (payload "pr", 0 when absent). */
  byPriority: Record<string, PriorityLaneReport>;
}

export interface PriorityLaneReport {
  ok: number;
  /** Publish → receipt, ms. */
  latency: LatencySummary;
  lastOkMs: number;
  /** First 2xx receipts of lower-priority events when this lane's last one arrived. */
  lowerOkAtLast: number;
}

export interface PublisherConfig {
  baseUrl: string;
  /** Sent as `authorization: Bearer <key>` (the config arrives on stdin, not argv). */
  apiKey: string;
  tenantIds: string[];
  events: number;
  batch: number;
  window: number;
  payloadBytes: number;
  /** Ordering keys per tenant; 0 publishes without keys. */
  orderingKeys: number;
  /** Events per second; 0 publishes as fast as acks allow. */
  rate: number;
  /** Stop starting new batches after this long. */
  maxDurationMs: number;
  /** Number of the first event (default 0): a second publisher continues after the first. */
  firstSeq?: number;
  /** EventInput.priority of every event (default 0). */
  priority?: number;
}

export interface PublisherProgress {
  type: "progress";
  sent: number;
  acked: number;
}

export interface PublisherDone {
  type: "done";
  firstSendMs: number;
  lastAckMs: number;
  acked: number;
  /** Event numbers acked, base64 bitmap. */
  ackedSeqs: string;
  deliveriesCreated: number;
  /** Batches refused with RESOURCE_EXHAUSTED and sent again. */
  retriedBatches: number;
  /** Batches given up on, with the first error. */
  failedBatches: number;
  firstError: string;
  ackLatency: LatencySummary;
  duplicateResults: number;
  cpuMs: number;
}

export interface BlastTarget {
  index: number;
  url: string;
  secret: string;
  tenant: number;
}

export interface BlastConfig {
  targets: BlastTarget[];
  tenants: number;
  events: number;
  payloadBytes: number;
  orderingKeys: number;
  concurrency: number;
  connectionsPerOrigin: number;
  /** Attempts per POST before giving up (non-2xx answers are retried at once). */
  maxAttempts: number;
  /** Stop sending after this long. */
  maxDurationMs: number;
}

export interface BlastDone {
  type: "done";
  startMs: number;
  endMs: number;
  ok: number;
  failedAttempts: number;
  gaveUp: number;
  cpuMs: number;
}

export interface SqliteIngestConfig {
  dataDir: string;
  events: number;
  deliveriesPerEvent: number;
  batch: number;
  payloadBytes: number;
  sync: "full" | "normal";
}

export interface SqliteIngestDone {
  type: "done";
  events: number;
  rows: number;
  seconds: number;
  eventsPerSecond: number;
  rowsPerSecond: number;
}

export interface JetStreamIngestConfig {
  natsUrl: string;
  events: number;
  payloadBytes: number;
  /** Publishes awaiting their ack at once. */
  inFlight: number;
}

export interface JetStreamIngestDone {
  type: "done";
  events: number;
  seconds: number;
  eventsPerSecond: number;
}
