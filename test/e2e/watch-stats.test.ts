import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeliveryStatus, type Delivery, type WatchDeliveriesRequestSchema } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { BreakerState } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, perDelivery } from "../helpers/receiver.ts";
import { runCli } from "../helpers/server.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { sleep } from "../helpers/time.ts";

// Observability of deliveries: WatchDeliveries (server stream of status changes),
// GetEndpointStats (health, backlog, breaker), and the operator CLI built on them.

const ROOT = new URL("../../", import.meta.url).pathname;
const { server, api, receiver } = useHookline();

const ms = (d: { seconds: bigint; nanos: number } | undefined): number => (d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0);
const fastRetries = { maxAttempts: 10, initialBackoff: { nanos: 10_000_000 }, maxBackoff: { nanos: 20_000_000 } };

/** Consumes a WatchDeliveries stream in the background until stop(). */
function watch(req: MessageInitShape<typeof WatchDeliveriesRequestSchema>) {
  const abort = new AbortController();
  const seen: Delivery[] = [];
  let error: ConnectError | undefined;
  const done = (async () => {
    try {
      for await (const change of api.deliveries.watchDeliveries(req, { signal: abort.signal })) if (change.delivery) seen.push(change.delivery);
    } catch (err) {
      if (!abort.signal.aborted) error = ConnectError.from(err);
    }
  })();
  return {
    seen,
    error: () => error,
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/** There is no "stream established" signal: give a new watch a moment to reach the server. */
const ESTABLISH_MS = 300;

describe("WatchDeliveries", () => {
  it("streams state changes filtered by endpoint and by tenant: SUCCEEDED, and RETRYING then SUCCEEDED for a 500-then-200", async () => {
    const ok = await receiver();
    const flaky = await receiver(perDelivery([{ status: 500 }, { status: 200 }]));
    const other = await receiver();
    const { tenant } = await api.tenants.createTenant({ name: "watched" });
    const { tenant: otherTenant } = await api.tenants.createTenant({ name: "not watched" });
    const { endpoint: okEp } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: ok.url });
    const { endpoint: flakyEp } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: flaky.url, retryPolicy: fastRetries });
    const { endpoint: otherEp } = await api.endpoints.createEndpoint({ tenantId: otherTenant!.id, url: other.url });

    const byOk = watch({ endpointId: okEp!.id });
    const byFlaky = watch({ endpointId: flakyEp!.id });
    const byTenant = watch({ tenantId: tenant!.id });
    const byOther = watch({ endpointId: otherEp!.id });
    await sleep(ESTABLISH_MS);
    try {
      const { results } = await api.events.publish({ events: [{ tenantId: tenant!.id, type: "invoice.paid", payload: json({ id: 1 }) }] });
      const eventId = results[0]!.eventId;
      const { deliveries } = await api.deliveries.listDeliveries({ eventId });
      expect(deliveries).toHaveLength(2);
      const okDelivery = deliveries.find((d) => d.endpointId === okEp!.id)!;
      const flakyDelivery = deliveries.find((d) => d.endpointId === flakyEp!.id)!;

      await eventually(async () => byOk.seen.some((d) => d.status === DeliveryStatus.SUCCEEDED), 15_000, "SUCCEEDED on the endpoint watch");
      await eventually(async () => byFlaky.seen.some((d) => d.status === DeliveryStatus.SUCCEEDED), 15_000, "SUCCEEDED on the flaky endpoint watch");
      await eventually(async () => byTenant.seen.filter((d) => d.status === DeliveryStatus.SUCCEEDED).length >= 2, 15_000, "both on the tenant watch");

      // Endpoint watch: that endpoint's delivery only, as it is after the change.
      expect(byOk.seen.map((d) => [d.id, d.status])).toEqual([[okDelivery.id, DeliveryStatus.SUCCEEDED]]);
      expect(byOk.seen[0]!.attempts).toBe(1);
      expect(byOk.seen[0]!.lastStatusCode).toBe(200);
      expect(byOk.seen[0]!.eventId).toBe(eventId);

      // The 500-then-200 delivery: RETRYING (after the 500), then SUCCEEDED.
      expect(byFlaky.seen.map((d) => [d.id, d.status, d.lastStatusCode])).toEqual([
        [flakyDelivery.id, DeliveryStatus.RETRYING, 500],
        [flakyDelivery.id, DeliveryStatus.SUCCEEDED, 200],
      ]);
      expect(byFlaky.seen[1]!.attempts).toBe(2);

      // Tenant watch: every change of the tenant's deliveries, and nothing else.
      const tenantChanges = byTenant.seen.map((d) => `${d.id}:${DeliveryStatus[d.status]}`).sort();
      expect(tenantChanges).toEqual(
        [`${okDelivery.id}:SUCCEEDED`, `${flakyDelivery.id}:RETRYING`, `${flakyDelivery.id}:SUCCEEDED`].sort(),
      );

      // A watch on another tenant's endpoint saw none of it (still open, no error).
      await sleep(200);
      expect(byOther.seen).toEqual([]);
      expect(byOther.error()).toBeUndefined();
    } finally {
      await Promise.all([byOk.stop(), byFlaky.stop(), byTenant.stop(), byOther.stop()]);
    }
  });

  it("an unknown tenant or endpoint filter fails with NOT_FOUND", async () => {
    const byTenant = watch({ tenantId: "tnt_01JZZZZZZZZZZZZZZZZZZZZZZZ" });
    const byEndpoint = watch({ endpointId: "ep_01JZZZZZZZZZZZZZZZZZZZZZZZ" });
    await Promise.race([Promise.all([byTenant.done, byEndpoint.done]), sleep(10_000)]);
    expect(byTenant.error()?.code).toBe(Code.NotFound);
    expect(byEndpoint.error()?.code).toBe(Code.NotFound);
    await Promise.all([byTenant.stop(), byEndpoint.stop()]);
  });
});

