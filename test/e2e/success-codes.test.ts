import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { DeliveryStatus, type Delivery } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { BreakerState } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, webhookId } from "../helpers/receiver.ts";
import { ms } from "../helpers/time.ts";

// Per-endpoint success codes: statuses besides 2xx that an endpoint counts as delivered
// (409 "already have it", a 302). They settle the delivery, are not retried, and do not
// feed the circuit breaker.

describe("success status codes", () => {
  // A breaker that opens after 3 failures: a listed code answered many times must not open it.
  const { api, receiver, newTenant } = useHookline({ args: ["--breaker-threshold", "3", "--breaker-cooldown", "1s"] });
  const fastRetries = { maxAttempts: 50, initialBackoff: ms(20), maxBackoff: ms(50) };

  async function deliveriesOf(endpointId: string): Promise<Delivery[]> {
    return (await api.deliveries.listDeliveries({ endpointId, pageSize: 100 })).deliveries;
  }

  it("a 409 with 409 listed is SUCCEEDED after one attempt; without it the delivery is retried until the list is updated", async () => {
    const rx = await receiver(() => ({ status: 409, body: "already have it" }));
    const tenantId = await newTenant("success-codes");
    const listed = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, successStatusCodes: [409], retryPolicy: fastRetries }))
      .endpoint!;
    const plain = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, retryPolicy: fastRetries })).endpoint!;
    expect(listed.successStatusCodes).toEqual([409]);
    expect((await api.endpoints.getEndpoint({ id: listed.id })).endpoint!.successStatusCodes).toEqual([409]);
    expect(plain.successStatusCodes).toEqual([]);

    await api.events.publish({ events: [{ tenantId, type: "order.created", payload: json({ n: 1 }) }] });

    const [done] = await eventually(async () => {
      const list = await deliveriesOf(listed.id);
      return list[0]?.status === DeliveryStatus.SUCCEEDED && list;
    }, 15_000, "delivery to the endpoint listing 409 SUCCEEDED");
    expect(done!.attempts).toBe(1);
    expect(done!.lastStatusCode).toBe(409);
    expect(done!.lastError).toBe("");

    // The other endpoint got the same 409 and keeps retrying it.
    const retried = await eventually(async () => {
      const [d] = await deliveriesOf(plain.id);
      return d && d.attempts >= 3 && d;
    }, 15_000, "delivery to the endpoint without 409 retried");
    expect(retried.status).toBe(DeliveryStatus.RETRYING);
    expect(retried.lastStatusCode).toBe(409);
    expect(rx.requests.filter((r) => webhookId(r) === retried.id).length).toBeGreaterThanOrEqual(3);
    expect(rx.requests.filter((r) => webhookId(r) === done!.id)).toHaveLength(1);

    // Listing 409 through UpdateEndpoint applies to the next attempt.
    const updated = (
      await api.endpoints.updateEndpoint({ endpoint: { id: plain.id, successStatusCodes: [302, 409] }, updateMask: { paths: ["success_status_codes"] } })
    ).endpoint!;
    expect(updated.successStatusCodes).toEqual([302, 409]);
    const settled = await eventually(async () => {
      const [d] = await deliveriesOf(plain.id);
      return d?.status === DeliveryStatus.SUCCEEDED && d;
    }, 15_000, "retried delivery SUCCEEDED after the update");
    expect(settled.lastStatusCode).toBe(409);
  });

  it("many listed answers in a row leave the breaker CLOSED with no failures counted", async () => {
    const rx = await receiver(() => ({ status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } }));
    const tenantId = await newTenant("success-codes-breaker");
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: rx.url, successStatusCodes: [302], maxInFlight: 1, retryPolicy: fastRetries });
    const N = 8;
    await api.events.publish({ events: Array.from({ length: N }, (_, i) => ({ tenantId, type: "order.created", payload: json({ i }) })) });

    const all = await eventually(async () => {
      const list = await deliveriesOf(endpoint!.id);
      return list.length === N && list.every((d) => d.status === DeliveryStatus.SUCCEEDED) && list;
    }, 20_000, "every delivery SUCCEEDED");
    expect(all.every((d) => d.attempts === 1 && d.lastStatusCode === 302)).toBe(true);
    // Not followed: one request per delivery, none to the Location.
    expect(rx.requests).toHaveLength(N);
    const { stats } = await api.endpoints.getEndpointStats({ id: endpoint!.id });
    expect(stats!.breakerState).toBe(BreakerState.CLOSED);
    expect(stats!.consecutiveFailures).toBe(0);
    expect(stats!.successRate).toBe(1);
  });

  it("refuses codes outside 100–599, repeats and overlong lists, naming the field", async () => {
    const tenantId = await newTenant("success-codes-bad");
    const url = "http://127.0.0.1:9/never";
    for (const [codes, field] of [
      [[99], "success_status_codes[0]"],
      [[409, 600], "success_status_codes[1]"],
      [[409, 409], "success_status_codes[1]"],
      [Array.from({ length: 21 }, (_, i) => 300 + i), "success_status_codes"],
    ] as const) {
      const err = await rejection(api.endpoints.createEndpoint({ tenantId, url, disabled: true, successStatusCodes: [...codes] }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual([field]);
    }
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url, disabled: true });
    const err = await rejection(
      api.endpoints.updateEndpoint({ endpoint: { id: endpoint!.id, successStatusCodes: [0] }, updateMask: { paths: ["success_status_codes"] } }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["endpoint.success_status_codes[0]"]);
  });
});
