import { describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ApiKeyService } from "../../src/gen/hookline/v1/api_key_pb.ts";
import type { EventType, EventTypeSchema } from "../../src/gen/hookline/v1/event_type_pb.ts";
import type { PublishStreamRequestSchema, PublishStreamResponse } from "../../src/gen/hookline/v1/event_pb.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { bearer, clients, json, type Clients } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { sleep } from "../helpers/time.ts";

// The event-type catalog (EventTypeService): CRUD, who sees and changes which types, and what
// publish does with them (schema validation, strict_event_types). Runs on every backend.

const { server, api, receiver, newTenant, tenantWithEndpoint } = useHookline();

/** Instance-wide types are shared by every test of the file: each test names its own. */
let unique = 0;
const typeName = (base: string): string => `${base}.t${process.pid}x${++unique}`;

const AMOUNT_SCHEMA = JSON.stringify({
  type: "object",
  properties: {
    amount: { type: "number" },
    items: { type: "array", items: { type: "object", properties: { sku: { type: "string" } }, required: ["sku"] } },
  },
  required: ["amount"],
});

type EventTypeInit = MessageInitShape<typeof EventTypeSchema>;

async function createType(client: Clients, init: EventTypeInit): Promise<EventType> {
  return (await client.eventTypes.createEventType({ eventType: init })).eventType!;
}

/** A tenant API key's clients. */
async function tenantClients(tenantId: string): Promise<Clients> {
  const keys = createClient(ApiKeyService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [bearer(TEST_ADMIN_KEY)] }));
  const { key } = await keys.createApiKey({ tenantId, name: "catalog test" });
  return clients(server.baseUrl, "grpc", key);
}

async function allTypes(client: Clients, tenantId: string, includeArchived = false, pageSize = 1000): Promise<EventType[]> {
  const out: EventType[] = [];
  let pageToken = "";
  for (let pages = 0; pages < 1000; pages++) {
    const page = await client.eventTypes.listEventTypes({ tenantId, includeArchived, pageSize, pageToken });
    out.push(...page.eventTypes);
    pageToken = page.nextPageToken;
    if (pageToken === "") return out;
  }
  throw new Error("ListEventTypes did not end");
}

const bodyOf = (r: { body: Buffer }): unknown => JSON.parse(r.body.toString());

