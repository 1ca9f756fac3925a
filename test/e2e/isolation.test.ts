import { describe, expect, it } from "vitest";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { json, type Clients } from "../helpers/clients.ts";
import { useServerPerTest } from "../helpers/fixtures.ts";
import { eventually, type Receiver, type ReceivedRequest, type Responder } from "../helpers/receiver.ts";
import { sleep } from "../helpers/time.ts";

// Isolation (design brief, "Delivery semantics"): a slow endpoint must not slow the others,
// max in-flight is per endpoint, and tenants take turns so one tenant's backlog does not
// starve another tenant.

const { freshServer, receiver } = useServerPerTest();

const seqOf = (req: ReceivedRequest): number => (JSON.parse(req.body.toString()) as { n: number }).n;

/**
 * Counts requests open at the receiver. The decrement timer is armed before the receiver arms
 * its own reply timer of the same length, so it fires just before the reply is written, in
 * the same timers phase: no request can arrive in between, and hookline cannot send the
 * follow-up request before it has the reply.
 */
function concurrencyTracker(delayMs: number): { responder: Responder; max: () => number } {
  let open = 0;
  let max = 0;
  return {
    responder: () => {
      open++;
      max = Math.max(max, open);
      setTimeout(() => open--, delayMs);
      return { status: 200, delayMs };
    },
    max: () => max,
  };
}

async function publishMany(api: Clients, tenantId: string, count: number, batch: number, type = "order.created"): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const { results } = await api.events.publish({
      events: Array.from({ length: n }, (_, j) => ({ tenantId, type, payload: json({ n: i + j }) })),
    });
    ids.push(...results.map((r) => r.eventId));
  }
  return ids;
}

