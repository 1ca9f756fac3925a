import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "../../src/gen/hookline/v1/api_key_pb.ts";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import type { Event } from "../../src/gen/hookline/v1/event_pb.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { bearer, clients, json, type Clients } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";
import { sleep } from "../helpers/time.ts";

const { server, api, receiver, newTenant, tenantWithEndpoint } = useHookline();

async function publish(tenantId: string, type: string, count: number): Promise<string[]> {
  const { results } = await api.events.publish({
    events: Array.from({ length: count }, (_, i) => ({ tenantId, type, payload: json({ type, i }) })),
  });
  return results.map((r) => r.eventId);
}

/** Every event matching the request, following page tokens (bounded). */
async function listAll(client: Clients, req: Parameters<Clients["events"]["listEvents"]>[0]): Promise<Event[]> {
  const all: Event[] = [];
  let pageToken = "";
  for (let page = 0; page < 100; page++) {
    const res = await client.events.listEvents({ ...req, pageToken });
    all.push(...res.events);
    if (res.nextPageToken === "") return all;
    pageToken = res.nextPageToken;
  }
  throw new Error("too many pages");
}

/** A moment between two publishes, with a margin on both sides for clock granularity. */
async function boundary(): Promise<number> {
  await sleep(50);
  const at = Date.now();
  await sleep(50);
  return at;
}

describe("ListEvents", () => {
  it("lists a tenant's events newest first, filters by type and pages without gaps or repeats", async () => {
    const tenantId = await newTenant("list events");
    const other = await newTenant("list events other");
    const paid: string[] = [];
    const sent: string[] = [];
    for (let round = 0; round < 3; round++) {
      paid.push(...(await publish(tenantId, "invoice.paid", 2)));
      await publish(tenantId, "invoice.sent", 1).then((ids) => sent.push(...ids));
    }
    await publish(other, "invoice.paid", 2);
    const everything = [...paid, ...sent].sort().reverse();

    const listed = await listAll(api, { tenantId, pageSize: 4 });
    expect(listed.map((e) => e.id)).toEqual(everything);
    expect(listed[0]).toMatchObject({ tenantId, type: "invoice.sent" });
    expect(JSON.parse(new TextDecoder().decode(listed[0]!.payload))).toEqual({ type: "invoice.sent", i: 0 });
    expect(listed[0]!.createTime).toBeDefined();

    expect((await listAll(api, { tenantId, type: "invoice.paid", pageSize: 2 })).map((e) => e.id)).toEqual([...paid].reverse());
    expect((await listAll(api, { tenantId, type: "invoice.sent" })).map((e) => e.id)).toEqual([...sent].reverse());
    expect(await listAll(api, { tenantId, type: "invoice.void" })).toEqual([]);

    // Across tenants (admin): the newest page holds the other tenant's two events first.
    const { events: newest } = await api.events.listEvents({ pageSize: 2 });
    expect(newest.map((e) => e.tenantId)).toEqual([other, other]);
  });

  it("filters events and deliveries by creation time: start_time inclusive, end_time exclusive", async () => {
    const rx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "windows");
    const early = await publish(tenantId, "window.test", 2);
    const t1 = await boundary();
    const middle = await publish(tenantId, "window.test", 3);
    const t2 = await boundary();
    const late = await publish(tenantId, "window.test", 1);
    const desc = (ids: string[]) => [...ids].sort().reverse();
    const ts = timestampFromMs;

    const events = async (startMs?: number, endMs?: number) =>
      (await listAll(api, { tenantId, pageSize: 2, ...(startMs && { startTime: ts(startMs) }), ...(endMs && { endTime: ts(endMs) }) })).map((e) => e.id);
    expect(await events(t1)).toEqual(desc([...middle, ...late]));
    expect(await events(undefined, t1)).toEqual(desc(early));
    expect(await events(t1, t2)).toEqual(desc(middle));

    await eventually(async () => (await api.deliveries.listDeliveries({ endpointId, pageSize: 100 })).deliveries.length === 6, 15_000, "6 deliveries");
    const deliveries = async (filter: { endpointId?: string; tenantId?: string; statuses?: DeliveryStatus[] }, startMs: number, endMs: number) =>
      (await api.deliveries.listDeliveries({ ...filter, startTime: ts(startMs), endTime: ts(endMs), pageSize: 100 })).deliveries.map((d) => d.eventId);
    expect(await deliveries({ endpointId }, t1, t2)).toEqual(desc(middle));
    expect(await deliveries({ tenantId }, t2, Date.now() + 60_000)).toEqual(late);
    await eventually(
      async () => (await deliveries({ endpointId, statuses: [DeliveryStatus.SUCCEEDED] }, 0, t1)).length === 2,
      15_000,
      "the early deliveries succeeded",
    );
    expect(await deliveries({ endpointId, statuses: [DeliveryStatus.SUCCEEDED] }, 0, t1)).toEqual(desc(early));
  });

  it("gives a tenant key its own tenant's events only", async () => {
    const mine = await newTenant("events mine");
    const theirs = await newTenant("events theirs");
    const myEvents = await publish(mine, "scope.test", 2);
    await publish(theirs, "scope.test", 2);
    const keys = createClient(ApiKeyService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [bearer(TEST_ADMIN_KEY)] }));
    const { key } = await keys.createApiKey({ tenantId: mine, name: "list events" });
    const tenantApi = clients(server.baseUrl, "grpc", key);

    expect((await listAll(tenantApi, {})).map((e) => e.id)).toEqual([...myEvents].reverse());
    expect((await listAll(tenantApi, { tenantId: mine, type: "scope.test" })).map((e) => e.id)).toEqual([...myEvents].reverse());
    expect((await rejection(tenantApi.events.listEvents({ tenantId: theirs }))).code).toBe(Code.PermissionDenied);
  });

  it("refuses bad filters with INVALID_ARGUMENT naming the field", async () => {
    const at = Date.now();
    const cases = [
      { req: { startTime: timestampFromMs(at), endTime: timestampFromMs(at) }, field: "end_time" },
      { req: { type: "not a type!" }, field: "type" },
      { req: { pageSize: 5000 }, field: "page_size" },
      { req: { pageToken: "garbage" }, field: "page_token" },
    ];
    for (const { req, field } of cases) {
      const err = await rejection(api.events.listEvents(req));
      expect(err.code, field).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual([field]);
    }
    const err = await rejection(api.deliveries.listDeliveries({ startTime: timestampFromMs(at + 1), endTime: timestampFromMs(at) }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["end_time"]);
  });
});
