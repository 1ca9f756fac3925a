import { describe, expect, it } from "vitest";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { BreakerState } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json } from "../helpers/clients.ts";
import { useServerPerTest } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";
import { sleep, until } from "../helpers/time.ts";

// Circuit breaker and auto-disable (design brief, "Delivery semantics" → Isolation): an
// endpoint failing N times in a row is paused for a cool-down, then probed with exactly one
// request; a success closes the breaker. An endpoint failing without a success for long
// enough is disabled, with a reason, until an operator re-enables it.

const { freshServer, receiver } = useServerPerTest();

const fastRetries = { maxAttempts: 100, initialBackoff: { nanos: 10_000_000 }, maxBackoff: { nanos: 20_000_000 } };

describe("circuit breaker", () => {
  it("opens after 3 failures, pauses for the 1s cool-down, lets exactly one probe through (HALF_OPEN → OPEN on failure), and closes when a probe succeeds", async () => {
    const api = await freshServer(["--breaker-threshold", "3", "--breaker-cooldown", "1s"]);
    const PROBE_MS = 1500;
    let healthy = false;
    // The first three fail at once; later failures (probes) take 1.5s so HALF_OPEN is visible.
    const r = await receiver((_, i) => (healthy ? { status: 200 } : { status: 500, delayMs: i < 3 ? 0 : PROBE_MS }));
    const { tenant } = await api.tenants.createTenant({ name: "breaker" });
    // One at a time, so the failures before the breaker opens are counted one by one.
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: r.url, maxInFlight: 1, retryPolicy: fastRetries });
    const stats = async () => (await api.endpoints.getEndpointStats({ id: endpoint!.id })).stats!;
    const N = 5;
    await api.events.publish({ events: Array.from({ length: N }, (_, i) => ({ tenantId: tenant!.id, type: "job.done", payload: json({ i }) })) });

    // Three failures, then OPEN.
    await r.waitFor((reqs) => reqs.length >= 3, 15_000);
    const third = r.requests[2]!.at;
    const open = await eventually(async () => {
      const s = await stats();
      return s.breakerState === BreakerState.OPEN ? s : undefined;
    }, 2_000, "breaker OPEN");
    expect(open.consecutiveFailures).toBeGreaterThanOrEqual(3);
    // Paused: nothing more during (most of) the cool-down.
    await until(third, 800);
    expect(r.requests).toHaveLength(3);

    // The probe comes after the cool-down, alone; while it is in flight the breaker is HALF_OPEN.
    await r.waitFor((reqs) => reqs.length >= 4, 10_000);
    const probe = r.requests[3]!.at;
    expect(probe - third).toBeGreaterThanOrEqual(950);
    await eventually(async () => (await stats()).breakerState === BreakerState.HALF_OPEN, PROBE_MS - 300, "breaker HALF_OPEN during the probe");
    expect(r.requests).toHaveLength(4);

    // The probe fails: OPEN again, for a doubled cool-down (2s) — still that single probe.
    await until(probe, PROBE_MS + 100);
    await eventually(async () => (await stats()).breakerState === BreakerState.OPEN, 2_000, "breaker OPEN after the failed probe");
    await until(probe, PROBE_MS + 1_500);
    expect(r.requests).toHaveLength(4);

    // The receiver recovers: the next probe succeeds, the breaker closes and the backlog flows.
    healthy = true;
    await r.waitFor(() => r.uniqueIds().size >= N && r.requests.length >= 5, 15_000);
    expect(r.requests[4]!.at - probe).toBeGreaterThanOrEqual(PROBE_MS + 1_900);
    await eventually(
      async () => {
        const s = await stats();
        return s.breakerState === BreakerState.CLOSED && s.pending === 0n && s.retrying === 0n && s.inFlight === 0n ? s : undefined;
      },
      10_000,
      "breaker CLOSED and backlog drained",
    );
    const closed = await stats();
    expect(closed.consecutiveFailures).toBe(0);
    const { deliveries } = await api.deliveries.listDeliveries({ endpointId: endpoint!.id, pageSize: 100 });
    expect(deliveries).toHaveLength(N);
    expect(deliveries.every((d) => d.status === DeliveryStatus.SUCCEEDED)).toBe(true);
  });
});

describe("auto-disable", () => {
  it("disables an endpoint failing for longer than --auto-disable-after, and re-enabling it delivers its backlog", async () => {
    // The breaker is set out of reach so attempts keep coming and the streak keeps running.
    const api = await freshServer(["--auto-disable-after", "2s", "--breaker-threshold", "100000"]);
    let healthy = false;
    const r = await receiver(() => ({ status: healthy ? 200 : 503 }));
    const { tenant } = await api.tenants.createTenant({ name: "auto-disable" });
    const { endpoint } = await api.endpoints.createEndpoint({
      tenantId: tenant!.id,
      url: r.url,
      maxInFlight: 2,
      retryPolicy: { maxAttempts: 100, initialBackoff: { nanos: 50_000_000 }, maxBackoff: { nanos: 200_000_000 } },
    });
    const N = 4;
    await api.events.publish({ events: Array.from({ length: N }, (_, i) => ({ tenantId: tenant!.id, type: "job.done", payload: json({ i }) })) });
    await r.waitFor((reqs) => reqs.length >= 1, 15_000);
    const firstFailure = r.requests[0]!.at;

    const disabled = await eventually(
      async () => {
        const { endpoint: e } = await api.endpoints.getEndpoint({ id: endpoint!.id });
        return e!.disabled ? e! : undefined;
      },
      10_000,
      "endpoint auto-disabled",
    );
    expect(disabled.disabledReason).toMatch(/failing since/);
    // The reason names when the streak started: the first failed attempt.
    const since = Date.parse(/failing since (\S+)/.exec(disabled.disabledReason)![1]!);
    expect(Math.abs(since - firstFailure)).toBeLessThan(1_000);
    // Disabled once the streak was 2s long, not before.
    expect(timestampMs(disabled.updateTime!) - since).toBeGreaterThanOrEqual(2_000);
    // Attempts kept coming until then (several retries, not one request).
    expect(r.requests.length).toBeGreaterThan(N);

    // Disabled: no more requests, and the backlog is kept (not dead-lettered).
    await sleep(300);
    const seen = r.requests.length;
    await sleep(700);
    expect(r.requests.length).toBe(seen);
    const { stats } = await api.endpoints.getEndpointStats({ id: endpoint!.id });
    expect(stats!.disabled).toBe(true);
    expect(Number(stats!.pending + stats!.retrying)).toBe(N);

    // The receiver is fixed; the operator re-enables the endpoint.
    healthy = true;
    const { endpoint: enabled } = await api.endpoints.updateEndpoint({
      endpoint: { id: endpoint!.id, disabled: false },
      updateMask: { paths: ["disabled"] },
    });
    expect(enabled!.disabled).toBe(false);
    expect(enabled!.disabledReason).toBe("");

    await eventually(
      async () => {
        const { deliveries } = await api.deliveries.listDeliveries({ endpointId: endpoint!.id, pageSize: 100 });
        return deliveries.length === N && deliveries.every((d) => d.status === DeliveryStatus.SUCCEEDED);
      },
      15_000,
      "backlog delivered after re-enabling",
    );
    const okIds = new Set(r.requests.slice(seen).map((q) => String(q.headers["webhook-id"])));
    expect(okIds.size).toBe(N);
    const { endpoint: after } = await api.endpoints.getEndpoint({ id: endpoint!.id });
    expect(after!.disabled).toBe(false);
  });
});
