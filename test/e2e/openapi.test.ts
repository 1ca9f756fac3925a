import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { DescFile } from "@bufbuild/protobuf";
import { Validator } from "@seriousme/openapi-schema-validator";
import { authHeaders } from "../helpers/auth.ts";
import { useHookline } from "../helpers/fixtures.ts";

// GET /openapi.json: an OpenAPI 3.1 document of the Connect JSON routes, generated from the
// protos (scripts/openapi.ts) and committed as openapi/openapi.json.

interface Operation {
  requestBody: { content: Record<string, { schema: { $ref: string } }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref: string } }> }>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, { post?: Operation }>;
  security: Record<string, string[]>[];
  components: {
    schemas: Record<string, { properties?: Record<string, unknown>; enum?: string[] }>;
    securitySchemes: Record<string, { type: string; scheme: string }>;
  };
}

const GEN = join(import.meta.dirname, "../../src/gen/hookline");

/** The hookline file descriptors, loaded the way a reader of src/gen would. */
async function hooklineFiles(): Promise<DescFile[]> {
  const files: DescFile[] = [];
  for (const path of (readdirSync(GEN, { recursive: true }) as string[]).filter((p) => p.endsWith("_pb.ts"))) {
    const mod = (await import(pathToFileURL(join(GEN, path)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) if (name.startsWith("file_")) files.push(value as DescFile);
  }
  return files;
}

describe("GET /openapi.json", () => {
  const { server } = useHookline();

  async function fetchDocument(): Promise<{ res: Response; text: string }> {
    const res = await fetch(`${server.baseUrl}/openapi.json`, { headers: authHeaders() });
    return { res, text: await res.text() };
  }

  it("serves the committed document as JSON, and it validates as OpenAPI 3.1", async () => {
    const { res, text } = await fetchDocument();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(text).toBe(readFileSync(join(import.meta.dirname, "../../openapi/openapi.json"), "utf8"));
    const doc = JSON.parse(text) as OpenApi;
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // API keys go in a bearer header.
    expect(doc.components.securitySchemes.bearerAuth).toEqual(expect.objectContaining({ type: "http", scheme: "bearer" }));
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  it("has a POST path for every RPC of every hookline service, with its request and response messages", async () => {
    const doc = JSON.parse((await fetchDocument()).text) as OpenApi;
    const files = await hooklineFiles();
    const rpcs = files.flatMap((f) => f.services.flatMap((s) => s.methods.map((m) => ({ service: s, method: m }))));
    expect(rpcs.length).toBeGreaterThanOrEqual(21);
    for (const { service, method } of rpcs) {
      const op = doc.paths[`/${service.typeName}/${method.name}`]?.post;
      expect(op, `${service.typeName}/${method.name}`).toBeDefined();
      const type = method.methodKind === "unary" ? "application/json" : "application/connect+json";
      expect(op!.requestBody.content[type]!.schema.$ref).toBe(`#/components/schemas/${method.input.typeName}`);
      expect(op!.responses["200"]!.content![type]!.schema.$ref).toBe(`#/components/schemas/${method.output.typeName}`);
    }
    expect(Object.keys(doc.paths)).toHaveLength(rpcs.length);

    // Every hookline message has a schema listing its fields by their JSON names, every enum its value names.
    for (const file of files) {
      for (const message of file.messages) {
        expect(Object.keys(doc.components.schemas[message.typeName]?.properties ?? {}).sort(), message.typeName).toEqual(
          message.fields.map((f) => f.jsonName).sort(),
        );
      }
      for (const e of file.enums) expect(doc.components.schemas[e.typeName]?.enum).toEqual(e.values.map((v) => v.name));
    }
  });

  it("describes a route that answers as documented: CreateTenant over Connect JSON", async () => {
    const doc = JSON.parse((await fetchDocument()).text) as OpenApi;
    const res = await fetch(`${server.baseUrl}/hookline.v1.TenantService/CreateTenant`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ name: "openapi", rateLimitPerSecond: 5, metadata: { plan: "pro" } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { tenant: Record<string, unknown> };
    const tenantFields = Object.keys(doc.components.schemas["hookline.v1.Tenant"]!.properties!);
    expect(Object.keys(body)).toEqual(["tenant"]);
    for (const key of Object.keys(body.tenant)) expect(tenantFields).toContain(key);
    expect(body.tenant).toMatchObject({ name: "openapi", rateLimitPerSecond: 5, metadata: { plan: "pro" } });
    expect(body.tenant.createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    // Bad input comes back as the documented Connect error.
    const bad = await fetch(`${server.baseUrl}/hookline.v1.TenantService/CreateTenant`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ name: "" }),
    });
    expect(bad.status).toBe(400);
    const error = (await bad.json()) as { code: string; message: string };
    expect(doc.components.schemas["connect.error"]).toBeDefined();
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toMatch(/name/);
  });
});
