import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { deliveryId, newId } from "../../src/core/ids.ts";
import { generateSecret } from "../../src/core/secrets.ts";
import { DeliveryFeed } from "../../src/dispatch/delivery-feed.ts";
import { createInlineSender } from "../../src/dispatch/inline-sender.ts";
import { Scheduler } from "../../src/dispatch/scheduler.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { ClaimRequest, ClaimResult, Store } from "../../src/store/store.ts";
import { json } from "../helpers/clients.ts";
import { endpointRecord } from "../helpers/records.ts";
import { Receiver, webhookId } from "../helpers/receiver.ts";

/**
 * The scheduler plans an endpoint's turn, then claims its deliveries. On a networked store
 * the claim takes a round trip; whatever changed on the endpoint meanwhile must apply to the
 * deliveries it returns. Here a real SQLite store's claim is held open while the endpoint's
 * URL and secret change.
 */
describe("scheduler: an endpoint changed while its claim is out", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("sends to the new URL, signed with the new secret only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-sched-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const sqlite = new SqliteStore({ dataDir: dir, sync: "normal" });
    cleanups.push(() => sqlite.close());
    const oldRx = await Receiver.start(() => ({ status: 200 }));
    const newRx = await Receiver.start(() => ({ status: 200 }));
    cleanups.push(() => oldRx.close(), () => newRx.close());

    // Every claim waits until the test lets it go.
    let claimStarted: () => void = () => {};
    const started = new Promise<void>((r) => (claimStarted = r));
    let releaseClaim: () => void = () => {};
    const released = new Promise<void>((r) => (releaseClaim = r));
    const store: Store = new Proxy(sqlite, {
      get(target, prop, receiver) {
        if (prop !== "claim") return Reflect.get(target, prop, receiver) as unknown;
        return async (requests: readonly ClaimRequest[], nowMs: number): Promise<ClaimResult[]> => {
          claimStarted();
          await released;
          return target.claim(requests, nowMs);
        };
      },
    });

    const now = Date.now();
    const tenantId = newId("tnt", now);
    const catalog = await Catalog.load(store);
    await catalog.createTenant({ id: tenantId, name: "claim", rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
    const endpoint = endpointRecord(tenantId, { id: newId("ep", now), url: oldRx.url, createdMs: now, updatedMs: now });
    await catalog.createEndpoint(endpoint);

    const sender = createInlineSender({ allowPrivateTargets: true });
    const scheduler = new Scheduler({
      store,
      catalog,
      sender,
      feed: new DeliveryFeed(),
      logger: createLogger("silent"),
      metrics: createMetrics(),
      now: Date.now,
      batchSize: 16,
      maxInFlightTotal: 64,
      breaker: { failureThreshold: 5, cooldownMs: 1000, maxCooldownMs: 1000 },
      autoDisableAfterMs: 3_600_000,
    });
    await scheduler.start();
    // Stopping the scheduler closes the sender.
    cleanups.push(() => scheduler.stop(1000));

    const results = await store.publish([[{ tenantId, type: "claim.race", payload: json({ ok: true }), idempotencyKey: "", orderingKey: "", priority: 0 }]], catalog.fanOut, now, 0);
    const published = results[0]?.[0];
    scheduler.markDue(endpoint.id, now);
    await started;
    const rotated = { ...endpoint, url: newRx.url, secret: generateSecret(), previousSecret: "", updatedMs: now + 1 };
    await catalog.updateEndpoint(endpoint.id, () => rotated);
    releaseClaim();

    await newRx.waitFor((r) => r.length === 1);
    const req = newRx.requests[0]!;
    expect(webhookId(req)).toBe(deliveryId(published!.eventId, 0));
    expect(String(req.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(new Webhook(rotated.secret).verify(req.body.toString("utf8"), req.headers as Record<string, string>)).toEqual({ ok: true });
    expect(oldRx.requests).toHaveLength(0);
  });
});