describe("isolation between endpoints and tenants", () => {
  it("a receiver that never answers within the 1s timeout does not hold back fast endpoints of the same or another tenant", async () => {
    // The breaker would pause the slow endpoint after 20 timeouts and hide any sharing of
    // resources between endpoints: turn it off so the slow endpoint keeps all its slots busy.
    const api = await freshServer(["--breaker-threshold", "100000"]);
    const SLOW_MAX_IN_FLIGHT = 100;
    const ROUNDS = 100;
    const slow = await receiver(() => ({ status: 200, delayMs: 5000 }));
    const fast = [await receiver(), await receiver(), await receiver()] as const;

    const { tenant: a } = await api.tenants.createTenant({ name: "tenant with a slow endpoint" });
    const { tenant: b } = await api.tenants.createTenant({ name: "other tenant" });
    const retryPolicy = { maxAttempts: 100, initialBackoff: { nanos: 100_000_000 }, maxBackoff: { nanos: 300_000_000 } };
    const { endpoint: slowEp } = await api.endpoints.createEndpoint({
      tenantId: a!.id,
      url: slow.url,
      eventTypes: ["order.*"],
      maxInFlight: SLOW_MAX_IN_FLIGHT,
      timeout: { seconds: 1n },
      retryPolicy,
    });
    const fastEps = [];
    // Two fast endpoints of the slow one's tenant, one of another tenant.
    for (const [tenantId, r] of [
      [a!.id, fast[0]],
      [a!.id, fast[1]],
      [b!.id, fast[2]],
    ] as const) {
      const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: r.url, timeout: { seconds: 1n }, retryPolicy });
      fastEps.push(endpoint!);
    }

    // Warm up (worker threads load, connections open) so the latencies below are steady-state.
    await api.events.publish({
      events: [
        { tenantId: a!.id, type: "warm.up", payload: json({ n: -1 }) },
        { tenantId: b!.id, type: "warm.up", payload: json({ n: -1 }) },
      ],
    });
    await Promise.all(fast.map((r) => r.waitFor((reqs) => reqs.length >= 1, 15_000)));
    const loadRequests = (r: Receiver) => r.requests.filter((req) => seqOf(req) >= 0);

    // While the load runs, the slow endpoint never has more than its max in flight.
    let maxSlowInFlight = 0;
    const sampler = setInterval(() => {
      void api.endpoints.getEndpointStats({ id: slowEp!.id }).then(
        ({ stats }) => (maxSlowInFlight = Math.max(maxSlowInFlight, Number(stats!.inFlight))),
        () => undefined,
      );
    }, 100);

    // A live producer: one event per tenant every ~20ms, so the slow endpoint gets many
    // small claims that each stay open for the whole 1s timeout.
    const started = Date.now();
    const publishedAt: number[] = [];
    try {
      for (let i = 0; i < ROUNDS; i++) {
        publishedAt.push(Date.now());
        await api.events.publish({
          events: [
            { tenantId: a!.id, type: "order.created", payload: json({ n: i }) },
            { tenantId: b!.id, type: "order.created", payload: json({ n: i }) },
          ],
        });
        await sleep(20);
      }
      await Promise.all(fast.map((r) => r.waitFor(() => loadRequests(r).length >= ROUNDS, 10_000)));
    } finally {
      clearInterval(sampler);
    }
    const elapsed = Date.now() - started;

    // Every fast endpoint got all its events (within 10s of the last publish)…
    for (const r of fast) expect(new Set(loadRequests(r).map(seqOf)).size).toBe(ROUNDS);
    // …and promptly: a fast event does not wait for the slow endpoint's requests to time out.
    // (Healthy: tens of ms; when fast sends queue behind slow ones: around a second or more.)
    const latencies = fast.flatMap((r) => loadRequests(r).map((req) => req.at - publishedAt[seqOf(req)]!)).sort((x, y) => x - y);
    const p50 = latencies[latencies.length >> 1]!;
    const p90 = latencies[Math.floor(latencies.length * 0.9)]!;
    expect(p90, `fast endpoint latency p50=${p50}ms p90=${p90}ms`).toBeLessThan(600);

    // The slow one is still stuck: requests went out (at most max_in_flight per 1s timeout
    // period), none succeeded, and its whole backlog is still open.
    const slowRequests = slow.requests.length;
    expect(slowRequests).toBeGreaterThan(0);
    expect(slowRequests).toBeLessThanOrEqual(SLOW_MAX_IN_FLIGHT * (Math.ceil(elapsed / 1000) + 1));
    expect(maxSlowInFlight).toBeGreaterThan(0);
    expect(maxSlowInFlight).toBeLessThanOrEqual(SLOW_MAX_IN_FLIGHT);
    const { stats } = await api.endpoints.getEndpointStats({ id: slowEp!.id });
    expect(Number(stats!.pending + stats!.retrying + stats!.inFlight)).toBe(ROUNDS);
    const succeeded = await api.deliveries.listDeliveries({ endpointId: slowEp!.id, statuses: [DeliveryStatus.SUCCEEDED], pageSize: 1000 });
    expect(succeeded.deliveries).toHaveLength(0);

    // The fast endpoints' deliveries are recorded as done, not just received.
    for (const ep of fastEps) {
      await eventually(
        async () => {
          const { stats: s } = await api.endpoints.getEndpointStats({ id: ep.id });
          return s!.pending === 0n && s!.retrying === 0n && s!.inFlight === 0n;
        },
        10_000,
        `backlog of ${ep.id} drained`,
      );
    }
  });

  it("never has more requests open to an endpoint than its max_in_flight (2)", async () => {
    const api = await freshServer();
    const tracker = concurrencyTracker(200);
    const r = await receiver(tracker.responder);
    const { tenant } = await api.tenants.createTenant({ name: "max in flight" });
    await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: r.url, maxInFlight: 2 });
    const N = 12;
    await publishMany(api, tenant!.id, N, 3);
    await r.waitFor(() => r.uniqueIds().size >= N, 15_000);
    expect(r.uniqueIds().size).toBe(N);
    expect(tracker.max()).toBeGreaterThan(0);
    expect(tracker.max()).toBeLessThanOrEqual(2);
    // 12 requests of 200ms two at a time take at least ~1.2s: the limit really serialised them.
    const span = r.requests[r.requests.length - 1]!.at - r.requests[0]!.at;
    expect(span).toBeGreaterThanOrEqual(5 * 200 - 50);
  });

  it("tenant fairness: a tenant's 10 events arrive long before another tenant's 3000-event backlog drains", async () => {
    const api = await freshServer();
    const busy = await receiver(() => ({ status: 200, delayMs: 100 }));
    const quiet = await receiver();
    const { tenant: a } = await api.tenants.createTenant({ name: "busy tenant" });
    const { tenant: b } = await api.tenants.createTenant({ name: "quiet tenant" });
    await api.endpoints.createEndpoint({ tenantId: a!.id, url: busy.url, maxInFlight: 4 });
    await api.endpoints.createEndpoint({ tenantId: b!.id, url: quiet.url });

    const BACKLOG = 3000;
    await publishMany(api, a!.id, BACKLOG, 1000);
    // Let the backlog get going before the other tenant shows up.
    await busy.waitFor((reqs) => reqs.length >= 8, 10_000);

    const publishedAt = Date.now();
    const ids = await publishMany(api, b!.id, 10, 10);
    expect(ids).toHaveLength(10);
    await quiet.waitFor(() => quiet.uniqueIds().size >= 10, 15_000);
    const tookMs = Date.now() - publishedAt;

    expect(quiet.uniqueIds().size).toBe(10);
    // 3000 × 100ms at 4 in flight is ~75s of work: B must not wait behind it.
    expect(busy.uniqueIds().size).toBeLessThan(BACKLOG / 2);
    expect(tookMs).toBeLessThan(10_000);
  });
});
