import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { Webhook } from "standardwebhooks";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { OrderingMode } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { clients, json } from "../helpers/clients.ts";
import { Receiver, eventually } from "../helpers/receiver.ts";
import { startServer, tempDir, type ServerProcess } from "../helpers/server.ts";

describe("restart on the same data dir", () => {
  const dataDir = tempDir("hookline-restart-");
  let first: ServerProcess | undefined;
  let second: ServerProcess | undefined;
  let receiver: Receiver;

  beforeAll(async () => {
    // The "/hook?fail" URL answers 503, so its delivery is still open (RETRYING) at the restart.
    receiver = await Receiver.start((req) => ({ status: req.path.includes("fail") ? 503 : 200 }));
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps tenants, endpoints, events, deliveries and attempts across a graceful stop", async () => {
    first = await startServer({ dataDir });
    let api = clients(first.baseUrl, "grpc");

    const { tenant } = await api.tenants.createTenant({ name: "durable", rateLimitPerSecond: 7, metadata: { tier: "1" } });
    const { endpoint } = await api.endpoints.createEndpoint({
      tenantId: tenant!.id,
      url: receiver.url,
      eventTypes: ["order.*"],
      description: "survives restarts",
      headers: { "x-source": "restart-test" },
      timeout: { seconds: 4n },
      maxInFlight: 3,
      ordering: OrderingMode.ORDERED_BY_KEY,
      retryPolicy: { maxAttempts: 4, initialBackoff: { seconds: 2n }, maxBackoff: { seconds: 30n } },
    });
    // A second endpoint that fails with a long backoff: its delivery stays open across the restart.
    const { endpoint: failing } = await api.endpoints.createEndpoint({
      tenantId: tenant!.id,
      url: `${receiver.url}?fail`,
      retryPolicy: { maxAttempts: 5, initialBackoff: { seconds: 600n }, maxBackoff: { seconds: 600n } },
    });
    const payload = json({ order: 1, note: "before restart" });
    const { results } = await api.events.publish({
      events: [{ tenantId: tenant!.id, type: "order.created", payload, idempotencyKey: "order-1", orderingKey: "o1" }],
    });
    const eventId = results[0]!.eventId;
    expect(results[0]!.deliveryCount).toBe(2);

    const ok = (): typeof receiver.requests => receiver.requests.filter((r) => !r.path.includes("fail"));
    await receiver.waitFor(() => ok().length === 1);
    const retrying = await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId, endpointId: failing!.id });
      return deliveries[0]?.status === DeliveryStatus.RETRYING ? deliveries[0] : undefined;
    }, 10_000, "delivery RETRYING");
    const delivered = await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId, endpointId: endpoint!.id });
      return deliveries[0]?.status === DeliveryStatus.SUCCEEDED ? deliveries[0] : undefined;
    }, 10_000, "delivery SUCCEEDED");

    expect(await first.stop()).toBe(0);
    expect(first.logs.some((l) => l.msg === "stopped")).toBe(true);
    first = undefined;

    second = await startServer({ dataDir });
    api = clients(second.baseUrl, "grpc");

    const got = await api.tenants.getTenant({ id: tenant!.id });
    expect(got.tenant?.name).toBe("durable");
    expect(got.tenant?.rateLimitPerSecond).toBe(7);
    expect(got.tenant?.metadata).toEqual({ tier: "1" });
    expect((await api.tenants.listTenants({})).tenants.map((t) => t.id)).toEqual([tenant!.id]);

    const ep = (await api.endpoints.getEndpoint({ id: endpoint!.id })).endpoint!;
    expect(ep.url).toBe(receiver.url);
    expect(ep.eventTypes).toEqual(["order.*"]);
    expect(ep.description).toBe("survives restarts");
    expect(ep.headers).toEqual({ "x-source": "<redacted>" });
    expect(ep.timeout?.seconds).toBe(4n);
    expect(ep.maxInFlight).toBe(3);
    expect(ep.ordering).toBe(OrderingMode.ORDERED_BY_KEY);
    expect(ep.retryPolicy?.maxAttempts).toBe(4);
    expect(ep.retryPolicy?.initialBackoff?.seconds).toBe(2n);
    expect(ep.retryPolicy?.maxBackoff?.seconds).toBe(30n);
    expect(ep.secret).toBe("");
    expect((await api.endpoints.listEndpoints({ tenantId: tenant!.id })).endpoints.map((e) => e.id)).toEqual([endpoint!.id, failing!.id]);

    const { event } = await api.events.getEvent({ id: eventId });
    expect(event?.tenantId).toBe(tenant!.id);
    expect(event?.type).toBe("order.created");
    expect(Buffer.from(event!.payload).equals(Buffer.from(payload))).toBe(true);
    expect(event?.idempotencyKey).toBe("order-1");
    expect(event?.orderingKey).toBe("o1");

    const { deliveries } = await api.deliveries.listDeliveries({ eventId });
    const byEndpoint = new Map(deliveries.map((d) => [d.endpointId, d]));
    expect(deliveries).toHaveLength(2);
    expect(byEndpoint.get(endpoint!.id)?.id).toBe(delivered.id);
    expect(byEndpoint.get(endpoint!.id)?.status).toBe(DeliveryStatus.SUCCEEDED);
    expect(byEndpoint.get(endpoint!.id)?.attempts).toBe(1);
    expect(byEndpoint.get(endpoint!.id)?.lastStatusCode).toBe(200);
    const open = byEndpoint.get(failing!.id);
    expect(open?.id).toBe(retrying.id);
    expect(open?.status).toBe(DeliveryStatus.RETRYING);
    expect(open?.attempts).toBe(1);
    expect(open?.lastStatusCode).toBe(503);
    // Its next attempt keeps the schedule from before the restart (not re-sent at start-up).
    expect(open?.nextAttemptTime?.seconds).toBe(retrying.nextAttemptTime?.seconds);
    expect(receiver.requests.filter((r) => r.path.includes("fail"))).toHaveLength(1);
    expect((await api.deliveries.getDelivery({ id: delivered.id })).delivery?.status).toBe(DeliveryStatus.SUCCEEDED);

    const { attempts } = await api.deliveries.listAttempts({ deliveryId: delivered.id });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.statusCode).toBe(200);

    // The idempotency key is remembered: same event id, flagged duplicate, nothing new delivered.
    const again = await api.events.publish({
      events: [{ tenantId: tenant!.id, type: "order.created", payload, idempotencyKey: "order-1" }],
    });
    expect(again.results[0]).toMatchObject({ eventId, duplicate: true, deliveryCount: 0 });

    // The secret survived too: a new event is delivered and verifies with the secret from create.
    const next = await api.events.publish({ events: [{ tenantId: tenant!.id, type: "order.shipped", payload: json({ order: 1, after: true }) }] });
    expect(next.results[0]!.deliveryCount).toBe(2); // the failing endpoint has no filter: it takes every type
    await receiver.waitFor(() => ok().length === 2);
    const req = ok()[1]!;
    expect(req.headers["x-source"]).toBe("restart-test");
    expect(new Webhook(endpoint!.secret).verify(req.body.toString(), req.headers as Record<string, string>)).toEqual({ order: 1, after: true });
    // The delivery finished before the graceful stop is not sent again.
    expect(new Set(ok().map((r) => r.headers["webhook-id"])).size).toBe(2);
    expect(ok()[0]!.headers["webhook-id"]).toBe(delivered.id);
  });
});
