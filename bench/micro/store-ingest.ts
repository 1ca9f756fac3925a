/** SqliteStore.publish: events (with their fan-out delivery rows) stored per second, by batch size. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventInput } from "../../src/core/types.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { encodePayload } from "../lib/payload.ts";
import { emit, opsPerSecond } from "./lib.ts";

const FAN_OUT = 5;
const endpoints = Array.from({ length: FAN_OUT }, (_, i) => `ep_${String(i).padStart(26, "0")}`);
const fanOut = (): readonly string[] => endpoints;

for (const sync of ["full", "normal"] as const) {
  for (const batch of [200, 2000]) {
    const dir = mkdtempSync(join(tmpdir(), "hookline-micro-"));
    const store = new SqliteStore({ dataDir: dir, sync });
    try {
      const events: EventInput[] = Array.from({ length: batch }, (_, i) => ({
        tenantId: "tnt_bench",
        type: "bench.event",
        payload: encodePayload({ seq: i, t: Date.now() }, 512),
        idempotencyKey: "",
        orderingKey: "",
        priority: 0,
      }));
      // Bounded so the database stays a realistic size: at most 100k events per case.
      const perSecond = await opsPerSecond(
        async () => {
          await store.publish([events], fanOut, Date.now(), 86_400_000);
          return batch;
        },
        { maxOps: 100_000 },
      );
      emit({ bench: "store-ingest", case: `sync=${sync}, ${batch} events/commit, fan-out ${FAN_OUT}`, opsPerSecond: perSecond, unit: "events" });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
