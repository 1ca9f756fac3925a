/**
 * One scenario run: a fresh hookline process, the fleet set up for it, tenants and
 * endpoints created through the API, a publisher process, a drain wait; then the limits
 * (limits.ts) measured right after on the same fleet, and everything turned into a result.
 */
import { waitForDrain } from "./drain.ts";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { attemptsAnswered, countLost, deliveredSoFar, expectedDeliveries, expectedLatency, fannedOutDeliveries, receiptWindow } from "./accounting.ts";
import type { FleetClient } from "./fleet-client.ts";
import { countDisabled, createTopology, describeOutstanding, releaseEndpoints, type Created } from "./hookline-api.ts";
import { startHookline, type HooklineProcess, type LoopDelaySample } from "./hookline-server.ts";
import { Bitmap } from "./lib/bitmap.ts";
import { spawnJsonChild, tsNodeArgs, type JsonChild } from "./lib/child.ts";
import { nowMs, sleep } from "./lib/clock.ts";
import { sampleProcess, type ProcessSample } from "./lib/proc-stats.ts";
import type { FleetReport, PublisherConfig, PublisherDone } from "./lib/protocol.ts";
import { formatMs, median, summarize } from "./lib/samples.ts";
import { newSecret } from "./lib/webhook-signature.ts";
import { measureLimits, NO_LIMITS, type Limits } from "./limits.ts";
import { serverFlags, type BenchOptions } from "./options.ts";
import { peerRuns, runBullmqPeer } from "./peers/bullmq.ts";
import { cpuPercent, Phases, Progress } from "./progress.ts";
import type { PeerResult, PriorityResult, ScenarioResult } from "./results.ts";
import { STEADY_WARMUP_SECONDS, type ScenarioPlan } from "./scenarios.ts";
import { expectsDelivery, fleetEndpoints, layOut, type Topology } from "./topology.ts";

export interface RunContext {
  root: string;
  options: BenchOptions;
  fleet: FleetClient;
  log: (line: string) => void;
}

const TICK_MS = 1000;

const publishBatch = (plan: ScenarioPlan, options: BenchOptions): number => Math.min(options.batch, plan.maxBatch ?? Infinity);

/** What the hookline part of a run observed. */
interface HooklineRun {
  /** Every event published (backlog and trickle together), with the backlog's timing. */
  published: PublisherDone;
  /** The priority scenario's trickle on its own. */
  trickle: PublisherDone | undefined;
  report: FleetReport;
  /** From the first publish to the end of the drain. */
  measuredMs: number;
  cpu: { before?: ProcessSample | undefined; release?: ProcessSample | undefined; after?: ProcessSample | undefined };
  fleetCpuPercent: number;
  /** Backlog runs: when the hold was lifted, and what had arrived before. */
  releasedMs: number;
  deliveredBeforeRelease: number;
  eventsPerCommit: number;
  commitMsAvg: number;
  /** hookline's own count of attempts that did not succeed. */
  failedAttempts: number;
  loopDelay: LoopDelaySample[];
  warnings: string[];
  goneDisabled: { disabled: number; total: number } | undefined;
  notes: string[];
}

interface Scope {
  ctx: RunContext;
  plan: ScenarioPlan;
  topology: Topology;
  label: string;
  phases: Phases;
}

/**
 * Publishes everything (progress line per tick) and returns the publisher's summary;
 * `ackedBefore` are events a previous publisher of the run got acked.
 */
async function publish(
  s: Scope,
  server: HooklineProcess,
  publisher: JsonChild,
  config: PublisherConfig,
  progress: Progress,
  phase = "publish",
  ackedBefore = 0,
): Promise<PublisherDone> {
  let acked = 0;
  publisher.onMessage((m) => {
    if (m.type === "progress") acked = Number(m.acked);
  });
  // The publisher bounds its own time (--duration, an ack watchdog); this is the backstop.
  const done = publisher.waitFor((m) => m.type === "done", config.maxDurationMs + 180_000, '"done" message');
  let finished = false;
  void done.then(() => (finished = true), () => undefined);
  publisher.sendInput(config);
  while (!finished) {
    await Promise.race([sleep(TICK_MS), done.catch(() => undefined)]);
    if (server.child.exitCode !== undefined) throw new Error(`hookline exited (code ${server.child.exitCode}) while publishing: ${server.child.stderrTail()}`);
    if (!finished) progress.tick(phase, ackedBefore + acked, s.plan.events, deliveredSoFar((await s.ctx.fleet.stats()).okByEndpoint, s.topology), 0);
  }
  const result = (await done) as unknown as PublisherDone;
  await publisher.exited;
  return result;
}

