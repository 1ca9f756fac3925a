import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { DeliveryStatus, type Delivery } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { clients, json, type Clients } from "../helpers/clients.ts";
import { Receiver, eventually, markerOf } from "../helpers/receiver.ts";
import { startServer, tempDir, type ServerProcess } from "../helpers/server.ts";
import { sleep } from "../helpers/time.ts";

describe("kill -9 during delivery", () => {
  const dataDir = tempDir("hookline-crash-");
  const servers: ServerProcess[] = [];
  let receiver: Receiver | undefined;

  afterAll(async () => {
    for (const s of servers) await s.kill().catch(() => undefined);
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("loses no acknowledged event and duplicates at most what was in flight", async () => {
    const TOTAL = 3000;
    const BATCH = 100;
    const MAX_IN_FLIGHT = 16;
    // Each answer takes a few ms, so requests are in flight when the server dies.
    const rx = (receiver = await Receiver.start(() => ({ status: 200, delayMs: 3 })));

    const first = await startServer({ dataDir });
    servers.push(first);
    let api: Clients = clients(first.baseUrl, "grpc");
    const tenantId = (await api.tenants.createTenant({ name: "crash" })).tenant!.id;
    const endpointId = (
      await api.endpoints.createEndpoint({
        tenantId,
        url: rx.url,
        maxInFlight: MAX_IN_FLIGHT,
        // Keeps delivery going for a few seconds, well past the kill.
        rateLimitPerSecond: 600,
        retryPolicy: { maxAttempts: 10, initialBackoff: { nanos: 50_000_000 }, maxBackoff: { seconds: 1n } },
      })
    ).endpoint!.id;

    // Publisher: unary batches of 100 with {"n": i} markers; records what was acknowledged.
    const acked = new Set<number>();
    const ackedEventIds: string[] = [];
    let publishErrors = 0;
    let stopPublishing = false;
    const publisher = (async () => {
      const deadline = Date.now() + 30_000;
      for (let start = 0; start < TOTAL && !stopPublishing && Date.now() < deadline; start += BATCH) {
        const ns = Array.from({ length: BATCH }, (_, i) => start + i);
        let results;
        try {
          ({ results } = await api.events.publish({
            events: ns.map((n) => ({ tenantId, type: "crash.load", payload: json({ n }) })),
          }));
        } catch {
          publishErrors++;
          return; // the server is gone: whatever was not acked may or may not exist
        }
        results.forEach((r, i) => {
          if (r.deliveryCount === 1) acked.add(ns[i]!);
          ackedEventIds.push(r.eventId);
        });
        await sleep(15);
      }
    })();

    // Kill once some but not all deliveries have arrived.
    await rx.waitFor((reqs) => reqs.length >= 400, 30_000);
    await first.kill();
    stopPublishing = true;
    await publisher;
    // Let requests sent just before the kill land.
    await sleep(200);
    const atKill = {
      requests: rx.requests.length,
      unique: rx.uniqueIds().size,
      acked: acked.size,
    };
    // Steady state before the crash: no duplicates.
    expect(atKill.unique).toBe(atKill.requests);
    expect(atKill.acked).toBeGreaterThanOrEqual(400);
    // Every acknowledged event was fanned out to the one endpoint.
    expect(ackedEventIds).toHaveLength(acked.size);
    // Delivery was still in progress when the process died.
    const seenBefore = new Set(rx.requests.map(markerOf));
    expect([...acked].some((n) => !seenBefore.has(n))).toBe(true);

    // Restart on the same data.
    const second = await startServer({ dataDir });
    servers.push(second);
    api = clients(second.baseUrl, "grpc");

    // Every acknowledged event reaches the receiver.
    await rx.waitFor((reqs) => {
      const seen = new Set(reqs.map(markerOf));
      for (const n of acked) if (!seen.has(n)) return false;
      return true;
    }, 90_000);
    // And the store agrees: nothing left open for the endpoint.
    await eventually(
      async () => {
        const { stats } = await api.endpoints.getEndpointStats({ id: endpointId });
        return stats!.pending + stats!.retrying + stats!.inFlight === 0n;
      },
      30_000,
      "empty backlog after restart",
    );
    await sleep(200);

    const deliveries: Delivery[] = [];
    let pageToken = "";
    for (let page = 0; page < 100; page++) {
      const res = await api.deliveries.listDeliveries({ endpointId, pageSize: 1000, pageToken });
      deliveries.push(...res.deliveries);
      if ((pageToken = res.nextPageToken) === "") break;
    }
    const byEvent = new Map(deliveries.map((d) => [d.eventId, d]));
    for (const eventId of ackedEventIds) {
      const d = byEvent.get(eventId);
      expect(d, eventId).toBeDefined();
      expect(d!.status).toBe(DeliveryStatus.SUCCEEDED);
    }
    // Every webhook-id the receiver saw is one of the stored deliveries.
    const ids = new Set(deliveries.map((d) => d.id));
    for (const id of rx.uniqueIds()) expect(ids.has(id)).toBe(true);

    const unique = rx.uniqueIds().size;
    const duplicates = rx.requests.length - unique;
    console.log(
      `crash test: ${acked.size} acked (${publishErrors} publish call(s) cut by the kill), ${atKill.unique} delivered before the kill, ` +
        `${unique} unique after restart, ${duplicates} duplicate(s)`,
    );
    // Only deliveries in flight at the kill can be sent twice: at most the endpoint's max in-flight.
    expect(duplicates).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(duplicates).toBeLessThanOrEqual(atKill.unique);
    expect(duplicates).toBeLessThan(acked.size);
    // The duplicated ids were all seen before the restart.
    const beforeIds = new Set(rx.requests.slice(0, atKill.requests).map((r) => String(r.headers["webhook-id"])));
    const counts = new Map<string, number>();
    for (const r of rx.requests) counts.set(String(r.headers["webhook-id"]), (counts.get(String(r.headers["webhook-id"])) ?? 0) + 1);
    for (const [id, n] of counts) if (n > 1) expect(beforeIds.has(id)).toBe(true);

    expect(await second.stop()).toBe(0);
  }, 180_000);
});
