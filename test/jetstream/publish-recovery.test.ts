import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryId, newId } from "../../src/core/ids.ts";
import { DeliveryStatus } from "../../src/core/types.ts";
import { encodeDelivery, frame, type EventMeta } from "../../src/store/jetstream/codec.ts";
import { eventSubject, stateKey, stateSubject } from "../../src/store/jetstream/layout.ts";
import { clients, json, type Clients } from "../helpers/clients.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { Receiver, webhookId } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

/**
 * A publish that failed half-way leaves the event stored with some of its deliveries
 * missing. The client's retry with the same idempotency key must queue what is missing.
 * The half-done writes are made here by hand, exactly as the store lays them out.
 */
describe("a retried publish completes one that failed half-way", () => {
  let nats: NatsServer;
  let server: ServerProcess;
  let nc: NatsConnection;
  let api: Clients;
  let rx: Receiver;
  let tenantId: string;
  let endpointId: string;

  beforeAll(async () => {
    nats = await startNats();
    server = await startServer({ backend: "jetstream", natsUrl: nats.url });
    nc = await connect({ servers: nats.url });
    api = clients(server.baseUrl, "connect-http1");
    rx = await Receiver.start(() => ({ status: 200 }));
    tenantId = (await api.tenants.createTenant({ name: "recovery" })).tenant!.id;
    endpointId = (await api.endpoints.createEndpoint({ tenantId, url: rx.url })).endpoint!.id;
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    await rx?.close();
    await nats?.stop();
  });

  /** Stores the event as the first phase of a publish does, and returns it. */
  async function storeEventOnly(key: string, n: number): Promise<EventMeta> {
    const now = Date.now();
    const meta: EventMeta = {
      id: newId("evt", now),
      tenantId,
      type: "recovery.check",
      idempotencyKey: key,
      orderingKey: "",
      createdMs: now,
      endpoints: [endpointId],
    };
    const h = headers();
    h.set("Nats-Msg-Id", `${tenantId}:${key}`);
    await jetstream(nc).publish(eventSubject(meta.id), frame(meta, json({ n })), { headers: h });
    return meta;
  }

  async function retry(key: string, n: number) {
    const { results } = await api.events.publish({ events: [{ tenantId, type: "recovery.check", payload: json({ n }), idempotencyKey: key }] });
    return results[0]!;
  }

  it("queues the deliveries when only the event was stored", async () => {
    const meta = await storeEventOnly("only-event", 1);
    const result = await retry("only-event", 1);
    expect(result).toMatchObject({ eventId: meta.id, duplicate: true });
    const id = deliveryId(meta.id, 0);
    await rx.waitFor((r) => r.some((q) => webhookId(q) === id));
    await expect.poll(async () => (await api.deliveries.getDelivery({ id })).delivery?.status).toBe(DeliveryStatus.Succeeded);
  });

  it("queues a delivery whose PENDING state was stored but whose message was not", async () => {
    const meta = await storeEventOnly("state-no-message", 2);
    const id = deliveryId(meta.id, 0);
    const pending = {
      id,
      eventId: meta.id,
      endpointId,
      tenantId,
      eventType: meta.type,
      status: DeliveryStatus.Pending,
      attempts: 0,
      nextAttemptMs: meta.createdMs,
      lastStatusCode: 0,
      lastError: "",
      createdMs: meta.createdMs,
      updatedMs: meta.createdMs,
    };
    await jetstream(nc).publish(stateSubject(stateKey(tenantId, endpointId, id)), encodeDelivery({ delivery: pending, lastAttempt: undefined }));
    const result = await retry("state-no-message", 2);
    expect(result).toMatchObject({ eventId: meta.id, duplicate: true });
    await rx.waitFor((r) => r.some((q) => webhookId(q) === id));
    await expect.poll(async () => (await api.deliveries.getDelivery({ id })).delivery?.status).toBe(DeliveryStatus.Succeeded);
  });

  it("does not send a finished delivery again when its publish is retried", async () => {
    const first = await retry("finished", 3);
    const id = deliveryId(first.eventId, 0);
    await expect.poll(async () => (await api.deliveries.getDelivery({ id })).delivery?.status).toBe(DeliveryStatus.Succeeded);
    const again = await retry("finished", 3);
    expect(again).toMatchObject({ eventId: first.eventId, duplicate: true });
    // Give a wrongly queued copy the time to arrive; the wake-up makes it immediate.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(rx.requests.filter((q) => webhookId(q) === id)).toHaveLength(1);
  });
});
