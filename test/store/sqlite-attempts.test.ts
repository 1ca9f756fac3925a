import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { deliveryId, newId } from "../../src/core/ids.ts";
import { DeliveryStatus } from "../../src/core/types.ts";
import type { AttemptRecord, ClaimedDelivery, EndpointUpdates } from "../../src/store/store.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { endpointRecord } from "../helpers/records.ts";

// The embedded store's attempts log where it differs from JetStream's: a result recorded
// after its delivery's lease was released stays in the log.

const NO_ENDPOINT_CHANGES: EndpointUpdates = { disable: new Map(), failingSince: new Map() };
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openStore(dir: string): SqliteStore {
  return new SqliteStore({ dataDir: dir, sync: "normal" });
}

/** A store with one endpoint and one published delivery. */
async function withDelivery(dir: string): Promise<{ store: SqliteStore; endpointId: string; id: string }> {
  const store = openStore(dir);
  const now = Date.now();
  const tenantId = newId("tnt", now);
  await store.createTenant({ id: tenantId, name: "attempts", rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
  const endpoint = endpointRecord(tenantId);
  await store.createEndpoint(endpoint);
  const input = { tenantId, type: "t", payload: new TextEncoder().encode("{}"), idempotencyKey: "", orderingKey: "", priority: 0 };
  const published = (await store.publish([[input]], () => [endpoint.id], now, 60_000))[0]?.[0];
  if (!published) throw new Error("publish returned no result");
  return { store, endpointId: endpoint.id, id: deliveryId(published.eventId, 0) };
}

async function claimOne(store: SqliteStore, endpointId: string): Promise<ClaimedDelivery> {
  const [result] = await store.claim([{ endpointId, limit: 1, ordered: false }], Date.now());
  const claimed = result?.claimed[0];
  if (!claimed) throw new Error("nothing to claim");
  return claimed;
}

function record(claimed: ClaimedDelivery, status: DeliveryStatus, statusCode: number): AttemptRecord {
  const now = Date.now();
  return {
    attempt: {
      id: newId("att", now),
      deliveryId: claimed.deliveryId,
      number: claimed.attempts + 1,
      startedMs: now,
      durationMs: 5,
      statusCode,
      error: statusCode === 200 ? "" : `HTTP ${statusCode}`,
      responseBody: new Uint8Array(),
      requestHeaders: "user-agent: test",
    },
    status,
    nextAttemptMs: status === DeliveryStatus.Retrying ? now : 0,
  };
}

describe("sqlite attempts log", () => {
  it("keeps an attempt whose lease was released before it was recorded, and leaves the delivery queued", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-attempts-"));
    dirs.push(dir);
    const { store, endpointId, id } = await withDelivery(dir);
    const claimed = await claimOne(store, endpointId);
    expect(await store.releaseLeases()).toBe(1);
    const late = record(claimed, DeliveryStatus.Succeeded, 200);
    await store.complete([late], NO_ENDPOINT_CHANGES, Date.now());

    expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Pending, attempts: 0 });
    expect((await store.listAttempts(id, undefined, 10)).map((a) => a.id)).toEqual([late.attempt.id]);
    // Sent again, it gets an attempt of the same number: both are in the log.
    const again = await claimOne(store, endpointId);
    const next = record(again, DeliveryStatus.Succeeded, 200);
    await store.complete([next], NO_ENDPOINT_CHANGES, Date.now());
    expect((await store.listAttempts(id, undefined, 10)).map((a) => a.id)).toEqual([late.attempt.id, next.attempt.id]);
    await store.close();
  });
});
