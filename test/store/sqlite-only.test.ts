import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deliveryId, newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type EventInput } from "../../src/core/types.ts";
import type { ClaimedDelivery, FastLane } from "../../src/store/store.ts";
import { SqliteStore, type SyncMode } from "../../src/store/sqlite/sqlite-store.ts";
import { endpointRecord } from "../helpers/records.ts";
import { attemptOf, contractEvent, NO_ENDPOINT_CHANGES } from "./contract-cases.ts";

// What the embedded store does beyond the contract both backends keep: a result recorded
// after its delivery's lease was released stays in the attempts log, and publish takes a
// fast lane (JetStream's queue is shared by every process, so each delivery is claimed there).

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  dir: string;
  store: SqliteStore;
  tenantId: string;
  endpoints: string[];
}

/** A store in a data dir of its own with one tenant and `count` endpoints. */
async function storeWithEndpoints(count: number, sync: SyncMode = "normal"): Promise<Opened> {
  const dir = mkdtempSync(join(tmpdir(), "hookline-sqlite-only-"));
  dirs.push(dir);
  const store = new SqliteStore({ dataDir: dir, sync });
  const now = Date.now();
  const tenantId = newId("tnt", now);
  await store.createTenant({ id: tenantId, name: "sqlite only", rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
  const endpoints: string[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = endpointRecord(tenantId);
    await store.createEndpoint(endpoint);
    endpoints.push(endpoint.id);
  }
  return { dir, store, tenantId, endpoints };
}

const event = (tenantId: string, body: string, fields: Partial<EventInput> = {}): EventInput => contractEvent(tenantId, body, { type: "t", ...fields });

async function claimOne(store: SqliteStore, endpointId: string): Promise<ClaimedDelivery> {
  const [result] = await store.claim([{ endpointId, limit: 1, ordered: false }], Date.now());
  const claimed = result?.claimed[0];
  if (!claimed) throw new Error("nothing to claim");
  return claimed;
}

describe("sqlite store", () => {
  it("keeps an attempt whose lease was released before it was recorded, and leaves the delivery queued", async () => {
    const { store, tenantId, endpoints } = await storeWithEndpoints(1);
    const endpointId = endpoints[0]!;
    const published = (await store.publish([[event(tenantId, "{}")]], () => [endpointId], Date.now(), 60_000))[0]?.[0];
    const id = deliveryId(published!.eventId, 0);
    const claimed = await claimOne(store, endpointId);
    expect(await store.releaseLeases()).toBe(1);
    const late = attemptOf(claimed, DeliveryStatus.Succeeded, Date.now());
    await store.complete([late], NO_ENDPOINT_CHANGES, Date.now());

    expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Pending, attempts: 0 });
    expect((await store.listAttempts(id, undefined, 10)).map((a) => a.id)).toEqual([late.attempt.id]);
    // Sent again, it gets an attempt of the same number: both are in the log.
    const again = await claimOne(store, endpointId);
    const next = attemptOf(again, DeliveryStatus.Succeeded, Date.now());
    await store.complete([next], NO_ENDPOINT_CHANGES, Date.now());
    expect((await store.listAttempts(id, undefined, 10)).map((a) => a.id)).toEqual([late.attempt.id, next.attempt.id]);
    await store.close();
  });

  it("publish with a fast lane inserts what the lane admits already leased and hands it over; the rest is queued", async () => {
    const { store, tenantId, endpoints } = await storeWithEndpoints(2);
    const fast = { id: endpoints[0]! };
    const queued = { id: endpoints[1]! };
    const now = Date.now();
    const handed: ClaimedDelivery[] = [];
    const lane: FastLane = { admit: (endpointId) => endpointId === fast.id, admitted: (d) => handed.push(d) };
    const input = event(tenantId, '{"n":1}', { orderingKey: "k", priority: 3 });
    const result = (await store.publish([[input]], () => [fast.id, queued.id], now, 60_000, lane))[0]?.[0];
    expect(result?.deliveryCount).toBe(2);

    expect(handed).toHaveLength(1);
    expect(handed[0]).toMatchObject({
      deliveryId: deliveryId(result!.eventId, 0),
      eventId: result!.eventId,
      endpointId: fast.id,
      tenantId,
      eventType: "t",
      orderingKey: "k",
      attempts: 0,
      cycleAttempts: 0,
      cycleStartMs: now,
      createdMs: now,
    });
    expect(new TextDecoder().decode(handed[0]!.payload)).toBe('{"n":1}');
    // Leased: no claim hands it out, and it counts as in flight; the other one is claimable.
    const [forFast, forQueued] = await store.claim(
      [
        { endpointId: fast.id, limit: 10, ordered: false },
        { endpointId: queued.id, limit: 10, ordered: false },
      ],
      Date.now(),
    );
    expect(forFast?.claimed).toEqual([]);
    expect(await store.backlog(fast.id)).toEqual({ pending: 0, retrying: 0, inFlight: 1 });
    expect(forQueued?.claimed.map((c) => c.deliveryId)).toEqual([deliveryId(result!.eventId, 1)]);
    // A process that died holding it gives it back at the next start, like any lease.
    expect(await store.releaseLeases()).toBe(2);
    expect((await claimOne(store, fast.id)).deliveryId).toBe(handed[0]!.deliveryId);
    await store.close();
  });

  it("a publish whose fsync fails gives what its fast lane took back to the queue", async () => {
    // The default (full) sync: a publish waits for its WAL fsync.
    const { dir, store, tenantId, endpoints } = await storeWithEndpoints(1, "full");
    const endpointId = endpoints[0]!;
    // SQLite keeps writing through its open files; the fsync opens them by name and fails.
    rmSync(join(dir, "hookline.db-wal"));
    rmSync(join(dir, "hookline.db"));
    const handed: ClaimedDelivery[] = [];
    const lane: FastLane = { admit: () => true, admitted: (d) => handed.push(d) };
    await expect(store.publish([[event(tenantId, "{}")]], () => [endpointId], Date.now(), 60_000, lane)).rejects.toThrow(/ENOENT/);
    expect(handed).toHaveLength(1);
    expect((await claimOne(store, endpointId)).deliveryId).toBe(handed[0]!.deliveryId);
    await store.close().catch(() => undefined);
  });
});
