/** What one scenario run measured; report.ts turns a list of these into JSON, Markdown and SVG. */
import type { LatencySummary } from "./lib/samples.ts";
import type { IngestLimitKind } from "./limits.ts";
import type { ScenarioName } from "./scenarios.ts";

export interface ScenarioResult {
  scenario: ScenarioName;
  /** hookline --workers, or "default". */
  workers: number | "default";
  round: number;
  summary: string;
  tenants: number;
  endpoints: { total: number; expectedToSucceed: number };
  events: { published: number; acked: number; retriedBatches: number; failedBatches: number; firstError: string };
  ingest: {
    eventsPerSecond: number;
    /** Raw writes of the same events (0 = not measured); `limitKind` says which. */
    limitEventsPerSecond: number;
    limitKind: IngestLimitKind;
    ratio: number;
    eventsPerCommit: number;
    /** hookline's average group-commit duration (its own histogram). */
    commitMsAvg: number;
    ackLatencyMs: LatencySummary;
    publisherCpuSeconds: number;
  };
  delivery: {
    expected: number;
    delivered: number;
    perSecond: number;
    /** Raw undici blast of the same POSTs at the same fleet (0 = not measured). */
    limitPerSecond: number;
    ratio: number;
    /** Attempts (2xx, 500 and 429 answers) per second over the same seconds; the blast's; their ratio. */
    attemptsPerSecond: number;
    limitAttemptsPerSecond: number;
    attemptsRatio: number;
    /** Publish start to last expected receipt, seconds. */
    seconds: number;
    /** Deliveries to endpoints that fail on purpose, left out of "lost" and delivered/s. */
    excluded: number;
  };
  latencyMs: LatencySummary;
  /** steady: the same for the events published after the warm-up (the scenario's first seconds). */
  settledLatencyMs?: LatencySummary;
  /** The priority scenario: each lane on its own, and how much of the backlog the trickle overtook. */
  priority?: PriorityResult;
  /** --peers: the BullMQ + Redis + undici pipeline on the same workload (fast and backlog). */
  peer?: PeerResult;
  correctness: {
    lost: number;
    duplicates: number;
    duplicateWebhookIds: number;
    duplicateEvents: number;
    badSignatures: number;
    badSignatureReasons: Record<string, number>;
    stray: number;
    /** Deliveries hookline said it created minus what the topology expects. */
    fanOutMismatch: number;
    orderViolations: number;
    orderOverlaps: number;
    /** Failed attempts hookline counted that the fleet did not answer with an error. */
    transportErrors: number;
  };
  hookline: {
    cpuSeconds: number;
    /** Average cores busy over the measured phase (100 = one core). */
    cpuPercent: number;
    cpuUsPerDelivery: number;
    peakRssMb: number;
    /** Main-thread event-loop delay while measured (bench/lib/loop-monitor.mjs). */
    eventLoopDelayMs: { mean: number; medianP99: number; worstP99: number; max: number };
    warnings: string[];
  };
  limitCpuUsPerDelivery: number;
  /** The fleet's average CPU while hookline was measured (100 = one core): is the receiver the bottleneck? */
  fleetCpuPercent: number;
  limitFleetCpuPercent: number;
  fleetAnswers: { ok: number; error: number; throttled: number; gone: number; held: number };
  /** Wall time of each phase of the run. */
  phasesSeconds: Record<string, number>;
  notes: string[];
  failures: string[];
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { node: string; cpus: number; cpuModel: string; loadAverageAtStart: number[] };
  git: string;
  options: Record<string, unknown>;
  results: ScenarioResult[];
  /** Scenario runs that could not finish (e.g. the server exited). */
  errors: string[];
  passed: boolean;
}

/** The BullMQ peer's run of a scenario (bench/peers/bullmq.ts). */
export interface PeerResult {
  name: "bullmq";
  /** Versions, durability setting, job shape, worker processes and concurrency. */
  setup: string;
  jobShape: "event" | "delivery";
  workerProcesses: number;
  concurrency: number;
  events: { published: number; acked: number; jobs: number; failedBatches: number; firstError: string };
  /** Events whose jobs were added ÷ (last addBulk answer − first addBulk call). */
  ingestEventsPerSecond: number;
  delivery: {
    expected: number;
    delivered: number;
    /** Counted like hookline's: from the first add, or for a held-back backlog from the workers' start. */
    perSecond: number;
    seconds: number;
    /** ÷ the same run's delivery limit (0 = not measured). */
    limitRatio: number;
  };
  latencyMs: LatencySummary;
  correctness: { lost: number; duplicates: number; badSignatures: number };
  /** POSTs without a 2xx, retried through BullMQ (the workers' count, reported once a second). */
  failedAttempts: number;
  /** redis-server, the workers and the producer together (100 = one core). */
  cpuPercent: number;
  cpuUsPerDelivery: number;
  /** Peak RSS of redis-server and the worker processes, added up. */
  peakRssMb: number;
  /** hookline's delivered/s ÷ the peer's. */
  hooklineOverPeer: number;
  notes: string[];
  failures: string[];
}

export interface PriorityResult {
  trickle: {
    priority: number;
    acked: number;
    /** Deliveries expected and first 2xx receipts. */
    expected: number;
    delivered: number;
    /** Publish → receipt, ms. */
    latencyMs: LatencySummary;
    /** First send to last ack of the trickle publisher. */
    publishSeconds: number;
  };
  backlog: {
    acked: number;
    expected: number;
    delivered: number;
    /** Publish → receipt, ms: includes the hold while publishing. */
    latencyMs: LatencySummary;
    /** Release → last backlog receipt. */
    drainSeconds: number;
  };
  /** Backlog deliveries not yet received when the trickle's last delivery arrived. */
  backlogQueuedAtTrickleEnd: number;
}