/** Acks of two publishers as one: counts and acked events together, timing and CPU of the first. */
function combinePublished(first: PublisherDone, second: PublisherDone): PublisherDone {
  const acked = Bitmap.fromBase64(first.ackedSeqs);
  acked.addAll(Bitmap.fromBase64(second.ackedSeqs));
  return {
    ...first,
    acked: first.acked + second.acked,
    ackedSeqs: acked.toBase64(),
    deliveriesCreated: first.deliveriesCreated + second.deliveriesCreated,
    retriedBatches: first.retriedBatches + second.retriedBatches,
    failedBatches: first.failedBatches + second.failedBatches,
    firstError: first.firstError || second.firstError,
    duplicateResults: first.duplicateResults + second.duplicateResults,
  };
}

/** Starts hookline and a publisher, sets up the fleet and endpoints, publishes, drains, stops hookline. */
async function runHookline(s: Scope, secrets: readonly string[], workers: number | undefined): Promise<HooklineRun> {
  const { ctx, plan, topology, phases } = s;
  const { options, fleet, root } = ctx;
  const runId = `${plan.name}-${randomBytes(4).toString("hex")}`;
  // Started first so that it loads its modules while hookline starts; it waits for its config on stdin.
  const publisher = spawnJsonChild("publisher", tsNodeArgs(join(root, "bench/publisher.ts")), { cwd: root, deferInput: true });
  const tricklePublisher = plan.trickle
    ? spawnJsonChild("trickle publisher", tsNodeArgs(join(root, "bench/publisher.ts")), { cwd: root, deferInput: true })
    : undefined;
  let server: HooklineProcess | undefined;
  const run: Partial<HooklineRun> & { notes: string[]; cpu: HooklineRun["cpu"] } = { notes: [], cpu: {}, releasedMs: 0, deliveredBeforeRelease: 0, trickle: undefined };
  try {
    const { ports } = await fleet.setup({
      runId,
      profiles: topology.profiles,
      endpoints: fleetEndpoints(topology, secrets),
      ports: topology.ports,
      ...(plan.warmupEvents !== undefined && { settledFromSeq: plan.warmupEvents }),
    });
    const profileDir = options.cpuProf ? join(root, "bench/results/profiles") : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    server = await startHookline({ root, workers, backend: options.backend, extraArgs: serverFlags(options), ...(profileDir ? { cpuProfileDir: profileDir } : {}) });
    phases.mark("server start");
    const created: Created = await createTopology(server, plan, topology, secrets, ports, runId);
    phases.mark("endpoints");

    run.cpu.before = sampleProcess(server.child.pid);
    const fleetCpuBefore = sampleProcess(fleet.child.pid);
    const measureStart = nowMs();
    const progress = new Progress(s.label, server.child.pid, fleet.child.pid, ctx.log);
    const backlogEvents = plan.events - (plan.trickle?.events ?? 0);
    let published = await publish(s, server, publisher, {
      baseUrl: server.baseUrl,
      apiKey: server.apiKey,
      tenantIds: created.tenantIds,
      events: backlogEvents,
      batch: plan.pace?.batch ?? publishBatch(plan, options),
      window: options.window,
      payloadBytes: options.payloadBytes,
      orderingKeys: plan.orderingKeys,
      rate: plan.pace?.eventsPerSecond ?? options.rate,
      maxDurationMs: options.durationS * 1000,
    }, progress);
    phases.markAt("publisher start", published.firstSendMs);
    phases.markAt("publish", published.lastAckMs);
    if (plan.pauseWhilePublishing) {
      run.deliveredBeforeRelease = deliveredSoFar((await fleet.stats()).okByEndpoint, topology);
      run.cpu.release = sampleProcess(server.child.pid);
      run.releasedMs = nowMs();
      await releaseEndpoints(server, created.endpointIds);
      phases.mark("release");
    }
    if (plan.trickle && tricklePublisher) {
      // One event per request at a steady rate, while the released backlog drains.
      run.trickle = await publish(s, server, tricklePublisher, {
        baseUrl: server.baseUrl,
        apiKey: server.apiKey,
        tenantIds: created.tenantIds,
        firstSeq: backlogEvents,
        events: plan.trickle.events,
        priority: plan.trickle.priority,
        batch: 1,
        window: 4,
        payloadBytes: options.payloadBytes,
        orderingKeys: 0,
        rate: plan.trickle.perSecond,
        maxDurationMs: (plan.trickle.events / plan.trickle.perSecond) * 1000 + 10_000,
      }, progress, "trickle", published.acked);
      phases.mark("trickle");
      published = combinePublished(published, run.trickle);
    }
    const expected = expectedDeliveries(topology, Bitmap.fromBase64(published.ackedSeqs), plan.events);
    const hookline = server.child;
    const stoppedEarly = await waitForDrain({
      fleet: s.ctx.fleet,
      topology: s.topology,
      options: s.ctx.options,
      expected,
      check() {
        if (hookline.exitCode !== undefined) throw new Error(`hookline exited (code ${hookline.exitCode}) while draining: ${hookline.stderrTail()}`);
      },
      tick: (delivered) => progress.tick("drain", published.acked, s.plan.events, delivered, expected),
    });
    if (stoppedEarly) {
      run.notes.push(stoppedEarly);
      const expectedIds = topology.endpoints.filter(expectsDelivery).map((e) => created.endpointIds[e.index] as string);
      run.notes.push(...(await describeOutstanding(server, expectedIds)));
    }
    run.cpu.after = sampleProcess(server.child.pid);
    run.measuredMs = nowMs() - measureStart;
    run.fleetCpuPercent = cpuPercent(fleetCpuBefore, sampleProcess(fleet.child.pid), run.measuredMs);
    phases.mark("drain");

    const metrics = await server.metrics();
    const commits = metrics.get("hookline_publish_commit_duration_seconds_count") ?? 0;
    run.eventsPerCommit = commits > 0 ? (metrics.get("hookline_events_published_total") ?? 0) / commits : 0;
    run.commitMsAvg = commits > 0 ? ((metrics.get("hookline_publish_commit_duration_seconds_sum") ?? 0) * 1000) / commits : 0;
    run.failedAttempts = ["retry", "gone", "fail"].reduce((n, outcome) => n + (metrics.get(`hookline_attempts_total{outcome="${outcome}"}`) ?? 0), 0);
    const gone = topology.endpoints.filter((e) => e.group.profile.gone).map((e) => created.endpointIds[e.index] as string);
    run.goneDisabled = gone.length > 0 ? { disabled: await countDisabled(server, gone), total: gone.length } : undefined;
    run.report = await fleet.report();
    run.published = published;
    const measuredFrom = Date.now() - run.measuredMs;
    run.loopDelay = server.loopDelay.filter((sample) => sample.atMs >= measuredFrom);
    run.warnings = server.warnings;
    return run as HooklineRun;
  } catch (err) {
    const logged = server?.warnings.slice(0, 3).join("; ");
    if (logged && err instanceof Error) err.message += ` (hookline logged: ${logged})`;
    throw err;
  } finally {
    await publisher.stop("SIGKILL", 1000);
    await tricklePublisher?.stop("SIGKILL", 1000);
    if (server) {
      const code = await server.stop();
      if (code !== 0 && code !== null) run.notes.push(`hookline exited with code ${code} on SIGTERM`);
      phases.mark("stop");
    }
  }
}

