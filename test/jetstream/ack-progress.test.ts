import { describe, expect, it } from "vitest";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";
import { ms, sleep } from "../helpers/time.ts";

/**
 * The consumers' ack_wait is 3 s here, the endpoint's timeout 10 s and its answer takes 7 s:
 * an attempt outlives ack_wait twice over. Progress acks keep its message with the process
 * that is attempting it, so the server does not hand it out again meanwhile.
 */
describe("an attempt longer than ack_wait", () => {
  const { api, receiver, tenantWithEndpoint } = useHookline({ backend: "jetstream", args: ["--nats-ack-wait", "3s"] });

  it("is made once: the delivery is not handed out (and sent) a second time while it runs", async () => {
    const rx = await receiver(() => ({ status: 200, delayMs: 7_000 }));
    const { tenantId } = await tenantWithEndpoint(rx, "slow", { timeout: ms(10_000) });
    const { results } = await api.events.publish({ events: [{ tenantId, type: "slow.answer", payload: json({ slow: true }) }] });
    const eventId = results[0]!.eventId;

    const delivered = await eventually(
      async () => {
        const { deliveries } = await api.deliveries.listDeliveries({ eventId });
        return deliveries[0]?.status === DeliveryStatus.SUCCEEDED && deliveries[0];
      },
      30_000,
      "the delivery SUCCEEDED",
    );
    expect(delivered.attempts).toBe(1);
    // Past another ack_wait and poll: nothing comes back for it either.
    await sleep(4_000);
    expect(rx.requests).toHaveLength(1);
  });
});