describe("GetEndpointStats", () => {
  it("reports success rate, latency percentiles, breaker state and the RETRYING backlog", async () => {
    // Healthy but slow-ish (≥40ms per request); the first two requests fail once each.
    const mixed = await receiver((_, i) => (i < 2 ? { status: 500 } : { status: 200, delayMs: 40 }));
    // Always failing, with a 60s backoff: its deliveries sit in RETRYING.
    const failing = await receiver(() => ({ status: 500, body: "down" }));
    const { tenant } = await api.tenants.createTenant({ name: "stats" });
    const { tenant: tenant2 } = await api.tenants.createTenant({ name: "stats failing" });
    const { endpoint: mixedEp } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: mixed.url, maxInFlight: 1, retryPolicy: fastRetries });
    const { endpoint: failingEp } = await api.endpoints.createEndpoint({
      tenantId: tenant2!.id,
      url: failing.url,
      // Full jitter draws the first retry uniformly below initial_backoff: a day keeps it out of the test.
      retryPolicy: { maxAttempts: 5, initialBackoff: { seconds: 86_400n }, maxBackoff: { seconds: 86_400n } },
    });
    const publish = (tenantId: string, n: number) =>
      api.events.publish({ events: Array.from({ length: n }, (_, i) => ({ tenantId, type: "stat.tick", payload: json({ i }) })) });
    await publish(tenant!.id, 8);
    await publish(tenant2!.id, 4);

    // 8 deliveries, 2 of which needed a retry: 10 attempts, 8 successes.
    const healthy = await eventually(
      async () => {
        const { stats } = await api.endpoints.getEndpointStats({ id: mixedEp!.id });
        return stats!.recentAttempts === 10 && stats!.pending === 0n && stats!.retrying === 0n && stats!.inFlight === 0n ? stats! : undefined;
      },
      15_000,
      "8 deliveries in 10 attempts",
    );
    expect(healthy.successRate).toBeCloseTo(0.8, 5);
    expect(ms(healthy.latencyP95)).toBeGreaterThanOrEqual(35);
    expect(ms(healthy.latencyP50)).toBeGreaterThan(0);
    expect(ms(healthy.latencyP99)).toBeGreaterThanOrEqual(ms(healthy.latencyP95));
    expect(healthy.breakerState).toBe(BreakerState.CLOSED);
    expect(healthy.consecutiveFailures).toBe(0);
    expect(healthy.failingSince).toBeUndefined();
    expect(healthy.lastSuccessTime).toBeDefined();
    expect(healthy.lastFailureTime).toBeDefined();
    expect(healthy.disabled).toBe(false);
    // The figures stay once the endpoint is idle and the dispatcher moves on to other work
    // (it drops idle endpoints from its rotation, not their stats).
    const bystander = await receiver();
    const { tenant: tenant3 } = await api.tenants.createTenant({ name: "stats bystander" });
    await api.endpoints.createEndpoint({ tenantId: tenant3!.id, url: bystander.url });
    for (let i = 0; i < 3; i++) {
      await publish(tenant3!.id, 1);
      await bystander.waitFor((reqs) => reqs.length > i, 10_000);
      await sleep(100);
    }
    const { stats: later } = await api.endpoints.getEndpointStats({ id: mixedEp!.id });
    expect(later!.recentAttempts).toBe(10);
    expect(later!.successRate).toBeCloseTo(0.8, 5);

    // 4 deliveries, one failed attempt each, the next one (almost surely) hours away.
    const stuck = await eventually(
      async () => {
        const { stats } = await api.endpoints.getEndpointStats({ id: failingEp!.id });
        return stats!.recentAttempts === 4 && stats!.inFlight === 0n ? stats! : undefined;
      },
      15_000,
      "4 failed first attempts",
    );
    expect(stuck.retrying).toBe(4n);
    expect(stuck.pending).toBe(0n);
    expect(stuck.inFlight).toBe(0n);
    expect(stuck.successRate).toBe(0);
    expect(stuck.consecutiveFailures).toBe(4);
    expect(stuck.breakerState).toBe(BreakerState.CLOSED);
    expect(stuck.failingSince).toBeDefined();
    expect(stuck.lastSuccessTime).toBeUndefined();
    expect(failing.requests).toHaveLength(4);
  });
});

