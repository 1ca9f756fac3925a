/**
 * Ingest limit: hookline's own schema (src/store/sqlite/migrations.ts) and pragmas, filled
 * with plain batched inserts: per event one events row and one deliveries row per endpoint,
 * one transaction per batch. No RPC, validation or id generation in the timed loop.
 * Reads SqliteIngestConfig on stdin.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { migrate } from "../../src/store/sqlite/migrations.ts";
import { exitWithParent, readJsonInput, send } from "../lib/child.ts";
import { encodePayload } from "../lib/payload.ts";
import type { SqliteIngestConfig, SqliteIngestDone } from "../lib/protocol.ts";

const config = await readJsonInput<SqliteIngestConfig>();
exitWithParent();

const db = new Database(join(config.dataDir, "baseline.db"));
db.pragma("journal_mode = WAL");
db.pragma(`synchronous = ${config.sync === "normal" ? "NORMAL" : "FULL"}`);
db.pragma("foreign_keys = OFF");
db.pragma("cache_size = -65536");
migrate(db);

const insertEvent = db.prepare(
  "INSERT INTO events (id, tenant_id, type, payload, idempotency_key, ordering_key, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
);
const insertDelivery = db.prepare(
  `INSERT INTO deliveries (id, event_id, endpoint_id, tenant_id, event_type, ordering_key, status, cycle_start_ms, next_attempt_ms, created_ms, updated_ms)
   VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
);

// Ids as long as hookline's (prefix + 26 characters), prepared before the clock starts.
const pad = (prefix: string, n: number): string => `${prefix}_${String(n).padStart(26, "0")}`;
const endpointIds = Array.from({ length: config.deliveriesPerEvent }, (_, i) => pad("ep", i));
const payloads = Array.from({ length: Math.min(config.events, 1024) }, (_, i) => encodePayload({ seq: i, t: Date.now() }, config.payloadBytes));

const insertBatch = db.transaction((first: number, count: number, nowMs: number) => {
  for (let seq = first; seq < first + count; seq++) {
    const eventId = pad("evt", seq);
    insertEvent.run(eventId, "tnt_bench", "bench.event", payloads[seq % payloads.length], "", "", nowMs);
    for (let e = 0; e < endpointIds.length; e++) {
      insertDelivery.run(pad("dlv", seq * endpointIds.length + e), eventId, endpointIds[e], "tnt_bench", "bench.event", "", nowMs, nowMs, nowMs, nowMs);
    }
  }
});

const started = performance.now();
for (let first = 0; first < config.events; first += config.batch) insertBatch(first, Math.min(config.batch, config.events - first), Date.now());
const seconds = (performance.now() - started) / 1000;
db.close();

const rows = config.events * (1 + config.deliveriesPerEvent);
const done: SqliteIngestDone = {
  type: "done",
  events: config.events,
  rows,
  seconds,
  eventsPerSecond: config.events / seconds,
  rowsPerSecond: rows / seconds,
};
send(done as unknown as Record<string, unknown>);
