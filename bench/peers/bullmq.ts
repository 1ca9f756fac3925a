/**
 * The peer hookline is compared with (`--peers`): the stack a Node team builds in an
 * afternoon, BullMQ on a redis-server (AOF, fsync once a second) with worker processes that
 * sign and POST with undici. Same fleet, endpoints, secrets, events and payload size as the
 * hookline run it pairs with; for a held-back backlog every job is added before any worker
 * starts. Receipts are counted by the fleet exactly as for hookline.
 */
import { waitForDrain } from "../drain.ts";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { countLost, deliveredSoFar, expectedDeliveries, expectedLatency, receiptWindow } from "../accounting.ts";
import { Bitmap } from "../lib/bitmap.ts";
import { spawnJsonChild, tsNodeArgs, type JsonChild } from "../lib/child.ts";
import { nowMs, sleep } from "../lib/clock.ts";
import { sampleProcess, type ProcessSample } from "../lib/proc-stats.ts";
import { summarize } from "../lib/samples.ts";
import type { LimitInputs } from "../limits.ts";
import type { PeerResult } from "../results.ts";
import type { ScenarioName, ScenarioPlan } from "../scenarios.ts";
import { expectsDelivery, fleetEndpoints, type Topology } from "../topology.ts";
import type { PeerJobShape, PeerProducerConfig, PeerProducerDone, PeerWorkerConfig } from "./protocol.ts";
import { ensureRedisServer, startRedis } from "./redis-server.ts";

/** Scenarios the peer runs in: a fast fleet that accepts everything. */
export const PEER_SCENARIOS: readonly ScenarioName[] = ["fast", "backlog"];

/**
 * Worker processes, BullMQ concurrency per process and job shape, chosen on the shared 2-core
 * bench machine (backlog, 8,000 events, 2-5 interleaved rounds each; docs/benchmarks.md,
 * "BullMQ peer"). One job per event beat one job per delivery by 2-2.6× in delivered/s and
 * 2.3-5× in adds/s. Of 1×64, 1×128, 1×256, 2×16, 2×32, 2×64 and 2×128 jobs at once, the best rounds of
 * 2×32, 2×16 and 1×256 reached 4.3-4.5k/s (the fleet's pace), and more concurrency per process
 * did not help; 2×32 uses both cores. --peer-workers / --peer-concurrency / --peer-jobs override.
 */
export const PEER_DEFAULTS = { workerProcesses: 2, concurrency: 32, jobShape: "event" as PeerJobShape };
/** Same as hookline's HttpSender Agent and the blast. */
const CONNECTIONS_PER_ORIGIN = 256;
/** Like the bench's quick retry policy: retries settle within the drain timeout. */
const RETRY = { attempts: 30, backoffMs: 100 };
const REQUEST_TIMEOUT_MS = 10_000;
const TICK_MS = 1000;

/** What the limits get, less the acked amounts: the peer publishes the scenario's events itself. */
export type PeerInputs = Omit<LimitInputs, "events" | "deliveriesPerEvent">;

function bullmqVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, "node_modules/bullmq/package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

const cpuOf = (from: ProcessSample | undefined, to: ProcessSample | undefined): number => (from && to ? to.cpuMs - from.cpuMs : 0);

