import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HooklineError } from "../../src/core/errors.ts";
import { deliveryId, newId } from "../../src/core/ids.ts";
import { DeliveryStatus, type Endpoint, type EventInput, type OrderingMode, type PublishResult } from "../../src/core/types.ts";
import type { AttemptRecord, ClaimedDelivery, ClaimRequest, DeliveryQueue, EndpointUpdates, Store } from "../../src/store/store.ts";
import { endpointRecord } from "../helpers/records.ts";
import { sleep } from "../helpers/time.ts";

/**
 * The store contract: what the dispatcher and the API rely on from any backend, written once
 * and run against each (test/store/sqlite-contract.test.ts, test/jetstream/store-contract.test.ts).
 * Every case works on a tenant and endpoints of its own, so cases share one store.
 */

/** The idempotency window the runners open their stores with (JetStream takes it at open). */
export const IDEMPOTENCY_WINDOW_MS = 60_000;

/** An opened store and how to take it (and whatever it runs on) down again. */
export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
}

/** How long a claim keeps asking before the case takes "nothing" for an answer. */
const QUIET_MS = 200;
/** How long a claim keeps asking for deliveries that are due. */
const DUE_WAIT_MS = 2_500;
export const NO_ENDPOINT_CHANGES: EndpointUpdates = { disable: new Map(), failingSince: new Map() };
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/**
 * Claims for one endpoint until `done` holds for everything claimed so far, or `timeoutMs`
 * passes, and returns what was claimed, in claim order. A networked store may answer a claim
 * before a due message has reached it (it hands that one out at the next claim), so a single
 * empty claim proves nothing there; on SQLite the first claim already has the answer.
 */
export async function claimUntil(
  store: DeliveryQueue,
  request: ClaimRequest,
  done: (claimed: readonly ClaimedDelivery[]) => boolean,
  timeoutMs: number,
): Promise<ClaimedDelivery[]> {
  const claimed: ClaimedDelivery[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [result] = await store.claim([{ ...request, limit: request.limit - claimed.length }], Date.now());
    claimed.push(...(result?.claimed ?? []));
    if (done(claimed) || claimed.length >= request.limit || Date.now() >= deadline) return claimed;
    await sleep(20);
  }
}

/** Claims for a while, expecting nothing: whatever did come is returned for the assertion. */
function claimNothing(store: DeliveryQueue, request: ClaimRequest): Promise<ClaimedDelivery[]> {
  return claimUntil(store, request, (claimed) => claimed.length > 0, QUIET_MS);
}

/** Claims until exactly these deliveries came (or the wait ran out). */
function claimAll(store: DeliveryQueue, request: ClaimRequest, count: number): Promise<ClaimedDelivery[]> {
  return claimUntil(store, request, (claimed) => claimed.length >= count, DUE_WAIT_MS);
}

/** The dispatcher's record of one attempt of a claimed delivery. */
export function attemptOf(claimed: ClaimedDelivery, status: DeliveryStatus, nowMs: number, nextAttemptMs = 0): AttemptRecord {
  const succeeded = status === DeliveryStatus.Succeeded;
  return {
    attempt: {
      id: newId("att", nowMs),
      deliveryId: claimed.deliveryId,
      number: claimed.attempts + 1,
      startedMs: nowMs,
      durationMs: 3,
      statusCode: succeeded ? 200 : 500,
      error: succeeded ? "" : "HTTP 500",
      responseBody: new TextEncoder().encode(succeeded ? "ok" : "boom"),
    },
    status,
    nextAttemptMs,
  };
}

/** An event of type contract.test with this body, unless `fields` say otherwise. */
export function contractEvent(tenantId: string, body: string, fields: Partial<EventInput> = {}): EventInput {
  return {
    tenantId,
    type: "contract.test",
    payload: new TextEncoder().encode(body),
    idempotencyKey: "",
    orderingKey: "",
    priority: 0,
    ...fields,
  };
}

