/**
 * What the list indexes of migration 3 cost on the hot path: SqliteStore.publish (fan-out 5)
 * and claim + complete (a state change rewrites every index holding status), with the
 * indexes of migration 3, with the two delivery indexes it replaced, and with the two
 * admin-only indexes it leaves out. The schemas take
 * turns (ABAB…) so that a loaded machine's drift hits both alike; the median is reported.
 *
 *   node --import tsx bench/micro/list-indexes.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type EventInput } from "../../src/core/types.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { AttemptRecord } from "../../src/store/store.ts";
import { encodePayload } from "../lib/payload.ts";
import { emit, opsPerSecond } from "./lib.ts";

const FAN_OUT = 5;
const ROUNDS = 3;
const endpoints = Array.from({ length: FAN_OUT }, (_, i) => `ep_${String(i).padStart(26, "0")}`);

/** The delivery and event indexes as they were before migration 3. */
const BEFORE = `
  DROP INDEX deliveries_by_endpoint_status;
  DROP INDEX deliveries_by_tenant_status;
  DROP INDEX events_by_tenant;
  DROP INDEX events_by_tenant_type;
  CREATE INDEX deliveries_by_endpoint ON deliveries(endpoint_id, status, created_ms);
  CREATE INDEX deliveries_by_tenant ON deliveries(tenant_id, id);`;

/** With the two indexes that only admin lists would use (deliveries by status alone, events by type alone). */
const WITH_ADMIN_ONLY = `
  CREATE INDEX deliveries_by_status ON deliveries(status, id);
  CREATE INDEX events_by_type ON events(type, id);`;

const schemas = { "before migration 3": BEFORE, "with migration 3": "", "migration 3 + (status, id), (type, id)": WITH_ADMIN_ONLY } as const;
type Schema = keyof typeof schemas;

async function measure(schema: Schema): Promise<{ publish: number; complete: number }> {
  const dir = mkdtempSync(join(tmpdir(), "hookline-micro-"));
  const store = new SqliteStore({ dataDir: dir, sync: "normal" });
  try {
    if (schemas[schema] !== "") store.db.exec(schemas[schema]);
    const events: EventInput[] = Array.from({ length: 200 }, (_, i) => ({
      tenantId: `tnt_${i % 10}`,
      type: `bench.event${i % 4}`,
      payload: encodePayload({ seq: i, t: 0 }, 512),
      idempotencyKey: "",
      orderingKey: "",
      priority: 0,
    }));
    const publish = await opsPerSecond(
      async () => {
        await store.publish([events], () => endpoints, Date.now(), 86_400_000);
        return events.length;
      },
      { maxOps: 60_000 },
    );
    const requests = endpoints.map((endpointId) => ({ endpointId, limit: 64, ordered: false }));
    const complete = await opsPerSecond(async () => {
      const now = Date.now();
      const claimed = (await store.claim(requests, now)).flatMap((r) => r.claimed);
      const records = claimed.map(
        (c): AttemptRecord => ({
          status: DeliveryStatus.Succeeded,
          nextAttemptMs: 0,
          attempt: { id: newId("att", now), deliveryId: c.deliveryId, number: 1, startedMs: now, durationMs: 1, statusCode: 200, error: "", responseBody: new Uint8Array() },
        }),
      );
      await store.complete(records, { disable: new Map(), failingSince: new Map() }, now);
      return Math.max(1, claimed.length);
    });
    return { publish, complete };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const results = new Map<Schema, { publish: number[]; complete: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const schema of Object.keys(schemas) as Schema[]) {
    const r = await measure(schema);
    const acc = results.get(schema) ?? { publish: [], complete: [] };
    acc.publish.push(r.publish);
    acc.complete.push(r.complete);
    results.set(schema, acc);
  }
}
for (const [schema, r] of results) {
  emit({ bench: "list-indexes", case: `publish, ${schema}, 200 events/commit, fan-out ${FAN_OUT}`, opsPerSecond: median(r.publish), unit: "events" });
  emit({ bench: "list-indexes", case: `claim + complete, ${schema}`, opsPerSecond: median(r.complete), unit: "deliveries" });
}