/** Over the measured seconds: average delay, the median and worst per-second p99, the worst single delay. */
function loopDelaySummary(samples: readonly LoopDelaySample[]): ScenarioResult["hookline"]["eventLoopDelayMs"] {
  if (samples.length === 0) return { mean: 0, medianP99: 0, worstP99: 0, max: 0 };
  return {
    mean: samples.reduce((sum, x) => sum + x.mean, 0) / samples.length,
    medianP99: median(samples.map((x) => x.p99)),
    worstP99: Math.max(...samples.map((x) => x.p99)),
    max: Math.max(...samples.map((x) => x.max)),
  };
}

function toResult(s: Scope, run: HooklineRun, limits: Limits, workers: number | undefined, round: number): ScenarioResult {
  const { plan, topology } = s;
  const { published, report } = run;
  const acked = Bitmap.fromBase64(published.ackedSeqs);
  const expected = expectedDeliveries(topology, acked, plan.events);
  const fannedOut = fannedOutDeliveries(topology, acked, plan.events);
  const lost = countLost(topology, acked, plan.events, report);
  const window = receiptWindow(topology, report);
  // Delivery is timed from the first publish, or for a held-back backlog from its release.
  const deliveryStartMs = run.releasedMs || published.firstSendMs;
  const deliverySeconds = window.lastOkMs > 0 ? (window.lastOkMs - deliveryStartMs) / 1000 : 0;
  const perSecond = deliverySeconds > 0 ? (window.delivered - run.deliveredBeforeRelease) / deliverySeconds : 0;
  const attemptsPerSecond = deliverySeconds > 0 ? attemptsAnswered(report) / deliverySeconds : 0;
  const attemptsRatio = limits.attemptsPerSecond > 0 ? attemptsPerSecond / limits.attemptsPerSecond : 0;
  // The trickle is paced on purpose: ingest counts the first publisher only.
  const ingestSeconds = (published.lastAckMs - published.firstSendMs) / 1000;
  const ingestPerSecond = ingestSeconds > 0 ? (published.acked - (run.trickle?.acked ?? 0)) / ingestSeconds : 0;
  const priority = plan.trickle && run.trickle ? priorityLanes(s, run, acked, expected) : undefined;
  const hooklineCpuMs = run.cpu.before && run.cpu.after ? run.cpu.after.cpuMs - run.cpu.before.cpuMs : 0;
  // For a held-back backlog only the CPU spent after the release counts per delivery.
  const cpuFrom = run.cpu.release ?? run.cpu.before;
  const deliveredMeasured = window.delivered - run.deliveredBeforeRelease;
  // Failed attempts the fleet did not cause (it answered 2xx, or never saw the request): connection errors.
  const fleetFailures = report.answered.error + report.answered.throttled + report.answered.gone + report.answered.held;
  const transportErrors = Math.max(0, run.failedAttempts - fleetFailures);

  const failures: string[] = [];
  if (published.failedBatches > 0) failures.push(`${published.failedBatches} publish batches failed: ${published.firstError}`);
  if (lost > 0) failures.push(`${lost} acked deliveries never arrived`);
  if (report.badSignatures > 0) failures.push(`${report.badSignatures} requests failed signature checks: ${JSON.stringify(report.badSignatureReasons)}`);
  const notes = [...run.notes];
  const settled = report.latency.settled;
  if (settled && plan.pace)
    notes.push(
      `after the first ${STEADY_WARMUP_SECONDS} s (the server's warm-up: ${plan.warmupEvents ?? 0} events), e2e latency p50 ${formatMs(settled.p50)}, ` +
        `p95 ${formatMs(settled.p95)}, p99 ${formatMs(settled.p99)} over ${settled.count} deliveries`,
    );
  if (plan.pauseWhilePublishing)
    notes.push(`${run.deliveredBeforeRelease} deliveries went out before the release (one token per endpoint); end-to-end latency includes the hold`);
  if (published.deliveriesCreated !== fannedOut) {
    const why = run.goneDisabled ? " (expected: an endpoint disabled by 410 gets no new events)" : "";
    notes.push(`hookline reported ${published.deliveriesCreated} deliveries created, the topology ${fannedOut}${why}`);
  }
  if (run.goneDisabled) notes.push(`410 Gone: ${run.goneDisabled.disabled} of ${run.goneDisabled.total} endpoints disabled by hookline`);
  if (report.stray > 0) notes.push(`${report.stray} requests for unknown endpoints or runs`);
  if (plan.orderingKeys > 0) notes.push(`ordering: ${report.orderViolations} order violations and ${report.orderOverlaps} overlapping requests on one key (per endpoint)`);
  if (transportErrors > 0) notes.push(`${transportErrors} failed attempts were not answered with an error by the fleet (connection errors or timeouts on hookline's side)`);
  if (run.fleetCpuPercent > 85) notes.push(`the receiver fleet was busy ${run.fleetCpuPercent.toFixed(0)}% of a core: it may have been the bottleneck`);
  if (priority)
    notes.push(
      `the priority-${priority.trickle.priority} trickle (p50 ${priority.trickle.latencyMs.p50.toFixed(0)} ms) finished with ${priority.backlogQueuedAtTrickleEnd} of ` +
        `${priority.backlog.expected} backlog deliveries still queued; the backlog took ${priority.backlog.drainSeconds.toFixed(1)} s from the release`,
    );
  if (report.answered.error + report.answered.throttled > 0)
    notes.push(
      `attempts (2xx, 500 and 429 answers): ${attemptsAnswered(report)} at ${Math.round(attemptsPerSecond)}/s` +
        (attemptsRatio > 0 ? ` = ${(attemptsRatio * 100).toFixed(0)}% of the blast's ${Math.round(limits.attemptsPerSecond)}/s (it retries at once; hookline waits out backoff and Retry-After)` : ""),
    );
  if (fannedOut > expected) notes.push(`${fannedOut - expected} deliveries to endpoints that fail on purpose are left out of lost and delivered/s`);

  return {
    scenario: plan.name,
    workers: workers ?? "default",
    round,
    summary: plan.summary,
    tenants: plan.tenants,
    endpoints: { total: topology.endpoints.length, expectedToSucceed: topology.endpoints.filter(expectsDelivery).length },
    events: {
      published: plan.events,
      acked: published.acked,
      retriedBatches: published.retriedBatches,
      failedBatches: published.failedBatches,
      firstError: published.firstError,
    },
    ingest: {
      eventsPerSecond: ingestPerSecond,
      limitEventsPerSecond: limits.ingestEventsPerSecond,
      limitKind: limits.ingestLimitKind,
      ratio: limits.ingestEventsPerSecond > 0 ? ingestPerSecond / limits.ingestEventsPerSecond : 0,
      eventsPerCommit: run.eventsPerCommit,
      commitMsAvg: run.commitMsAvg,
      ackLatencyMs: published.ackLatency,
      publisherCpuSeconds: published.cpuMs / 1000,
    },
    delivery: {
      expected,
      delivered: window.delivered,
      perSecond,
      limitPerSecond: limits.deliveryPerSecond,
      ratio: limits.deliveryPerSecond > 0 ? perSecond / limits.deliveryPerSecond : 0,
      attemptsPerSecond,
      limitAttemptsPerSecond: limits.attemptsPerSecond,
      attemptsRatio,
      seconds: deliverySeconds,
      excluded: fannedOut - expected,
    },
    latencyMs: expectedLatency(report, topology) ?? summarize([]),
    ...(report.latency.settled && { settledLatencyMs: report.latency.settled }),
    ...(priority ? { priority } : {}),
    correctness: {
      lost,
      duplicates: report.duplicates,
      duplicateWebhookIds: report.duplicateWebhookIds,
      duplicateEvents: report.duplicateEvents,
      badSignatures: report.badSignatures,
      badSignatureReasons: report.badSignatureReasons,
      stray: report.stray,
      fanOutMismatch: published.deliveriesCreated - fannedOut,
      orderViolations: report.orderViolations,
      orderOverlaps: report.orderOverlaps,
      transportErrors,
    },
    hookline: {
      cpuSeconds: hooklineCpuMs / 1000,
      cpuPercent: cpuPercent(run.cpu.before, run.cpu.after, run.measuredMs),
      cpuUsPerDelivery: cpuFrom && run.cpu.after && deliveredMeasured > 0 ? ((run.cpu.after.cpuMs - cpuFrom.cpuMs) * 1000) / deliveredMeasured : 0,
      peakRssMb: run.cpu.after ? run.cpu.after.peakRssKb / 1024 : 0,
      eventLoopDelayMs: loopDelaySummary(run.loopDelay),
      warnings: run.warnings,
    },
    limitCpuUsPerDelivery: limits.cpuUsPerDelivery,
    fleetCpuPercent: run.fleetCpuPercent,
    limitFleetCpuPercent: limits.fleetCpuPercent,
    fleetAnswers: report.answered,
    phasesSeconds: s.phases.seconds(),
    notes,
    failures,
  };
}

