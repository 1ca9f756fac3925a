import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { EventTypeCatalog } from "../../src/catalog/event-types.ts";
import { HooklineError } from "../../src/core/errors.ts";
import type { EventType } from "../../src/core/event-type.ts";
import { compileSchema } from "../../src/core/json-schema.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { thrown } from "../helpers/errors.ts";
import { tempDir } from "../helpers/server.ts";

const dir = tempDir("hookline-event-types-");
const store = new SqliteStore({ dataDir: dir });
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** The field and description an invalid_argument names. */
function violation(fn: () => unknown): { field: string; description: string } {
  const err = thrown(fn, HooklineError);
  expect(err.code).toBe("invalid_argument");
  return err.violations[0]!;
}

function eventType(fields: Partial<EventType> & { name: string }): EventType {
  return { tenantId: "", description: "", example: "", schema: "", archived: false, createdMs: 1, updatedMs: 1, ...fields };
}

describe("compileSchema", () => {
  const check = compileSchema(
    "schema",
    JSON.stringify({
      type: "object",
      properties: {
        amount: { type: "number", minimum: 0 },
        "a/b": { type: "string" },
        lines: { type: "array", items: { type: "object", required: ["sku"], additionalProperties: false, properties: { sku: { type: "string" } } } },
      },
      required: ["amount"],
    }),
  );

  it("names the failing JSON Pointer and the rule", () => {
    expect(check({ amount: 1 })).toBeUndefined();
    expect(check({ amount: "1" })).toEqual({ path: "/amount", message: "must be number" });
    expect(check({ amount: -1 })).toEqual({ path: "/amount", message: "must be >= 0" });
    expect(check({})).toEqual({ path: "/amount", message: "is required" });
    expect(check({ amount: 1, lines: [{ sku: "x" }, {}] })).toEqual({ path: "/lines/1/sku", message: "is required" });
    expect(check({ amount: 1, lines: [{ sku: "x", qty: 2 }] })).toEqual({ path: "/lines/0/qty", message: "is not allowed by the schema" });
    expect(check({ amount: 1, "a/b": 5 })).toEqual({ path: "/a~1b", message: "must be string" });
    expect(check("text")).toEqual({ path: "", message: "must be object" });
  });

  it("refuses what is not a draft 2020-12 schema, naming the field", () => {
    for (const bad of ['{"type": "nope"}', '{"minimum": "0"}', '{"propertys": {}}', '{"$ref": "https://example.com/s.json"}', "[]", "nope"])
      expect(violation(() => compileSchema("event_type.schema", bad)).field).toBe("event_type.schema");
    // Draft 2020-12 keywords are known; "format" is an annotation only.
    const tuple = compileSchema("schema", JSON.stringify({ prefixItems: [{ type: "string" }], items: false, format: "whatever" }));
    expect(tuple(["a"])).toBeUndefined();
    expect(tuple(["a", 1])?.path).toBe("");
  });

  it("runs a backtracking ASCII pattern on a linear engine instead of hanging (minutes if it did)", () => {
    const check = compileSchema("schema", JSON.stringify({ type: "string", pattern: "^(a+)+$" }));
    expect(check(`${"a".repeat(30)}b`)).toEqual({ path: "", message: 'must match pattern "^(a+)+$"' });
    expect(check("aaa")).toBeUndefined();
    // Patterns are checked with the "u" flag, and keep it where they need it.
    expect(violation(() => compileSchema("schema", JSON.stringify({ pattern: "\\q" }))).field).toBe("schema");
    const letters = compileSchema("schema", JSON.stringify({ type: "string", pattern: "^\\p{L}+$" }));
    expect([letters("Zürich"), letters("42")?.path]).toEqual([undefined, ""]);
  });

  it("refuses a document nested too deeply for a recursive schema instead of failing", () => {
    const tree = compileSchema("schema", JSON.stringify({ $defs: { n: { type: "array", items: { $ref: "#/$defs/n" } } }, $ref: "#/$defs/n" }));
    const depth = 200_000;
    expect(tree(JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`))).toEqual({ path: "", message: "is nested too deeply to check against the schema" });
    expect(tree([[], [[]]])).toBeUndefined();
  });

  it("lets two schemas use the same $id", () => {
    const a = compileSchema("schema", JSON.stringify({ $id: "https://schemas.example/same", type: "string" }));
    const b = compileSchema("schema", JSON.stringify({ $id: "https://schemas.example/same", type: "number" }));
    expect([a("x"), b(1)]).toEqual([undefined, undefined]);
  });
});

describe("EventTypeCatalog", () => {
  const logger = createLogger("silent");
  const numberSchema = JSON.stringify({ properties: { n: { type: "number" } } });
  const stringSchema = JSON.stringify({ properties: { n: { type: "string" } } });

  it("checks payloads against the tenant's live type, its own over the instance-wide one", async () => {
    const catalog = await EventTypeCatalog.load(store.eventTypes, logger);
    await catalog.create(eventType({ name: "n.changed", schema: numberSchema }));
    await catalog.create(eventType({ tenantId: "tnt_a", name: "n.changed", schema: stringSchema }));
    catalog.checkEvent("tnt_b", "n.changed", json({ n: 1 }), false);
    expect(violation(() => catalog.checkEvent("tnt_b", "n.changed", json({ n: "1" }), false))).toEqual({ field: "payload/n", description: "must be number" });
    catalog.checkEvent("tnt_a", "n.changed", json({ n: "1" }), false);
    expect(violation(() => catalog.checkEvent("tnt_a", "n.changed", json({ n: 1 }), false)).field).toBe("payload/n");

    // A changed schema applies at once; an archived override hands back to the instance-wide type.
    await catalog.update("tnt_a", "n.changed", (t) => ({ ...t, schema: numberSchema }));
    catalog.checkEvent("tnt_a", "n.changed", json({ n: 1 }), false);
    await catalog.update("tnt_a", "n.changed", (t) => ({ ...t, schema: stringSchema, archived: true }));
    catalog.checkEvent("tnt_a", "n.changed", json({ n: 1 }), false);
    expect(catalog.resolve("tnt_a", "n.changed")).toMatchObject({ kind: "live", type: { tenantId: "" } });

    // A fresh load (a restart) sees what was stored, and compiles on first use.
    const reloaded = await EventTypeCatalog.load(store.eventTypes, logger);
    expect(violation(() => reloaded.checkEvent("tnt_b", "n.changed", json({ n: "x" }), false)).field).toBe("payload/n");
    expect(reloaded.list("tnt_a", true).map((t) => [t.name, t.tenantId])).toEqual([["n.changed", ""]]);
    expect(reloaded.list(undefined, true).map((t) => [t.name, t.tenantId])).toEqual([
      ["n.changed", ""],
      ["n.changed", "tnt_a"],
    ]);
  });

  it("in strict mode refuses unknown and archived types by name, and only then", async () => {
    const catalog = await EventTypeCatalog.load(store.eventTypes, logger);
    await catalog.create(eventType({ tenantId: "tnt_s", name: "s.old", archived: true }));
    catalog.checkEvent("tnt_s", "s.unknown", json({}), false);
    catalog.checkEvent("tnt_s", "s.old", json({}), false);
    expect(violation(() => catalog.checkEvent("tnt_s", "s.unknown", json({}), true)).description).toMatch(/is not in the event-type catalog/);
    expect(violation(() => catalog.checkEvent("tnt_s", "s.old", json({}), true))).toMatchObject({ field: "type", description: expect.stringMatching(/is archived/) });
    expect(await catalog.create(eventType({ tenantId: "tnt_s", name: "s.old" }))).toBe(false);
  });

  it("forgets a deleted tenant's types in memory and in the store", async () => {
    const catalog = await EventTypeCatalog.load(store.eventTypes, logger);
    await catalog.create(eventType({ tenantId: "tnt_gone", name: "g.one" }));
    await catalog.deleteTenant("tnt_gone");
    expect(catalog.get("tnt_gone", "g.one")).toBeUndefined();
    expect((await store.eventTypes.all()).some((t) => t.tenantId === "tnt_gone")).toBe(false);
  });
});