describe("operator CLI", () => {
  it("endpoints, deliveries --status dead, attempts, replay and tail against a running server", async () => {
    const env = { HOOKLINE_SERVER: server.baseUrl, HOOKLINE_API_KEY: TEST_ADMIN_KEY };
    let failingUp = false;
    const failing = await receiver(() => (failingUp ? { status: 200 } : { status: 500, body: "nope" }));
    const ok = await receiver();
    const { tenant } = await api.tenants.createTenant({ name: "cli" });
    const { endpoint: deadEp } = await api.endpoints.createEndpoint({
      tenantId: tenant!.id,
      url: failing.url,
      eventTypes: ["dead.*"],
      retryPolicy: { maxAttempts: 2, initialBackoff: { nanos: 10_000_000 }, maxBackoff: { nanos: 20_000_000 } },
    });
    const { endpoint: okEp } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: ok.url, eventTypes: ["ok.*"] });
    await api.events.publish({
      events: [
        ...Array.from({ length: 3 }, (_, i) => ({ tenantId: tenant!.id, type: "dead.letter", payload: json({ i }) })),
        ...Array.from({ length: 2 }, (_, i) => ({ tenantId: tenant!.id, type: "ok.fine", payload: json({ i }) })),
      ],
    });
    const dead = await eventually(
      async () => {
        const { deliveries } = await api.deliveries.listDeliveries({ endpointId: deadEp!.id, statuses: [DeliveryStatus.DEAD] });
        return deliveries.length === 3 ? deliveries : undefined;
      },
      15_000,
      "3 dead deliveries",
    );
    await ok.waitFor((reqs) => reqs.length >= 2, 15_000);
    await eventually(async () => (await api.endpoints.getEndpointStats({ id: okEp!.id })).stats!.recentAttempts === 2, 5_000, "ok attempts recorded");

    // endpoints: each with breaker state and success rate.
    const listed = await runCli(["endpoints"], env);
    expect(listed.code, listed.stderr).toBe(0);
    const deadLine = listed.stdout.split("\n").find((l) => l.startsWith(deadEp!.id));
    const okLine = listed.stdout.split("\n").find((l) => l.startsWith(okEp!.id));
    expect(deadLine).toMatch(/\benabled\s+closed\s+0\.0%/);
    expect(okLine).toMatch(/\benabled\s+closed\s+100\.0%/);
    expect(okLine).toContain(ok.url);

    // deliveries --status dead: the dead ones, and only those.
    const deadList = await runCli(["deliveries", "--endpoint", deadEp!.id, "--status", "dead"], env);
    expect(deadList.code, deadList.stderr).toBe(0);
    const lines = deadList.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    for (const d of dead) expect(deadList.stdout).toContain(d.id);
    for (const line of lines) expect(line).toMatch(/\bdead\b.*attempts=2\s+code=500/);

    // attempts: each attempt with its status code.
    const attempts = await runCli(["attempts", dead[0]!.id], env);
    expect(attempts.code, attempts.stderr).toBe(0);
    expect(attempts.stdout).toMatch(/^\s+#1\s+\S+\s+500\s/m);
    expect(attempts.stdout).toMatch(/^\s+#2\s+\S+\s+500\s/m);
    expect(attempts.stdout).toContain("body: nope");

    // replay: the dead ones are scheduled again (and now succeed).
    failingUp = true;
    const replayed = await runCli(["replay", "--endpoint", deadEp!.id], env);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout.trim()).toBe("replayed 3 deliveries");
    await eventually(
      async () => {
        const { deliveries } = await api.deliveries.listDeliveries({ endpointId: deadEp!.id, statuses: [DeliveryStatus.SUCCEEDED] });
        return deliveries.length === 3;
      },
      15_000,
      "replayed deliveries succeeded",
    );
    const again = await runCli(["deliveries", "--endpoint", deadEp!.id, "--status", "dead"], env);
    expect(again.stdout.trim()).toBe("");

    // tail: a line for a delivery that happens while it runs.
    const otherBefore = failing.requests.length;
    const tail = spawn(process.execPath, [join(ROOT, "bin/hookline.js"), "tail", "--endpoint", okEp!.id], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const killer = setTimeout(() => tail.kill("SIGKILL"), 30_000);
    let out = "";
    let err = "";
    tail.stdout.on("data", (c: Buffer) => (out += c.toString()));
    tail.stderr.on("data", (c: Buffer) => (err += c.toString()));
    try {
      // tail says when it is connected: from then on no change is missed, so one event is enough.
      await eventually(async () => err.includes("connected") || tail.exitCode !== null, 20_000, "tail connected");
      expect(err, `tail exited early: ${err}`).toContain("connected");
      // The other endpoint gets a delivery at the same time: tail must not show it.
      const { results } = await api.events.publish({
        events: [
          { tenantId: tenant!.id, type: "ok.tailed", payload: json({ i: 0 }) },
          { tenantId: tenant!.id, type: "dead.tailed", payload: json({ i: 0 }) },
        ],
      });
      const { deliveries } = await api.deliveries.listDeliveries({ eventId: results[0]!.eventId });
      const published = deliveries.map((d) => d.id);
      await eventually(async () => out.includes(`${published[0]}  succeeded`), 15_000, "tail shows the delivery succeeding");
      const line = out.split("\n").find((l) => published.some((id) => l.includes(id)));
      expect(line, `tail printed: ${out}; stderr: ${err}`).toBeDefined();
      expect(line).toMatch(/\bsucceeded\b.*attempts=1\s+code=200/);
      expect(line).toContain(okEp!.id);
      expect(line).toContain("ok.tailed");
      // Only that endpoint's deliveries, though the other one delivered just as much meanwhile.
      expect(out).not.toContain(deadEp!.id);
      await failing.waitFor((reqs) => reqs.length > otherBefore, 10_000);
    } finally {
      clearTimeout(killer);
      if (tail.exitCode === null && tail.signalCode === null) {
        const exited = new Promise((resolve) => tail.once("exit", resolve));
        process.kill(tail.pid!, "SIGTERM");
        await Promise.race([exited, sleep(5_000)]);
        if (tail.exitCode === null && tail.signalCode === null) process.kill(tail.pid!, "SIGKILL");
      }
    }
  });
});
