import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { Webhook } from "standardwebhooks";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { json } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, type ReceivedRequest, type Receiver } from "../helpers/receiver.ts";

// Operational webhooks: hookline tells a tenant's subscribed endpoints about its own events
// (an endpoint disabled or enabled, a breaker opening, a delivery going dead), through the
// same signed pipeline as any event. Only endpoints that name those types receive them.

const { api, receiver, newTenant } = useHookline();

interface OperationalBody {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

const bodyOf = (req: ReceivedRequest): OperationalBody => JSON.parse(req.body.toString("utf8")) as OperationalBody;
const ofType = (rx: Receiver, type: string): ReceivedRequest[] => rx.requests.filter((r) => bodyOf(r).type === type);

const quickRetries = { maxAttempts: 2, initialBackoff: { nanos: 10_000_000 }, maxBackoff: { nanos: 20_000_000 } };

describe("operational webhooks", () => {
  it("an endpoint answering 410 is disabled and a subscribed endpoint gets a signed endpoint.disabled naming it; a catch-all gets nothing operational", async () => {
    const tenantId = await newTenant("ops-gone");
    const gone = await receiver(() => ({ status: 410, body: "gone" }));
    const ops = await receiver();
    const all = await receiver();
    const victim = (await api.endpoints.createEndpoint({ tenantId, url: gone.url, eventTypes: ["order.*"] })).endpoint!;
    const opsEndpoint = (await api.endpoints.createEndpoint({ tenantId, url: ops.url, eventTypes: ["endpoint.disabled", "delivery.dead"] })).endpoint!;
    await api.endpoints.createEndpoint({ tenantId, url: all.url });

    await api.events.publish({ events: [{ tenantId, type: "order.created", payload: json({ order: 1 }) }] });
    await ops.waitFor((reqs) => reqs.length >= 1, 20_000);

    const req = ops.requests[0]!;
    // Signed like any webhook, with the operational endpoint's own secret.
    const verified = new Webhook(opsEndpoint.secret).verify(req.body.toString("utf8"), req.headers as Record<string, string>) as OperationalBody;
    expect(verified.type).toBe("endpoint.disabled");
    expect(Number.isNaN(Date.parse(verified.timestamp))).toBe(false);
    expect(verified.data).toMatchObject({ tenant_id: tenantId, endpoint_id: victim.id, url: gone.url, cause: "gone" });
    expect(String(verified.data.reason)).toContain("410");
    expect(verified.data.suppressed).toBeUndefined();
    const disabled = (await api.endpoints.getEndpoint({ id: victim.id })).endpoint!;
    expect(disabled.disabled).toBe(true);

    // A real event of the tenant: listed, with its delivery to the operational endpoint.
    const { events } = await api.events.listEvents({ tenantId, type: "endpoint.disabled" });
    expect(events).toHaveLength(1);
    const { deliveries } = await api.deliveries.listDeliveries({ eventId: events[0]!.id });
    expect(deliveries.map((d) => d.endpointId)).toEqual([opsEndpoint.id]);
    await eventually(async () => (await api.deliveries.getDelivery({ id: deliveries[0]!.id })).delivery!.status === DeliveryStatus.SUCCEEDED, 10_000, "the operational delivery succeeded");

    // The catch-all endpoint got the order, and nothing operational.
    await all.waitFor((reqs) => reqs.length >= 1);
    expect(all.requests.map((r) => (JSON.parse(r.body.toString("utf8")) as { order?: number }).order)).toEqual([1]);
    expect(gone.requests).toHaveLength(1);
  });

  it("a delivery going dead sends delivery.dead; re-enabling over the API sends endpoint.enabled; the operational deliveries themselves never report", async () => {
    const tenantId = await newTenant("ops-dead");
    const failing = await receiver(() => ({ status: 500, body: "down" }));
    // The operational endpoint fails too: its own deliveries going dead must not report themselves.
    const opsDown = await receiver(() => ({ status: 500 }));
    const ops = await receiver();
    const victim = (await api.endpoints.createEndpoint({ tenantId, url: failing.url, eventTypes: ["order.created"], retryPolicy: quickRetries })).endpoint!;
    const opsEndpoint = (await api.endpoints.createEndpoint({ tenantId, url: ops.url, eventTypes: ["delivery.dead", "endpoint.enabled", "endpoint.disabled"] })).endpoint!;
    await api.endpoints.createEndpoint({ tenantId, url: opsDown.url, eventTypes: ["delivery.dead"], retryPolicy: quickRetries });

    const { results } = await api.events.publish({ events: [{ tenantId, type: "order.created", payload: json({ order: 2 }) }] });
    await ops.waitFor(() => ofType(ops, "delivery.dead").length >= 1, 20_000);
    const dead = ofType(ops, "delivery.dead")[0]!;
    const body = new Webhook(opsEndpoint.secret).verify(dead.body.toString("utf8"), dead.headers as Record<string, string>) as OperationalBody;
    const { deliveries } = await api.deliveries.listDeliveries({ eventId: results[0]!.eventId });
    expect(body.data).toMatchObject({
      tenant_id: tenantId,
      delivery_id: deliveries[0]!.id,
      event_id: results[0]!.eventId,
      event_type: "order.created",
      endpoint_id: victim.id,
      attempts: 2,
      last_status_code: 500,
    });
    // The failing operational endpoint got the same notice (twice: its two attempts), and its dead
    // delivery of it produced no second delivery.dead.
    await opsDown.waitFor((reqs) => reqs.length >= 2, 10_000);
    await eventually(async () => {
      const list = await api.deliveries.listDeliveries({ tenantId, statuses: [DeliveryStatus.DEAD] });
      return list.deliveries.length === 2;
    }, 10_000, "both dead deliveries recorded");
    await new Promise((r) => setTimeout(r, 500));
    expect((await api.events.listEvents({ tenantId, type: "delivery.dead" })).events).toHaveLength(1);

    // Disabled and enabled again by the API: one event each.
    const mask = { paths: ["disabled"] };
    await api.endpoints.updateEndpoint({ endpoint: { id: victim.id, disabled: true, disabledReason: "maintenance" }, updateMask: mask });
    await api.endpoints.updateEndpoint({ endpoint: { id: victim.id, disabled: false }, updateMask: mask });
    await ops.waitFor(() => ofType(ops, "endpoint.enabled").length >= 1 && ofType(ops, "endpoint.disabled").length >= 1, 20_000);
    expect(bodyOf(ofType(ops, "endpoint.disabled")[0]!).data).toMatchObject({ endpoint_id: victim.id, reason: "maintenance", cause: "api" });
    expect(bodyOf(ofType(ops, "endpoint.enabled")[0]!).data).toMatchObject({ tenant_id: tenantId, endpoint_id: victim.id, url: failing.url });
  });

  it("a breaker opening sends endpoint.breaker_opened with the failure count and the probe time", async () => {
    const tenantId = await newTenant("ops-breaker");
    const failing = await receiver(() => ({ status: 503 }));
    const ops = await receiver();
    // Retries come fast, so the breaker threshold (20 by default) is reached within a second.
    const retryPolicy = { maxAttempts: 100, initialBackoff: { nanos: 10_000_000 }, maxBackoff: { nanos: 20_000_000 } };
    const victim = (await api.endpoints.createEndpoint({ tenantId, url: failing.url, eventTypes: ["order.created"], retryPolicy, maxInFlight: 1 })).endpoint!;
    const opsEndpoint = (await api.endpoints.createEndpoint({ tenantId, url: ops.url, eventTypes: ["endpoint.breaker_opened"] })).endpoint!;
    await api.events.publish({ events: [{ tenantId, type: "order.created", payload: json({ order: 3 }) }] });
    await ops.waitFor((reqs) => reqs.length >= 1, 20_000);
    const req = ops.requests[0]!;
    const body = new Webhook(opsEndpoint.secret).verify(req.body.toString("utf8"), req.headers as Record<string, string>) as OperationalBody;
    expect(body.type).toBe("endpoint.breaker_opened");
    expect(body.data).toMatchObject({ tenant_id: tenantId, endpoint_id: victim.id, url: failing.url });
    expect(body.data.consecutive_failures).toBeGreaterThanOrEqual(1);
    expect(Date.parse(String(body.data.probe_at))).toBeGreaterThan(Date.parse(body.timestamp) - 1000);
    await api.endpoints.deleteEndpoint({ id: victim.id });
  });

  it("refuses to publish the reserved types: Publish, PublishStream and SendTestEvent", async () => {
    const rx = await receiver();
    const tenantId = await newTenant("ops-reserved");
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: rx.url });
    for (const type of ["endpoint.disabled", "endpoint.enabled", "endpoint.breaker_opened", "delivery.dead"]) {
      const err = await rejection(
        api.events.publish({ events: [{ tenantId, type: "order.created", payload: json({}) }, { tenantId, type, payload: json({}) }] }),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual(["events[1].type"]);
      expect(err.rawMessage).toContain("reserved for operational webhooks");
    }
    async function* one() {
      yield { requestId: "r1", events: [{ tenantId, type: "delivery.dead", payload: json({}) }] };
    }
    for await (const res of api.events.publishStream(one())) {
      expect(res.error?.code).toBe("invalid_argument");
      expect(res.error?.field).toBe("events[0].type");
    }
    const test = await rejection(api.endpoints.sendTestEvent({ endpointId: endpoint!.id, type: "endpoint.disabled" }));
    expect(test.code).toBe(Code.InvalidArgument);
    expect(violatedFields(test)).toEqual(["type"]);
    expect((await api.events.listEvents({ tenantId })).events).toHaveLength(0);
    expect(rx.requests).toHaveLength(0);
  });
});
