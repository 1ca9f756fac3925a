import { describe, expect, it } from "vitest";
import { operationalPayload, type OperationalEventType } from "../../src/core/operational-events.ts";
import type { Endpoint, EventInput } from "../../src/core/types.ts";
import { OperationalEvents, OperationalRateLimit } from "../../src/dispatch/operational-events.ts";
import { createLogger } from "../../src/observability/logger.ts";

const endpoint = { id: "ep_1", tenantId: "ten_1", url: "http://127.0.0.1:1/hook" } as Endpoint;

function decode(input: EventInput): { type: string; timestamp: string; data: Record<string, unknown> } {
  return JSON.parse(new TextDecoder().decode(input.payload)) as { type: string; timestamp: string; data: Record<string, unknown> };
}

describe("operational rate limit", () => {
  it("lets a burst through, then one per refill, and tells the next admitted event how many were suppressed", () => {
    const limit = new OperationalRateLimit({
      "endpoint.disabled": { burst: 2, perSecond: 1 },
      "endpoint.enabled": { burst: 2, perSecond: 1 },
      "endpoint.breaker_opened": { burst: 2, perSecond: 1 },
      "delivery.dead": { burst: 3, perSecond: 1 },
    });
    const at = (ms: number) => limit.admit("ten_1", "endpoint.disabled", ms);
    expect(at(0)).toEqual({ admitted: true, suppressed: 0 });
    expect(at(0)).toEqual({ admitted: true, suppressed: 0 });
    expect(at(0)).toEqual({ admitted: false });
    expect(at(500)).toEqual({ admitted: false });
    expect(at(1000)).toEqual({ admitted: true, suppressed: 2 });
    expect(at(1000)).toEqual({ admitted: false });
    expect(at(2000)).toEqual({ admitted: true, suppressed: 1 });
  });

  it("keeps tenants and types apart", () => {
    const limit = new OperationalRateLimit();
    for (let i = 0; i < 10; i++) limit.admit("ten_1", "delivery.dead", 0);
    expect(limit.admit("ten_1", "delivery.dead", 0)).toEqual({ admitted: false });
    expect(limit.admit("ten_2", "delivery.dead", 0)).toEqual({ admitted: true, suppressed: 0 });
    expect(limit.admit("ten_1", "endpoint.disabled", 0)).toEqual({ admitted: true, suppressed: 0 });
  });
});

describe("OperationalEvents", () => {
  function emitter(options: { subscribed?: boolean; submit?: (events: EventInput[]) => Promise<unknown>; now?: () => number } = {}) {
    const submitted: EventInput[] = [];
    const counts: string[] = [];
    const events = new OperationalEvents({
      submit:
        options.submit ??
        (async (batch) => {
          submitted.push(...batch);
        }),
      subscribed: () => options.subscribed ?? true,
      logger: createLogger("silent"),
      count: (type: OperationalEventType, outcome) => counts.push(`${type}:${outcome}`),
      now: options.now ?? (() => Date.parse("2026-11-30T12:00:00Z")),
    });
    return { events, submitted, counts };
  }

  it("publishes an endpoint.disabled event of the endpoint's tenant with the documented payload", async () => {
    const { events, submitted, counts } = emitter();
    events.endpointDisabled(endpoint, "endpoint answered 410 Gone", "gone");
    await new Promise((r) => setImmediate(r));
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({ tenantId: "ten_1", type: "endpoint.disabled", idempotencyKey: "", orderingKey: "" });
    expect(decode(submitted[0]!)).toEqual({
      type: "endpoint.disabled",
      timestamp: "2026-11-30T12:00:00.000Z",
      data: { tenant_id: "ten_1", endpoint_id: "ep_1", url: endpoint.url, reason: "endpoint answered 410 Gone", cause: "gone" },
    });
    expect(counts).toEqual(["endpoint.disabled:published"]);
  });

  it("stores nothing when no endpoint of the tenant subscribes", async () => {
    const { events, submitted, counts } = emitter({ subscribed: false });
    events.endpointEnabled(endpoint);
    await new Promise((r) => setImmediate(r));
    expect(submitted).toHaveLength(0);
    expect(counts).toEqual([]);
  });

  it("never reports a dead delivery of an operational event", async () => {
    const { events, submitted } = emitter();
    const dead = { tenantId: "ten_1", deliveryId: "dlv_1", eventId: "evt_1", endpointId: "ep_1", attempts: 3, lastStatusCode: 500, lastError: "HTTP 500" };
    events.deliveryDead({ ...dead, eventType: "delivery.dead" });
    events.deliveryDead({ ...dead, eventType: "endpoint.disabled" });
    events.deliveryDead({ ...dead, eventType: "order.created" });
    await new Promise((r) => setImmediate(r));
    expect(submitted.map((e) => decode(e).data.event_type)).toEqual(["order.created"]);
  });

  it("suppresses a storm past the burst, counts it, and the next event carries the number left out", async () => {
    let now = 0;
    const { events, submitted, counts } = emitter({ now: () => now });
    const dead = { tenantId: "ten_1", eventId: "evt_1", eventType: "order.created", endpointId: "ep_1", attempts: 1, lastStatusCode: 500, lastError: "HTTP 500" };
    for (let i = 0; i < 25; i++) events.deliveryDead({ ...dead, deliveryId: `dlv_${i}` });
    now += 1000;
    events.deliveryDead({ ...dead, deliveryId: "dlv_late" });
    await new Promise((r) => setImmediate(r));
    expect(submitted).toHaveLength(11);
    expect(submitted.slice(0, 10).every((e) => decode(e).data.suppressed === undefined)).toBe(true);
    expect(decode(submitted[10]!).data).toMatchObject({ delivery_id: "dlv_late", suppressed: 15 });
    expect(counts.filter((c) => c === "delivery.dead:suppressed")).toHaveLength(15);
  });

  it("a failing publish is counted and logged, never thrown at the caller", async () => {
    const { events, counts } = emitter({ submit: () => Promise.reject(new Error("queue full")) });
    expect(() => events.breakerOpened(endpoint, 5, 1000)).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(counts).toEqual(["endpoint.breaker_opened:failed"]);
    const throwing = emitter({
      submit: () => {
        throw new Error("synchronous failure");
      },
    });
    expect(() => throwing.events.endpointEnabled(endpoint)).not.toThrow();
    expect(throwing.counts).toEqual(["endpoint.enabled:failed"]);
  });

  it("breaker_opened names the failures and when the probe goes", () => {
    const payload = operationalPayload(
      { type: "endpoint.breaker_opened", data: { tenantId: "t", endpointId: "ep", url: "u", consecutiveFailures: 5, probeAtMs: 0 } },
      0,
      0,
    );
    expect(JSON.parse(new TextDecoder().decode(payload)).data).toEqual({ tenant_id: "t", endpoint_id: "ep", url: "u", consecutive_failures: 5, probe_at: "1970-01-01T00:00:00.000Z" });
  });
});
