import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { authHeaders } from "../helpers/auth.ts";
import { json } from "../helpers/clients.ts";
import { codeOf } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";
import { ms, until } from "../helpers/time.ts";

const RETENTION_MS = 2_000;

describe("retention", () => {
  // A short window and frequent sweeps make "old" a matter of seconds.
  const { api, server, receiver, newTenant } = useHookline({ args: ["--retention", `${RETENTION_MS}ms`, "--retention-interval", "200ms"] });

  const gone = async (call: Promise<unknown>) => (await codeOf(call)) === Code.NotFound;

  it("prunes old events with their deliveries and attempts, and keeps an event while a delivery of it is open", async () => {
    const ok = await receiver();
    const failing = await receiver(() => ({ status: 503 }));
    const tenantId = await newTenant("retention");
    const everything = (await api.endpoints.createEndpoint({ tenantId, url: ok.url })).endpoint!;
    // Fails and waits ten minutes before trying again: its delivery stays RETRYING throughout.
    const stuck = (
      await api.endpoints.createEndpoint({
        tenantId,
        url: failing.url,
        eventTypes: ["keep.*"],
        retryPolicy: { maxAttempts: 5, initialBackoff: ms(600_000), maxBackoff: ms(600_000) },
      })
    ).endpoint!;

    const publish = async (type: string) =>
      (await api.events.publish({ events: [{ tenantId, type, payload: json({ type }) }] })).results[0]!.eventId;
    const publishedMs = Date.now();
    const finished = await publish("old.done");
    const open = await publish("keep.open");
    const [done] = (await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId: finished });
      return deliveries[0]?.status === DeliveryStatus.SUCCEEDED && deliveries;
    }, 15_000, "the finished event delivered"))!;
    await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ eventId: open });
      const byEndpoint = new Map(deliveries.map((d) => [d.endpointId, d.status]));
      return byEndpoint.get(everything.id) === DeliveryStatus.SUCCEEDED && byEndpoint.get(stuck.id) === DeliveryStatus.RETRYING;
    }, 15_000, "the open event delivered to one endpoint and retrying on the other");
    expect((await api.deliveries.listAttempts({ deliveryId: done!.id })).attempts).toHaveLength(1);

    // Past the window and a few sweeps: the finished event is gone with its delivery and attempts.
    await eventually(() => gone(api.events.getEvent({ id: finished })), 20_000, "the finished event pruned");
    expect(await gone(api.deliveries.getDelivery({ id: done!.id }))).toBe(true);
    expect(await gone(api.deliveries.listAttempts({ deliveryId: done!.id }))).toBe(true);
    expect((await api.deliveries.listDeliveries({ eventId: finished })).deliveries).toEqual([]);
    expect((await api.events.listEvents({ tenantId })).events.map((e) => e.id)).not.toContain(finished);

    // The event with a RETRYING delivery stays whole: the event, both deliveries, their attempts.
    await until(publishedMs, RETENTION_MS + 1_000);
    const fresh = await publish("new.event");
    expect((await api.events.getEvent({ id: open })).event?.id).toBe(open);
    const kept = (await api.deliveries.listDeliveries({ eventId: open })).deliveries;
    expect(kept.map((d) => d.status).sort()).toEqual([DeliveryStatus.SUCCEEDED, DeliveryStatus.RETRYING].sort());
    for (const d of kept) expect((await api.deliveries.listAttempts({ deliveryId: d.id })).attempts).toHaveLength(1);
    expect((await api.events.listEvents({ tenantId })).events.map((e) => e.id)).toEqual([fresh, open]);

    // Once its last open delivery is finished (here cancelled by deleting its endpoint), it goes too.
    await api.endpoints.deleteEndpoint({ id: stuck.id });
    await eventually(() => gone(api.events.getEvent({ id: open })), 20_000, "the formerly open event pruned");
    expect((await api.deliveries.listDeliveries({ eventId: open })).deliveries).toEqual([]);
    // What is younger than the window stays.
    expect((await api.events.getEvent({ id: fresh })).event?.id).toBe(fresh);
    expect(server.logs.some((l) => l.msg === "retention sweep" && Number(l.events) > 0)).toBe(true);
    const metrics = await (await fetch(`${server.baseUrl}/metrics`, { headers: authHeaders() })).text();
    expect(Number(/^hookline_retention_pruned_total\{kind="events"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
  });
});