/** The result of a publish of one event. */
function single(results: readonly (readonly PublishResult[])[]): PublishResult {
  const result = results[0]?.[0];
  if (!result) throw new Error("publish returned no result");
  return result;
}

const ids = (claimed: readonly ClaimedDelivery[]): string[] => claimed.map((c) => c.deliveryId);

export function storeContract(backend: string, open: () => Promise<OpenedStore>): void {
  describe(`store contract: ${backend}`, () => {
    let opened: OpenedStore | undefined;
    let store: Store;

    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => {
      await opened?.close();
    });

    /** A tenant of the case's own and `count` endpoints of it. */
    async function tenantWith(count: number, ordering: OrderingMode = "unordered"): Promise<{ tenantId: string; endpoints: Endpoint[] }> {
      const now = Date.now();
      const tenantId = newId("tnt", now);
      await store.createTenant({ id: tenantId, name: `contract ${backend}`, rateLimitPerSecond: 0, metadata: {}, createdMs: now, updatedMs: now });
      const endpoints: Endpoint[] = [];
      for (let i = 0; i < count; i++) {
        const endpoint = endpointRecord(tenantId, { id: newId("ep", now), ordering, eventTypes: ["contract.*"] });
        await store.createEndpoint(endpoint);
        endpoints.push(endpoint);
      }
      return { tenantId, endpoints };
    }

    const event = contractEvent;

    /** Publishes one event per body, each its own call a millisecond apart (creation order is publish order); its delivery ids. */
    async function publishEach(tenantId: string, endpointId: string, bodies: readonly (string | EventInput)[], fromMs = Date.now()): Promise<string[]> {
      const out: string[] = [];
      for (const [i, body] of bodies.entries()) {
        const input = typeof body === "string" ? event(tenantId, body) : body;
        const result = single(await store.publish([[input]], () => [endpointId], fromMs + i, IDEMPOTENCY_WINDOW_MS));
        out.push(deliveryId(result.eventId, 0));
      }
      return out;
    }

    async function succeed(claimed: readonly ClaimedDelivery[]): Promise<void> {
      const now = Date.now();
      await store.complete(
        claimed.map((c) => attemptOf(c, DeliveryStatus.Succeeded, now)),
        NO_ENDPOINT_CHANGES,
        now,
      );
    }

    it("deleting an endpoint cancels its open deliveries, saying why, and keeps its finished ones", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const [endpoint] = endpoints as [Endpoint];
      const [done, open] = (await publishEach(tenantId, endpoint.id, ['{"n":1}', '{"n":2}'])) as [string, string];
      const first = await claimUntil(store, { endpointId: endpoint.id, limit: 1, ordered: false }, (c) => c.some((d) => d.deliveryId === done), DUE_WAIT_MS);
      await succeed(first.filter((d) => d.deliveryId === done));
      // Anything else claimed goes back first: a delivery in flight is not the case here.
      await store.releaseLeases();

      const now = Date.now();
      expect(await store.deleteEndpoint(endpoint.id, now)).toBe(true);
      expect(await store.getDelivery(open)).toMatchObject({ status: DeliveryStatus.Cancelled, lastError: "endpoint deleted", nextAttemptMs: 0 });
      expect(await store.getDelivery(done)).toMatchObject({ status: DeliveryStatus.Succeeded, lastError: "" });
    });

    it("publish stores each event with a delivery per endpoint the fan-out names, results in input order", async () => {
      const { tenantId, endpoints } = await tenantWith(2);
      const [a, b] = endpoints as [Endpoint, Endpoint];
      const asked: string[] = [];
      const fanOut = (tenant: string, type: string): readonly string[] => {
        asked.push(`${tenant}/${type}`);
        if (tenant !== tenantId) return [];
        if (type === "contract.created") return [a.id, b.id];
        if (type === "contract.paid") return [b.id];
        return [];
      };
      const now = Date.now();
      const inputs = [
        [event(tenantId, '{"n":1}', { type: "contract.created", orderingKey: "order-1" }), event(tenantId, '{"n":2}', { type: "contract.paid", priority: 3 })],
        [event(tenantId, '{"n":3}', { type: "contract.ignored" })],
      ];
      const results = await store.publish(inputs, fanOut, now, IDEMPOTENCY_WINDOW_MS);

      expect(results.map((batch) => batch.map((r) => [r.duplicate, r.deliveryCount]))).toEqual([[[false, 2], [false, 1]], [[false, 0]]]);
      expect(asked).toEqual([`${tenantId}/contract.created`, `${tenantId}/contract.paid`, `${tenantId}/contract.ignored`]);
      // Each result names the event made from the input at its place.
      for (const [bi, batch] of results.entries()) {
        for (const [ei, result] of batch.entries()) {
          const input = inputs[bi]![ei]!;
          const stored = await store.getEvent(result.eventId);
          expect(stored).toMatchObject({ id: result.eventId, tenantId, type: input.type, orderingKey: input.orderingKey, priority: input.priority, idempotencyKey: "", createdMs: now });
          expect(text(stored!.payload)).toBe(text(input.payload));
        }
      }
      expect(new Set(results.flat().map((r) => r.eventId)).size).toBe(3);

      // Deliveries: the n-th endpoint the fan-out named gets the event's n-th delivery id.
      const created = results[0]![0]!.eventId;
      const paid = results[0]![1]!.eventId;
      const pending = { status: DeliveryStatus.Pending, attempts: 0, tenantId, createdMs: now, lastStatusCode: 0, lastError: "" };
      expect(await store.getDelivery(deliveryId(created, 0))).toMatchObject({ ...pending, eventId: created, endpointId: a.id, eventType: "contract.created" });
      expect(await store.getDelivery(deliveryId(created, 1))).toMatchObject({ ...pending, eventId: created, endpointId: b.id, eventType: "contract.created" });
      expect(await store.getDelivery(deliveryId(paid, 0))).toMatchObject({ ...pending, eventId: paid, endpointId: b.id });
      expect(await store.getDelivery(deliveryId(paid, 1))).toBeUndefined();
      const byEvent = await store.listDeliveries({ tenantId, endpointId: "", eventId: created, statuses: [] }, undefined, 10);
      expect(byEvent.map((d) => d.id).sort()).toEqual([deliveryId(created, 0), deliveryId(created, 1)]);
      const ofB = await store.listDeliveries({ tenantId, endpointId: b.id, eventId: "", statuses: [] }, undefined, 10);
      // Newest first.
      expect(ofB.map((d) => d.id)).toEqual([deliveryId(paid, 0), deliveryId(created, 1)]);
      expect(await store.getEvent(newId("evt"))).toBeUndefined();
    });

    it("claim leases due deliveries up to the limit, oldest first, and never hands a leased one out again; complete records the attempt", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const endpoint = endpoints[0]!;
      const published = await publishEach(tenantId, endpoint.id, ["d0", "d1", "d2", "d3", "d4"], Date.now() - 100);
      const request = { endpointId: endpoint.id, limit: 3, ordered: false };

      const first = await claimAll(store, request, 3);
      expect(ids(first)).toEqual(published.slice(0, 3));
      expect(first.map((c) => text(c.payload))).toEqual(["d0", "d1", "d2"]);
      expect(first[0]).toMatchObject({ endpointId: endpoint.id, tenantId, eventType: "contract.test", orderingKey: "", attempts: 0, cycleAttempts: 0 });
      expect(first[0]!.eventId).toBe(published[0]!.replace("dlv_", "evt_").slice(0, -3));

      // The rest, and nothing of what is leased.
      const rest = await claimAll(store, { ...request, limit: 10 }, 2);
      expect(ids(rest)).toEqual(published.slice(3));
      expect(await claimNothing(store, { ...request, limit: 10 })).toEqual([]);

      const now = Date.now();
      const record = attemptOf(first[0]!, DeliveryStatus.Succeeded, now);
      await store.complete([record], NO_ENDPOINT_CHANGES, now);
      expect(await store.getDelivery(published[0]!)).toMatchObject({ status: DeliveryStatus.Succeeded, attempts: 1, lastStatusCode: 200, lastError: "" });
      const attempts = await store.listAttempts(published[0]!, undefined, 10);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]).toMatchObject({ id: record.attempt.id, deliveryId: published[0], number: 1, statusCode: 200, startedMs: now, durationMs: 3, error: "" });
      expect(text(attempts[0]!.responseBody)).toBe("ok");

      // Completed ones are done with; the others stay leased until completed.
      await succeed([...first.slice(1), ...rest]);
      expect(await claimNothing(store, { ...request, limit: 10 })).toEqual([]);
      for (const id of published) expect((await store.getDelivery(id))?.status).toBe(DeliveryStatus.Succeeded);
    });

    it("a retry is not handed out before its next attempt is due, and is after", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const endpoint = endpoints[0]!;
      const [id] = (await publishEach(tenantId, endpoint.id, ["retry me"])) as [string];
      const request = { endpointId: endpoint.id, limit: 10, ordered: false };
      const [claimed] = await claimAll(store, request, 1);
      expect(claimed?.deliveryId).toBe(id);

      const now = Date.now();
      const dueMs = now + 800;
      await store.complete([attemptOf(claimed!, DeliveryStatus.Retrying, now, dueMs)], NO_ENDPOINT_CHANGES, now);
      expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Retrying, attempts: 1, nextAttemptMs: dueMs, lastStatusCode: 500, lastError: "HTTP 500" });

      const early = await claimNothing(store, request);
      // Only meaningful while the retry is not due yet (a stalled machine may pass that moment).
      if (Date.now() < dueMs) expect(early).toEqual([]);

      const again = await claimUntil(store, request, (c) => c.length > 0, DUE_WAIT_MS);
      expect(Date.now()).toBeGreaterThanOrEqual(dueMs);
      expect(ids(again)).toEqual([id]);
      expect(again[0]).toMatchObject({ attempts: 1, cycleAttempts: 1 });
      expect(text(again[0]!.payload)).toBe("retry me");

      await succeed(again);
      expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Succeeded, attempts: 2 });
      expect((await store.listAttempts(id, undefined, 10)).map((a) => [a.number, a.statusCode])).toEqual([
        [1, 500],
        [2, 200],
      ]);
      // Pages: afterId is the last attempt of the previous page.
      const [firstPage] = await store.listAttempts(id, undefined, 1);
      expect(firstPage?.number).toBe(1);
      expect((await store.listAttempts(id, firstPage!.id, 10)).map((a) => a.number)).toEqual([2]);
    });

    it("retryDelivery calls back a retry waiting out a long backoff: due now, with a fresh cycle", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const endpoint = endpoints[0]!;
      const [id] = (await publishEach(tenantId, endpoint.id, ["call me back"])) as [string];
      const request = { endpointId: endpoint.id, limit: 10, ordered: false };
      const [claimed] = await claimAll(store, request, 1);
      const now = Date.now();
      await store.complete([attemptOf(claimed!, DeliveryStatus.Retrying, now, now + 60_000)], NO_ENDPOINT_CHANGES, now);
      expect(await claimNothing(store, request)).toEqual([]);

      const retryMs = Date.now();
      expect(await store.retryDelivery(id, retryMs)).toMatchObject({ status: DeliveryStatus.Retrying, attempts: 1, nextAttemptMs: retryMs });
      const back = await claimAll(store, request, 1);
      expect(ids(back)).toEqual([id]);
      expect(back[0]).toMatchObject({ attempts: 1, cycleAttempts: 0, cycleStartMs: retryMs });
      await succeed(back);
      expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Succeeded, attempts: 2 });
    });

    it("releaseLeases gives leased deliveries back to the queue, without counting an attempt", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const endpoint = endpoints[0]!;
      const published = await publishEach(tenantId, endpoint.id, ["r0", "r1"]);
      const request = { endpointId: endpoint.id, limit: 10, ordered: false };
      expect(ids(await claimAll(store, request, 2))).toEqual(published);
      expect(await claimNothing(store, request)).toEqual([]);

      // Store-wide: whatever else is leased (or held for a claim) goes back too.
      expect(await store.releaseLeases()).toBeGreaterThanOrEqual(2);
      const again = await claimAll(store, request, 2);
      expect(ids(again)).toEqual(published);
      expect(again.map((c) => [c.attempts, c.cycleAttempts])).toEqual([
        [0, 0],
        [0, 0],
      ]);
      for (const id of published) expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Pending, attempts: 0 });
      await succeed(again);
    });

    it("an ordered endpoint hands out only the head of each ordering key, and the next once the head is done", async () => {
      const { tenantId, endpoints } = await tenantWith(1, "ordered_by_key");
      const endpoint = endpoints[0]!;
      const plan: [label: string, key: string][] = [
        ["a1", "key-a"],
        ["b1", "key-b"],
        ["a2", "key-a"],
        ["u1", ""],
        ["b2", "key-b"],
        ["a3", "key-a"],
        ["u2", ""],
      ];
      const published = await publishEach(
        tenantId,
        endpoint.id,
        plan.map(([label, key]) => event(tenantId, label, { orderingKey: key })),
        Date.now() - 100,
      );
      const labelOf = new Map(published.map((id, i) => [id, plan[i]![0]]));
      const queues = new Map<string, string[]>();
      for (const [label, key] of plan) if (key !== "") queues.set(key, [...(queues.get(key) ?? []), label]);
      const request = { endpointId: endpoint.id, limit: 10, ordered: true };

      const handedOut: string[] = [];
      let unkeyedTogether = 0;
      const deadline = Date.now() + 5 * DUE_WAIT_MS;
      while (handedOut.length < plan.length && Date.now() < deadline) {
        // Whatever comes, then whatever else comes while those are in flight.
        const held = await claimUntil(store, request, (c) => c.length > 0, DUE_WAIT_MS);
        held.push(...(await claimNothing(store, request)));
        const keysInFlight = new Set<string>();
        for (const c of held) {
          const label = labelOf.get(c.deliveryId) as string;
          handedOut.push(label);
          if (c.orderingKey === "") continue;
          expect(keysInFlight.has(c.orderingKey), `${label}: a second delivery of ${c.orderingKey} while one is in flight`).toBe(false);
          keysInFlight.add(c.orderingKey);
          expect(label, `${label} handed out before the head of ${c.orderingKey}`).toBe(queues.get(c.orderingKey)?.shift());
        }
        unkeyedTogether = Math.max(unkeyedTogether, held.filter((c) => c.orderingKey === "").length);
        await succeed(held);
      }
      expect([...handedOut].sort()).toEqual(plan.map(([label]) => label).sort());
      expect(handedOut.filter((l) => l.startsWith("a"))).toEqual(["a1", "a2", "a3"]);
      expect(handedOut.filter((l) => l.startsWith("b"))).toEqual(["b1", "b2"]);
      // Deliveries without a key are not ordered: both were out at once.
      expect(unkeyedTogether).toBe(2);
    });

    it("replay and retry queue finished deliveries again with a fresh cycle; a delivery in flight cannot be retried", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const endpoint = endpoints[0]!;
      // Ids sort by creation time: the replay window sees "old" as created before t0.
      const [old] = await publishEach(tenantId, endpoint.id, ["old"]);
      await sleep(20);
      const t0 = Date.now();
      const inWindow = await publishEach(tenantId, endpoint.id, ["w0", "w1"], t0);
      const request = { endpointId: endpoint.id, limit: 10, ordered: false };
      // Which comes first is the claim case's business: here only what comes back.
      const firstRound = await claimAll(store, request, 3);
      expect(ids(firstRound).sort()).toEqual([old, ...inWindow].sort());
      const killedMs = Date.now();
      await store.complete(
        firstRound.map((c) => attemptOf(c, DeliveryStatus.Dead, killedMs)),
        NO_ENDPOINT_CHANGES,
        killedMs,
      );
      expect(await claimNothing(store, request)).toEqual([]);

      // Dead ones created in [t0, t0 + 1 s): the two in the window, not the old one.
      const replayMs = Date.now();
      expect(await store.replayDeliveries(endpoint.id, [DeliveryStatus.Dead], t0, t0 + 1_000, replayMs)).toBe(2);
      for (const id of inWindow) expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Retrying, attempts: 1, nextAttemptMs: replayMs });
      expect(await store.getDelivery(old!)).toMatchObject({ status: DeliveryStatus.Dead, attempts: 1 });
      const replayed = await claimAll(store, request, 2);
      expect(ids(replayed).sort()).toEqual([...inWindow].sort());
      for (const c of replayed) expect(c).toMatchObject({ attempts: 1, cycleAttempts: 0, cycleStartMs: replayMs });
      await succeed(replayed);
      expect(ids(await claimNothing(store, request)), "handed out again after it succeeded").toEqual([]);

      // One delivery, finished (succeeded) or dead: queued again the same way.
      const retryMs = Date.now();
      expect(await store.retryDelivery(inWindow[0]!, retryMs)).toMatchObject({ status: DeliveryStatus.Retrying, attempts: 2, nextAttemptMs: retryMs });
      expect(await store.retryDelivery(old!, retryMs)).toMatchObject({ status: DeliveryStatus.Retrying, attempts: 1, nextAttemptMs: retryMs });
      const retried = await claimAll(store, request, 2);
      expect(ids(retried).sort()).toEqual([old, inWindow[0]].sort());
      const byId = new Map(retried.map((c) => [c.deliveryId, c]));
      expect(byId.get(inWindow[0]!)).toMatchObject({ attempts: 2, cycleAttempts: 0, cycleStartMs: retryMs });
      expect(byId.get(old!)).toMatchObject({ attempts: 1, cycleAttempts: 0, cycleStartMs: retryMs });

      // In flight now: retrying it would have it sent twice.
      const refused = await store.retryDelivery(old!, Date.now()).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(HooklineError);
      expect((refused as HooklineError).code).toBe("failed_precondition");
      await succeed(retried);
      expect(await store.getDelivery(old!)).toMatchObject({ status: DeliveryStatus.Succeeded, attempts: 2 });
      expect((await store.listAttempts(old!, undefined, 10)).map((a) => a.number)).toEqual([1, 2]);
    });

    it("listAttempts gives every attempt of a delivery oldest first, with its outcome, body and request headers, in pages", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const endpoint = endpoints[0]!;
      const [id] = (await publishEach(tenantId, endpoint.id, ["attempts"])) as [string];
      const request = { endpointId: endpoint.id, limit: 10, ordered: false };
      const made: AttemptRecord[] = [];
      /** Claims the delivery and records one attempt with this outcome, each with headers of its own. */
      const attempt = async (status: DeliveryStatus): Promise<void> => {
        const [claimed] = await claimAll(store, request, 1);
        const now = Date.now();
        const record = attemptOf(claimed!, status, now, status === DeliveryStatus.Retrying ? now : 0);
        record.attempt.requestHeaders = `user-agent: contract\nwebhook-signature: v1,sig${made.length + 1}`;
        made.push(record);
        await store.complete([record], NO_ENDPOINT_CHANGES, now);
        await sleep(2);
      };
      await attempt(DeliveryStatus.Retrying);
      await attempt(DeliveryStatus.Retrying);
      await attempt(DeliveryStatus.Succeeded);
      // Finished, then sent again on request: the earlier attempts stay in its log.
      await store.retryDelivery(id, Date.now());
      await attempt(DeliveryStatus.Succeeded);

      const all = await store.listAttempts(id, undefined, 10);
      expect(all.map((a) => a.id)).toEqual(made.map((r) => r.attempt.id));
      expect(all.map((a) => a.number)).toEqual([1, 2, 3, 4]);
      expect(all.map((a) => a.statusCode)).toEqual([500, 500, 200, 200]);
      expect(all.map((a) => a.error)).toEqual(["HTTP 500", "HTTP 500", "", ""]);
      expect(all.map((a) => text(a.responseBody))).toEqual(["boom", "boom", "ok", "ok"]);
      expect(all.map((a) => a.requestHeaders)).toEqual(made.map((r) => r.attempt.requestHeaders));
      expect(all.every((a) => a.deliveryId === id && a.durationMs === 3)).toBe(true);
      expect(all.map((a) => a.startedMs)).toEqual(made.map((r) => r.attempt.startedMs));
      expect(await store.getDelivery(id)).toMatchObject({ status: DeliveryStatus.Succeeded, attempts: 4 });

      // Pages of two, by the last id of the page before.
      const first = await store.listAttempts(id, undefined, 2);
      const second = await store.listAttempts(id, first.at(-1)!.id, 2);
      expect([...first, ...second].map((a) => a.number)).toEqual([1, 2, 3, 4]);
      expect(await store.listAttempts(id, second.at(-1)!.id, 2)).toEqual([]);
    });

    it("a repeated idempotency key inside the window answers with the first event and queues nothing", async () => {
      const { tenantId, endpoints } = await tenantWith(1);
      const endpoint = endpoints[0]!;
      const other = await tenantWith(1);
      const fanOut = (tenant: string): readonly string[] => (tenant === tenantId ? [endpoint.id] : [other.endpoints[0]!.id]);
      const now = Date.now();
      const keyed = (tenant: string, body: string, key: string): EventInput => event(tenant, body, { idempotencyKey: key });

      const first = single(await store.publish([[keyed(tenantId, "first", "order-1")]], fanOut, now, IDEMPOTENCY_WINDOW_MS));
      expect(first).toMatchObject({ duplicate: false, deliveryCount: 1 });
      const repeat = single(await store.publish([[keyed(tenantId, "second", "order-1")]], fanOut, now + 1, IDEMPOTENCY_WINDOW_MS));
      expect(repeat).toEqual({ eventId: first.eventId, duplicate: true, deliveryCount: 0 });
      // The key is the tenant's: another tenant's same key is an event of its own.
      const elsewhere = single(await store.publish([[keyed(other.tenantId, "other", "order-1")]], fanOut, now + 1, IDEMPOTENCY_WINDOW_MS));
      expect(elsewhere).toMatchObject({ duplicate: false, deliveryCount: 1 });
      expect(elsewhere.eventId).not.toBe(first.eventId);
      // A repeat inside one batch is answered from the first of the batch.
      const [inBatch] = await store.publish([[keyed(tenantId, "third", "order-2"), keyed(tenantId, "fourth", "order-2")]], fanOut, now + 2, IDEMPOTENCY_WINDOW_MS);
      expect(inBatch![0]).toMatchObject({ duplicate: false, deliveryCount: 1 });
      expect(inBatch![1]).toEqual({ eventId: inBatch![0]!.eventId, duplicate: true, deliveryCount: 0 });

      expect(text((await store.getEvent(first.eventId))!.payload)).toBe("first");
      const deliveries = await store.listDeliveries({ tenantId, endpointId: endpoint.id, eventId: "", statuses: [] }, undefined, 10);
      expect(deliveries.map((d) => d.eventId).sort()).toEqual([first.eventId, inBatch![0]!.eventId].sort());
      const request = { endpointId: endpoint.id, limit: 10, ordered: false };
      const claimed = await claimAll(store, request, 2);
      expect(claimed.map((c) => text(c.payload)).sort()).toEqual(["first", "third"]);
      expect(await claimNothing(store, request)).toEqual([]);
      await succeed(claimed);
    });
  });
}
