import { beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import type { OrderingMode } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { bearer, clients, clientsOver, json, type Clients } from "../helpers/clients.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { useHookline } from "../helpers/fixtures.ts";

// One server WITHOUT --allow-private-targets: the SSRF guard is on, so valid endpoints in
// this file use a documentation address (203.0.113.0/24, never contacted: nothing is delivered).
const PUBLIC_URL = "http://203.0.113.10/hook";
const UNKNOWN = {
  tenant: "tnt_01ARZ3NDEKTSV4RRFFQ69G5FAV",
  endpoint: "ep_01ARZ3NDEKTSV4RRFFQ69G5FAV",
  event: "evt_01ARZ3NDEKTSV4RRFFQ69G5FAV",
  delivery: "dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV",
};

interface Ctx {
  api: Clients;
  tenantId: string;
  endpointId: string;
}

type Case = [label: string, call: (c: Ctx) => Promise<unknown>, code: Code, field?: string];

const secretOf = (bytes: number): string => "whsec_" + Buffer.alloc(bytes, 1).toString("base64");
const manyKeys = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
const endpoint = (c: Ctx, fields: Record<string, unknown>) =>
  c.api.endpoints.createEndpoint({ tenantId: c.tenantId, url: PUBLIC_URL, ...fields });
const publishOne = (c: Ctx, fields: Record<string, unknown>) =>
  c.api.events.publish({ events: [{ tenantId: c.tenantId, type: "a.b", payload: json({}), ...fields }] });

const INVALID = Code.InvalidArgument;
const NOT_FOUND = Code.NotFound;

const CASES: Case[] = [
  // Tenants
  ["tenant name empty", (c) => c.api.tenants.createTenant({ name: "" }), INVALID, "name"],
  ["tenant name blank", (c) => c.api.tenants.createTenant({ name: "   " }), INVALID, "name"],
  ["tenant name too long", (c) => c.api.tenants.createTenant({ name: "x".repeat(201) }), INVALID, "name"],
  ["tenant rate negative", (c) => c.api.tenants.createTenant({ name: "t", rateLimitPerSecond: -1 }), INVALID, "rate_limit_per_second"],
  ["tenant rate NaN", (c) => c.api.tenants.createTenant({ name: "t", rateLimitPerSecond: Number.NaN }), INVALID, "rate_limit_per_second"],
  ["tenant rate Infinity", (c) => c.api.tenants.createTenant({ name: "t", rateLimitPerSecond: Infinity }), INVALID, "rate_limit_per_second"],
  ["tenant rate huge", (c) => c.api.tenants.createTenant({ name: "t", rateLimitPerSecond: 1e12 }), INVALID, "rate_limit_per_second"],
  ["tenant metadata too many keys", (c) => c.api.tenants.createTenant({ name: "t", metadata: manyKeys(33) }), INVALID, "metadata"],
  ["tenant metadata key too long", (c) => c.api.tenants.createTenant({ name: "t", metadata: { ["k".repeat(65)]: "v" } }), INVALID, `metadata[${"k".repeat(65)}]`],
  ["tenant metadata empty key", (c) => c.api.tenants.createTenant({ name: "t", metadata: { "": "v" } }), INVALID, "metadata[]"],
  ["tenant metadata value too long", (c) => c.api.tenants.createTenant({ name: "t", metadata: { k: "v".repeat(513) } }), INVALID, "metadata[k]"],
  ["tenant name with NUL", (c) => c.api.tenants.createTenant({ name: "a\u0000b" }), INVALID, "name"],
  ["tenant name with newline", (c) => c.api.tenants.createTenant({ name: "a\nb" }), INVALID, "name"],
  ["tenant rate below the floor", (c) => c.api.tenants.createTenant({ name: "t", rateLimitPerSecond: 1e-9 }), INVALID, "rate_limit_per_second"],
  ["update tenant rate below the floor", (c) => c.api.tenants.updateTenant({ tenant: { id: c.tenantId, rateLimitPerSecond: 0.001 }, updateMask: { paths: ["rate_limit_per_second"] } }), INVALID, "tenant.rate_limit_per_second"],
  ["update tenant name with NUL", (c) => c.api.tenants.updateTenant({ tenant: { id: c.tenantId, name: "x\u0000" }, updateMask: { paths: ["name"] } }), INVALID, "tenant.name"],
  ["update tenant empty name", (c) => c.api.tenants.updateTenant({ tenant: { id: c.tenantId, name: "" }, updateMask: { paths: ["name"] } }), INVALID, "tenant.name"],
  ["update tenant unknown mask path", (c) => c.api.tenants.updateTenant({ tenant: { id: c.tenantId, name: "n" }, updateMask: { paths: ["owner"] } }), INVALID, "update_mask.paths[0]"],

  // Endpoint URL
  ["url empty", (c) => endpoint(c, { url: "" }), INVALID, "url"],
  ["url ftp scheme", (c) => endpoint(c, { url: "ftp://203.0.113.10/hook" }), INVALID, "url"],
  ["url relative", (c) => endpoint(c, { url: "/hook" }), INVALID, "url"],
  ["url with credentials", (c) => endpoint(c, { url: "http://user:pass@203.0.113.10/hook" }), INVALID, "url"],
  ["url with fragment", (c) => endpoint(c, { url: "http://203.0.113.10/hook#frag" }), INVALID, "url"],
  ["url bad port", (c) => endpoint(c, { url: "http://203.0.113.10:99999/hook" }), INVALID, "url"],
  ["url too long", (c) => endpoint(c, { url: `http://203.0.113.10/${"a".repeat(2100)}` }), INVALID, "url"],
  ["url with CR LF", (c) => endpoint(c, { url: "http://203.0.113.10/ho\r\nok" }), INVALID, "url"],
  ["url with TAB", (c) => endpoint(c, { url: "http://203.0.113.10/\thook" }), INVALID, "url"],
  ["url with leading space", (c) => endpoint(c, { url: " http://203.0.113.10/hook" }), INVALID, "url"],
  ["update endpoint url with LF", (c) => c.api.endpoints.updateEndpoint({ endpoint: { id: c.endpointId, url: "http://203.0.113.10/\nx" }, updateMask: { paths: ["url"] } }), INVALID, "endpoint.url"],
  ["update endpoint bad url", (c) => c.api.endpoints.updateEndpoint({ endpoint: { id: c.endpointId, url: "mailto:x@y" }, updateMask: { paths: ["url"] } }), INVALID, "endpoint.url"],

  // Event type filters
  ["event_types bad pattern", (c) => endpoint(c, { eventTypes: ["invoice paid!"] }), INVALID, "event_types[0]"],
  ["event_types wildcard in middle", (c) => endpoint(c, { eventTypes: ["ok.type", "invoice.*.paid"] }), INVALID, "event_types[1]"],
  ["event_types leading wildcard", (c) => endpoint(c, { eventTypes: ["*.paid"] }), INVALID, "event_types[0]"],
  ["event_types empty entry", (c) => endpoint(c, { eventTypes: [""] }), INVALID, "event_types[0]"],

  // Headers
  ["headers reserved webhook-id", (c) => endpoint(c, { headers: { "webhook-id": "x" } }), INVALID, "headers[webhook-id]"],
  ["headers reserved Content-Type", (c) => endpoint(c, { headers: { "Content-Type": "text/plain" } }), INVALID, "headers[Content-Type]"],
  ["headers bad name", (c) => endpoint(c, { headers: { "bad name": "x" } }), INVALID, "headers[bad name]"],
  ["headers CR/LF in value", (c) => endpoint(c, { headers: { "x-ok": "a\r\nx-injected: 1" } }), INVALID, "headers[x-ok]"],
  ["headers hop-by-hop Connection", (c) => endpoint(c, { headers: { Connection: "close" } }), INVALID, "headers[Connection]"],
  ["headers Transfer-Encoding", (c) => endpoint(c, { headers: { "transfer-encoding": "chunked" } }), INVALID, "headers[transfer-encoding]"],
  ["headers Proxy-Authorization", (c) => endpoint(c, { headers: { "proxy-authorization": "Basic x" } }), INVALID, "headers[proxy-authorization]"],
  ["headers Expect", (c) => endpoint(c, { headers: { expect: "100-continue" } }), INVALID, "headers[expect]"],
  ["headers Content-Length", (c) => endpoint(c, { headers: { "content-length": "1" } }), INVALID, "headers[content-length]"],
  ["headers non-ASCII value", (c) => endpoint(c, { headers: { "x-name": "café" } }), INVALID, "headers[x-name]"],
  ["headers TAB in value", (c) => endpoint(c, { headers: { "x-name": "a\tb" } }), INVALID, "headers[x-name]"],
  ["headers value too long", (c) => endpoint(c, { headers: { "x-long": "v".repeat(4097) } }), INVALID, "headers[x-long]"],
  ["headers too many", (c) => endpoint(c, { headers: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`x-h${i}`, "v"])) }), INVALID, "headers"],

  // Limits and timing
  ["endpoint rate below the floor", (c) => endpoint(c, { rateLimitPerSecond: 1e-9 }), INVALID, "rate_limit_per_second"],
  ["update endpoint rate below the floor", (c) => c.api.endpoints.updateEndpoint({ endpoint: { id: c.endpointId, rateLimitPerSecond: 0.005 }, updateMask: { paths: ["rate_limit_per_second"] } }), INVALID, "endpoint.rate_limit_per_second"],
  ["endpoint description with NUL", (c) => endpoint(c, { description: "ok\u0000" }), INVALID, "description"],
  ["update endpoint description with ESC", (c) => c.api.endpoints.updateEndpoint({ endpoint: { id: c.endpointId, description: "\u001b[31m" }, updateMask: { paths: ["description"] } }), INVALID, "endpoint.description"],
  ["max_in_flight too large", (c) => endpoint(c, { maxInFlight: 1001 }), INVALID, "max_in_flight"],
  ["endpoint rate negative", (c) => endpoint(c, { rateLimitPerSecond: -5 }), INVALID, "rate_limit_per_second"],
  ["timeout too short", (c) => endpoint(c, { timeout: { nanos: 500_000_000 } }), INVALID, "timeout"],
  ["timeout too long", (c) => endpoint(c, { timeout: { seconds: 121n } }), INVALID, "timeout"],
  ["timeout negative", (c) => endpoint(c, { timeout: { seconds: -3n } }), INVALID, "timeout"],
  ["retry max_attempts too big", (c) => endpoint(c, { retryPolicy: { maxAttempts: 101 } }), INVALID, "retry_policy.max_attempts"],
  ["retry max_backoff < initial", (c) => endpoint(c, { retryPolicy: { initialBackoff: { seconds: 10n }, maxBackoff: { seconds: 1n } } }), INVALID, "retry_policy.max_backoff"],
  ["retry max_age too long", (c) => endpoint(c, { retryPolicy: { maxAge: { seconds: 31n * 86_400n } } }), INVALID, "retry_policy.max_age"],

  // Secret and ordering
  ["secret without whsec_", (c) => endpoint(c, { secret: Buffer.alloc(32, 1).toString("base64") }), INVALID, "secret"],
  ["secret too short", (c) => endpoint(c, { secret: secretOf(8) }), INVALID, "secret"],
  ["secret not base64", (c) => endpoint(c, { secret: "whsec_not*base64!" }), INVALID, "secret"],
  ["ordering unknown enum 7", (c) => endpoint(c, { ordering: 7 as OrderingMode }), INVALID, "ordering"],
  ["rotate secret too short", (c) => c.api.endpoints.rotateEndpointSecret({ id: c.endpointId, secret: secretOf(4) }), INVALID, "secret"],
  ["rotate grace too long", (c) => c.api.endpoints.rotateEndpointSecret({ id: c.endpointId, gracePeriod: { seconds: 8n * 86_400n } }), INVALID, "grace_period"],
  ["update endpoint unknown mask path", (c) => c.api.endpoints.updateEndpoint({ endpoint: { id: c.endpointId }, updateMask: { paths: ["tenant_id"] } }), INVALID, "update_mask.paths[0]"],
  ["update endpoint empty mask", (c) => c.api.endpoints.updateEndpoint({ endpoint: { id: c.endpointId, description: "d" } }), INVALID, "update_mask"],

  // Paging
  ["list tenants page_size -1", (c) => c.api.tenants.listTenants({ pageSize: -1 }), INVALID, "page_size"],
  ["list tenants page_size 5000", (c) => c.api.tenants.listTenants({ pageSize: 5000 }), INVALID, "page_size"],
  ["list endpoints page_size 5000", (c) => c.api.endpoints.listEndpoints({ pageSize: 5000 }), INVALID, "page_size"],
  ["list tenants page_token garbage", (c) => c.api.tenants.listTenants({ pageToken: "garbage!" }), INVALID, "page_token"],
  ["list endpoints page_token garbage", (c) => c.api.endpoints.listEndpoints({ pageToken: "Z2FyYmFnZQ" }), INVALID, "page_token"],
  ["list deliveries page_token garbage", (c) => c.api.deliveries.listDeliveries({ pageToken: "%%%" }), INVALID, "page_token"],
  ["list deliveries unknown status", (c) => c.api.deliveries.listDeliveries({ statuses: [99 as DeliveryStatus] }), INVALID, "statuses[0]"],

  // Publish
  ["publish events empty", (c) => c.api.events.publish({ events: [] }), INVALID, "events"],
  [
    "publish events[1].payload not JSON",
    (c) =>
      c.api.events.publish({
        events: [
          { tenantId: c.tenantId, type: "a.b", payload: json({ ok: true }) },
          { tenantId: c.tenantId, type: "a.b", payload: new TextEncoder().encode("{not json") },
        ],
      }),
    INVALID,
    "events[1].payload",
  ],
  ["publish too many events", (c) => c.api.events.publish({ events: Array.from({ length: 1001 }, () => ({ tenantId: c.tenantId, type: "a.b", payload: json({}) })) }), INVALID, "events"],
  ["publish payload empty", (c) => publishOne(c, { payload: new Uint8Array() }), INVALID, "events[0].payload"],
  ["publish payload not UTF-8", (c) => publishOne(c, { payload: new Uint8Array([0x22, 0xff, 0x22]) }), INVALID, "events[0].payload"],
  ["publish payload too large", (c) => publishOne(c, { payload: json({ blob: "x".repeat(300 * 1024) }) }), INVALID, "events[0].payload"],
  ["publish events[0].type bad", (c) => publishOne(c, { type: "no spaces allowed" }), INVALID, "events[0].type"],
  ["publish events[0].type empty", (c) => publishOne(c, { type: "" }), INVALID, "events[0].type"],
  ["publish events[0].tenant_id unknown", (c) => publishOne(c, { tenantId: UNKNOWN.tenant }), INVALID, "events[0].tenant_id"],
  ["publish events[0].tenant_id missing", (c) => publishOne(c, { tenantId: "" }), INVALID, "events[0].tenant_id"],
  ["publish idempotency_key too long", (c) => publishOne(c, { idempotencyKey: "k".repeat(257) }), INVALID, "events[0].idempotency_key"],
  ["publish ordering_key control chars", (c) => publishOne(c, { orderingKey: "a\u0001b" }), INVALID, "events[0].ordering_key"],

  // Missing ids
  ["GetTenant without id", (c) => c.api.tenants.getTenant({ id: "" }), INVALID, "id"],
  ["DeleteTenant without id", (c) => c.api.tenants.deleteTenant({ id: "" }), INVALID, "id"],
  ["UpdateTenant without tenant", (c) => c.api.tenants.updateTenant({ updateMask: { paths: ["name"] } }), INVALID, "tenant"],
  ["UpdateTenant without tenant.id", (c) => c.api.tenants.updateTenant({ tenant: { name: "x" } }), INVALID, "tenant.id"],
  ["CreateEndpoint without tenant_id", (c) => c.api.endpoints.createEndpoint({ url: PUBLIC_URL }), INVALID, "tenant_id"],
  ["GetEndpoint without id", (c) => c.api.endpoints.getEndpoint({ id: "" }), INVALID, "id"],
  ["DeleteEndpoint without id", (c) => c.api.endpoints.deleteEndpoint({ id: "" }), INVALID, "id"],
  ["UpdateEndpoint without endpoint", (c) => c.api.endpoints.updateEndpoint({ updateMask: { paths: ["url"] } }), INVALID, "endpoint"],
  ["UpdateEndpoint without endpoint.id", (c) => c.api.endpoints.updateEndpoint({ endpoint: { url: PUBLIC_URL }, updateMask: { paths: ["url"] } }), INVALID, "endpoint.id"],
  ["RotateEndpointSecret without id", (c) => c.api.endpoints.rotateEndpointSecret({ id: "" }), INVALID, "id"],
  ["GetEvent without id", (c) => c.api.events.getEvent({ id: "" }), INVALID, "id"],
  ["GetDelivery without id", (c) => c.api.deliveries.getDelivery({ id: "" }), INVALID, "id"],
  ["ListAttempts without delivery_id", (c) => c.api.deliveries.listAttempts({ deliveryId: "" }), INVALID, "delivery_id"],
  ["RetryDelivery without id", (c) => c.api.deliveries.retryDelivery({ id: "" }), INVALID, "id"],
  ["ReplayDeliveries without endpoint_id", (c) => c.api.deliveries.replayDeliveries({ endpointId: "" }), INVALID, "endpoint_id"],
  [
    "ReplayDeliveries end_time before start_time",
    (c) => c.api.deliveries.replayDeliveries({ endpointId: c.endpointId, startTime: { seconds: 2000n }, endTime: { seconds: 1000n } }),
    INVALID,
    "end_time",
  ],

  // Unknown ids
  ["GetTenant unknown", (c) => c.api.tenants.getTenant({ id: UNKNOWN.tenant }), NOT_FOUND],
  ["DeleteTenant unknown", (c) => c.api.tenants.deleteTenant({ id: UNKNOWN.tenant }), NOT_FOUND],
  ["UpdateTenant unknown", (c) => c.api.tenants.updateTenant({ tenant: { id: UNKNOWN.tenant, name: "x" }, updateMask: { paths: ["name"] } }), NOT_FOUND],
  ["CreateEndpoint unknown tenant", (c) => c.api.endpoints.createEndpoint({ tenantId: UNKNOWN.tenant, url: PUBLIC_URL }), NOT_FOUND],
  ["ListEndpoints unknown tenant", (c) => c.api.endpoints.listEndpoints({ tenantId: UNKNOWN.tenant }), NOT_FOUND],
  ["GetEndpoint unknown", (c) => c.api.endpoints.getEndpoint({ id: UNKNOWN.endpoint }), NOT_FOUND],
  ["DeleteEndpoint unknown", (c) => c.api.endpoints.deleteEndpoint({ id: UNKNOWN.endpoint }), NOT_FOUND],
  ["RotateEndpointSecret unknown", (c) => c.api.endpoints.rotateEndpointSecret({ id: UNKNOWN.endpoint }), NOT_FOUND],
  ["GetEndpointStats unknown", (c) => c.api.endpoints.getEndpointStats({ id: UNKNOWN.endpoint }), NOT_FOUND],
  ["GetEvent unknown", (c) => c.api.events.getEvent({ id: UNKNOWN.event }), NOT_FOUND],
  ["GetDelivery unknown", (c) => c.api.deliveries.getDelivery({ id: UNKNOWN.delivery }), NOT_FOUND],
  ["ListAttempts unknown delivery", (c) => c.api.deliveries.listAttempts({ deliveryId: UNKNOWN.delivery }), NOT_FOUND],
  ["RetryDelivery unknown", (c) => c.api.deliveries.retryDelivery({ id: UNKNOWN.delivery }), NOT_FOUND],
  ["ReplayDeliveries unknown endpoint", (c) => c.api.deliveries.replayDeliveries({ endpointId: UNKNOWN.endpoint }), NOT_FOUND],
];

