import { describe, expect, it } from "vitest";
import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.ts";
import * as v1 from "../../src/gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { json } from "../helpers/clients.ts";
import { rejection } from "../helpers/errors.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";

const HOOKLINE_SERVICES = [
  "hookline.v1.TenantService",
  "hookline.v1.EndpointService",
  "hookline.v1.EventService",
  "hookline.v1.DeliveryService",
  "hookline.v1.EventTypeService",
];
/** Installed by scripts/install-client-toolchains.sh into Go's bin dir. */
const GRPCURL = (() => {
  const go = (name: string) => spawnSync("go", ["env", name], { encoding: "utf8" }).stdout?.trim() ?? "";
  return join(go("GOBIN") || join(go("GOPATH") || join(homedir(), "go"), "bin"), "grpcurl");
})();
const run = promisify(execFile);

const { server, api } = useHookline();

describe("grpc.health.v1.Health", () => {
  it("answers SERVING through a Connect gRPC client, for the server and each hookline service", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    for (const service of HOOKLINE_SERVICES) expect((await health.check({ service })).status).toBe(ServingStatus.SERVING);
  });

  it("answers NOT_FOUND for an unknown service, as the health checking protocol says", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    const err = await rejection(health.check({ service: "no.such.Service" }));
    expect(err?.code).toBe(Code.NotFound);
  });

  it("Watch streams the current status first", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    const abort = new AbortController();
    const stream = health.watch({ service: "" }, { signal: abort.signal });
    const first = await stream[Symbol.asyncIterator]().next();
    abort.abort();
    expect(first.done).toBe(false);
    expect(first.value?.status).toBe(ServingStatus.SERVING);
  });

  it("answers SERVING through @grpc/grpc-js with the .proto loaded at run time", async () => {
    const definition = await protoLoader.load("grpc/health/v1/health.proto", {
      includeDirs: [new URL("../../proto/", import.meta.url).pathname],
      enums: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.grpc.health.v1.Health(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const check = (service: string) =>
        new Promise<{ status: string }>((resolve, reject) =>
          (client as unknown as Record<string, Function>)["Check"]!.call(client, { service }, (err: Error | null, res: { status: string }) =>
            err ? reject(err) : resolve(res),
          ),
        );
      expect((await check("")).status).toBe("SERVING");
      expect((await check("hookline.v1.EventService")).status).toBe("SERVING");
      await expect(check("nope")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
    }
  });
});

describe("gRPC server reflection", () => {
  /** Sends the requests on one bidi stream and collects one response per request. */
  async function reflect(requests: v1.ServerReflectionRequest["messageRequest"][]): Promise<v1.ServerReflectionResponse[]> {
    const client = createClient(v1.ServerReflection, createGrpcTransport({ baseUrl: server.baseUrl }));
    async function* input() {
      for (const messageRequest of requests) yield create(v1.ServerReflectionRequestSchema, { host: "localhost", messageRequest });
    }
    const out: v1.ServerReflectionResponse[] = [];
    for await (const res of client.serverReflectionInfo(input())) out.push(res);
    return out;
  }

  it("list_services names the hookline services, Health and reflection", async () => {
    const [res] = await reflect([{ case: "listServices", value: "" }]);
    expect(res?.messageResponse.case).toBe("listServicesResponse");
    const names = res?.messageResponse.case === "listServicesResponse" ? res.messageResponse.value.service.map((s) => s.name) : [];
    for (const service of [...HOOKLINE_SERVICES, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]) {
      expect(names).toContain(service);
    }
  });

  it("file_containing_symbol returns event.proto with its dependencies", async () => {
    const [res] = await reflect([{ case: "fileContainingSymbol", value: "hookline.v1.EventService" }]);
    expect(res?.messageResponse.case).toBe("fileDescriptorResponse");
    if (res?.messageResponse.case !== "fileDescriptorResponse") return;
    const files = res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    const names = files.map((f) => f.name);
    expect(names[0]).toBe("hookline/v1/event.proto");
    expect(names).toContain("google/protobuf/timestamp.proto");
    const event = files[0]!;
    expect(event.package).toBe("hookline.v1");
    // Every dependency the file declares is in the answer, so a client can build the descriptors.
    for (const dep of event.dependency) expect(names).toContain(dep);
    const service = event.service.find((s) => s.name === "EventService");
    expect(service?.method.map((m) => m.name)).toEqual(["Publish", "PublishStream", "GetEvent", "ListEvents"]);
    expect(event.messageType.map((m) => m.name)).toContain("EventInput");
  });

  it("finds files by method and message symbol and by file name", async () => {
    const responses = await reflect([
      { case: "fileContainingSymbol", value: "hookline.v1.EndpointService.RotateEndpointSecret" },
      { case: "fileContainingSymbol", value: "hookline.v1.EventTypeService.ArchiveEventType" },
      { case: "fileContainingSymbol", value: "hookline.v1.Delivery" },
      { case: "fileByFilename", value: "hookline/v1/tenant.proto" },
      { case: "fileContainingSymbol", value: "google.rpc.BadRequest" },
    ]);
    const firstFile = (r: v1.ServerReflectionResponse | undefined): string | undefined =>
      r?.messageResponse.case === "fileDescriptorResponse"
        ? fromBinary(FileDescriptorProtoSchema, r.messageResponse.value.fileDescriptorProto[0]!).name
        : undefined;
    expect(responses.map(firstFile)).toEqual([
      "hookline/v1/endpoint.proto",
      "hookline/v1/event_type.proto",
      "hookline/v1/delivery.proto",
      "hookline/v1/tenant.proto",
      "google/rpc/error_details.proto",
    ]);
  });

  it("an unknown symbol or file gets an error_response with NOT_FOUND, and the stream goes on", async () => {
    const responses = await reflect([
      { case: "fileContainingSymbol", value: "hookline.v1.NoSuchService" },
      { case: "fileByFilename", value: "nope.proto" },
      { case: "listServices", value: "" },
    ]);
    expect(responses.map((r) => r.messageResponse.case)).toEqual(["errorResponse", "errorResponse", "listServicesResponse"]);
    for (const r of responses.slice(0, 2)) {
      if (r.messageResponse.case !== "errorResponse") continue;
      expect(r.messageResponse.value.errorCode).toBe(Code.NotFound);
      expect(r.messageResponse.value.errorMessage).not.toBe("");
    }
    expect(responses[0]?.originalRequest?.messageRequest).toEqual({ case: "fileContainingSymbol", value: "hookline.v1.NoSuchService" });
  });

  it("v1alpha answers too (older grpcurl and tools)", async () => {
    const client = createClient(v1alpha.ServerReflection, createGrpcTransport({ baseUrl: server.baseUrl }));
    async function* input() {
      yield create(v1alpha.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    }
    const out: v1alpha.ServerReflectionResponse[] = [];
    for await (const res of client.serverReflectionInfo(input())) out.push(res);
    expect(out).toHaveLength(1);
    const names = out[0]?.messageResponse.case === "listServicesResponse" ? out[0].messageResponse.value.service.map((s) => s.name) : [];
    expect(names).toEqual(expect.arrayContaining(HOOKLINE_SERVICES));
  });
});

describe("HTTP endpoints on the same port", () => {
  it("GET /healthz returns 200 JSON {status: ok}", async () => {
    const res = await fetch(`${server.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { status: string };
    expect(body.status).toBe("ok");
  });

  it("GET /metrics returns Prometheus text that counts published events", async () => {
    const { tenant } = await api.tenants.createTenant({ name: "metrics" });
    await api.events.publish({
      events: [1, 2, 3].map((n) => ({ tenantId: tenant!.id, type: "metric.test", payload: json({ n }) })),
    });
    const text = await eventually(async () => {
      const res = await fetch(`${server.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const body = await res.text();
      return /^hookline_events_published_total 3$/m.test(body) ? body : undefined;
    }, 5_000, "hookline_events_published_total 3");
    expect(text).toContain("# TYPE hookline_events_published_total counter");
    // Every sample line is "name{labels} value" or "name value" (NaN in any case, as Prometheus reads it).
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? ([Nn]a[Nn]|[+-]Inf)$/);
    }
  });

  it("an unknown path is a 404, not a crash", async () => {
    const res = await fetch(`${server.baseUrl}/nope`);
    expect(res.status).toBe(404);
    await res.text();
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
  });
});

// npm test installs grpcurl (scripts/install-client-toolchains.sh); under CI a missing one fails.
describe.skipIf(!existsSync(GRPCURL) && process.env.CI !== "true")("grpcurl", () => {
  it("lists and describes the services without any .proto file", async () => {
    const target = `127.0.0.1:${server.port}`;
    const list = await run(GRPCURL, ["-plaintext", target, "list"]);
    const services = list.stdout.trim().split("\n");
    expect(services).toEqual(expect.arrayContaining([...HOOKLINE_SERVICES, "grpc.health.v1.Health"]));

    const describe = await run(GRPCURL, ["-plaintext", target, "describe", "hookline.v1.EventService"]);
    expect(describe.stdout).toContain("rpc Publish");

    const created = await run(GRPCURL, [
      "-plaintext",
      "-H",
      `authorization: Bearer ${TEST_ADMIN_KEY}`,
      "-d",
      '{"name":"via grpcurl"}',
      target,
      "hookline.v1.TenantService/CreateTenant",
    ]);
    expect(JSON.parse(created.stdout).tenant.id).toMatch(/^tnt_/);
  });
});
