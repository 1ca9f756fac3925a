import { describe, expect, it } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampMs, type Duration } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus, type Delivery } from "../../src/gen/hookline/v1/delivery_pb.ts";
import type { RetryPolicySchema } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, perDelivery, webhookId, type Receiver, type Responder } from "../helpers/receiver.ts";
import { ms, sleep } from "../helpers/time.ts";

describe("retries, backoff, Retry-After, 410 Gone, dead-lettering, timeouts", () => {
  // A high breaker threshold: these tests fail on purpose many times in a row and
  // measure retry timing, which an open circuit breaker would stretch.
  const { api, receiver, tenantWithEndpoint } = useHookline({ args: ["--breaker-threshold", "100000"] });

  /** A fresh tenant with one endpoint pointing at a fresh receiver. */
  async function setup(
    responder: Responder,
    retryPolicy: MessageInitShape<typeof RetryPolicySchema>,
    extra: { timeout?: Duration } = {},
  ): Promise<{ rx: Receiver; tenantId: string; endpointId: string }> {
    const rx = await receiver(responder);
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "retries", { retryPolicy, ...extra });
    return { rx, tenantId, endpointId };
  }

  async function publishOne(tenantId: string, payload: unknown = { hello: "retry" }): Promise<string> {
    const { results } = await api.events.publish({ events: [{ tenantId, type: "retry.test", payload: json(payload) }] });
    expect(results[0]!.deliveryCount).toBe(1);
    return results[0]!.eventId;
  }

  async function deliveryOf(eventId: string): Promise<Delivery> {
    const { deliveries } = await api.deliveries.listDeliveries({ eventId });
    expect(deliveries).toHaveLength(1);
    return deliveries[0]!;
  }

  async function settled(id: string, status: DeliveryStatus, timeoutMs = 15_000): Promise<Delivery> {
    return eventually(
      async () => {
        const { delivery } = await api.deliveries.getDelivery({ id });
        return delivery?.status === status && delivery;
      },
      timeoutMs,
      `delivery ${id} ${DeliveryStatus[status]}`,
    );
  }

  it("500, 500, 200 ends SUCCEEDED after three attempts, recorded in order", async () => {
    const policy: MessageInitShape<typeof RetryPolicySchema> = {
      maxAttempts: 5,
      initialBackoff: ms(100),
      maxBackoff: ms(2000),
    };
    const { rx, tenantId } = await setup(perDelivery([{ status: 500, body: "boom 1" }, { status: 500, body: "boom 2" }, { status: 200, body: "ok" }]), policy);
    const eventId = await publishOne(tenantId);
    const { id } = await deliveryOf(eventId);
    const done = await settled(id, DeliveryStatus.SUCCEEDED);
    expect(done.attempts).toBe(3);
    expect(done.lastStatusCode).toBe(200);
    expect(done.nextAttemptTime).toBeUndefined();

    const { attempts } = await api.deliveries.listAttempts({ deliveryId: id });
    expect(attempts.map((a) => a.statusCode)).toEqual([500, 500, 200]);
    expect(attempts.map((a) => a.number)).toEqual([1, 2, 3]);
    expect(attempts.map((a) => a.error)).toEqual(["HTTP 500", "HTTP 500", ""]);
    expect(attempts.map((a) => Buffer.from(a.responseBody).toString())).toEqual(["boom 1", "boom 2", "ok"]);
    const starts = attempts.map((a) => timestampMs(a.startTime!));
    expect(starts[1]!).toBeGreaterThanOrEqual(starts[0]!);
    expect(starts[2]!).toBeGreaterThanOrEqual(starts[1]!);

    // The receiver saw the same delivery three times and nothing more.
    expect(rx.requests.map(webhookId)).toEqual([id, id, id]);
    await sleep(300);
    expect(rx.requests).toHaveLength(3);
  });

  it("backs off exponentially with full jitter: later gaps are longer on average, the first ones stay near the initial bound", async () => {
    // Many deliveries of the same shape make the averages steady despite the jitter:
    // the backoffs are drawn below 200 ms, 400 ms and 800 ms.
    const n = 40;
    const { rx, tenantId } = await setup(perDelivery([{ status: 500 }, { status: 503 }, { status: 500 }, { status: 200 }]), {
      maxAttempts: 10,
      initialBackoff: ms(200),
      maxBackoff: ms(2000),
    });
    const { results } = await api.events.publish({
      events: Array.from({ length: n }, (_, i) => ({ tenantId, type: "retry.test", payload: json({ i }) })),
    });
    expect(results).toHaveLength(n);
    await rx.waitFor((reqs) => reqs.length >= 4 * n, 30_000);

    const byId = new Map<string, number[]>();
    for (const req of rx.requests) byId.set(webhookId(req), [...(byId.get(webhookId(req)) ?? []), req.at]);
    expect(byId.size).toBe(n);
    const gaps: number[][] = [[], [], []];
    for (const times of byId.values()) {
      expect(times).toHaveLength(4);
      for (let k = 0; k < 3; k++) gaps[k]!.push(times[k + 1]! - times[k]!);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const [g1, g2, g3] = gaps.map(mean) as [number, number, number];
    // Expected means ≈ 100, 200 and 400 ms (+ overhead): the third gap outgrows the first by far.
    expect(g3).toBeGreaterThan(g1);
    expect(g2 + g3).toBeGreaterThan(2 * g1);
    // The first gap is bounded by the initial backoff (generous margin for a busy machine).
    expect(g1).toBeLessThan(200 + 400);
    // On average the first and the last attempt are more than the initial backoff apart.
    expect(g1 + g2 + g3).toBeGreaterThan(200);

    const { deliveries } = await api.deliveries.listDeliveries({ tenantId, pageSize: 100 });
    expect(deliveries).toHaveLength(n);
    const final = await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ tenantId, pageSize: 100 });
      return deliveries.every((d) => d.status === DeliveryStatus.SUCCEEDED) && deliveries;
    });
    expect(final.every((d) => d.attempts === 4)).toBe(true);
    const attempts = (await api.deliveries.listAttempts({ deliveryId: final[0]!.id })).attempts;
    expect(attempts.map((a) => a.number)).toEqual([1, 2, 3, 4]);
    expect(attempts.map((a) => a.statusCode)).toEqual([500, 503, 500, 200]);
  });

  it("honours Retry-After: a 429 with Retry-After: 1 is retried about a second later", async () => {
    const { rx, tenantId } = await setup(perDelivery([{ status: 429, headers: { "Retry-After": "1" } }, { status: 200 }]), {
      maxAttempts: 5,
      initialBackoff: ms(10),
      maxBackoff: ms(10_000),
    });
    const eventId = await publishOne(tenantId);
    await rx.waitFor((r) => r.length === 2, 10_000);
    const gap = rx.requests[1]!.at - rx.requests[0]!.at;
    // Without Retry-After the backoff would be drawn below 10 ms.
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(gap).toBeLessThan(5_000);
    const done = await settled((await deliveryOf(eventId)).id, DeliveryStatus.SUCCEEDED);
    expect(done.attempts).toBe(2);
    const { attempts } = await api.deliveries.listAttempts({ deliveryId: done.id });
    expect(attempts.map((a) => a.statusCode)).toEqual([429, 200]);
  });

  it("clamps Retry-After to the policy's max backoff", async () => {
    const { rx, tenantId } = await setup(perDelivery([{ status: 429, headers: { "Retry-After": "3600" } }, { status: 200 }]), {
      maxAttempts: 5,
      initialBackoff: ms(100),
      maxBackoff: ms(500),
    });
    const eventId = await publishOne(tenantId);
    const { id } = await deliveryOf(eventId);
    // Retried within a couple of seconds, not an hour later.
    await rx.waitFor((r) => r.length === 2, 4_000);
    expect(rx.requests.map(webhookId)).toEqual([id, id]);
    const gap = rx.requests[1]!.at - rx.requests[0]!.at;
    expect(gap).toBeLessThan(3_000);
    await settled(id, DeliveryStatus.SUCCEEDED);
  });

  it("410 Gone disables the endpoint; the delivery waits (RETRYING, not DEAD) and goes out after re-enabling", async () => {
    const { rx, tenantId, endpointId } = await setup(perDelivery([{ status: 410, body: "gone" }, { status: 200 }]), {
      maxAttempts: 3,
      initialBackoff: ms(10),
      maxBackoff: ms(50),
    });
    const eventId = await publishOne(tenantId);
    const { id } = await deliveryOf(eventId);
    await rx.waitFor((r) => r.length === 1);

    const disabled = await eventually(async () => {
      const { endpoint } = await api.endpoints.getEndpoint({ id: endpointId });
      return endpoint?.disabled && endpoint;
    });
    expect(disabled.disabledReason).toMatch(/410/);
    const waiting = await settled(id, DeliveryStatus.RETRYING);
    expect(waiting.attempts).toBe(1);
    expect(waiting.lastStatusCode).toBe(410);

    // While disabled: nothing is sent, the delivery stays open, and new events make no deliveries.
    await sleep(500);
    expect(rx.requests).toHaveLength(1);
    expect((await api.deliveries.getDelivery({ id })).delivery!.status).toBe(DeliveryStatus.RETRYING);
    const { results } = await api.events.publish({ events: [{ tenantId, type: "retry.test", payload: json({ later: true }) }] });
    expect(results[0]!.deliveryCount).toBe(0);

    const { endpoint } = await api.endpoints.updateEndpoint({ endpoint: { id: endpointId, disabled: false }, updateMask: { paths: ["disabled"] } });
    expect(endpoint!.disabled).toBe(false);
    expect(endpoint!.disabledReason).toBe("");
    await rx.waitFor((r) => r.length === 2);
    expect(rx.requests.map(webhookId)).toEqual([id, id]);
    const done = await settled(id, DeliveryStatus.SUCCEEDED);
    expect(done.attempts).toBe(2);
    const { attempts } = await api.deliveries.listAttempts({ deliveryId: id });
    expect(attempts.map((a) => a.statusCode)).toEqual([410, 200]);
  });

  it("goes DEAD with last_status_code once max attempts are exhausted", async () => {
    const { rx, tenantId } = await setup(() => ({ status: 503, body: "down" }), {
      maxAttempts: 3,
      initialBackoff: ms(10),
      maxBackoff: ms(50),
    });
    const eventId = await publishOne(tenantId);
    const { id } = await deliveryOf(eventId);
    const dead = await settled(id, DeliveryStatus.DEAD);
    expect(dead.attempts).toBe(3);
    expect(dead.lastStatusCode).toBe(503);
    expect(dead.lastError).toMatch(/503/);
    expect(dead.nextAttemptTime).toBeUndefined();
    const { attempts } = await api.deliveries.listAttempts({ deliveryId: id });
    expect(attempts.map((a) => a.statusCode)).toEqual([503, 503, 503]);
    await sleep(300);
    expect(rx.requests).toHaveLength(3);
  });

  it("a 400 is final when retry_client_errors is false (DEAD after one attempt) and retried when it is true", async () => {
    const noRetry = await setup(() => ({ status: 400, body: "bad request" }), {
      maxAttempts: 5,
      initialBackoff: ms(10),
      maxBackoff: ms(50),
      retryClientErrors: false,
    });
    const deadId = (await deliveryOf(await publishOne(noRetry.tenantId))).id;
    const dead = await settled(deadId, DeliveryStatus.DEAD);
    expect(dead.attempts).toBe(1);
    expect(dead.lastStatusCode).toBe(400);

    const retry = await setup(perDelivery([{ status: 400 }, { status: 422 }, { status: 204 }]), {
      maxAttempts: 5,
      initialBackoff: ms(10),
      maxBackoff: ms(50),
      retryClientErrors: true,
    });
    const okId = (await deliveryOf(await publishOne(retry.tenantId))).id;
    const ok = await settled(okId, DeliveryStatus.SUCCEEDED);
    expect(ok.attempts).toBe(3);
    expect(ok.lastStatusCode).toBe(204);

    await sleep(300);
    expect(noRetry.rx.requests).toHaveLength(1);
    expect(retry.rx.requests).toHaveLength(3);
  });

  it("records a timeout as a failed attempt and retries it", async () => {
    // The endpoint allows 1 s; the receiver holds the first request for 3 s.
    const { rx, tenantId } = await setup(perDelivery([{ status: 200, delayMs: 3_000 }, { status: 200 }]), {
      maxAttempts: 5,
      initialBackoff: ms(50),
      maxBackoff: ms(200),
    }, { timeout: ms(1000) });
    const eventId = await publishOne(tenantId);
    const { id } = await deliveryOf(eventId);
    const done = await settled(id, DeliveryStatus.SUCCEEDED, 15_000);
    expect(done.attempts).toBe(2);
    const { attempts } = await api.deliveries.listAttempts({ deliveryId: id });
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.statusCode).toBe(0);
    expect(attempts[0]!.error).toMatch(/timeout/i);
    // The attempt was cut at the endpoint timeout, not at the receiver's 3 s.
    const firstMs = Number(attempts[0]!.duration!.seconds) * 1000 + attempts[0]!.duration!.nanos / 1e6;
    expect(firstMs).toBeGreaterThanOrEqual(900);
    expect(firstMs).toBeLessThan(2_900);
    expect(attempts[1]!.statusCode).toBe(200);
    expect(rx.requests.map(webhookId)).toEqual([id, id]);
  });
});
