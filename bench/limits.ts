/**
 * The limits hookline is compared with, measured right after it on the same fleet and
 * machine: a raw undici blast of the same signed POSTs, and raw writes of the same events to
 * the same kind of store (batched SQLite inserts, or async JetStream publishes).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS } from "../src/config/config.ts";
import { attemptsAnswered, receiptWindow } from "./accounting.ts";
import type { FleetClient } from "./fleet-client.ts";
import { spawnJsonChild, tsNodeArgs, type JsonChild } from "./lib/child.ts";
import { nowMs, sleep } from "./lib/clock.ts";
import { sampleProcess } from "./lib/proc-stats.ts";
import type { BlastConfig, BlastDone, JetStreamIngestConfig, JetStreamIngestDone, SqliteIngestConfig, SqliteIngestDone } from "./lib/protocol.ts";
import type { BenchOptions } from "./options.ts";
import { cpuPercent } from "./progress.ts";
import type { ScenarioPlan } from "./scenarios.ts";
import { expectsDelivery, fleetEndpoints, type Topology } from "./topology.ts";
import { startNats } from "../test/helpers/nats.ts";

/** hookline's scheduler caps deliveries in flight across all endpoints at this (src/app.ts). */
const SERVER_MAX_IN_FLIGHT_TOTAL = 8192;
/** Same as hookline's HttpSender Agent. */
const CONNECTIONS_PER_ORIGIN = 256;
/** Raw JetStream publishes awaiting their ack at once: enough to keep the server's fsyncs busy. */
const JETSTREAM_IN_FLIGHT = 1000;

/** What the ingest limit wrote: hookline's SQLite rows, or one JetStream message per event. */
export type IngestLimitKind = "sqlite-inserts" | "jetstream-publishes";

export interface Limits {
  deliveryPerSecond: number;
  /** POSTs the blast made per second, failed ones included (it retries a failure at once). */
  attemptsPerSecond: number;
  /** CPU of the blast process per delivery. */
  cpuUsPerDelivery: number;
  /** The fleet's CPU while the blast ran (100 = one core). */
  fleetCpuPercent: number;
  ingestEventsPerSecond: number;
  ingestLimitKind: IngestLimitKind;
}

export const NO_LIMITS: Limits = { deliveryPerSecond: 0, attemptsPerSecond: 0, cpuUsPerDelivery: 0, fleetCpuPercent: 0, ingestEventsPerSecond: 0, ingestLimitKind: "sqlite-inserts" };

export interface LimitInputs {
  root: string;
  options: BenchOptions;
  fleet: FleetClient;
  log: (line: string) => void;
  label: string;
  plan: ScenarioPlan;
  topology: Topology;
  secrets: readonly string[];
  /** What hookline acked: the limits redo the same amount of work. */
  events: number;
  deliveriesPerEvent: number;
  batch: number;
}

/** POSTs in flight: hookline's per-endpoint max in-flight over the endpoints (one per key when ordered), capped like hookline. */
function blastConcurrency(i: LimitInputs, endpoints: number): number {
  const perEndpoint = i.options.maxInFlight ?? DEFAULTS.defaultMaxInFlight;
  const perEndpointLimit = i.plan.orderingKeys > 0 ? Math.min(perEndpoint, i.plan.orderingKeys) : perEndpoint;
  return Math.min(endpoints * perEndpointLimit, SERVER_MAX_IN_FLIGHT_TOTAL);
}

