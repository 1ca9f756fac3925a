import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";

describe("publish to delivery", () => {
  const { api, receiver: startReceiver } = useHookline();

  it("delivers a published event with a signature the standardwebhooks verifier accepts", async () => {
    const receiver = await startReceiver();
    const { tenant } = await api.tenants.createTenant({ name: "acme" });
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId: tenant!.id, url: receiver.url });
    const payload = json({ invoice: 42 });
    const { results } = await api.events.publish({ events: [{ tenantId: tenant!.id, type: "invoice.paid", payload }] });
    expect(results).toHaveLength(1);
    expect(results[0]!.deliveryCount).toBe(1);

    await receiver.waitFor((r) => r.length === 1);
    const req = receiver.requests[0]!;
    expect(req.body.equals(Buffer.from(payload))).toBe(true);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["user-agent"]).toMatch(/^hookline\//);
    const verified = new Webhook(endpoint!.secret).verify(req.body.toString(), req.headers as Record<string, string>);
    expect(verified).toEqual({ invoice: 42 });
  });
});
