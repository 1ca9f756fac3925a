import { describe, expect, it } from "vitest";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { OrderingMode } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { seeded } from "../helpers/random.ts";
import { eventually, type ReceivedRequest, type Reply } from "../helpers/receiver.ts";

// Ordering (design brief, "Delivery semantics"): on an endpoint with ordering
// ORDERING_MODE_ORDERED_BY_KEY, deliveries sharing an ordering key reach the endpoint one at
// a time, in publish order, retries included.

const { api, receiver, newTenant } = useHookline();

interface Hook {
  key: string;
  seq: number;
}

const hookOf = (req: ReceivedRequest): Hook => JSON.parse(req.body.toString()) as Hook;

/**
 * A receiver that answers every request after `delayMs` with `status(hook)`, and notes any
 * request that arrives while another one of the same key is still open. The close timer is
 * armed before the receiver's own reply timer of the same length, so it fires just before
 * the reply is written, in the same timers phase: nothing can arrive in between.
 */
async function orderedReceiver(delayMs: number, status: (hook: Hook) => number) {
  const open = new Map<string, number>();
  const overlaps: string[] = [];
  const statuses: number[] = [];
  const r = await receiver((req): Reply => {
    const hook = hookOf(req);
    const n = open.get(hook.key) ?? 0;
    if (n > 0) overlaps.push(`${hook.key}#${hook.seq} arrived while ${n} request(s) of that key were open`);
    open.set(hook.key, n + 1);
    setTimeout(() => open.set(hook.key, (open.get(hook.key) ?? 1) - 1), delayMs);
    const code = status(hook);
    statuses.push(code);
    return { status: code, delayMs };
  });
  return { r, overlaps, statuses };
}

async function orderedEndpoint(url: string, retryPolicy: { maxAttempts: number; initialBackoff: { seconds?: bigint; nanos?: number }; maxBackoff: { seconds?: bigint; nanos?: number } }) {
  const tenantId = await newTenant("ordered");
  const { endpoint } = await api.endpoints.createEndpoint({
    tenantId,
    url,
    ordering: OrderingMode.ORDERED_BY_KEY,
    maxInFlight: 10,
    retryPolicy,
  });
  expect(endpoint!.ordering).toBe(OrderingMode.ORDERED_BY_KEY);
  return { tenantId, endpointId: endpoint!.id };
}

