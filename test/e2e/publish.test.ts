import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import type { PublishRequestSchema, PublishStreamRequestSchema, PublishStreamResponse } from "../../src/gen/hookline/v1/event_pb.ts";
import { json } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, type ReceivedRequest } from "../helpers/receiver.ts";
import { sleep } from "../helpers/time.ts";

const bodyOf = (req: ReceivedRequest): unknown => JSON.parse(req.body.toString("utf8"));
const sorted = <T>(xs: Iterable<T>): T[] => [...xs].sort();

describe("publishing: idempotency, event-type fan-out, batch validation, PublishStream", () => {
  const { api, receiver, newTenant, tenantWithEndpoint } = useHookline();

  /** Waits until the tenant has exactly `count` deliveries, all SUCCEEDED (so the receiver has them all). */
  async function allDelivered(tenantId: string, count: number): Promise<void> {
    await eventually(
      async () => {
        const { deliveries } = await api.deliveries.listDeliveries({ tenantId });
        return deliveries.length === count && deliveries.every((d) => d.status === DeliveryStatus.SUCCEEDED);
      },
      15_000,
      `${count} deliveries of ${tenantId} succeeded`,
    );
    // Anything sent after that would be a stray duplicate: give it a moment to show up.
    await sleep(150);
  }

  it("same tenant + idempotency key: the same event id, duplicate=true, no new delivery", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "publish");
    const event = { tenantId, type: "order.created", payload: json({ order: 1 }), idempotencyKey: "order-1" };
    const first = (await api.events.publish({ events: [event] })).results[0]!;
    expect(first.duplicate).toBe(false);
    expect(first.deliveryCount).toBe(1);
    expect(first.eventId).toMatch(/^evt_/);

    // Same key, even with another payload: the first event stands.
    const again = (await api.events.publish({ events: [{ ...event, payload: json({ order: "changed" }) }] })).results[0]!;
    expect(again.eventId).toBe(first.eventId);
    expect(again.duplicate).toBe(true);
    expect(again.deliveryCount).toBe(0);

    const { event: stored } = await api.events.getEvent({ id: first.eventId });
    expect(JSON.parse(Buffer.from(stored!.payload).toString())).toEqual({ order: 1 });
    expect(stored!.idempotencyKey).toBe("order-1");

    expect((await api.deliveries.listDeliveries({ eventId: first.eventId })).deliveries).toHaveLength(1);
    await allDelivered(tenantId, 1);
    expect(rx.requests.map(bodyOf)).toEqual([{ order: 1 }]);
  });

  it("the same key in another tenant is independent", async () => {
    const rx = await receiver();
    const a = await tenantWithEndpoint(rx, "idem-a");
    const b = await tenantWithEndpoint(rx, "idem-b");
    const key = "shared-key";
    const ra = (await api.events.publish({ events: [{ tenantId: a.tenantId, type: "x.y", payload: json({ t: "a" }), idempotencyKey: key }] })).results[0]!;
    const rb = (await api.events.publish({ events: [{ tenantId: b.tenantId, type: "x.y", payload: json({ t: "b" }), idempotencyKey: key }] })).results[0]!;
    expect(ra.duplicate).toBe(false);
    expect(rb.duplicate).toBe(false);
    expect(rb.eventId).not.toBe(ra.eventId);
    expect(ra.deliveryCount).toBe(1);
    expect(rb.deliveryCount).toBe(1);
    await rx.waitFor((r) => r.length === 2);
    expect(sorted(rx.requests.map((r) => (bodyOf(r) as { t: string }).t))).toEqual(["a", "b"]);
    // Each tenant still dedupes its own.
    const rb2 = (await api.events.publish({ events: [{ tenantId: b.tenantId, type: "x.y", payload: json({ t: "b2" }), idempotencyKey: key }] })).results[0]!;
    expect(rb2).toMatchObject({ eventId: rb.eventId, duplicate: true, deliveryCount: 0 });
  });

  it("duplicates inside one batch resolve to the first event of the batch", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "publish");
    const ev = (key: string, n: number) => ({ tenantId, type: "batch.item", payload: json({ n }), idempotencyKey: key });
    const { results } = await api.events.publish({ events: [ev("k1", 1), ev("k1", 2), ev("k2", 3), ev("k1", 4), ev("", 5), ev("", 6)] });
    expect(results.map((r) => r.duplicate)).toEqual([false, true, false, true, false, false]);
    expect(results.map((r) => r.deliveryCount)).toEqual([1, 0, 1, 0, 1, 1]);
    expect(results[1]!.eventId).toBe(results[0]!.eventId);
    expect(results[3]!.eventId).toBe(results[0]!.eventId);
    // Events without a key are never deduplicated.
    expect(new Set([results[0]!.eventId, results[2]!.eventId, results[4]!.eventId, results[5]!.eventId]).size).toBe(4);
    await allDelivered(tenantId, 4);
    const ns = rx.requests.map((r) => (bodyOf(r) as { n: number }).n);
    expect(sorted(ns)).toEqual([1, 3, 5, 6]);
    expect(rx.uniqueIds().size).toBe(rx.requests.length);
  });

  it("event-type filters: exact, prefix wildcard, empty (everything), and non-matching", async () => {
    const rx = await receiver();
    const tenantId = await newTenant("filters");
    const filters: Record<string, string[]> = { exact: ["invoice.paid"], prefix: ["invoice.*"], all: [], user: ["user.*"] };
    const ids: Record<string, string> = {};
    for (const [name, eventTypes] of Object.entries(filters)) {
      ids[name] = (await api.endpoints.createEndpoint({ tenantId, url: `${rx.url}?ep=${name}`, eventTypes })).endpoint!.id;
    }
    const types = ["invoice.paid", "invoice.created", "invoice.paid.late", "invoice", "invoicex.paid", "user.signup", "order.shipped"];
    const { results } = await api.events.publish({ events: types.map((type) => ({ tenantId, type, payload: json({ type }) })) });
    const expected: Record<string, string[]> = {
      exact: ["invoice.paid"],
      prefix: ["invoice.created", "invoice.paid", "invoice.paid.late"],
      all: sorted(types),
      user: ["user.signup"],
    };
    const perType = (t: string) => Object.values(expected).filter((list) => list.includes(t)).length;
    expect(results.map((r) => r.deliveryCount)).toEqual(types.map(perType));

    const total = Object.values(expected).reduce((s, l) => s + l.length, 0);
    await rx.waitFor((r) => r.length >= total);
    await sleep(200);
    expect(rx.requests).toHaveLength(total);
    for (const [name, types] of Object.entries(expected)) {
      const got = rx.requests.filter((r) => r.path.endsWith(`ep=${name}`)).map((r) => (bodyOf(r) as { type: string }).type);
      expect(sorted(got), name).toEqual(types);
      const stored = (await api.deliveries.listDeliveries({ endpointId: ids[name]! })).deliveries;
      expect(sorted(stored.map((d) => d.eventType)), name).toEqual(types);
    }
  });

  it("disabled endpoints get no new deliveries", async () => {
    const rx = await receiver();
    const tenantId = await newTenant("disabled");
    const on = (await api.endpoints.createEndpoint({ tenantId, url: `${rx.url}?ep=on` })).endpoint!.id;
    const createdOff = (await api.endpoints.createEndpoint({ tenantId, url: `${rx.url}?ep=created-off`, disabled: true })).endpoint!;
    expect(createdOff.disabled).toBe(true);
    const turnedOff = (await api.endpoints.createEndpoint({ tenantId, url: `${rx.url}?ep=turned-off` })).endpoint!.id;
    const updated = await api.endpoints.updateEndpoint({
      endpoint: { id: turnedOff, disabled: true, disabledReason: "maintenance" },
      updateMask: { paths: ["disabled"] },
    });
    expect(updated.endpoint!.disabled).toBe(true);
    expect(updated.endpoint!.disabledReason).toBe("maintenance");

    const { results } = await api.events.publish({ events: [1, 2, 3].map((n) => ({ tenantId, type: "x.y", payload: json({ n }) })) });
    expect(results.map((r) => r.deliveryCount)).toEqual([1, 1, 1]);
    await rx.waitFor((r) => r.length >= 3);
    await sleep(200);
    expect(rx.requests.map((r) => r.path)).toEqual(Array(3).fill("/hook?ep=on"));
    expect((await api.deliveries.listDeliveries({ endpointId: createdOff.id })).deliveries).toHaveLength(0);
    expect((await api.deliveries.listDeliveries({ endpointId: turnedOff })).deliveries).toHaveLength(0);
    expect((await api.deliveries.listDeliveries({ endpointId: on })).deliveries).toHaveLength(3);
  });

  it("a unary batch with one bad event is refused whole, naming events[i].field, and nothing is stored", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "publish");
    const good = (n: number) => ({ tenantId, type: "ok.event", payload: json({ n }), idempotencyKey: `good-${n}` });
    const cases: [events: MessageInitShape<typeof PublishRequestSchema>["events"], field: string][] = [
      [[good(0), { tenantId, type: "ok.event", payload: new TextEncoder().encode("{not json") }, good(2)], "events[1].payload"],
      [[good(0), good(1), { tenantId, type: "bad type!", payload: json({}) }], "events[2].type"],
      [[{ tenantId: "tnt_nope", type: "ok.event", payload: json({}) }, good(1)], "events[0].tenant_id"],
      [[good(0), { tenantId, type: "ok.event", payload: new Uint8Array() }], "events[1].payload"],
    ];
    for (const [events, field] of cases) {
      const err = await rejection(api.events.publish({ events }));
      expect(err, field).toBeInstanceOf(ConnectError);
      expect(err!.code, field).toBe(Code.InvalidArgument);
      expect(err!.rawMessage).toContain(field);
      expect(violatedFields(err)).toEqual([field]);
    }
    // Nothing of those batches was stored: no deliveries, and the good events' keys are still free.
    expect((await api.deliveries.listDeliveries({ tenantId })).deliveries).toHaveLength(0);
    const { results } = await api.events.publish({ events: [good(0)] });
    expect(results[0]!.duplicate).toBe(false);
    await rx.waitFor((r) => r.length === 1);
    await sleep(100);
    expect(rx.requests.map(bodyOf)).toEqual([{ n: 0 }]);
  });

  it("PublishStream answers every request once, in order, with its request_id; a bad request gets an error and the stream goes on", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "publish");
    const count = 50;
    const bad = 23;
    async function* requests(): AsyncGenerator<MessageInitShape<typeof PublishStreamRequestSchema>> {
      for (let i = 0; i < count; i++) {
        const payload = i === bad ? new TextEncoder().encode('{"n": ') : json({ n: i });
        yield { requestId: `req-${i}`, events: [{ tenantId, type: "stream.item", payload }, ...(i % 10 === 0 ? [{ tenantId, type: "stream.extra", payload: json({ extra: i }) }] : [])] };
        // A little pacing now and then so requests and responses interleave.
        if (i % 7 === 0) await sleep(5);
      }
    }
    const responses: PublishStreamResponse[] = [];
    for await (const res of api.events.publishStream(requests())) {
      responses.push(res);
      if (responses.length > count) break;
    }
    expect(responses.map((r) => r.requestId)).toEqual(Array.from({ length: count }, (_, i) => `req-${i}`));
    const refused = responses[bad]!;
    expect(refused.results).toHaveLength(0);
    expect(refused.error?.code).toBe("invalid_argument");
    expect(refused.error?.field).toBe("events[0].payload");
    expect(refused.error?.message).toContain("events[0].payload");
    responses.forEach((r, i) => {
      if (i === bad) return;
      expect(r.error, `response ${i}`).toBeUndefined();
      expect(r.results).toHaveLength(i % 10 === 0 ? 2 : 1);
      for (const result of r.results) {
        expect(result.eventId).toMatch(/^evt_/);
        expect(result.deliveryCount).toBe(1);
      }
    });

    // Every accepted event is stored and delivered; the refused one is not.
    const accepted = responses.flatMap((r) => r.results.map((x) => x.eventId));
    expect(accepted).toHaveLength(count - 1 + 5);
    expect(new Set(accepted).size).toBe(accepted.length);
    await rx.waitFor((r) => r.length >= accepted.length);
    await sleep(100);
    expect(rx.requests).toHaveLength(accepted.length);
    const ns = rx.requests.map((r) => (bodyOf(r) as { n?: number }).n).filter((n): n is number => n !== undefined);
    expect(sorted(ns.map(String))).toEqual(sorted(Array.from({ length: count }, (_, i) => i).filter((i) => i !== bad).map(String)));

    // GetEvent returns what was published.
    const { event } = await api.events.getEvent({ id: responses[bad + 1]!.results[0]!.eventId });
    expect(event!.tenantId).toBe(tenantId);
    expect(event!.type).toBe("stream.item");
    expect(Buffer.from(event!.payload).toString()).toBe(JSON.stringify({ n: bad + 1 }));
    expect(event!.createTime).toBeDefined();
  });

  it("GetEvent returns the payload byte for byte and the priority, and NOT_FOUND for an unknown id", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "publish");
    const text = '{ "spaced" :  true,\n "unicode": "ñ 😀" }';
    const payload = new TextEncoder().encode(text);
    const { results } = await api.events.publish({ events: [{ tenantId, type: "get.event", payload, orderingKey: "ok-1", priority: 7 }] });
    const { event } = await api.events.getEvent({ id: results[0]!.eventId });
    expect(Buffer.compare(Buffer.from(event!.payload), Buffer.from(payload))).toBe(0);
    expect(event).toMatchObject({ id: results[0]!.eventId, tenantId, type: "get.event", orderingKey: "ok-1", idempotencyKey: "", priority: 7 });
    const err = await rejection(api.events.getEvent({ id: "evt_01ARZ3NDEKTSV4RRFFQ69G5FAV" }));
    expect(err?.code).toBe(Code.NotFound);
    await eventually(async () => rx.requests.length === 1);
    expect(rx.requests[0]!.body.toString("utf8")).toBe(text);
  });
});