/** Connect protocol with JSON bodies: bad input arrives through the JSON parser instead of binary. */
function jsonClients(baseUrl: string): Clients {
  return clientsOver(createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: [bearer(TEST_ADMIN_KEY)] }));
}

const { server, api, newTenant } = useHookline({ allowPrivateTargets: false });
const seenCodes: Code[] = [];

describe.each([
  ["grpc (binary)", (url: string) => clients(url, "grpc")],
  ["connect-http1 (JSON)", jsonClients],
] as const)("bad input over %s", (_name, makeClients) => {
  const ctx = {} as Ctx;
  beforeAll(async () => {
    ctx.api = makeClients(server.baseUrl);
    const { tenant } = await ctx.api.tenants.createTenant({ name: "validation" });
    ctx.tenantId = tenant!.id;
    const { endpoint } = await ctx.api.endpoints.createEndpoint({ tenantId: ctx.tenantId, url: PUBLIC_URL, eventTypes: ["never.matches"] });
    ctx.endpointId = endpoint!.id;
  });

  it.each(CASES)("%s", async (_label, call, code, field) => {
    const err = await rejection(call(ctx));
    seenCodes.push(err.code);
    expect(err.code, `${Code[err.code]}: ${err.rawMessage}`).toBe(code);
    if (field !== undefined) {
      expect(violatedFields(err)).toContain(field);
      expect(err.rawMessage).toContain(field);
    }
  });

  it("left the tenant and endpoint as they were", async () => {
    const { tenant } = await ctx.api.tenants.getTenant({ id: ctx.tenantId });
    expect(tenant?.name).toBe("validation");
    const { endpoint } = await ctx.api.endpoints.getEndpoint({ id: ctx.endpointId });
    expect(endpoint?.url).toBe(PUBLIC_URL);
    expect(endpoint?.eventTypes).toEqual(["never.matches"]);
    expect(endpoint?.description).toBe("");
  });
});