describe("ordered delivery by key", () => {
  it("20 keys × 15 events with ~30% random 500s: per key, first successes arrive in publish order and never two requests at once", async () => {
    const KEYS = Array.from({ length: 20 }, (_, i) => `key-${String(i).padStart(2, "0")}`);
    const PER_KEY = 15;
    const random = seeded(20240607);
    const { r, overlaps, statuses } = await orderedReceiver(20, () => (random() < 0.3 ? 500 : 200));
    const { tenantId, endpointId } = await orderedEndpoint(r.url, {
      maxAttempts: 100,
      initialBackoff: { nanos: 10_000_000 },
      maxBackoff: { nanos: 50_000_000 },
    });

    // Publish order: seq-major, keys interleaved, in three separate commits.
    const events = [];
    for (let seq = 0; seq < PER_KEY; seq++) for (const key of KEYS) events.push({ tenantId, type: "account.changed", payload: json({ key, seq }), orderingKey: key });
    for (let i = 0; i < events.length; i += 100) await api.events.publish({ events: events.slice(i, i + 100) });

    // Wait for a success of every event: a 200 is recorded in `statuses` at the request's index
    // (after the receiver's own waiters ran, hence polling rather than r.waitFor).
    const succeeded = (): ReceivedRequest[] => r.requests.filter((_, i) => statuses[i] === 200);
    await eventually(
      async () => new Set(succeeded().map((q) => q.headers["webhook-id"])).size >= KEYS.length * PER_KEY,
      45_000,
      "a success for each of the 300 events",
    );

    expect(overlaps).toEqual([]);
    // The failures really happened, and retries were part of the sequence.
    const failures = statuses.filter((s) => s === 500).length;
    expect(failures).toBeGreaterThan(40);

    for (const key of KEYS) {
      const ofKey = r.requests.map((q, i) => ({ hook: hookOf(q), ok: statuses[i] === 200 })).filter((x) => x.hook.key === key);
      // First successful receipts: exactly 0..14, in that order, each once.
      const firsts = ofKey.filter((x) => x.ok).map((x) => x.hook.seq);
      expect(firsts, `successes of ${key}`).toEqual(Array.from({ length: PER_KEY }, (_, i) => i));
      // Every request of the key (retries included) is non-decreasing in seq: nothing went
      // out ahead of an earlier event that had not succeeded yet.
      const all = ofKey.map((x) => x.hook.seq);
      expect(all, `requests of ${key}`).toEqual([...all].sort((a, b) => a - b));
    }

    // The server agrees: every delivery SUCCEEDED.
    await eventually(
      async () => {
        const { stats } = await api.endpoints.getEndpointStats({ id: endpointId });
        return stats!.pending === 0n && stats!.retrying === 0n && stats!.inFlight === 0n;
      },
      10_000,
      "ordered backlog recorded as drained",
    );
    const { deliveries } = await api.deliveries.listDeliveries({ endpointId, pageSize: 1000 });
    expect(deliveries).toHaveLength(KEYS.length * PER_KEY);
    expect(deliveries.every((d) => d.status === DeliveryStatus.SUCCEEDED)).toBe(true);
  });

  it("a key whose head keeps failing blocks only that key; once the head is dead-lettered (max_attempts), the key's next event is delivered", async () => {
    const MAX_ATTEMPTS = 7;
    const { r, overlaps, statuses } = await orderedReceiver(5, (hook) => (hook.key === "stuck" && hook.seq === 0 ? 500 : 200));
    // Full-jitter backoffs below 1s, 2s, 2s, 2s, 2s, 2s: the head takes ~5.5s on average to
    // use its attempts (under 1s with odds of about 1 in 20,000), far longer than the other
    // keys need (~0.2s).
    const { tenantId, endpointId } = await orderedEndpoint(r.url, {
      maxAttempts: MAX_ATTEMPTS,
      initialBackoff: { seconds: 1n },
      maxBackoff: { seconds: 2n },
    });
    const event = (key: string, seq: number) => ({ tenantId, type: "account.changed", payload: json({ key, seq }), orderingKey: key });
    const stuckResults = await api.events.publish({ events: [event("stuck", 0), event("stuck", 1), event("stuck", 2)] });
    const stuckHeadEvent = stuckResults.results[0]!.eventId;
    const isStuck = (seq: number) => (q: ReceivedRequest) => hookOf(q).key === "stuck" && hookOf(q).seq === seq;
    await r.waitFor((reqs) => reqs.some(isStuck(0)), 15_000);

    // Other keys of the same endpoint, published while the head of "stuck" is failing.
    const others = [];
    for (let seq = 0; seq < 5; seq++) for (const key of ["a", "b", "c", "d"]) others.push(event(key, seq));
    await api.events.publish({ events: others });
    await r.waitFor((reqs) => reqs.filter((q) => hookOf(q).key !== "stuck").length >= others.length, 15_000);

    // They all flowed, while "stuck" stayed blocked behind its head.
    expect(r.requests.some(isStuck(1))).toBe(false);
    const { deliveries: headNow } = await api.deliveries.listDeliveries({ eventId: stuckHeadEvent });
    expect(headNow[0]!.status).toBe(DeliveryStatus.RETRYING);

    // Once the head has used its attempts it is DEAD, and the key moves on in order.
    await r.waitFor((reqs) => reqs.some(isStuck(2)), 30_000);
    const stuckSeqs = r.requests.filter((q) => hookOf(q).key === "stuck").map((q) => hookOf(q).seq);
    expect(stuckSeqs).toEqual([...Array<number>(MAX_ATTEMPTS).fill(0), 1, 2]);
    const { deliveries: head } = await api.deliveries.listDeliveries({ eventId: stuckHeadEvent });
    expect(head[0]!.status).toBe(DeliveryStatus.DEAD);
    expect(head[0]!.attempts).toBe(MAX_ATTEMPTS);
    expect(overlaps).toEqual([]);
    // Only the head failed.
    expect(statuses.filter((s) => s === 500)).toHaveLength(MAX_ATTEMPTS);
    await eventually(
      async () => {
        const { deliveries } = await api.deliveries.listDeliveries({ endpointId, statuses: [DeliveryStatus.SUCCEEDED], pageSize: 100 });
        return deliveries.length === others.length + 2;
      },
      10_000,
      "all but the head SUCCEEDED",
    );
  });
});

describe("ordered delivery with a small max_in_flight", () => {
  for (const maxInFlight of [1, 2]) {
    it(`max_in_flight ${maxInFlight}: keyed and unkeyed events are all delivered, each key in order, never more than ${maxInFlight} at once`, async () => {
      let open = 0;
      let mostOpen = 0;
      const r = await receiver((): Reply => {
        open++;
        mostOpen = Math.max(mostOpen, open);
        setTimeout(() => open--, 5);
        return { status: 200, delayMs: 5 };
      });
      const tenantId = await newTenant("ordered-small");
      await api.endpoints.createEndpoint({ tenantId, url: r.url, ordering: OrderingMode.ORDERED_BY_KEY, maxInFlight });
      const events = [];
      for (let seq = 0; seq < 6; seq++) {
        for (const key of ["a", "b", "c"]) events.push({ tenantId, type: "account.changed", payload: json({ key, seq }), orderingKey: key });
        events.push({ tenantId, type: "account.changed", payload: json({ key: "", seq }) });
      }
      await api.events.publish({ events });

      await r.waitFor((reqs) => new Set(reqs.map((q) => q.headers["webhook-id"])).size >= events.length, 20_000);
      for (const key of ["a", "b", "c"]) {
        const seqs = r.requests.map(hookOf).filter((h) => h.key === key).map((h) => h.seq);
        expect(seqs, `requests of ${key}`).toEqual([0, 1, 2, 3, 4, 5]);
      }
      expect(mostOpen).toBeLessThanOrEqual(maxInFlight);
    });
  }
});
