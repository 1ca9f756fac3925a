import { afterEach, describe, expect, it } from "vitest";
import { BreakerState } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json, type Clients } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, type ReceivedRequest } from "../helpers/receiver.ts";
import { until } from "../helpers/time.ts";

// Rate limits (design brief, "Delivery semantics" → Isolation): per-endpoint and per-tenant
// token buckets, limits changed at run time, and the adaptive slow-down on 429.
// Rates are measured at the receiver over whole seconds, skipping the first second after the
// first receipt (the bucket may start with up to `rate` tokens of burst).

/** Requests that arrived in [fromMs, toMs). */
function countIn(requests: readonly ReceivedRequest[], fromMs: number, toMs: number): number {
  return requests.filter((r) => r.at >= fromMs && r.at < toMs).length;
}

async function publishMany(api: Clients, tenantId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    const n = Math.min(500, count - i);
    await api.events.publish({
      events: Array.from({ length: n }, (_, j) => ({ tenantId, type: "meter.tick", payload: json({ n: i + j }) })),
    });
  }
}

describe("token-bucket rate limits", () => {
  // One server for these; each test deletes its tenant at the end, which cancels whatever
  // backlog is left so the next test has the dispatcher to itself.
  const { api, receiver } = useHookline();
  let tenantId = "";
  afterEach(async () => {
    if (tenantId !== "") await api.tenants.deleteTenant({ id: tenantId, force: true });
    tenantId = "";
  });

  it("an endpoint limited to 20/s with a backlog of 150 is served at 20/s (±10%)", async () => {
    const r = await receiver();
    const { tenant } = await api.tenants.createTenant({ name: "endpoint limited" });
    tenantId = tenant!.id;
    await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: r.url, rateLimitPerSecond: 20 });
    await publishMany(api, tenant!.id, 150);

    await r.waitFor((reqs) => reqs.length > 0, 15_000);
    const t0 = r.requests[0]!.at;
    await until(t0, 5_200);
    // 4 seconds after the first one: 80 expected.
    const counted = countIn(r.requests, t0 + 1_000, t0 + 5_000);
    expect(counted).toBeGreaterThanOrEqual(72);
    expect(counted).toBeLessThanOrEqual(88);
    // Nothing got ahead of the bucket in the first second either (≤ burst + rate).
    expect(countIn(r.requests, t0, t0 + 1_000)).toBeLessThanOrEqual(20 + 20 + 2);
    // No request was sent twice along the way.
    expect(r.uniqueIds().size).toBe(r.requests.length);
  });

  it("a tenant limit of 20/s set with UpdateTenant caps the sum over two endpoints (±10%), shared by both", async () => {
    const r1 = await receiver();
    const r2 = await receiver();
    const { tenant } = await api.tenants.createTenant({ name: "tenant limited" });
    tenantId = tenant!.id;
    const { tenant: updated } = await api.tenants.updateTenant({
      tenant: { id: tenant!.id, rateLimitPerSecond: 20 },
      updateMask: { paths: ["rate_limit_per_second"] },
    });
    expect(updated!.rateLimitPerSecond).toBe(20);
    await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: r1.url });
    await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: r2.url });
    // 120 events × 2 endpoints = 240 deliveries: far more than 5s at 20/s.
    await publishMany(api, tenant!.id, 120);

    await eventually(async () => r1.requests.length + r2.requests.length > 0, 15_000, "first delivery");
    const t0 = Math.min(...[...r1.requests, ...r2.requests].map((q) => q.at));
    await until(t0, 5_200);
    const c1 = countIn(r1.requests, t0 + 1_000, t0 + 5_000);
    const c2 = countIn(r2.requests, t0 + 1_000, t0 + 5_000);
    expect(c1 + c2, `endpoint 1: ${c1}, endpoint 2: ${c2}`).toBeGreaterThanOrEqual(72);
    expect(c1 + c2, `endpoint 1: ${c1}, endpoint 2: ${c2}`).toBeLessThanOrEqual(88);
    // Round-robin within the tenant: neither endpoint takes the whole budget.
    expect(c1).toBeGreaterThanOrEqual(20);
    expect(c2).toBeGreaterThanOrEqual(20);
  });

  it("lowering an endpoint's limit from 40/s to 10/s with UpdateEndpoint takes effect while it has a backlog", async () => {
    const r = await receiver();
    const { tenant } = await api.tenants.createTenant({ name: "limit changed" });
    tenantId = tenant!.id;
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: r.url, rateLimitPerSecond: 40 });
    await publishMany(api, tenant!.id, 250);

    await r.waitFor((reqs) => reqs.length > 0, 15_000);
    const t0 = r.requests[0]!.at;
    await until(t0, 2_000);
    const before = countIn(r.requests, t0 + 1_000, t0 + 2_000);
    // 40/s before the change (±10%, one second: ±4).
    expect(before).toBeGreaterThanOrEqual(36);
    expect(before).toBeLessThanOrEqual(44);

    const { endpoint: changed } = await api.endpoints.updateEndpoint({
      endpoint: { id: endpoint!.id, rateLimitPerSecond: 10 },
      updateMask: { paths: ["rate_limit_per_second"] },
    });
    expect(changed!.rateLimitPerSecond).toBe(10);
    const tc = Date.now();
    await until(tc, 4_200);
    // 3 seconds at the new rate, after a second to let tokens already earned run out: 30.
    const after = countIn(r.requests, tc + 1_000, tc + 4_000);
    expect(after).toBeGreaterThanOrEqual(27);
    expect(after).toBeLessThanOrEqual(33);
    // The backlog is far from drained: the lower rate, not a lack of work, set the pace.
    const { stats } = await api.endpoints.getEndpointStats({ id: endpoint!.id });
    expect(Number(stats!.pending)).toBeGreaterThan(50);
  });
});

