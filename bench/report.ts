/** Writes a bench run as JSON (every run), Markdown (medians per scenario) and an SVG chart. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatMs, median } from "./lib/samples.ts";
import type { BenchReport, PeerResult, PriorityResult, ScenarioResult } from "./results.ts";

/** Results of one scenario and worker count, merged over --repeat rounds. */
export interface Row {
  scenario: string;
  workers: number | "default";
  rounds: ScenarioResult[];
  summary: string;
  /** Medians over rounds. */
  ingestPerSecond: number;
  ingestLimit: number;
  ingestRatio: number;
  eventsPerCommit: number;
  deliveredPerSecond: number;
  deliveryLimit: number;
  deliveryRatio: number;
  p50: number;
  p95: number;
  p99: number;
  cpuPercent: number;
  cpuUsPerDelivery: number;
  limitCpuUsPerDelivery: number;
  peakRssMb: number;
  loopDelayP99: number;
  loopDelayMax: number;
  /** Sums over rounds. */
  acked: number;
  delivered: number;
  lost: number;
  duplicates: number;
  badSignatures: number;
  orderViolations: number;
  orderOverlaps: number;
  /** The priority scenario, medians over rounds. */
  priority: PriorityRow | undefined;
  /** --peers: the BullMQ peer, medians over rounds. */
  peer: PeerRow | undefined;
}

export interface PeerRow {
  setup: string;
  ingestPerSecond: number;
  deliveredPerSecond: number;
  limitRatio: number;
  /** hookline's delivered/s ÷ the peer's. */
  hooklineOverPeer: number;
  cpuUsPerDelivery: number;
  /** Sums over rounds. */
  delivered: number;
  lost: number;
  duplicates: number;
  badSignatures: number;
}

export interface PriorityRow {
  trickleEvents: number;
  trickleP50: number;
  trickleP95: number;
  trickleP99: number;
  backlogDeliveries: number;
  backlogP50: number;
  backlogP95: number;
  backlogP99: number;
  backlogDrainSeconds: number;
  backlogQueuedAtTrickleEnd: number;
}