async function blastLimit(i: LimitInputs, blast: JsonChild): Promise<Omit<Limits, "ingestEventsPerSecond" | "ingestLimitKind">> {
  const targets = i.topology.endpoints.filter(expectsDelivery);
  const runId = `${i.plan.name}-blast-${randomBytes(4).toString("hex")}`;
  const { ports } = await i.fleet.setup({
    runId,
    profiles: i.topology.profiles,
    endpoints: fleetEndpoints(i.topology, i.secrets, expectsDelivery),
    ports: i.topology.ports,
  });
  const config: BlastConfig = {
    targets: targets.map((e) => ({ index: e.index, url: `http://127.0.0.1:${ports[e.port]}/h/${runId}/${e.index}`, secret: i.secrets[e.index] as string, tenant: e.tenant })),
    tenants: i.plan.tenants,
    events: i.events,
    payloadBytes: i.options.payloadBytes,
    orderingKeys: i.plan.orderingKeys,
    concurrency: blastConcurrency(i, targets.length),
    connectionsPerOrigin: CONNECTIONS_PER_ORIGIN,
    maxAttempts: 100,
    maxDurationMs: 300_000,
  };
  let ok = 0;
  blast.onMessage((m) => {
    if (m.type === "progress") ok = Number(m.ok);
  });
  const done = blast.waitFor((m) => m.type === "done", 600_000, '"done" message');
  let finished = false;
  void done.then(() => (finished = true), () => undefined);
  const fleetBefore = sampleProcess(i.fleet.child.pid);
  const started = nowMs();
  blast.sendInput(config);
  while (!finished) {
    await Promise.race([sleep(1000), done.catch(() => undefined)]);
    if (!finished) i.log(`  [${i.label}] ${((nowMs() - started) / 1000).toFixed(0).padStart(3)}s limit   undici blast ok ${ok}`);
  }
  const result = (await done) as unknown as BlastDone;
  const fleetCpu = cpuPercent(fleetBefore, sampleProcess(i.fleet.child.pid), nowMs() - started);
  await blast.exited;
  const report = await i.fleet.report();
  if (report.badSignatures > 0) throw new Error(`the fleet refused ${report.badSignatures} blast signatures: the bench's signer or verifier is broken`);
  const window = receiptWindow(i.topology, report);
  const seconds = (window.lastOkMs - result.startMs) / 1000;
  return {
    deliveryPerSecond: seconds > 0 ? window.delivered / seconds : 0,
    attemptsPerSecond: seconds > 0 ? attemptsAnswered(report) / seconds : 0,
    cpuUsPerDelivery: window.delivered > 0 ? (result.cpuMs * 1000) / window.delivered : 0,
    fleetCpuPercent: fleetCpu,
  };
}

async function sqliteLimit(i: LimitInputs, sqlite: JsonChild): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "hookline-bench-sqlite-"));
  try {
    const config: SqliteIngestConfig = {
      dataDir,
      events: i.events,
      deliveriesPerEvent: i.deliveriesPerEvent,
      batch: i.batch,
      payloadBytes: i.options.payloadBytes,
      sync: i.options.sqliteSync,
    };
    i.log(`  [${i.label}]       limit   raw SQLite inserts: ${i.events} events x ${i.deliveriesPerEvent} deliveries, batches of ${i.batch}`);
    sqlite.sendInput(config);
    const done = (await sqlite.waitFor((m) => m.type === "done", 600_000, '"done" message')) as unknown as SqliteIngestDone;
    await sqlite.exited;
    return done.eventsPerSecond;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Raw publishes of the same events to a fresh nats-server started like the bench's (same sync_interval). */
async function jetstreamLimit(i: LimitInputs, publisher: JsonChild): Promise<number> {
  const nats = await startNats();
  try {
    const config: JetStreamIngestConfig = { natsUrl: nats.url, events: i.events, payloadBytes: i.options.payloadBytes, inFlight: JETSTREAM_IN_FLIGHT };
    i.log(`  [${i.label}]       limit   raw JetStream publishes: ${i.events} events, ${JETSTREAM_IN_FLIGHT} in flight`);
    publisher.sendInput(config);
    const done = (await publisher.waitFor((m) => m.type === "done", 600_000, '"done" message')) as unknown as JetStreamIngestDone;
    await publisher.exited;
    return done.eventsPerSecond;
  } finally {
    await nats.stop();
  }
}

export async function measureLimits(i: LimitInputs): Promise<Limits> {
  if (i.events === 0) return NO_LIMITS;
  const wantsBlast = i.topology.endpoints.some(expectsDelivery);
  const start = (name: string, file: string): JsonChild => spawnJsonChild(name, tsNodeArgs(join(i.root, file)), { cwd: i.root, deferInput: true });
  // Both start now and wait for their input, so neither loads modules while the other is measured.
  const blast = wantsBlast ? start("undici-blast", "bench/baselines/undici-blast.ts") : undefined;
  const ingestLimitKind: IngestLimitKind = i.options.backend === "jetstream" ? "jetstream-publishes" : "sqlite-inserts";
  const ingest = ingestLimitKind === "jetstream-publishes" ? start("jetstream-ingest", "bench/baselines/jetstream-ingest.ts") : start("sqlite-ingest", "bench/baselines/sqlite-ingest.ts");
  try {
    await Promise.all([blast, ingest].map((child) => child?.waitFor((m) => m.type === "waiting", 60_000, "waiting message")));
    const delivery = blast ? await blastLimit(i, blast) : NO_LIMITS;
    const ingestEventsPerSecond = ingestLimitKind === "jetstream-publishes" ? await jetstreamLimit(i, ingest) : await sqliteLimit(i, ingest);
    return { ...delivery, ingestEventsPerSecond, ingestLimitKind };
  } finally {
    await Promise.all([blast?.stop("SIGKILL", 1000), ingest.stop("SIGKILL", 1000)]);
  }
}