describe("the idempotency window (--idempotency-window 2s)", () => {
  const { api, receiver, tenantWithEndpoint } = useHookline({ args: ["--idempotency-window", "2s"] });

  it("answers a repeat inside the window from the first event; after it, the key makes a new event, which repeats then answer from", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "window");
    const event = (n: number) => ({ tenantId, type: "window.test", payload: json({ n }), idempotencyKey: "windowed" });
    const first = (await api.events.publish({ events: [event(1)] })).results[0]!;
    const inside = (await api.events.publish({ events: [event(2)] })).results[0]!;
    expect(inside).toMatchObject({ eventId: first.eventId, duplicate: true, deliveryCount: 0 });

    await sleep(3_000);
    const after = (await api.events.publish({ events: [event(3)] })).results[0]!;
    expect(after.duplicate).toBe(false);
    expect(after.eventId).not.toBe(first.eventId);
    expect(after.deliveryCount).toBe(1);
    const repeat = (await api.events.publish({ events: [event(4)] })).results[0]!;
    expect(repeat).toMatchObject({ eventId: after.eventId, duplicate: true });

    await rx.waitFor((r) => r.length === 2);
    await sleep(200);
    expect(rx.requests.map(bodyOf)).toEqual([{ n: 1 }, { n: 3 }]);
  });
});