/** The backlog (priority 0, events before the trickle's) and the trickle, each on its own. */
function priorityLanes(s: Scope, run: HooklineRun, acked: Bitmap, expected: number): PriorityResult {
  const { plan, topology } = s;
  const trickle = plan.trickle as NonNullable<ScenarioPlan["trickle"]>;
  const trickleRun = run.trickle as PublisherDone;
  const backlogEvents = plan.events - trickle.events;
  const backlogExpected = expectedDeliveries(topology, acked, backlogEvents);
  const none = { ok: 0, latency: summarize([]), lastOkMs: 0, lowerOkAtLast: 0 };
  const low = run.report.byPriority["0"] ?? none;
  const high = run.report.byPriority[String(trickle.priority)] ?? none;
  return {
    trickle: {
      priority: trickle.priority,
      acked: trickleRun.acked,
      expected: expected - backlogExpected,
      delivered: high.ok,
      latencyMs: high.latency,
      publishSeconds: (trickleRun.lastAckMs - trickleRun.firstSendMs) / 1000,
    },
    backlog: {
      acked: run.published.acked - trickleRun.acked,
      expected: backlogExpected,
      delivered: low.ok,
      latencyMs: low.latency,
      drainSeconds: low.lastOkMs > 0 ? (low.lastOkMs - run.releasedMs) / 1000 : 0,
    },
    backlogQueuedAtTrickleEnd: high.ok > 0 ? backlogExpected - high.lowerOkAtLast : backlogExpected,
  };
}