export async function runBullmqPeer(i: PeerInputs): Promise<PeerResult> {
  const { options, plan, topology, fleet, root } = i;
  ensureRedisServer(root);
  const processes = options.peerWorkers ?? PEER_DEFAULTS.workerProcesses;
  const concurrency = options.peerConcurrency ?? PEER_DEFAULTS.concurrency;
  const jobShape = options.peerJobs ?? PEER_DEFAULTS.jobShape;
  const redis = await startRedis();
  const children: JsonChild[] = [];
  const start = (name: string, file: string): JsonChild => {
    const child = spawnJsonChild(name, tsNodeArgs(join(root, file)), { cwd: root, deferInput: true });
    children.push(child);
    return child;
  };
  const notes: string[] = [];
  try {
    // Started now and given their input later, so module loading is not measured.
    const producer = start("bullmq producer", "bench/peers/bullmq-producer.ts");
    const workers = Array.from({ length: processes }, (_, n) => start(`bullmq worker ${n + 1}`, "bench/peers/bullmq-worker.ts"));
    await Promise.all([producer, ...workers].map((c) => c.waitFor((m) => m.type === "waiting", 60_000, "waiting message")));
    const runId = `${plan.name}-bullmq-${randomBytes(4).toString("hex")}`;
    const { ports } = await fleet.setup({ runId, profiles: topology.profiles, endpoints: fleetEndpoints(topology, i.secrets), ports: topology.ports });
    const queue = `webhooks-${runId}`;
    const workerConfig: PeerWorkerConfig = {
      redisPort: redis.port,
      queue,
      targets: topology.endpoints.map((e) => ({ index: e.index, url: `http://127.0.0.1:${ports[e.port]}/h/${runId}/${e.index}`, secret: i.secrets[e.index] as string })),
      concurrency,
      connectionsPerOrigin: CONNECTIONS_PER_ORIGIN,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    };
    const producerConfig: PeerProducerConfig = {
      redisPort: redis.port,
      queue,
      events: plan.events,
      tenants: plan.tenants,
      endpointsByTenant: topology.byTenant.map((list) => list.map((e) => e.index)),
      jobShape,
      payloadBytes: options.payloadBytes,
      batch: i.batch,
      window: options.window,
      retry: RETRY,
      maxDurationMs: options.durationS * 1000,
    };
    i.log(
      `  [${i.label}] peer: BullMQ ${bullmqVersion(root)} on redis-server ${redis.version} (appendfsync everysec), ` +
        `one job per ${jobShape}, ${processes} worker processes x concurrency ${concurrency}`,
    );

    const pids = (): number[] => [redis.pid, ...workers.map((w) => w.pid)];
    const sampleAll = (): (ProcessSample | undefined)[] => pids().map(sampleProcess);
    const before = sampleAll();
    const failedPosts = new Map<JsonChild, number>();
    for (const w of workers)
      w.onMessage((m) => {
        if (m.type === "progress") failedPosts.set(w, Number(m.failedPosts));
      });
    const startWorkers = (): void => workers.forEach((w) => w.sendInput(workerConfig));
    if (!plan.pauseWhilePublishing) startWorkers();

    let acked = 0;
    producer.onMessage((m) => {
      if (m.type === "progress") acked = Number(m.acked);
    });
    const done = producer.waitFor((m) => m.type === "done", producerConfig.maxDurationMs + 180_000, '"done" message');
    let finished = false;
    void done.then(() => (finished = true), () => undefined);
    const measureStart = nowMs();
    producer.sendInput(producerConfig);
    while (!finished) {
      await Promise.race([sleep(TICK_MS), done.catch(() => undefined)]);
      if (!finished) {
        const delivered = deliveredSoFar((await fleet.stats()).okByEndpoint, topology);
        i.log(`  [${i.label}] ${((nowMs() - measureStart) / 1000).toFixed(0).padStart(3)}s peer    acked ${acked}/${plan.events}  delivered ${delivered}`);
      }
    }
    const published = (await done) as unknown as PeerProducerDone;
    await producer.exited;

    let releasedMs = 0;
    let atRelease: (ProcessSample | undefined)[] | undefined;
    const deliveredBeforeRelease = plan.pauseWhilePublishing ? deliveredSoFar((await fleet.stats()).okByEndpoint, topology) : 0;
    if (plan.pauseWhilePublishing) {
      atRelease = sampleAll();
      releasedMs = nowMs();
      startWorkers();
    }
    const ackedSeqs = Bitmap.fromBase64(published.ackedSeqs);
    const expected = expectedDeliveries(topology, ackedSeqs, plan.events);
    const stoppedEarly = await waitForDrain({
      ...i,
      expected,
      check() {
        const dead = workers.find((w) => w.exitCode !== undefined);
        if (dead) throw new Error(`BullMQ worker exited (code ${dead.exitCode}) while draining: ${dead.stderrTail()}`);
      },
      tick: (delivered, seconds) => i.log(`  [${i.label}] ${seconds.toFixed(0).padStart(3)}s peer    acked ${published.acked}  delivered ${delivered}/${expected}`),
    });
    if (stoppedEarly) notes.push(stoppedEarly);
    const after = sampleAll();
    const measuredMs = nowMs() - measureStart;
    const report = await fleet.report();

    const window = receiptWindow(topology, report);
    const deliveryStartMs = releasedMs || published.firstSendMs;
    const seconds = window.lastOkMs > 0 ? (window.lastOkMs - deliveryStartMs) / 1000 : 0;
    const measuredDelivered = window.delivered - deliveredBeforeRelease;
    const ingestSeconds = (published.lastAckMs - published.firstSendMs) / 1000;
    const total = (from: (ProcessSample | undefined)[]): number => from.reduce<number>((sum, s, n) => sum + cpuOf(s, after[n]), 0);
    const cpuMs = total(before) + published.cpuMs;
    // Like hookline's: for a held-back backlog only what was spent after the release counts per delivery.
    const deliveryCpuMs = atRelease ? total(atRelease) : cpuMs;
    const lost = countLost(topology, ackedSeqs, plan.events, report);
    const failures: string[] = [];
    if (published.failedBatches > 0) failures.push(`${published.failedBatches} addBulk batches failed: ${published.firstError}`);
    if (lost > 0) failures.push(`${lost} added deliveries never arrived`);
    if (report.badSignatures > 0) failures.push(`${report.badSignatures} requests failed signature checks: ${JSON.stringify(report.badSignatureReasons)}`);
    if (report.stray > 0) notes.push(`${report.stray} requests for unknown endpoints or runs`);
    const failedAttempts = [...failedPosts.values()].reduce((a, b) => a + b, 0);
    if (failedAttempts > 0) notes.push(`${failedAttempts} POSTs did not get a 2xx and were retried by BullMQ (as of the workers' last report)`);
    return {
      name: "bullmq",
      setup:
        `BullMQ ${bullmqVersion(root)} on redis-server ${redis.version} (appendonly yes, appendfsync everysec), one job per ${jobShape}, ` +
        `${processes} worker processes x concurrency ${concurrency}, undici keep-alive Agent`,
      jobShape,
      workerProcesses: processes,
      concurrency,
      events: { published: plan.events, acked: published.acked, jobs: published.jobs, failedBatches: published.failedBatches, firstError: published.firstError },
      ingestEventsPerSecond: ingestSeconds > 0 ? published.acked / ingestSeconds : 0,
      delivery: {
        expected,
        delivered: window.delivered,
        perSecond: seconds > 0 ? measuredDelivered / seconds : 0,
        seconds,
        limitRatio: 0,
      },
      latencyMs: expectedLatency(report, topology) ?? summarize([]),
      correctness: { lost, duplicates: report.duplicates, badSignatures: report.badSignatures },
      failedAttempts,
      cpuPercent: measuredMs > 0 ? (cpuMs / measuredMs) * 100 : 0,
      cpuUsPerDelivery: measuredDelivered > 0 ? (deliveryCpuMs * 1000) / measuredDelivered : 0,
      peakRssMb: after.reduce((sum, s) => sum + (s?.peakRssKb ?? 0), 0) / 1024,
      hooklineOverPeer: 0,
      notes,
      failures,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop("SIGKILL", 1000)));
    await redis.stop();
  }
}

/** Whether --peers applies to this plan (a fleet that accepts every delivery). */
export const peerRuns = (plan: ScenarioPlan, topology: Topology): boolean =>
  PEER_SCENARIOS.includes(plan.name) && topology.endpoints.every(expectsDelivery) && plan.orderingKeys === 0;
