/**
 * `npm run bench`: hookline, a mock receiver fleet, a publisher and the baselines as
 * separate processes on 127.0.0.1; results in bench/results/. See --help and docs/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildDist } from "../test/helpers/build.ts";
import { FleetClient } from "./fleet-client.ts";
import { runMicro } from "./micro/index.ts";
import { parseOptions, USAGE, UsageError, type BenchOptions } from "./options.ts";
import { markdownTables, rows, writeReport } from "./report.ts";
import type { BenchReport, ScenarioResult } from "./results.ts";
import { runScenario } from "./run-scenario.ts";
import { planScenario } from "./scenarios.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS = join(ROOT, "bench/results");
const log = (line: string): void => void process.stdout.write(`${line}\n`);

function gitDescription(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head} (src/ modified)` : head;
  } catch {
    return "unknown";
  }
}

function oneLine(r: ScenarioResult): string {
  const k = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));
  const ratio = (v: number, limit: number): string => (v > 0 ? ` = ${(v * 100).toFixed(0)}% of limit ${k(limit)}/s` : "");
  const delivery =
    r.scenario === "ingest"
      ? ""
      : `delivered ${r.delivery.delivered} at ${k(r.delivery.perSecond)}/s${ratio(r.delivery.ratio, r.delivery.limitPerSecond)}; ` +
        `p50 ${r.latencyMs.p50.toFixed(0)} ms p99 ${r.latencyMs.p99.toFixed(0)} ms; `;
  const lanes = r.priority
    ? `trickle p50 ${r.priority.trickle.latencyMs.p50.toFixed(0)} ms p99 ${r.priority.trickle.latencyMs.p99.toFixed(0)} ms, ` +
      `backlog drained in ${r.priority.backlog.drainSeconds.toFixed(1)} s with ${r.priority.backlogQueuedAtTrickleEnd} still queued when the trickle finished; `
    : "";
  const peer = r.peer
    ? `\n  => BullMQ peer: ingest ${k(r.peer.ingestEventsPerSecond)} events/s; delivered ${r.peer.delivery.delivered} at ${k(r.peer.delivery.perSecond)}/s` +
      `${ratio(r.peer.delivery.limitRatio, r.delivery.limitPerSecond)}; lost ${r.peer.correctness.lost}, duplicates ${r.peer.correctness.duplicates}, ` +
      `bad signatures ${r.peer.correctness.badSignatures}; hookline ÷ peer ${r.peer.hooklineOverPeer.toFixed(2)}`
    : "";
  return (
    `  => ${lanes}ingest ${k(r.ingest.eventsPerSecond)} events/s${ratio(r.ingest.ratio, r.ingest.limitEventsPerSecond)}; ${delivery}` +
    `lost ${r.correctness.lost}, duplicates ${r.correctness.duplicates}, bad signatures ${r.correctness.badSignatures}; ` +
    `hookline cpu ${r.hookline.cpuPercent.toFixed(0)}%, peak rss ${r.hookline.peakRssMb.toFixed(0)} MB${peer}`
  );
}

/**
 * The steady scenario's pace: half of the deliveries per second `fast` reached in this round
 * (with the same workers), in events; undefined when fast did not run before it.
 */
function steadyRate(results: readonly ScenarioResult[], round: number, workers: number | undefined): number | undefined {
  const fast = results.find((r) => r.scenario === "fast" && r.round === round && r.workers === (workers ?? "default"));
  if (!fast || fast.events.acked === 0 || fast.delivery.perSecond === 0) return undefined;
  const deliveriesPerEvent = fast.delivery.expected / fast.events.acked;
  return (fast.delivery.perSecond / 2) / deliveriesPerEvent;
}

async function runScenarios(options: BenchOptions, argv: readonly string[]): Promise<number> {
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadavg();
  const fleet = await FleetClient.start(ROOT);
  const results: ScenarioResult[] = [];
  const errors: string[] = [];
  const runs = options.repeat * options.scenarios.length * options.workers.length;
  let n = 0;
  try {
    for (let round = 1; round <= options.repeat; round++) {
      for (const scenario of options.scenarios) {
        for (const workers of options.workers) {
          n++;
          const plan = planScenario(scenario, options.size, { ...options, steadyRate: steadyRate(results, round, workers) });
          log(`\n[${n}/${runs}] ${scenario}${workers === undefined ? "" : ` (workers ${workers})`}: ${plan.summary}; ${plan.tenants} tenants, ${plan.groups.reduce((s, g) => s + g.count, 0)} endpoints, ${plan.events} events`);
          try {
            const result = await runScenario({ root: ROOT, options, fleet, log }, plan, workers, round);
            results.push(result);
            log(oneLine(result));
            for (const f of result.failures) log(`  FAILED: ${f}`);
          } catch (err) {
            const message = `${scenario}${workers === undefined ? "" : ` (workers ${workers})`}: ${(err as Error).message}`;
            errors.push(message);
            log(`  ERROR: ${message}`);
          }
        }
      }
    }
  } finally {
    await fleet.shutdown();
  }
  const passed = errors.length === 0 && results.every((r) => r.failures.length === 0);
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    command: ["npm run bench", ...(argv.length ? ["--", ...argv] : [])].join(" "),
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", loadAverageAtStart },
    git: gitDescription(),
    options: { ...options },
    results,
    errors,
    passed,
  };
  const files = writeReport(RESULTS, options.name, report);
  log(`\n${markdownTables(rows(results))}\n`);
  log(`results: ${files.map((f) => f.slice(ROOT.length)).join(", ")}`);
  log(passed ? "PASS: no acked delivery lost, no bad signature" : "FAIL: see the notes in the Markdown report");
  return passed ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions | "help";
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (options === "help") {
    log(USAGE);
    return 0;
  }
  if (options.micro) return runMicro(ROOT, RESULTS, log);
  // The scenarios start the compiled server (bin/hookline.js runs dist/).
  buildDist();
  return runScenarios(options, argv);
}

process.exit(await main(process.argv.slice(2)));
