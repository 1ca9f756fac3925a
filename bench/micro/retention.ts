/**
 * Retention on SQLite: a sweep that prunes a backlog of old events (fan-out 5, one attempt
 * per delivery, 1% of the events still having an open delivery), per step size. Reports
 * how fast rows go and the longest the event loop was blocked while the sweep ran, which is
 * what a publish or an attempt arriving meanwhile would wait at worst.
 *
 *   node --import tsx bench/micro/retention.ts [events]
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type EventInput } from "../../src/core/types.ts";
import { createLogger } from "../../src/observability/logger.ts";
import type { HistoryStore } from "../../src/store/history-store.ts";
import { RetentionSweeper } from "../../src/store/retention.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { AttemptRecord } from "../../src/store/store.ts";
import { encodePayload } from "../lib/payload.ts";

const EVENTS = Number(process.argv[2] ?? 20_000);
const FAN_OUT = 5;
const STEPS = [50, 200, 1000];
const DAY_MS = 86_400_000;
const endpoints = Array.from({ length: FAN_OUT }, (_, i) => `ep_${String(i).padStart(26, "0")}`);

/** A store with EVENTS events two days old, their deliveries attempted once and succeeded but 1%. */
async function populate(dir: string): Promise<void> {
  const store = new SqliteStore({ dataDir: dir, sync: "normal" });
  const old = Date.now() - 2 * DAY_MS;
  const batch: EventInput[] = Array.from({ length: 1000 }, (_, i) => ({
    tenantId: "tnt_bench",
    type: "bench.event",
    payload: encodePayload({ seq: i, t: old }, 512),
    idempotencyKey: "",
    orderingKey: "",
    priority: 0,
  }));
  for (let done = 0; done < EVENTS; done += batch.length) await store.publish([batch.slice(0, Math.min(batch.length, EVENTS - done))], () => endpoints, old, DAY_MS);
  for (let n = 0; ; n++) {
    const claimed = (await store.claim(endpoints.map((endpointId) => ({ endpointId, limit: 1000, ordered: false })), Date.now())).flatMap((r) => r.claimed);
    if (claimed.length === 0) break;
    // Every 100th claimed delivery is left open (RETRYING): its event must survive the sweep.
    const records = claimed.map((c, i): AttemptRecord => ({
      status: i % 100 === 0 ? DeliveryStatus.Retrying : DeliveryStatus.Succeeded,
      nextAttemptMs: i % 100 === 0 ? Date.now() + DAY_MS : 0,
      attempt: { id: newId("att"), deliveryId: c.deliveryId, number: 1, startedMs: old, durationMs: 5, statusCode: 200, error: "", responseBody: new Uint8Array() },
    }));
    await store.complete(records, { disable: new Map(), failingSince: new Map() }, old);
  }
  store.db.pragma("wal_checkpoint(TRUNCATE)");
  await store.close();
}

const template = mkdtempSync(join(tmpdir(), "hookline-retention-"));
try {
  const started = performance.now();
  await populate(template);
  process.stdout.write(`populated ${EVENTS.toLocaleString("en-US")} events, ${(EVENTS * FAN_OUT).toLocaleString("en-US")} deliveries and attempts in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  for (const step of STEPS) {
    const dir = mkdtempSync(join(tmpdir(), "hookline-retention-"));
    cpSync(template, dir, { recursive: true });
    // The default: every commit fsynced, as in production.
    const store = new SqliteStore({ dataDir: dir, sync: "full" });
    // Each step's wall and CPU time: on a shared machine the wall time includes waiting for a core.
    const stepMs = { wall: 0, cpu: 0, cpuTotal: 0, steps: 0 };
    const history: HistoryStore = {
      listEvents: (...args) => store.history.listEvents(...args),
      async prune(...args) {
        const wall = performance.now();
        const cpu = process.cpuUsage();
        const result = await store.history.prune(...args);
        const used = process.cpuUsage(cpu);
        stepMs.wall = Math.max(stepMs.wall, performance.now() - wall);
        stepMs.cpu = Math.max(stepMs.cpu, (used.user + used.system) / 1000);
        stepMs.cpuTotal += (used.user + used.system) / 1000;
        stepMs.steps++;
        return result;
      },
    };
    const sweeper = new RetentionSweeper({ history, windowMs: DAY_MS, intervalMs: 60_000, batch: step, now: Date.now, logger: createLogger("silent") });
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const t0 = performance.now();
    const totals = await sweeper.sweep();
    const seconds = (performance.now() - t0) / 1000;
    loop.disable();
    const rows = totals.events + totals.deliveries + totals.attempts;
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    process.stdout.write(
      `step ${String(step).padStart(4)} events: ${totals.events.toLocaleString("en-US")} events pruned (${totals.kept} kept open), ` +
        `${Math.round(rows / seconds).toLocaleString("en-US")} rows/s, sweep ${seconds.toFixed(1)} s, ` +
        `event-loop block max ${ms(loop.max)} ms; longest step ${stepMs.wall.toFixed(1)} ms wall, ${stepMs.cpu.toFixed(1)} ms CPU; ` +
        `mean step ${(stepMs.cpuTotal / stepMs.steps).toFixed(1)} ms CPU\n`,
    );
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  rmSync(template, { recursive: true, force: true });
}
