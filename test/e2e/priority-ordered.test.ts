import { describe, expect, it } from "vitest";
import { OrderingMode } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import type { ReceivedRequest } from "../helpers/receiver.ts";

// Not in the contract suite: on JetStream an ordered endpoint's keys are spread over lanes
// pulled together, so priority does not choose among key heads there (docs/jetstream.md).

const { api, receiver, newTenant } = useHookline({ backend: "sqlite" });

const markerOf = (req: ReceivedRequest): { n: number } => JSON.parse(req.body.toString("utf8")) as { n: number };

/** A receiver that holds the first request for `holdMs` and answers the rest at once. */
async function blockedReceiver(holdMs: number) {
  return receiver((_req, i) => ({ status: 200, delayMs: i === 0 ? holdMs : 0 }));
}

describe("priority on an ordered endpoint (SQLite)", () => {
  it("on an ordered endpoint a key keeps publish order whatever the priorities; across keys the higher priority head goes first", async () => {
    const rx = await blockedReceiver(2_000);
    const tenantId = await newTenant("priority-ordered");
    await api.endpoints.createEndpoint({ tenantId, url: rx.url, maxInFlight: 1, ordering: OrderingMode.ORDERED_BY_KEY });
    const event = (n: number, key: string, priority: number) => ({ tenantId, type: "job.run", payload: json({ n, key }), orderingKey: key, priority });

    await api.events.publish({ events: [event(0, "z", 0)] });
    await rx.waitFor((r) => r.length === 1);
    await api.events.publish({ events: [event(1, "a", 0), event(2, "a", 0)] });
    await api.events.publish({ events: [event(3, "a", 9), event(4, "b", 9), event(5, "c", 3)] });
    await rx.waitFor((r) => r.length === 6, 30_000);

    // b (9) and c (3) are heads and overtake a's head (0); a's high-priority event 3 waits for 1 and 2.
    expect(rx.requests.map((r) => markerOf(r).n)).toEqual([0, 4, 5, 1, 2, 3]);
  });

});