describe("after all the bad input", () => {
  it("never answered INTERNAL and logged no unexpected handler error", () => {
    expect(seenCodes).toHaveLength(CASES.length * 2);
    expect(seenCodes).not.toContain(Code.Internal);
    expect(server.logs.filter((l) => l.msg === "unexpected error in handler")).toEqual([]);
  });

  it("the server keeps answering", async () => {
    const { tenant } = await api.tenants.createTenant({ name: "still alive" });
    expect((await api.tenants.getTenant({ id: tenant!.id })).tenant?.name).toBe("still alive");
    const res = await fetch(`${server.baseUrl}/healthz`);
    expect(res.status).toBe(200);
  });
});

describe("SSRF guard (server started without --allow-private-targets)", () => {
  let tenantId: string;
  beforeAll(async () => {
    tenantId = await newTenant("ssrf");
  });

  it.each(["http://127.0.0.1:9/", "http://localhost:9/", "http://[::1]:9/", "http://10.1.2.3/hook", "http://169.254.169.254/latest"])(
    "refuses %s with INVALID_ARGUMENT naming url and the flag",
    async (url) => {
      const err = await rejection(api.endpoints.createEndpoint({ tenantId, url }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual(["url"]);
      expect(err.rawMessage).toContain("--allow-private-targets");
    },
  );

  it("refuses moving an existing endpoint to a loopback URL", async () => {
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: PUBLIC_URL });
    const err = await rejection(
      api.endpoints.updateEndpoint({ endpoint: { id: endpoint!.id, url: "http://localhost:9/" }, updateMask: { paths: ["url"] } }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["endpoint.url"]);
    expect(err.rawMessage).toContain("--allow-private-targets");
    expect((await api.endpoints.getEndpoint({ id: endpoint!.id })).endpoint?.url).toBe(PUBLIC_URL);
  });

  it("accepts a public address", async () => {
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url: "https://203.0.113.20/hooks/in" });
    expect(endpoint?.url).toBe("https://203.0.113.20/hooks/in");
  });
});