describe("adaptive slow-down", () => {
  // The breaker is set out of reach so the slow-down measured is the 429 throttle's alone.
  const { api, receiver } = useHookline({ args: ["--breaker-threshold", "100000"] });

  it("429 without Retry-After slows the endpoint down (adaptive), below its configured rate", async () => {
    let throttling = false;
    const r = await receiver(() => (throttling ? { status: 429, body: "slow down" } : { status: 200 }));
    const { tenant } = await api.tenants.createTenant({ name: "throttled" });
    const { endpoint } = await api.endpoints.createEndpoint({
      tenantId: tenant!.id,
      url: r.url,
      rateLimitPerSecond: 50,
      maxInFlight: 8,
      retryPolicy: { maxAttempts: 100, initialBackoff: { nanos: 10_000_000 }, maxBackoff: { nanos: 50_000_000 } },
    });
    await publishMany(api, tenant!.id, 500);

    // Two seconds at the configured rate, then every request gets 429.
    await r.waitFor((reqs) => reqs.length > 0, 15_000);
    const t0 = r.requests[0]!.at;
    await until(t0, 2_000);
    throttling = true;
    const switchedAt = Date.now();
    // The receiver stamps a request and picks its answer in the same tick: those stamped after
    // the switch got 429.
    await r.waitFor((reqs) => reqs.some((q) => q.at >= switchedAt), 10_000);
    const first429 = r.requests.find((q) => q.at >= switchedAt)!.at;
    // The first 429 halves the rate and the next second's cut halves it again, so from the
    // third second on the endpoint is held at a quarter of its rate or less. The second second
    // still mixes both cuts (plus what the bucket held), too close to a third to assert on.
    await until(first429, 3_200);

    const before = countIn(r.requests, first429 - 1_000, first429);
    const after = countIn(r.requests, first429 + 2_000, first429 + 3_000);
    expect(before, `before: ${before}/s`).toBeGreaterThanOrEqual(40);
    expect(after, `before: ${before}/s, after: ${after}/s`).toBeLessThanOrEqual(before / 3);

    // The server reports the endpoint throttled below its configured 50/s.
    const { stats } = await api.endpoints.getEndpointStats({ id: endpoint!.id });
    expect(stats!.effectiveRatePerSecond).toBeGreaterThan(0);
    expect(stats!.effectiveRatePerSecond).toBeLessThan(25);
    expect(stats!.breakerState).toBe(BreakerState.CLOSED);
  });
});