export function rows(results: readonly ScenarioResult[]): Row[] {
  const groups = new Map<string, ScenarioResult[]>();
  for (const r of results) {
    const key = `${r.scenario}\u0000${r.workers}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  return [...groups.values()].map((rounds) => {
    const first = rounds[0] as ScenarioResult;
    const med = (f: (r: ScenarioResult) => number): number => median(rounds.map(f));
    const sum = (f: (r: ScenarioResult) => number): number => rounds.reduce((n, r) => n + f(r), 0);
    const lanes = rounds.flatMap((r) => (r.priority ? [r.priority] : []));
    const lane = (f: (p: PriorityResult) => number): number => median(lanes.map(f));
    const peers = rounds.flatMap((r) => (r.peer ? [r.peer] : []));
    const peer = (f: (p: PeerResult) => number): number => median(peers.map(f));
    const peerSum = (f: (p: PeerResult) => number): number => peers.reduce((n, p) => n + f(p), 0);
    return {
      scenario: first.scenario,
      workers: first.workers,
      rounds,
      summary: first.summary,
      ingestPerSecond: med((r) => r.ingest.eventsPerSecond),
      ingestLimit: med((r) => r.ingest.limitEventsPerSecond),
      ingestRatio: med((r) => r.ingest.ratio),
      eventsPerCommit: med((r) => r.ingest.eventsPerCommit),
      deliveredPerSecond: med((r) => r.delivery.perSecond),
      deliveryLimit: med((r) => r.delivery.limitPerSecond),
      deliveryRatio: med((r) => r.delivery.ratio),
      p50: med((r) => r.latencyMs.p50),
      p95: med((r) => r.latencyMs.p95),
      p99: med((r) => r.latencyMs.p99),
      cpuPercent: med((r) => r.hookline.cpuPercent),
      cpuUsPerDelivery: med((r) => r.hookline.cpuUsPerDelivery),
      limitCpuUsPerDelivery: med((r) => r.limitCpuUsPerDelivery),
      peakRssMb: Math.max(...rounds.map((r) => r.hookline.peakRssMb)),
      loopDelayP99: med((r) => r.hookline.eventLoopDelayMs.medianP99),
      loopDelayMax: Math.max(...rounds.map((r) => r.hookline.eventLoopDelayMs.max)),
      acked: sum((r) => r.events.acked),
      delivered: sum((r) => r.delivery.delivered),
      lost: sum((r) => r.correctness.lost),
      duplicates: sum((r) => r.correctness.duplicates),
      badSignatures: sum((r) => r.correctness.badSignatures),
      orderViolations: sum((r) => r.correctness.orderViolations),
      orderOverlaps: sum((r) => r.correctness.orderOverlaps),
      priority:
        lanes.length === 0
          ? undefined
          : {
              trickleEvents: lane((p) => p.trickle.acked),
              trickleP50: lane((p) => p.trickle.latencyMs.p50),
              trickleP95: lane((p) => p.trickle.latencyMs.p95),
              trickleP99: lane((p) => p.trickle.latencyMs.p99),
              backlogDeliveries: lane((p) => p.backlog.expected),
              backlogP50: lane((p) => p.backlog.latencyMs.p50),
              backlogP95: lane((p) => p.backlog.latencyMs.p95),
              backlogP99: lane((p) => p.backlog.latencyMs.p99),
              backlogDrainSeconds: lane((p) => p.backlog.drainSeconds),
              backlogQueuedAtTrickleEnd: lane((p) => p.backlogQueuedAtTrickleEnd),
            },
      peer:
        peers.length === 0
          ? undefined
          : {
              setup: (peers[0] as PeerResult).setup,
              ingestPerSecond: peer((p) => p.ingestEventsPerSecond),
              deliveredPerSecond: peer((p) => p.delivery.perSecond),
              limitRatio: peer((p) => p.delivery.limitRatio),
              hooklineOverPeer: peer((p) => p.hooklineOverPeer),
              cpuUsPerDelivery: peer((p) => p.cpuUsPerDelivery),
              delivered: peerSum((p) => p.delivery.delivered),
              lost: peerSum((p) => p.correctness.lost),
              duplicates: peerSum((p) => p.correctness.duplicates),
              badSignatures: peerSum((p) => p.correctness.badSignatures),
            },
    };
  });
}

const n0 = (v: number): string => (v === 0 ? "–" : Math.round(v).toLocaleString("en-US"));
const rate = (v: number): string => (v === 0 ? "–" : v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : Math.round(v).toLocaleString("en-US"));
const pct = (v: number): string => (v === 0 ? "–" : `${(v * 100).toFixed(0)}%`);
const ms = formatMs;
const label = (r: Row): string => (r.workers === "default" ? r.scenario : `${r.scenario} (workers ${r.workers})`);

/** The tables of a run, also pasted into docs/benchmarks.md. */
export function markdownTables(list: readonly Row[]): string {
  const lines: string[] = [];
  lines.push("| scenario | events acked | deliveries | ingest events/s | ingest limit | ratio | delivered/s | delivery limit | ratio |");
  lines.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of list) {
    const deliveries = r.scenario === "ingest";
    lines.push(
      `| ${label(r)} | ${n0(r.acked)} | ${deliveries ? "–" : n0(r.delivered)} | ${rate(r.ingestPerSecond)} | ${rate(r.ingestLimit)} | ${pct(r.ingestRatio)} | ` +
        `${deliveries ? "–" : rate(r.deliveredPerSecond)} | ${deliveries ? "–" : rate(r.deliveryLimit)} | ${deliveries ? "–" : pct(r.deliveryRatio)} |`,
    );
  }
  lines.push("");
  lines.push(
    "| scenario | e2e p50 | p95 | p99 | duplicates | lost | bad signatures | order violations | hookline CPU | CPU µs/delivery (blast) | event-loop delay p99 / max | peak RSS |",
  );
  lines.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of list) {
    const deliveries = r.scenario !== "ingest";
    // A held-back backlog's latency is mostly the hold (priority: see its own table).
    const latency = deliveries && r.scenario !== "backlog" && r.scenario !== "priority";
    lines.push(
      `| ${label(r)} | ${latency ? ms(r.p50) : "–"} | ${latency ? ms(r.p95) : "–"} | ${latency ? ms(r.p99) : "–"} | ${r.duplicates} | ${r.lost} | ${r.badSignatures} | ` +
        `${r.scenario === "ordered" ? `${r.orderViolations} (+${r.orderOverlaps} overlaps)` : "–"} | ${r.cpuPercent.toFixed(0)}% | ` +
        `${deliveries ? `${r.cpuUsPerDelivery.toFixed(0)} (${r.limitCpuUsPerDelivery > 0 ? r.limitCpuUsPerDelivery.toFixed(0) : "–"})` : "–"} | ` +
        `${ms(r.loopDelayP99)} / ${ms(r.loopDelayMax)} | ${r.peakRssMb.toFixed(0)} MB |`,
    );
  }
  const lanes = list.filter((r) => r.priority);
  if (lanes.length > 0) {
    lines.push("");
    lines.push(
      "| scenario | trickle events | trickle e2e p50 | p95 | p99 | backlog deliveries | backlog e2e p50 (incl. hold) | p95 | p99 | backlog drain from release | backlog still queued when the trickle finished |",
    );
    lines.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const r of lanes) {
      const p = r.priority as PriorityRow;
      lines.push(
        `| ${label(r)} | ${n0(p.trickleEvents)} | ${ms(p.trickleP50)} | ${ms(p.trickleP95)} | ${ms(p.trickleP99)} | ${n0(p.backlogDeliveries)} | ` +
          `${ms(p.backlogP50)} | ${ms(p.backlogP95)} | ${ms(p.backlogP99)} | ${ms(p.backlogDrainSeconds * 1000)} | ${n0(p.backlogQueuedAtTrickleEnd)} |`,
      );
    }
  }
  const peers = list.filter((r) => r.peer);
  if (peers.length > 0) {
    lines.push("");
    lines.push(
      "| scenario | hookline delivered/s | BullMQ peer delivered/s | ÷ BullMQ peer | delivery limit | hookline ÷ limit | peer ÷ limit | " +
        "hookline ingest events/s | peer ingest events/s | peer deliveries | peer lost | peer duplicates | peer bad signatures | CPU µs/delivery hookline (peer) |",
    );
    lines.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const r of peers) {
      const p = r.peer as PeerRow;
      lines.push(
        `| ${label(r)} | ${rate(r.deliveredPerSecond)} | ${rate(p.deliveredPerSecond)} | ${p.hooklineOverPeer > 0 ? `${p.hooklineOverPeer.toFixed(2)}×` : "–"} | ` +
          `${rate(r.deliveryLimit)} | ${pct(r.deliveryRatio)} | ${pct(p.limitRatio)} | ${rate(r.ingestPerSecond)} | ${rate(p.ingestPerSecond)} | ` +
          `${n0(p.delivered)} | ${p.lost} | ${p.duplicates} | ${p.badSignatures} | ${r.cpuUsPerDelivery.toFixed(0)} (${p.cpuUsPerDelivery.toFixed(0)}) |`,
      );
    }
  }
  return lines.join("\n");
}

function notes(list: readonly Row[]): string[] {
  const out: string[] = [];
  const fast = list.filter((r) => r.scenario === "fast");
  for (const r of list) {
    if (r.scenario === "isolation") {
      const same = fast.find((f) => f.workers === r.workers);
      // Ratios to each run's own limit cancel most of the machine's noise between the two runs.
      if (same && same.deliveredPerSecond > 0)
        out.push(
          `${label(r)}: healthy endpoints got ${rate(r.deliveredPerSecond)}/s (${pct(r.deliveryRatio)} of their limit) while the timing-out ones were retried; ` +
            `the fast fleet alone got ${rate(same.deliveredPerSecond)}/s (${pct(same.deliveryRatio)} of its limit).`,
        );
    }
    if (r.scenario === "ingest" && r.eventsPerCommit > 0) out.push(`${label(r)}: hookline committed ${r.eventsPerCommit.toFixed(0)} events per group commit on average.`);
    const roundNotes = new Set(r.rounds.flatMap((x) => [...x.notes, ...x.failures.map((f) => `FAILED: ${f}`)]));
    for (const n of roundNotes) out.push(`${label(r)}: ${n}`);
  }
  return out;
}

/** What the run's ingest limit wrote: it follows the backend under test. */
function ingestLimitText(report: BenchReport): string {
  return report.results.some((r) => r.ingest.limitKind === "jetstream-publishes")
    ? "raw async publishes of the same payloads, one message per event, 1,000 awaiting their ack, to a fresh nats-server configured like hookline's (same `sync_interval`)"
    : "raw batched SQLite inserts of the same rows (hookline's schema, WAL, same synchronous mode, same batch size)";
}

/** What the BullMQ peer is, when the run has one. */
function peerIntro(list: readonly Row[]): string[] {
  const setup = list.find((r) => r.peer)?.peer?.setup;
  if (!setup) return [];
  return [
    `*BullMQ peer* (\`--peers\`): the same events to the same fleet through ${setup}; counted by the fleet like hookline. ` +
      "Redis acks an add before its fsync (everysec: up to a second of acked jobs can be lost on a crash), hookline after its fsync'd commit.",
    "",
  ];
}

export function markdown(report: BenchReport): string {
  const list = rows(report.results);
  const scenarios = new Map(list.map((r) => [r.scenario, r.summary]));
  return [
    `# hookline benchmark`,
    "",
    `${report.startedAt} · \`${report.command}\` · Node ${report.machine.node} · ${report.machine.cpus} × ${report.machine.cpuModel} · ` +
      `load average at start ${report.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(" ")} · git ${report.git}`,
    "",
    report.passed ? "**PASS**: no acked delivery lost, no bad signature." : "**FAIL**: see the notes below.",
    "",
    "Limits are measured in the same run right after each scenario: *delivery limit* = a raw undici blast of the same signed " +
      `POSTs at the same fleet with hookline's concurrency; *ingest limit* = ${ingestLimitText(report)}. ` +
      "On a shared 2-core machine compare ratios, not absolute numbers.",
    "",
    ...peerIntro(list),
    markdownTables(list),
    "",
    "Scenarios:",
    "",
    ...[...scenarios].map(([name, summary]) => `- **${name}**: ${summary}`),
    "",
    "Notes:",
    "",
    ...report.errors.map((e) => `- ERROR: ${e}`),
    ...notes(list).map((n) => `- ${n}`),
    "",
  ].join("\n");
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Grouped horizontal bars per scenario: hookline (blue) above its limit (grey), on a per-row scale. */
export function svg(report: BenchReport): string {
  const list = rows(report.results).filter((r) => (r.scenario === "ingest" ? r.ingestLimit : r.deliveryLimit) > 0);
  const width = 800;
  const labelWidth = 190;
  const barWidth = 360;
  const withPeer = list.some((r) => r.peer);
  const rowHeight = withPeer ? 64 : 48;
  const top = 56;
  const height = top + list.length * rowHeight + 36;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">hookline vs its limit, measured in the same run</text>`,
    `<text x="12" y="40" fill="#555">delivered/s (ingest: events/s); each row has its own scale</text>`,
  ];
  list.forEach((r, i) => {
    const y = top + i * rowHeight;
    const ingest = r.scenario === "ingest";
    const value = ingest ? r.ingestPerSecond : r.deliveredPerSecond;
    const limit = ingest ? r.ingestLimit : r.deliveryLimit;
    const peer = r.peer?.deliveredPerSecond ?? 0;
    const scale = barWidth / Math.max(value, limit, peer);
    parts.push(
      `<text x="12" y="${y + 22}">${esc(label(r))}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${(value * scale).toFixed(1)}" height="15" fill="#2f6fb0"/>`,
      `<rect x="${labelWidth}" y="${y + 21}" width="${(limit * scale).toFixed(1)}" height="15" fill="#bdbdbd"/>`,
      `<text x="${labelWidth + barWidth + 10}" y="${y + 16}">${rate(value)}/s (${pct(value / limit)})</text>`,
      `<text x="${labelWidth + barWidth + 10}" y="${y + 33}" fill="#555">${rate(limit)}/s</text>`,
    );
    if (peer > 0)
      parts.push(
        `<rect x="${labelWidth}" y="${y + 38}" width="${(peer * scale).toFixed(1)}" height="15" fill="#e08a2c"/>`,
        `<text x="${labelWidth + barWidth + 10}" y="${y + 50}" fill="#555">${rate(peer)}/s (hookline ${(value / peer).toFixed(2)}×)</text>`,
      );
  });
  const legendY = top + list.length * rowHeight + 8;
  parts.push(
    `<rect x="${labelWidth}" y="${legendY}" width="14" height="14" fill="#2f6fb0"/><text x="${labelWidth + 20}" y="${legendY + 12}">hookline</text>`,
    `<rect x="${labelWidth + 100}" y="${legendY}" width="14" height="14" fill="#bdbdbd"/><text x="${labelWidth + 120}" y="${legendY + 12}">limit: undici blast (delivery) / raw ${list.some((r) => r.rounds.some((x) => x.ingest.limitKind === "jetstream-publishes")) ? "JetStream publishes" : "SQLite inserts"} (ingest)</text>`,
  );
  if (withPeer)
    parts.push(`<rect x="12" y="${legendY}" width="14" height="14" fill="#e08a2c"/><text x="32" y="${legendY + 12}">BullMQ peer</text>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

export function writeReport(dir: string, name: string, report: BenchReport): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, `${name}.json`), join(dir, `${name}.md`), join(dir, `${name}.svg`)];
  writeFileSync(files[0] as string, JSON.stringify(report, null, 2) + "\n");
  writeFileSync(files[1] as string, markdown(report));
  writeFileSync(files[2] as string, svg(report));
  return files;
}
