/** Messages between the orchestrator and the BullMQ peer's producer and worker processes. */

/**
 * "event": one job per event carrying the payload once, fanned out to its endpoints by the
 * worker (a partial failure keeps only the endpoints still to do in the job and retries).
 * "delivery": one job per (event, endpoint).
 */
export type PeerJobShape = "event" | "delivery";

/** What a job carries: the event number, its payload (JSON text) and the endpoints still to deliver to. */
export interface PeerJobData {
  seq: number;
  payload: string;
  to: number[];
}

export interface PeerRetry {
  attempts: number;
  backoffMs: number;
}

export interface PeerProducerConfig {
  redisPort: number;
  queue: string;
  events: number;
  tenants: number;
  /** Endpoint indexes per tenant (event i goes to tenant i % tenants). */
  endpointsByTenant: number[][];
  jobShape: PeerJobShape;
  payloadBytes: number;
  /** Events per addBulk call. */
  batch: number;
  /** addBulk calls in flight. */
  window: number;
  retry: PeerRetry;
  maxDurationMs: number;
}

export interface PeerProducerDone {
  type: "done";
  firstSendMs: number;
  lastAckMs: number;
  acked: number;
  /** Event numbers whose jobs were all added, base64 bitmap. */
  ackedSeqs: string;
  jobs: number;
  failedBatches: number;
  firstError: string;
  cpuMs: number;
}

export interface PeerTarget {
  index: number;
  url: string;
  secret: string;
}

export interface PeerWorkerConfig {
  redisPort: number;
  queue: string;
  targets: PeerTarget[];
  concurrency: number;
  connectionsPerOrigin: number;
  requestTimeoutMs: number;
}

export interface PeerWorkerProgress {
  type: "progress";
  ok: number;
  failedPosts: number;
}
