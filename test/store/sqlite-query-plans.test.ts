import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { newId } from "../../src/core/ids.ts";
import { DeliveryStatus } from "../../src/core/types.ts";
import type { EventFilter } from "../../src/store/history-store.ts";
import { PRUNE_SQL } from "../../src/store/sqlite/history-store.ts";
import { deliveriesQuery, eventsQuery, type Query } from "../../src/store/sqlite/list-queries.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { DeliveryFilter } from "../../src/store/store.ts";
import { tempDir } from "../helpers/server.ts";

const dir = tempDir("hookline-plans-");
const store = new SqliteStore({ dataDir: dir });
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The lines of SQLite's query plan that read a table or index. */
function plan({ sql, params }: Query): string[] {
  const rows = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
  return rows.map((r) => r.detail);
}

/**
 * A page must not sort (temp b-tree) nor read a table outside the index that serves it.
 * Admin lists by status alone or by type alone read the id index and skip rows that do not
 * match: not indexed on purpose (see migrations.ts); every other shape is one index range.
 */
function expectIndexed(lines: string[], table: string, index: string): void {
  expect(lines.join("\n")).not.toMatch(/TEMP B-TREE/);
  const reads = lines.filter((l) => new RegExp(`^(SCAN|SEARCH) ${table}\\b`).test(l));
  expect(reads.length).toBeGreaterThan(0);
  for (const read of reads) expect(read).toMatch(new RegExp(`USING (COVERING )?INDEX ${index}\\b`));
}

const eventId = newId("evt");
const afterId = `dlv_${eventId.slice(4)}000`;
const window = { startMs: Date.now() - 3_600_000, endMs: Date.now() };

describe("ListDeliveries query plans", () => {
  const shapes: { name: string; filter: DeliveryFilter; after: string | undefined; index: string }[] = [];
  for (const tenantId of ["", "tnt_x"])
    for (const endpointId of ["", "ep_x"])
      for (const byEvent of [false, true])
        for (const statuses of [[], [DeliveryStatus.Dead], [DeliveryStatus.Pending, DeliveryStatus.Retrying]])
          for (const timed of [false, true])
            for (const after of [undefined, afterId]) {
              const filter: DeliveryFilter = { tenantId, endpointId, eventId: byEvent ? eventId : "", statuses, ...(timed && window) };
              const index = byEvent
                ? "sqlite_autoindex_deliveries_1"
                : endpointId !== ""
                  ? "deliveries_by_endpoint_status"
                  : tenantId !== ""
                    ? "deliveries_by_tenant_status"
                    : "sqlite_autoindex_deliveries_1";
              const name = `tenant=${tenantId !== ""} endpoint=${endpointId !== ""} event=${byEvent} statuses=${statuses.length} window=${timed} token=${after !== undefined}`;
              shapes.push({ name, filter, after, index });
            }

  it.each(shapes)("$name reads $index in id order", ({ filter, after, index }) => {
    expectIndexed(plan(deliveriesQuery(filter, after, 101)), "deliveries", index);
  });
});

describe("ListEvents query plans", () => {
  const shapes: { name: string; filter: EventFilter; after: string | undefined; index: string }[] = [];
  for (const tenantId of ["", "tnt_x"])
    for (const type of ["", "invoice.paid"])
      for (const timed of [false, true])
        for (const after of [undefined, eventId]) {
          const index =
            tenantId !== "" && type !== ""
              ? "events_by_tenant_type"
              : tenantId !== ""
                ? "events_by_tenant"
                : "sqlite_autoindex_events_1";
          const name = `tenant=${tenantId !== ""} type=${type !== ""} window=${timed} token=${after !== undefined}`;
          shapes.push({ name, filter: { tenantId, type, ...(timed && window) }, after, index });
        }

  it.each(shapes)("$name reads $index in id order", ({ filter, after, index }) => {
    expectIndexed(plan(eventsQuery(filter, after, 101)), "events", index);
  });
});

describe("retention query plans", () => {
  const [first, last] = [`dlv_${eventId.slice(4)}000`, `dlv_${eventId.slice(4)}ZZZ`];
  it.each([
    { name: "old events", q: { sql: PRUNE_SQL.oldEvents, params: ["", eventId, 200] }, table: "events", index: "sqlite_autoindex_events_1" },
    { name: "open delivery check", q: { sql: PRUNE_SQL.openDelivery, params: [first, last] }, table: "deliveries", index: "sqlite_autoindex_deliveries_1" },
    { name: "attempts delete", q: { sql: PRUNE_SQL.deleteAttempts, params: [first, last] }, table: "attempts", index: "attempts_by_delivery" },
    { name: "deliveries delete", q: { sql: PRUNE_SQL.deleteDeliveries, params: [first, last] }, table: "deliveries", index: "sqlite_autoindex_deliveries_1" },
    { name: "event delete", q: { sql: PRUNE_SQL.deleteEvent, params: [eventId] }, table: "events", index: "sqlite_autoindex_events_1" },
  ])("$name reads $index", ({ q, table, index }) => {
    expectIndexed(plan(q), table, index);
  });
});
