import { describe, expect, it } from "vitest";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, perDelivery } from "../helpers/receiver.ts";

// Each attempt records the request headers it sent, so the console and the CLI can show
// them: the Standard Webhooks headers as sent, the endpoint's custom headers masked.

const { api, receiver, tenantWithEndpoint } = useHookline();

const SENT_AS_IS = ["content-type", "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature"];

describe("attempt request headers", () => {
  it("ListAttempts shows each attempt's headers as the receiver got them, custom header values masked", async () => {
    const rx = await receiver(perDelivery([{ status: 500 }, { status: 200 }]));
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "attempt-headers", {
      headers: { "X-Api-Key": "s3cret-token", "x-tenant": "acme" },
      retryPolicy: { maxAttempts: 3, initialBackoff: { nanos: 10_000_000 }, maxBackoff: { nanos: 20_000_000 } },
    });
    const { results } = await api.events.publish({ events: [{ tenantId, type: "order.created", payload: json({ order: 1 }) }] });
    await rx.waitFor((reqs) => reqs.length >= 2, 15_000);
    const { deliveries } = await api.deliveries.listDeliveries({ eventId: results[0]!.eventId });
    expect(deliveries.map((d) => d.endpointId)).toEqual([endpointId]);
    const deliveryId = deliveries[0]!.id;
    const attempts = await eventually(async () => {
      const page = await api.deliveries.listAttempts({ deliveryId });
      return page.attempts.length === 2 && page.attempts;
    }, 10_000, "two attempts recorded");

    attempts.forEach((attempt, i) => {
      const received = rx.requests[i]!.headers;
      const sent = attempt.requestHeaders;
      expect(Object.keys(sent).sort()).toEqual([...SENT_AS_IS, "x-api-key", "x-tenant"].sort());
      for (const name of SENT_AS_IS) expect(sent[name], name).toBe(received[name]);
      expect(sent["webhook-id"]).toBe(deliveryId);
      expect(sent["webhook-signature"]).toMatch(/^v1,/);
      // The receiver got the real values; reads never show them.
      expect(received["x-api-key"]).toBe("s3cret-token");
      expect(sent["x-api-key"]).toBe("<redacted>");
      expect(sent["x-tenant"]).toBe("<redacted>");
      expect(JSON.stringify(sent)).not.toContain("s3cret");
    });
    // Each attempt signs afresh.
    expect(attempts[0]!.requestHeaders["webhook-signature"]).toBe(rx.requests[0]!.headers["webhook-signature"]);
    expect(attempts[1]!.statusCode).toBe(200);
  });
});