export async function runScenario(ctx: RunContext, plan: ScenarioPlan, workers: number | undefined, round: number): Promise<ScenarioResult> {
  const scope: Scope = {
    ctx,
    plan,
    topology: layOut(plan),
    label: `${plan.name}${workers === undefined ? "" : ` w${workers}`}`,
    phases: new Phases(),
  };
  const secrets = scope.topology.endpoints.map(() => newSecret());
  const run = await runHookline(scope, secrets, workers);
  const limits = ctx.options.baselines
    ? await measureLimits({
        root: ctx.root,
        options: ctx.options,
        fleet: ctx.fleet,
        log: ctx.log,
        label: scope.label,
        plan,
        topology: scope.topology,
        secrets,
        events: run.published.acked,
        deliveriesPerEvent: run.published.acked > 0 ? Math.round(run.published.deliveriesCreated / run.published.acked) : 0,
        batch: publishBatch(plan, ctx.options),
      })
    : NO_LIMITS;
  scope.phases.mark("limits");
  let peer: PeerResult | undefined;
  let peerError: string | undefined;
  if (ctx.options.peers && !peerRuns(plan, scope.topology)) ctx.log(`  [${scope.label}] peer: the BullMQ peer runs on fast and backlog only`);
  if (ctx.options.peers && peerRuns(plan, scope.topology)) {
    try {
      peer = await runBullmqPeer({ ...ctx, label: scope.label, plan, topology: scope.topology, secrets, batch: publishBatch(plan, ctx.options) });
    } catch (err) {
      peerError = (err as Error).message;
    }
    scope.phases.mark("peer");
  }
  ctx.log(`  [${scope.label}] time: ${scope.phases.describe()}`);
  const result = toResult(scope, run, limits, workers, round);
  if (peerError) result.failures.push(`BullMQ peer: ${peerError}`);
  if (peer) {
    peer.delivery.limitRatio = limits.deliveryPerSecond > 0 ? peer.delivery.perSecond / limits.deliveryPerSecond : 0;
    peer.hooklineOverPeer = peer.delivery.perSecond > 0 ? result.delivery.perSecond / peer.delivery.perSecond : 0;
    result.peer = peer;
    result.failures.push(...peer.failures.map((f) => `BullMQ peer: ${f}`));
    result.notes.push(...peer.notes.map((n) => `BullMQ peer: ${n}`));
  }
  return result;
}
