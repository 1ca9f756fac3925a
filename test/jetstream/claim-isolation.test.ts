import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryId, newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type Endpoint } from "../../src/core/types.ts";
import type { JetStreamStore } from "../../src/store/jetstream/jetstream-store.ts";
import { consumerName, DELIVERIES_STREAM, deliverySubject, STATE_BUCKET, stateKey, UNORDERED_LANE } from "../../src/store/jetstream/layout.ts";
import { openJetStreamStore } from "../helpers/jetstream-store.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import type { ClaimedDelivery, ClaimResult } from "../../src/store/store.ts";
import { endpointRecord } from "../helpers/records.ts";

/**
 * The store's claim at the seam: one claim covers several endpoints, and what goes wrong for
 * one of them must not take the others' deliveries down with it.
 */
describe("JetStream claim: endpoints fail on their own", () => {
  let nats: NatsServer;
  let store: JetStreamStore;
  let nc: NatsConnection;
  const tenantId = newId("tnt");

  beforeAll(async () => {
    nats = await startNats();
    store = await openJetStreamStore(nats.url);
    nc = await connect({ servers: nats.url });
    const now = Date.now();
    await store.createTenant({ id: tenantId, name: "claims", rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
  });

  afterAll(async () => {
    await nc?.close();
    await store?.close();
    await nats?.stop();
  });

  async function newEndpoint(): Promise<Endpoint> {
    const endpoint = endpointRecord(tenantId);
    await store.createEndpoint(endpoint);
    return endpoint;
  }

  /** One event delivered to each of the endpoints; its delivery ids in endpoint order. */
  async function publishTo(endpoints: Endpoint[]): Promise<string[]> {
    const event = { tenantId, type: "claim.test", payload: new TextEncoder().encode("{}"), idempotencyKey: "", orderingKey: "", priority: 0 };
    const results = await store.publish([[event]], () => endpoints.map((e) => e.id), Date.now());
    const eventId = results[0]![0]!.eventId;
    return endpoints.map((_, ordinal) => deliveryId(eventId, ordinal));
  }

  const claimIds = (r: { claimed: { deliveryId: string }[] } | undefined): string[] => (r?.claimed ?? []).map((c) => c.deliveryId);

  /**
   * A pull answers within milliseconds; a message that comes later waits for the next claim (on
   * a busy machine it can), so an endpoint whose first claim came back empty is claimed again
   * a few times before the test says it got nothing. Without a first result it claims at once.
   */
  async function claimedBy(endpointId: string, first?: ClaimResult): Promise<ClaimedDelivery[]> {
    let claimed = first?.claimed ?? [];
    for (let i = 0; i < 20 && claimed.length === 0; i++) {
      if (i > 0 || first) await new Promise((r) => setTimeout(r, 50));
      claimed = (await store.claim([{ endpointId, limit: 10, ordered: false }], Date.now()))[0]?.claimed ?? [];
    }
    return claimed;
  }
  const ids = (claimed: ClaimedDelivery[]): string[] => claimed.map((c) => c.deliveryId);

  it("a delivery whose state cannot be read fails its endpoint's claim only, and goes back to the queue", async () => {
    const [a, b] = [await newEndpoint(), await newEndpoint()];
    const [forA, forB] = await publishTo([a, b]);
    // B's delivery is handed out once and given back, so that the next claim reads its state...
    expect(ids(await claimedBy(b.id))).toEqual([forB]);
    await store.releaseLeases();
    // ...which is unreadable.
    const stateKv = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
    const key = stateKey(tenantId, b.id, forB!);
    const good = (await stateKv.get(key))!.value;
    await stateKv.put(key, "not a delivery state");

    const now = Date.now();
    const [resultA, resultB] = await store.claim(
      [
        { endpointId: a.id, limit: 10, ordered: false },
        { endpointId: b.id, limit: 10, ordered: false },
      ],
      now,
    );
    // A may need another claim or two on a busy machine: never because of B's failure.
    const claimedA = await claimedBy(a.id, resultA);
    expect(ids(claimedA)).toEqual([forA]);
    expect(claimIds(resultB)).toEqual([]);
    // B is to be tried again soon rather than forgotten.
    expect(resultB?.nextDue).toBeGreaterThan(now);
    expect(resultB?.nextDue).toBeLessThanOrEqual(now + 5_000);

    // Once the state reads again, the delivery is claimed: it was handed back, not kept.
    await stateKv.put(key, good);
    const again = await claimedBy(b.id);
    expect(ids(again)).toEqual([forB]);

    await store.complete(
      [...claimedA, ...again].map((c) => ({
        attempt: { id: newId("att"), deliveryId: c.deliveryId, number: 1, startedMs: Date.now(), durationMs: 1, statusCode: 200, error: "", responseBody: new Uint8Array() },
        status: DeliveryStatus.Succeeded,
        nextAttemptMs: 0,
      })),
      { disable: new Map(), failingSince: new Map() },
      Date.now(),
    );
    expect((await store.getDelivery(forA!))?.status).toBe(DeliveryStatus.Succeeded);
    expect((await store.getDelivery(forB!))?.status).toBe(DeliveryStatus.Succeeded);
  });

  it("a message that is not a delivery message is terminated; the endpoint's real deliveries are claimed", async () => {
    const [a, b] = [await newEndpoint(), await newEndpoint()];
    await jetstream(nc).publish(deliverySubject(b.id, UNORDERED_LANE), new Uint8Array([0, 0, 0, 2, 123, 120]));
    const [forA, forB] = await publishTo([a, b]);
    const [resultA, resultB] = await store.claim(
      [
        { endpointId: a.id, limit: 10, ordered: false },
        { endpointId: b.id, limit: 10, ordered: false },
      ],
      Date.now(),
    );
    expect(ids(await claimedBy(a.id, resultA))).toEqual([forA]);
    expect(ids(await claimedBy(b.id, resultB))).toEqual([forB]);
    // Terminated: neither waiting nor unacknowledged; only the real delivery is held.
    const info = await (await jetstreamManager(nc)).consumers.info(DELIVERIES_STREAM, consumerName(b.id, UNORDERED_LANE));
    expect(info.num_pending).toBe(0);
    expect(info.num_ack_pending).toBe(1);
    await store.releaseLeases();
  });
});
