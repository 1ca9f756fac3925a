import { afterAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { clients, json } from "../helpers/clients.ts";
import { codeOf, rejection, violatedFields } from "../helpers/errors.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";
import { eventually } from "../helpers/receiver.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

describe("the event-type catalog shared by two hookline processes on one NATS", () => {
  const started: { nats?: NatsServer; servers: ServerProcess[] } = { servers: [] };
  afterAll(async () => {
    for (const s of started.servers) {
      await s.stop();
      s.cleanup();
    }
    await started.nats?.stop();
  });

  it("a type created, changed or archived through one process applies at publish through the other", async () => {
    const nats = (started.nats = await startNats());
    const a = await startServer({ backend: "jetstream", natsUrl: nats.url });
    const b = await startServer({ backend: "jetstream", natsUrl: nats.url });
    started.servers.push(a, b);
    const apiA = clients(a.baseUrl, "grpc");
    const apiB = clients(b.baseUrl, "grpc");

    const tenantId = (await apiA.tenants.createTenant({ name: "shared catalog" })).tenant!.id;
    const publishB = (payload: unknown) => apiB.events.publish({ events: [{ tenantId, type: "order.placed", payload: json(payload) }] });
    const schema = (type: string) => JSON.stringify({ type: "object", properties: { total: { type } }, required: ["total"] });

    await apiA.eventTypes.createEventType({ eventType: { tenantId, name: "order.placed", schema: schema("number") } });
    await eventually(async () => (await codeOf(publishB({ total: "5" }))) === Code.InvalidArgument, 10_000, "B to apply A's schema");
    expect(violatedFields(await rejection(publishB({ total: "5" })))).toEqual(["events[0].payload/total"]);
    await publishB({ total: 5 });

    // B changes the schema; A follows.
    await apiB.eventTypes.updateEventType({ eventType: { tenantId, name: "order.placed", schema: schema("string") }, updateMask: { paths: ["schema"] } });
    const publishA = (payload: unknown) => apiA.events.publish({ events: [{ tenantId, type: "order.placed", payload: json(payload) }] });
    await eventually(async () => (await codeOf(publishA({ total: 5 }))) === Code.InvalidArgument, 10_000, "A to apply B's new schema");
    expect((await apiA.eventTypes.getEventType({ tenantId, name: "order.placed" })).eventType?.schema).toBe(schema("string"));

    // Archived through A: B stops checking.
    await apiA.eventTypes.archiveEventType({ tenantId, name: "order.placed" });
    await eventually(async () => (await codeOf(publishB({ total: 5 }))) === 0, 10_000, "B to see the archive");
  }, 60_000);
});
