import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { BadRequestSchema, type BadRequest } from "../../src/gen/google/rpc/error_details_pb.ts";
import { grpcJsBearer } from "../helpers/grpc-js.ts";
import { startServer, type ServerProcess } from "../helpers/server.ts";

// A non-Connect client: @grpc/grpc-js with stubs built at run time from the .proto files.
const PROTO_ROOT = new URL("../../proto/", import.meta.url).pathname;
const FILES = ["tenant", "endpoint", "event", "delivery"].map((f) => `hookline/v1/${f}.proto`);

type Callback = (err: grpc.ServiceError | null, res: Record<string, unknown>) => void;
type Unary = (req: object, cb: Callback) => void;

interface Stubs {
  tenants: grpc.Client;
  endpoints: grpc.Client;
  events: grpc.Client;
  deliveries: grpc.Client;
}

/** Promisified unary call on a grpc-js stub; resolves with the plain-object response. */
function call<T = Record<string, any>>(client: grpc.Client, method: string, req: object): Promise<T> {
  const fn = (client as unknown as Record<string, Unary>)[method];
  if (typeof fn !== "function") throw new Error(`no method ${method} on the stub`);
  return new Promise((resolve, reject) => {
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** google.rpc.Status from the grpc-status-details-bin trailer, decoded by hand: code=1, message=2, details=3 (Any). */
function decodeStatus(bytes: Uint8Array): { code: number; message: string; details: { typeUrl: string; value: Uint8Array }[] } {
  const reader = new BinaryReader(bytes);
  const status = { code: 0, message: "", details: [] as { typeUrl: string; value: Uint8Array }[] };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) status.code = reader.int32();
    else if (field === 2 && wireType === WireType.LengthDelimited) status.message = reader.string();
    else if (field === 3 && wireType === WireType.LengthDelimited) {
      const any = new BinaryReader(reader.bytes());
      const detail: { typeUrl: string; value: Uint8Array<ArrayBufferLike> } = { typeUrl: "", value: new Uint8Array() };
      while (any.pos < any.len) {
        const [f, w] = any.tag();
        if (f === 1 && w === WireType.LengthDelimited) detail.typeUrl = any.string();
        else if (f === 2 && w === WireType.LengthDelimited) detail.value = any.bytes();
        else any.skip(w);
      }
      status.details.push(detail);
    } else reader.skip(wireType);
  }
  return status;
}

function badRequestOf(err: grpc.ServiceError): BadRequest {
  const [raw] = err.metadata.get("grpc-status-details-bin");
  expect(raw).toBeInstanceOf(Buffer);
  const status = decodeStatus(raw as Buffer);
  expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
  const detail = status.details.find((d) => d.typeUrl === "type.googleapis.com/google.rpc.BadRequest");
  expect(detail, `details: ${status.details.map((d) => d.typeUrl).join(", ")}`).toBeDefined();
  return fromBinary(BadRequestSchema, detail!.value);
}

describe("gRPC interop with @grpc/grpc-js + proto-loader", () => {
  let server: ServerProcess;
  let stubs: Stubs;

  beforeAll(async () => {
    server = await startServer();
    const definition = await protoLoader.load(FILES, {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      hookline: { v1: Record<string, grpc.ServiceClientConstructor> };
    };
    const target = `127.0.0.1:${server.port}`;
    const make = (name: string): grpc.Client => {
      const Ctor = pkg.hookline.v1[name];
      if (!Ctor) throw new Error(`service ${name} missing from the loaded protos`);
      return new Ctor(target, grpc.credentials.createInsecure(), { interceptors: [grpcJsBearer()] });
    };
    stubs = {
      tenants: make("TenantService"),
      endpoints: make("EndpointService"),
      events: make("EventService"),
      deliveries: make("DeliveryService"),
    };
  });
  afterAll(async () => {
    for (const s of Object.values(stubs ?? {})) s.close();
    await server?.stop();
    server?.cleanup();
  });

  it("runs the tenant CRUD flow", async () => {
    const { tenant } = await call(stubs.tenants, "CreateTenant", { name: "grpc-js tenant", metadata: { k: "v" } });
    expect(tenant.id).toMatch(/^tnt_[0-9A-Z]{26}$/);
    expect(tenant.name).toBe("grpc-js tenant");
    expect(tenant.metadata).toEqual({ k: "v" });

    const got = await call(stubs.tenants, "GetTenant", { id: tenant.id });
    expect(got.tenant.name).toBe("grpc-js tenant");

    const more: string[] = [];
    for (let i = 0; i < 3; i++) more.push((await call(stubs.tenants, "CreateTenant", { name: `t${i}` })).tenant.id);
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await call(stubs.tenants, "ListTenants", { page_size: 2, page_token: token });
      seen.push(...page.tenants.map((t: { id: string }) => t.id));
      token = page.next_page_token;
      pages++;
    } while (token !== "" && pages < 20);
    expect(pages).toBe(2);
    expect(seen).toEqual([tenant.id, ...more]);

    const updated = await call(stubs.tenants, "UpdateTenant", {
      tenant: { id: tenant.id, name: "renamed", rate_limit_per_second: 3 },
      update_mask: { paths: ["name"] },
    });
    expect(updated.tenant.name).toBe("renamed");
    expect(updated.tenant.rate_limit_per_second).toBe(0);

    await call(stubs.tenants, "DeleteTenant", { id: more[0] });
    const gone = await failure(call(stubs.tenants, "GetTenant", { id: more[0] }));
    expect(gone.code).toBe(grpc.status.NOT_FOUND);
  });

  it("runs the endpoint CRUD flow, rotation included, and publishes an event", async () => {
    const { tenant } = await call(stubs.tenants, "CreateTenant", { name: "endpoints via grpc-js" });
    const { endpoint } = await call(stubs.endpoints, "CreateEndpoint", {
      tenant_id: tenant.id,
      url: "http://127.0.0.1:9/hook",
      event_types: ["order.*"],
      timeout: { seconds: "3", nanos: 0 },
      ordering: "ORDERING_MODE_ORDERED_BY_KEY",
    });
    expect(endpoint.id).toMatch(/^ep_[0-9A-Z]{26}$/);
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect(endpoint.ordering).toBe("ORDERING_MODE_ORDERED_BY_KEY");
    expect(endpoint.timeout).toEqual({ seconds: "3", nanos: 0 });

    const got = await call(stubs.endpoints, "GetEndpoint", { id: endpoint.id });
    expect(got.endpoint.secret).toBe("");
    expect(got.endpoint.event_types).toEqual(["order.*"]);

    const rotated = await call(stubs.endpoints, "RotateEndpointSecret", { id: endpoint.id });
    expect(rotated.endpoint.secret).toMatch(/^whsec_/);
    expect(rotated.endpoint.secret).not.toBe(endpoint.secret);

    const updated = await call(stubs.endpoints, "UpdateEndpoint", {
      endpoint: { id: endpoint.id, description: "via grpc-js" },
      update_mask: { paths: ["description"] },
    });
    expect(updated.endpoint.description).toBe("via grpc-js");
    expect(updated.endpoint.url).toBe("http://127.0.0.1:9/hook");

    const listed = await call(stubs.endpoints, "ListEndpoints", { tenant_id: tenant.id });
    expect(listed.endpoints.map((e: { id: string }) => e.id)).toEqual([endpoint.id]);

    const payload = Buffer.from(JSON.stringify({ order: 1 }));
    const published = await call(stubs.events, "Publish", {
      events: [{ tenant_id: tenant.id, type: "order.created", payload }],
    });
    expect(published.results).toHaveLength(1);
    expect(published.results[0].event_id).toMatch(/^evt_/);
    expect(published.results[0].delivery_count).toBe(1);
    const { event } = await call(stubs.events, "GetEvent", { id: published.results[0].event_id });
    expect(Buffer.from(event.payload).equals(payload)).toBe(true);
    const deliveries = await call(stubs.deliveries, "ListDeliveries", { event_id: event.id });
    expect(deliveries.deliveries).toHaveLength(1);
    expect(deliveries.deliveries[0].endpoint_id).toBe(endpoint.id);

    await call(stubs.endpoints, "DeleteEndpoint", { id: endpoint.id });
    const gone = await failure(call(stubs.endpoints, "GetEndpoint", { id: endpoint.id }));
    expect(gone.code).toBe(grpc.status.NOT_FOUND);
  });

  it("INVALID_ARGUMENT carries google.rpc.BadRequest naming the field in grpc-status-details-bin", async () => {
    const err = await failure(call(stubs.tenants, "CreateTenant", { name: "" }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain("name");
    const bad = badRequestOf(err);
    expect(bad.fieldViolations.map((v) => v.field)).toEqual(["name"]);
    expect(bad.fieldViolations[0]!.description).not.toBe("");

    const { tenant } = await call(stubs.tenants, "CreateTenant", { name: "details" });
    const urlErr = await failure(call(stubs.endpoints, "CreateEndpoint", { tenant_id: tenant.id, url: "ftp://example.com/x" }));
    expect(urlErr.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badRequestOf(urlErr).fieldViolations.map((v) => v.field)).toEqual(["url"]);

    const payloadErr = await failure(
      call(stubs.events, "Publish", {
        events: [
          { tenant_id: tenant.id, type: "a.b", payload: Buffer.from("{}") },
          { tenant_id: tenant.id, type: "a.b", payload: Buffer.from("not json") },
        ],
      }),
    );
    expect(payloadErr.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badRequestOf(payloadErr).fieldViolations.map((v) => v.field)).toEqual(["events[1].payload"]);
  });
});