describe("event-type catalog: CRUD", () => {
  it("creates, reads, lists, updates, archives and un-archives a tenant's type", async () => {
    const tenantId = await newTenant("catalog crud");
    const name = typeName("invoice.paid");
    const example = JSON.stringify({ amount: 12.5 });
    const created = await createType(api, { tenantId, name, description: "An invoice was paid", example, schema: AMOUNT_SCHEMA });
    expect(created).toMatchObject({ tenantId, name, description: "An invoice was paid", example, schema: AMOUNT_SCHEMA, archived: false });
    expect(created.createTime).toBeDefined();

    const got = (await api.eventTypes.getEventType({ tenantId, name })).eventType!;
    expect(got).toMatchObject({ tenantId, name, description: "An invoice was paid", schema: AMOUNT_SCHEMA });
    expect((await allTypes(api, tenantId)).filter((t) => t.tenantId === tenantId).map((t) => t.name)).toEqual([name]);

    const again = await rejection(createType(api, { tenantId, name }));
    expect(again.code).toBe(Code.AlreadyExists);

    const described = await api.eventTypes.updateEventType({
      eventType: { tenantId, name, description: "Paid in full", schema: "ignored: not in the mask" },
      updateMask: { paths: ["description"] },
    });
    expect(described.eventType).toMatchObject({ description: "Paid in full", schema: AMOUNT_SCHEMA, example });

    const noSchema = await api.eventTypes.updateEventType({ eventType: { tenantId, name, schema: "" }, updateMask: { paths: ["schema"] } });
    expect(noSchema.eventType?.schema).toBe("");

    const archived = (await api.eventTypes.archiveEventType({ tenantId, name })).eventType!;
    expect(archived.archived).toBe(true);
    expect((await api.eventTypes.archiveEventType({ tenantId, name })).eventType?.archived).toBe(true);
    expect((await allTypes(api, tenantId)).some((t) => t.name === name)).toBe(false);
    expect((await allTypes(api, tenantId, true)).find((t) => t.name === name)?.archived).toBe(true);

    const restored = await api.eventTypes.updateEventType({ eventType: { tenantId, name, archived: false }, updateMask: { paths: ["archived"] } });
    expect(restored.eventType?.archived).toBe(false);
    expect((await allTypes(api, tenantId)).some((t) => t.name === name)).toBe(true);

    const missing = await rejection(api.eventTypes.getEventType({ tenantId, name: `${name}.nope` }));
    expect(missing.code).toBe(Code.NotFound);
    const noMask = await rejection(api.eventTypes.updateEventType({ eventType: { tenantId, name, description: "x" } }));
    expect(noMask.code).toBe(Code.InvalidArgument);
    expect(violatedFields(noMask)).toEqual(["update_mask"]);
  });

  it("refuses an invalid schema, a non-JSON example and an example that breaks the schema, naming the field", async () => {
    const tenantId = await newTenant("catalog invalid");
    const name = typeName("order.created");
    const cases: [EventTypeInit, string, RegExp][] = [
      [{ tenantId, name, schema: JSON.stringify({ type: "nope" }) }, "event_type.schema", /not a valid JSON Schema/],
      [{ tenantId, name, schema: JSON.stringify({ type: "object", requried: ["a"] }) }, "event_type.schema", /unknown keyword: "requried"/],
      [{ tenantId, name, schema: JSON.stringify({ $ref: "#/$defs/missing" }) }, "event_type.schema", /not a valid JSON Schema/],
      [{ tenantId, name, schema: "{not json" }, "event_type.schema", /must be JSON/],
      [{ tenantId, name, schema: "[1, 2]" }, "event_type.schema", /an object or a boolean/],
      [{ tenantId, name, example: "{not json" }, "event_type.example", /must be JSON/],
      [{ tenantId, name, schema: AMOUNT_SCHEMA, example: JSON.stringify({ amount: "12" }) }, "event_type.example/amount", /must be number/],
      [{ tenantId, name: "bad name!" }, "event_type.name", /dot-separated words/],
    ];
    for (const [init, field, message] of cases) {
      const err = await rejection(createType(api, init));
      expect(err.code, field).toBe(Code.InvalidArgument);
      expect(violatedFields(err), JSON.stringify(init)).toEqual([field]);
      expect(err.rawMessage).toMatch(message);
    }
    expect((await allTypes(api, tenantId)).some((t) => t.tenantId === tenantId)).toBe(false);

    await createType(api, { tenantId, name, schema: AMOUNT_SCHEMA, example: JSON.stringify({ amount: 1 }) });
    const bad = await rejection(
      api.eventTypes.updateEventType({ eventType: { tenantId, name, schema: JSON.stringify({ type: 5 }) }, updateMask: { paths: ["schema"] } }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(violatedFields(bad)).toEqual(["event_type.schema"]);
    // The stored example is checked against a new schema too.
    const clash = await rejection(
      api.eventTypes.updateEventType({ eventType: { tenantId, name, schema: JSON.stringify({ type: "string" }) }, updateMask: { paths: ["schema"] } }),
    );
    expect(violatedFields(clash)).toEqual(["event_type.example"]);
    expect((await api.eventTypes.getEventType({ tenantId, name })).eventType?.schema).toBe(AMOUNT_SCHEMA);
  });

  it("pages through the catalog by name", async () => {
    const tenantId = await newTenant("catalog paging");
    const names = ["a", "b", "c", "d", "e"].map((n) => typeName(`page.${n}`));
    for (const name of [...names].reverse()) await createType(api, { tenantId, name });
    const own = (list: EventType[]) => list.filter((t) => t.tenantId === tenantId).map((t) => t.name);
    expect(own(await allTypes(api, tenantId, false, 2))).toEqual(names);
    expect(own(await allTypes(api, "", false, 2))).toEqual(names);
    const err = await rejection(api.eventTypes.listEventTypes({ tenantId, pageToken: "garbage" }));
    expect(violatedFields(err)).toEqual(["page_token"]);
  });

  it("forgets a tenant's types when the tenant is deleted", async () => {
    const tenantId = await newTenant("catalog deleted");
    const name = typeName("gone");
    await createType(api, { tenantId, name });
    await api.tenants.deleteTenant({ id: tenantId, force: true });
    expect((await allTypes(api, "", true)).some((t) => t.tenantId === tenantId)).toBe(false);
  });
});

describe("event-type catalog: scopes and keys", () => {
  it("a tenant sees instance-wide types and its own; its own type of the same name overrides", async () => {
    const a = await newTenant("scope a");
    const b = await newTenant("scope b");
    const shared = typeName("user.created");
    const sharedOnly = typeName("user.deleted");
    await createType(api, { tenantId: "", name: shared, description: "instance-wide" });
    await createType(api, { tenantId: "", name: sharedOnly });
    await createType(api, { tenantId: a, name: shared, description: "a's own" });

    const aKey = await tenantClients(a);
    const bKey = await tenantClients(b);
    const seenByA = (await allTypes(aKey, "")).filter((t) => t.name === shared || t.name === sharedOnly);
    expect(seenByA.map((t) => [t.name, t.tenantId, t.description])).toEqual([
      [shared, a, "a's own"],
      [sharedOnly, "", ""],
    ]);
    const seenByB = (await allTypes(bKey, "")).filter((t) => t.name === shared || t.name === sharedOnly);
    expect(seenByB.map((t) => [t.name, t.tenantId])).toEqual([
      [shared, ""],
      [sharedOnly, ""],
    ]);
    expect((await allTypes(bKey, "")).some((t) => t.tenantId === a)).toBe(false);
    // The admin's list of every scope has both, instance-wide first.
    const adminAll = (await allTypes(api, "")).filter((t) => t.name === shared);
    expect(adminAll.map((t) => t.tenantId)).toEqual(["", a]);
    // An archived override no longer hides the instance-wide type.
    await api.eventTypes.archiveEventType({ tenantId: a, name: shared });
    expect((await allTypes(aKey, "")).find((t) => t.name === shared)?.tenantId).toBe("");
  });

  it("a tenant key reads instance-wide types but cannot change them, and cannot touch another tenant's", async () => {
    const mine = await newTenant("keys mine");
    const theirs = await newTenant("keys theirs");
    const shared = typeName("shared");
    const theirType = typeName("theirs");
    await createType(api, { tenantId: "", name: shared });
    await createType(api, { tenantId: theirs, name: theirType });
    const key = await tenantClients(mine);

    expect((await key.eventTypes.getEventType({ tenantId: "", name: shared })).eventType?.name).toBe(shared);
    const denied: [string, Promise<unknown>][] = [
      ["create instance-wide", key.eventTypes.createEventType({ eventType: { tenantId: "", name: typeName("mine.global") } })],
      ["update instance-wide", key.eventTypes.updateEventType({ eventType: { tenantId: "", name: shared, description: "x" }, updateMask: { paths: ["description"] } })],
      ["archive instance-wide", key.eventTypes.archiveEventType({ tenantId: "", name: shared })],
      ["create theirs", key.eventTypes.createEventType({ eventType: { tenantId: theirs, name: typeName("sneaky") } })],
      ["get theirs", key.eventTypes.getEventType({ tenantId: theirs, name: theirType })],
      ["update theirs", key.eventTypes.updateEventType({ eventType: { tenantId: theirs, name: theirType, description: "x" }, updateMask: { paths: ["description"] } })],
      ["archive theirs", key.eventTypes.archiveEventType({ tenantId: theirs, name: theirType })],
      ["list theirs", key.eventTypes.listEventTypes({ tenantId: theirs })],
    ];
    for (const [what, call] of denied) expect((await rejection(call)).code, what).toBe(Code.PermissionDenied);

    const untouched = (await api.eventTypes.getEventType({ tenantId: "", name: shared })).eventType!;
    expect(untouched).toMatchObject({ description: "", archived: false });
    expect((await api.eventTypes.getEventType({ tenantId: theirs, name: theirType })).eventType?.archived).toBe(false);

    const own = await createType(key, { tenantId: mine, name: typeName("mine") });
    expect(own.tenantId).toBe(mine);
    expect((await key.eventTypes.archiveEventType({ tenantId: mine, name: own.name })).eventType?.archived).toBe(true);
  });
});

describe("event-type catalog: publish", () => {
  it("refuses a payload that breaks its type's schema, naming the event and the path; delivers a good one", async () => {
    const rx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "schema publish");
    const type = typeName("payment.made");
    await createType(api, { tenantId, name: type, schema: AMOUNT_SCHEMA });

    const good = { tenantId, type, payload: json({ amount: 3 }) };
    const cases: [unknown, string, string][] = [
      [{ amount: "3" }, "events[1].payload/amount", "must be number"],
      [{}, "events[1].payload/amount", "is required"],
      [{ amount: 1, items: [{ sku: "a" }, { sku: 7 }] }, "events[1].payload/items/1/sku", "must be string"],
      [[1], "events[1].payload", "must be object"],
    ];
    for (const [payload, field, message] of cases) {
      const err = await rejection(api.events.publish({ events: [good, { tenantId, type, payload: json(payload) }] }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual([field]);
      expect(err.rawMessage).toBe(`${field}: ${message}`);
    }
    // Other types of the tenant are not checked.
    const { results } = await api.events.publish({ events: [good, { tenantId, type: typeName("free.form"), payload: json({ amount: "x" }) }] });
    expect(results).toHaveLength(2);
    await rx.waitFor((r) => r.length >= 2);
    await sleep(100);
    expect(rx.requests.map(bodyOf)).toContainEqual({ amount: 3 });
    expect(rx.requests).toHaveLength(2);

    // PublishStream answers the bad request with the same field; the good one is stored.
    async function* requests(): AsyncGenerator<MessageInitShape<typeof PublishStreamRequestSchema>> {
      yield { requestId: "bad", events: [{ tenantId, type, payload: json({ amount: true }) }] };
      yield { requestId: "good", events: [good] };
    }
    const responses: PublishStreamResponse[] = [];
    for await (const res of api.events.publishStream(requests())) responses.push(res);
    expect(responses.map((r) => [r.requestId, r.error?.field ?? "", r.results.length])).toEqual([
      ["bad", "events[0].payload/amount", 0],
      ["good", "", 1],
    ]);

    // SendTestEvent checks a given payload, and without one sends the type's example.
    const badTest = await rejection(api.endpoints.sendTestEvent({ endpointId, type, payload: json({ amount: null }) }));
    expect(violatedFields(badTest)).toEqual(["payload/amount"]);
    await api.eventTypes.updateEventType({ eventType: { tenantId, name: type, example: JSON.stringify({ amount: 99 }) }, updateMask: { paths: ["example"] } });
    await api.endpoints.sendTestEvent({ endpointId, type });
    await rx.waitFor((r) => r.some((req) => JSON.stringify(bodyOf(req)) === JSON.stringify({ amount: 99 })));
  });

  it("validates with the tenant's own schema over the instance-wide one, and not at all once archived", async () => {
    const a = await newTenant("override publish a");
    const b = await newTenant("override publish b");
    const type = typeName("price.changed");
    await createType(api, { tenantId: "", name: type, schema: JSON.stringify({ properties: { price: { type: "number" } } }) });
    await createType(api, { tenantId: a, name: type, schema: JSON.stringify({ properties: { price: { type: "string" } } }) });
    const publish = (tenantId: string, price: unknown) => api.events.publish({ events: [{ tenantId, type, payload: json({ price }) }] });

    await publish(a, "1.00");
    expect(violatedFields(await rejection(publish(a, 1)))).toEqual(["events[0].payload/price"]);
    await publish(b, 1);
    expect(violatedFields(await rejection(publish(b, "1.00")))).toEqual(["events[0].payload/price"]);

    await api.eventTypes.archiveEventType({ tenantId: "", name: type });
    await publish(b, "1.00");
  });

  it("with strict_event_types, refuses types missing from the catalog or archived; without, accepts them", async () => {
    const { tenant } = await api.tenants.createTenant({ name: "strict", strictEventTypes: true });
    const tenantId = tenant!.id;
    expect(tenant!.strictEventTypes).toBe(true);
    expect((await api.tenants.getTenant({ id: tenantId })).tenant?.strictEventTypes).toBe(true);
    const known = typeName("known");
    const retired = typeName("retired");
    const shared = typeName("shared.known");
    await createType(api, { tenantId, name: known });
    await createType(api, { tenantId, name: retired });
    await api.eventTypes.archiveEventType({ tenantId, name: retired });
    await createType(api, { tenantId: "", name: shared });
    const publish = (type: string) => api.events.publish({ events: [{ tenantId, type: known, payload: json({}) }, { tenantId, type, payload: json({}) }] });

    await publish(known);
    await publish(shared);
    const unknown = await rejection(publish(typeName("unknown")));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(violatedFields(unknown)).toEqual(["events[1].type"]);
    expect(unknown.rawMessage).toMatch(/is not in the event-type catalog/);
    const archived = await rejection(publish(retired));
    expect(violatedFields(archived)).toEqual(["events[1].type"]);
    expect(archived.rawMessage).toMatch(/is archived/);
    // SendTestEvent too, except for its own default type.
    const rx = await receiver();
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: rx.url });
    expect(violatedFields(await rejection(api.endpoints.sendTestEvent({ endpointId: endpoint!.id, type: typeName("unknown") })))).toEqual(["type"]);
    await api.endpoints.sendTestEvent({ endpointId: endpoint!.id });

    const relaxed = await api.tenants.updateTenant({ tenant: { id: tenantId, strictEventTypes: false }, updateMask: { paths: ["strict_event_types"] } });
    expect(relaxed.tenant?.strictEventTypes).toBe(false);
    await publish(typeName("unknown"));
    await publish(retired);
  });
});
