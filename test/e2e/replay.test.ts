import { describe, expect, it } from "vitest";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus, type Delivery } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { Code } from "@connectrpc/connect";
import { rejection } from "../helpers/errors.ts";
import { eventually, perDelivery, webhookId, type Receiver } from "../helpers/receiver.ts";
import { ms, sleep } from "../helpers/time.ts";

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

/** One attempt only: every failure is final, so deliveries go DEAD at once. */
const ONE_SHOT = { maxAttempts: 1, initialBackoff: ms(10), maxBackoff: ms(50) };

describe("dead letters: RetryDelivery, ReplayDeliveries, ListDeliveries", () => {
  // Deliveries here fail on purpose; keep the circuit breaker out of the way.
  const { api, receiver, newTenant, tenantWithEndpoint } = useHookline({ args: ["--breaker-threshold", "100000"] });

  /** A receiver whose status code can be switched while the test runs. */
  async function switchable(initial: number): Promise<{ rx: Receiver; set: (status: number) => void }> {
    let status = initial;
    const rx = await receiver(() => ({ status }));
    return { rx, set: (s) => (status = s) };
  }

  /** Every delivery matching the filter, following page tokens (bounded). */
  async function listAll(filter: { tenantId?: string; endpointId?: string; eventId?: string; statuses?: DeliveryStatus[] }, pageSize = 1000): Promise<Delivery[]> {
    const all: Delivery[] = [];
    let pageToken = "";
    for (let page = 0; page < 1000; page++) {
      const res = await api.deliveries.listDeliveries({ ...filter, pageSize, pageToken });
      all.push(...res.deliveries);
      if (res.nextPageToken === "") return all;
      pageToken = res.nextPageToken;
    }
    throw new Error("too many pages");
  }

  async function waitStatuses(endpointId: string, status: DeliveryStatus, count: number, timeoutMs = 15_000): Promise<Delivery[]> {
    return eventually(
      async () => {
        const all = await listAll({ endpointId });
        return all.length === count && all.every((d) => d.status === status) && all;
      },
      timeoutMs,
      `${count} ${DeliveryStatus[status]} deliveries of ${endpointId}`,
    );
  }

  async function publish(tenantId: string, count: number, tag: string): Promise<string[]> {
    const { results } = await api.events.publish({
      events: Array.from({ length: count }, (_, i) => ({ tenantId, type: "replay.test", payload: json({ tag, i }) })),
    });
    return results.map((r) => r.eventId);
  }

  it("RetryDelivery sends one dead delivery again; ReplayDeliveries(DEAD) brings back all the others", async () => {
    const { rx, set } = await switchable(500);
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "replay", { retryPolicy: ONE_SHOT });
    await publish(tenantId, 5, "dead");
    const dead = await waitStatuses(endpointId, DeliveryStatus.DEAD, 5);
    expect(dead.every((d) => d.attempts === 1 && d.lastStatusCode === 500)).toBe(true);
    expect(rx.requests).toHaveLength(5);

    // One by one.
    set(200);
    const target = dead[2]!;
    const { delivery: retried } = await api.deliveries.retryDelivery({ id: target.id });
    expect(retried!.id).toBe(target.id);
    expect([DeliveryStatus.RETRYING, DeliveryStatus.SUCCEEDED]).toContain(retried!.status);
    const ok = await eventually(async () => {
      const { delivery } = await api.deliveries.getDelivery({ id: target.id });
      return delivery?.status === DeliveryStatus.SUCCEEDED && delivery;
    });
    expect(ok.attempts).toBe(2);
    expect(ok.lastStatusCode).toBe(200);
    const { attempts } = await api.deliveries.listAttempts({ deliveryId: target.id });
    expect(attempts.map((a) => a.statusCode)).toEqual([500, 200]);
    // The others stay dead.
    await sleep(200);
    expect(sorted((await listAll({ endpointId, statuses: [DeliveryStatus.DEAD] })).map((d) => d.id))).toEqual(
      sorted(dead.filter((d) => d.id !== target.id).map((d) => d.id)),
    );
    expect(rx.requests).toHaveLength(6);

    // In bulk.
    const { replayedCount } = await api.deliveries.replayDeliveries({ endpointId, statuses: [DeliveryStatus.DEAD] });
    expect(replayedCount).toBe(4n);
    const all = await waitStatuses(endpointId, DeliveryStatus.SUCCEEDED, 5);
    expect(all.every((d) => d.attempts === 2)).toBe(true);
    await rx.waitFor((r) => r.length === 10);
    // Each delivery reached the receiver once more, under its own webhook-id.
    const counts = new Map<string, number>();
    for (const r of rx.requests) counts.set(webhookId(r), (counts.get(webhookId(r)) ?? 0) + 1);
    expect(sorted(counts.keys())).toEqual(sorted(dead.map((d) => d.id)));
    expect([...counts.values()]).toEqual([2, 2, 2, 2, 2]);

    // Nothing dead is left to replay.
    expect((await api.deliveries.replayDeliveries({ endpointId })).replayedCount).toBe(0n);
  });

  it("RetryDelivery of a RETRYING delivery sends it now, once: its scheduled attempt does not come on top", async () => {
    // The first attempt is told to come back in 10 s; the retry must not wait for that.
    const rx = await receiver(perDelivery([{ status: 503, headers: { "Retry-After": "10" } }, { status: 200 }]));
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "retry-now", {
      retryPolicy: { maxAttempts: 5, initialBackoff: ms(100), maxBackoff: ms(60_000) },
    });
    const [eventId] = await publish(tenantId, 1, "retry-now");
    const [waiting] = await waitStatuses(endpointId, DeliveryStatus.RETRYING, 1);
    expect(waiting!.attempts).toBe(1);
    const retriedAt = Date.now();
    const { delivery: retried } = await api.deliveries.retryDelivery({ id: waiting!.id });
    expect([DeliveryStatus.RETRYING, DeliveryStatus.SUCCEEDED]).toContain(retried!.status);
    expect(retried!.attempts).toBe(1);
    // Well before the 10 s the first attempt asked for.
    const done = await eventually(
      async () => {
        const { deliveries } = await api.deliveries.listDeliveries({ eventId: eventId! });
        return deliveries[0]?.status === DeliveryStatus.SUCCEEDED && deliveries[0];
      },
      8_000,
      "the retried delivery SUCCEEDED",
    );
    expect(done.attempts).toBe(2);
    // Past the time the first attempt's schedule pointed at (and a poll): still two requests.
    await sleep(Math.max(0, retriedAt + 13_000 - Date.now()));
    expect(rx.requests.map(webhookId)).toEqual([waiting!.id, waiting!.id]);
    expect((await api.deliveries.getDelivery({ id: waiting!.id })).delivery?.attempts).toBe(2);
  }, 60_000);

  it("ReplayDeliveries(RETRYING) sends retries waiting out a backoff now, once each", async () => {
    const rx = await receiver(perDelivery([{ status: 503, headers: { "Retry-After": "10" } }, { status: 200 }]));
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "replay-retrying", {
      retryPolicy: { maxAttempts: 5, initialBackoff: ms(100), maxBackoff: ms(60_000) },
    });
    await publish(tenantId, 2, "replay-retrying");
    const waiting = await waitStatuses(endpointId, DeliveryStatus.RETRYING, 2);
    const replayedAt = Date.now();
    const { replayedCount } = await api.deliveries.replayDeliveries({ endpointId, statuses: [DeliveryStatus.RETRYING] });
    expect(replayedCount).toBe(2n);
    // Well before the 10 s the first attempts asked for.
    const done = await waitStatuses(endpointId, DeliveryStatus.SUCCEEDED, 2, 8_000);
    expect(done.every((d) => d.attempts === 2)).toBe(true);
    await sleep(Math.max(0, replayedAt + 13_000 - Date.now()));
    expect(sorted(rx.requests.map(webhookId))).toEqual(sorted(waiting.flatMap((d) => [d.id, d.id])));
  }, 60_000);

  it("RetryDelivery of a delivery being attempted right now is FAILED_PRECONDITION", async () => {
    const rx = await receiver(() => ({ status: 200, delayMs: 3_000 }));
    const { tenantId } = await tenantWithEndpoint(rx, "in-flight", { timeout: ms(10_000) });
    const [eventId] = await publish(tenantId, 1, "in-flight");
    // Recorded on arrival: the answer is still 3 s away.
    await rx.waitFor((r) => r.length === 1);
    const { deliveries } = await api.deliveries.listDeliveries({ eventId: eventId! });
    const err = await rejection(api.deliveries.retryDelivery({ id: deliveries[0]!.id }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(/being attempted right now/);
    await eventually(async () => (await api.deliveries.getDelivery({ id: deliveries[0]!.id })).delivery?.status === DeliveryStatus.SUCCEEDED);
    expect(rx.requests).toHaveLength(1);
  });

  it("replays only the deliveries created inside the time window", async () => {
    const { rx, set } = await switchable(500);
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "replay", { retryPolicy: ONE_SHOT });
    const before = await publish(tenantId, 3, "before");
    await sleep(30);
    const start = Date.now();
    await sleep(5);
    const inside = await publish(tenantId, 4, "inside");
    await sleep(30);
    const end = Date.now();
    await sleep(30);
    const after = await publish(tenantId, 2, "after");
    await waitStatuses(endpointId, DeliveryStatus.DEAD, 9);

    set(200);
    const { replayedCount } = await api.deliveries.replayDeliveries({
      endpointId,
      statuses: [DeliveryStatus.DEAD],
      startTime: timestampFromMs(start),
      endTime: timestampFromMs(end),
    });
    expect(replayedCount).toBe(4n);
    await rx.waitFor((r) => r.length === 13);
    const succeeded = await eventually(async () => {
      const ok = await listAll({ endpointId, statuses: [DeliveryStatus.SUCCEEDED] });
      return ok.length === 4 && ok;
    });
    expect(sorted(succeeded.map((d) => d.eventId))).toEqual(sorted(inside));
    const stillDead = await listAll({ endpointId, statuses: [DeliveryStatus.DEAD] });
    expect(sorted(stillDead.map((d) => d.eventId))).toEqual(sorted([...before, ...after]));
    await sleep(200);
    expect(rx.requests).toHaveLength(13);

    // A window with only a lower bound takes the rest of the later ones.
    expect((await api.deliveries.replayDeliveries({ endpointId, startTime: timestampFromMs(end) })).replayedCount).toBe(2n);
    await rx.waitFor((r) => r.length === 15);
  });

  it("ListDeliveries filters by tenant, endpoint, event and status, and pages with page_token", async () => {
    const rx = await receiver((req) => ({ status: req.path.includes("ep=bad") ? 400 : 200 }));
    const tenantA = await newTenant("list-a");
    const tenantB = await newTenant("list-b");
    const good = (await api.endpoints.createEndpoint({ tenantId: tenantA, url: `${rx.url}?ep=good`, retryPolicy: ONE_SHOT })).endpoint!.id;
    const bad = (await api.endpoints.createEndpoint({ tenantId: tenantA, url: `${rx.url}?ep=bad`, retryPolicy: ONE_SHOT })).endpoint!.id;
    const other = (await api.endpoints.createEndpoint({ tenantId: tenantB, url: `${rx.url}?ep=other`, retryPolicy: ONE_SHOT })).endpoint!.id;
    const eventsA = await publish(tenantA, 3, "a");
    const eventsB = await publish(tenantB, 2, "b");
    await rx.waitFor((r) => r.length === 8);
    await waitStatuses(good, DeliveryStatus.SUCCEEDED, 3);
    await waitStatuses(bad, DeliveryStatus.DEAD, 3);
    await waitStatuses(other, DeliveryStatus.SUCCEEDED, 2);

    const ofA = await listAll({ tenantId: tenantA });
    expect(ofA).toHaveLength(6);
    expect(ofA.every((d) => d.tenantId === tenantA)).toBe(true);
    expect(sorted(new Set(ofA.map((d) => d.eventId)))).toEqual(sorted(eventsA));
    // Newest first.
    expect(ofA.map((d) => d.id)).toEqual([...ofA.map((d) => d.id)].sort().reverse());

    const ofB = await listAll({ tenantId: tenantB });
    expect(ofB.map((d) => d.endpointId)).toEqual([other, other]);
    expect(sorted(ofB.map((d) => d.eventId))).toEqual(sorted(eventsB));

    const ofBad = await listAll({ endpointId: bad });
    expect(ofBad).toHaveLength(3);
    expect(ofBad.every((d) => d.endpointId === bad && d.status === DeliveryStatus.DEAD && d.lastStatusCode === 400)).toBe(true);

    const ofEvent = await listAll({ eventId: eventsA[1]! });
    expect(ofEvent.every((d) => d.eventId === eventsA[1])).toBe(true);
    expect(sorted(ofEvent.map((d) => d.endpointId))).toEqual(sorted([good, bad]));

    const deadOfA = await listAll({ tenantId: tenantA, statuses: [DeliveryStatus.DEAD] });
    expect(deadOfA.map((d) => d.endpointId)).toEqual([bad, bad, bad]);
    const succeededOfA = await listAll({ tenantId: tenantA, statuses: [DeliveryStatus.SUCCEEDED] });
    expect(succeededOfA.map((d) => d.endpointId)).toEqual([good, good, good]);
    expect(await listAll({ tenantId: tenantA, statuses: [DeliveryStatus.SUCCEEDED, DeliveryStatus.DEAD] })).toHaveLength(6);
    expect(await listAll({ tenantId: tenantA, statuses: [DeliveryStatus.PENDING, DeliveryStatus.RETRYING] })).toHaveLength(0);
    expect(await listAll({ endpointId: good, statuses: [DeliveryStatus.DEAD] })).toHaveLength(0);
    expect(await listAll({ tenantId: tenantB, eventId: eventsA[0]! })).toHaveLength(0);
    const oneEventOneEndpoint = await listAll({ eventId: eventsA[0]!, endpointId: good });
    expect(oneEventOneEndpoint).toHaveLength(1);
    expect(oneEventOneEndpoint[0]!.endpointId).toBe(good);

    // Paging: small pages walk the same list, without gaps or repeats; the last page has no token.
    const first = await api.deliveries.listDeliveries({ tenantId: tenantA, pageSize: 4 });
    expect(first.deliveries).toHaveLength(4);
    expect(first.nextPageToken).not.toBe("");
    const second = await api.deliveries.listDeliveries({ tenantId: tenantA, pageSize: 4, pageToken: first.nextPageToken });
    expect(second.deliveries).toHaveLength(2);
    expect(second.nextPageToken).toBe("");
    expect([...first.deliveries, ...second.deliveries].map((d) => d.id)).toEqual(ofA.map((d) => d.id));
    const byOne = await listAll({ tenantId: tenantA }, 1);
    expect(byOne.map((d) => d.id)).toEqual(ofA.map((d) => d.id));
    // An exact multiple of the page size ends without an empty extra page.
    const exact = await api.deliveries.listDeliveries({ tenantId: tenantA, pageSize: 3, statuses: [DeliveryStatus.DEAD] });
    expect(exact.deliveries).toHaveLength(3);
    expect(exact.nextPageToken).toBe("");
  });

  it("replays a bulk of 20,000 dead deliveries in one call", async () => {
    const total = 20_000;
    // Answers 400 with retry_client_errors off: one attempt each, straight to DEAD.
    const { rx } = await switchable(400);
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "bulk", { retryPolicy: ONE_SHOT, maxInFlight: 256 });
    const batch = 1000;
    for (let sent = 0; sent < total; sent += batch) {
      const { results } = await api.events.publish({
        events: Array.from({ length: batch }, (_, i) => ({ tenantId, type: "replay.bulk", payload: json({ n: sent + i }) })),
      });
      expect(results).toHaveLength(batch);
    }
    // Wait until nothing of the endpoint is open any more.
    await rx.waitFor((r) => r.length >= total, 120_000);
    await eventually(
      async () => {
        const { stats } = await api.endpoints.getEndpointStats({ id: endpointId });
        return stats!.pending + stats!.retrying + stats!.inFlight === 0n;
      },
      30_000,
      "empty backlog",
    );
    expect(rx.requests).toHaveLength(total);
    expect(rx.uniqueIds().size).toBe(total);

    const { replayedCount } = await api.deliveries.replayDeliveries({ endpointId });
    expect(replayedCount).toBe(BigInt(total));
    // They are open again (not all of them can have been re-attempted yet at this size).
    const { stats } = await api.endpoints.getEndpointStats({ id: endpointId });
    expect(stats!.pending + stats!.retrying + stats!.inFlight).toBeGreaterThan(0n);
    // Let the replayed ones run out (they fail again: the receiver still answers 400).
    await rx.waitFor((r) => r.length >= 2 * total, 120_000);
    expect(rx.uniqueIds().size).toBe(total);
  }, 300_000);
});
