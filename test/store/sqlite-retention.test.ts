import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type EventInput } from "../../src/core/types.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { RetentionSweeper } from "../../src/store/retention.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { AttemptRecord } from "../../src/store/store.ts";
import { tempDir } from "../helpers/server.ts";

const DAY_MS = 86_400_000;
const dir = tempDir("hookline-retention-");
const store = new SqliteStore({ dataDir: dir });
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const input = (type: string): EventInput => ({ tenantId: "tnt_a", type, payload: new TextEncoder().encode("{}"), idempotencyKey: "", orderingKey: "", priority: 0 });
const noChanges = { disable: new Map<string, string>(), failingSince: new Map<string, number>() };

/** Claims every due delivery of the endpoint and records one attempt with this outcome. */
async function attemptAll(endpointId: string, status: DeliveryStatus, atMs: number): Promise<void> {
  const { claimed } = (await store.claim([{ endpointId, limit: 1000, ordered: false }], Date.now()))[0]!;
  const records = claimed.map(
    (c): AttemptRecord => ({
      status,
      nextAttemptMs: status === DeliveryStatus.Retrying ? Date.now() + DAY_MS : 0,
      attempt: { id: newId("att"), deliveryId: c.deliveryId, number: 1, startedMs: atMs, durationMs: 1, statusCode: 500, error: "", responseBody: new Uint8Array() },
    }),
  );
  await store.complete(records, noChanges, atMs);
}

describe("retention on the SQLite store (in process)", () => {
  it("prunes in steps of at most the batch size, keeps events with an open delivery, and leaves younger events alone", async () => {
    const old = Date.now() - 3 * DAY_MS;
    // 25 old events to two endpoints; "ep_b" keeps the deliveries of the "keep" events open.
    const batch = Array.from({ length: 25 }, (_, i) => input(i % 5 === 0 ? "keep" : "done"));
    const [published] = await store.publish([batch], (_t, type) => (type === "keep" ? ["ep_a", "ep_b"] : ["ep_a"]), old, DAY_MS);
    const [young] = await store.publish([[input("done")]], () => ["ep_a"], Date.now(), DAY_MS);
    await attemptAll("ep_a", DeliveryStatus.Succeeded, old);
    await attemptAll("ep_b", DeliveryStatus.Retrying, old);

    const steps: number[] = [];
    const sweeper = new RetentionSweeper({
      history: {
        listEvents: (...args) => store.history.listEvents(...args),
        prune: async (...args) => {
          const step = await store.history.prune(...args);
          steps.push(step.events + step.kept);
          return step;
        },
      },
      windowMs: DAY_MS,
      intervalMs: 60_000,
      batch: 10,
      now: Date.now,
      logger: createLogger("silent"),
    });
    const totals = await sweeper.sweep();

    expect(totals).toEqual({ events: 20, deliveries: 20, attempts: 20, kept: 5 });
    expect(Math.max(...steps)).toBeLessThanOrEqual(10);
    const ids = published!.map((r) => r.eventId);
    const kept = ids.filter((_, i) => i % 5 === 0);
    const listed = (await store.history.listEvents({ tenantId: "tnt_a", type: "" }, undefined, 100)).map((e) => e.id);
    expect(listed).toEqual([young![0]!.eventId, ...kept.reverse()]);
    // A kept event keeps all its deliveries and their attempts, the finished one too.
    for (const id of kept) {
      const deliveries = await store.listDeliveries({ tenantId: "", endpointId: "", eventId: id, statuses: [] }, undefined, 10);
      expect(deliveries.map((d) => d.status).sort()).toEqual([DeliveryStatus.Succeeded, DeliveryStatus.Retrying]);
      for (const d of deliveries) expect(await store.listAttempts(d.id, undefined, 10)).toHaveLength(1);
    }
    expect(await store.getEvent(ids[1]!)).toBeUndefined();
    expect(await store.getDelivery(`dlv_${ids[1]!.slice(4)}000`)).toBeUndefined();

    // Once the open deliveries are finished (their retry fails for good), the next sweep takes their events too.
    const retried = await store.claim([{ endpointId: "ep_b", limit: 1000, ordered: false }], Date.now() + 2 * DAY_MS);
    const records = retried[0]!.claimed.map(
      (c): AttemptRecord => ({
        status: DeliveryStatus.Dead,
        nextAttemptMs: 0,
        attempt: { id: newId("att"), deliveryId: c.deliveryId, number: 2, startedMs: old, durationMs: 1, statusCode: 500, error: "", responseBody: new Uint8Array() },
      }),
    );
    await store.complete(records, noChanges, old);
    expect(await sweeper.sweep()).toEqual({ events: 5, deliveries: 10, attempts: 15, kept: 0 });
    expect((await store.history.listEvents({ tenantId: "", type: "" }, undefined, 100)).map((e) => e.id)).toEqual([young![0]!.eventId]);
  });
});
