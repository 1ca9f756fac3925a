import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { json } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, type ReceivedRequest } from "../helpers/receiver.ts";

// Priority lanes: an event's priority (0-9) orders the due deliveries in each endpoint's
// queue, highest first, on both backends (SQLite: the claim's order; JetStream: a lane per
// priority, pulled highest first).

const { api, receiver, newTenant } = useHookline();

interface Marker {
  n: number;
  key?: string;
}
const markerOf = (req: ReceivedRequest): Marker => JSON.parse(req.body.toString("utf8")) as Marker;

/** A receiver that holds the first request for `holdMs` (the backlog queues up behind it) and answers the rest at once. */
async function blockedReceiver(holdMs: number) {
  return receiver((_req, i) => ({ status: 200, delayMs: i === 0 ? holdMs : 0 }));
}

describe("priority lanes", () => {
  it("a queued low-priority backlog is overtaken by high-priority events, which keep their own order", async () => {
    const rx = await blockedReceiver(4_000);
    const tenantId = await newTenant("priority");
    // One request at a time: everything published while the first is held waits in the queue.
    await api.endpoints.createEndpoint({ tenantId, url: rx.url, maxInFlight: 1 });
    const publish = (from: number, count: number, priority: number) =>
      api.events.publish({ events: Array.from({ length: count }, (_, i) => ({ tenantId, type: "job.run", payload: json({ n: from + i }), priority })) });

    await publish(0, 1, 0);
    await rx.waitFor((r) => r.length === 1);
    await publish(1, 20, 0);
    await publish(100, 5, 7);
    await publish(200, 2, 9);
    // All of it is counted as waiting, whatever lane it is in.
    const { endpoints } = await api.endpoints.listEndpoints({ tenantId });
    await eventually(async () => (await api.endpoints.getEndpointStats({ id: endpoints[0]!.id })).stats!.pending === 27n, 1_500, "27 pending");
    await rx.waitFor((r) => r.length === 28, 30_000);

    const order = rx.requests.map((r) => markerOf(r).n);
    expect(order).toEqual([0, 200, 201, 100, 101, 102, 103, 104, ...Array.from({ length: 20 }, (_, i) => 1 + i)]);

    // The event keeps its priority.
    const { deliveries } = await api.deliveries.listDeliveries({ tenantId, pageSize: 1 });
    const { event } = await api.events.getEvent({ id: deliveries[0]!.eventId });
    expect(event!.priority).toBe(9);
  });

  it("refuses a priority above 9, naming the event's field", async () => {
    const tenantId = await newTenant("priority-bad");
    const err = await rejection(
      api.events.publish({ events: [{ tenantId, type: "job.run", payload: json({}) }, { tenantId, type: "job.run", payload: json({}), priority: 10 }] }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["events[1].priority"]);
  });
});
