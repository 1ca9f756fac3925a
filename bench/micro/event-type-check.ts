/**
 * EventTypeCatalog.checkEvent (src/catalog/event-types.ts): what the catalog costs each
 * published event. Without a catalog, or with other tenants' catalogs only, it should be a map
 * lookup; with a schema, a JSON.parse plus the compiled validator.
 */
import { EventTypeCatalog } from "../../src/catalog/event-types.ts";
import type { EventType } from "../../src/core/event-type.ts";
import { createLogger } from "../../src/observability/logger.ts";
import type { EventTypeStore } from "../../src/store/event-type-store.ts";
import { emit, opsPerSecond } from "./lib.ts";

const BATCH = 10_000;

/** The store role held in an array: the bench measures the in-memory catalog, not a backend. */
function memoryStore(types: EventType[]): EventTypeStore {
  return {
    all: async () => types,
    create: async (t) => (types.push(t), true),
    update: async () => undefined,
    deleteTenant: async () => 0,
  };
}

const type = (tenantId: string, name: string, schema = ""): EventType => ({
  tenantId,
  name,
  description: "",
  example: "",
  schema,
  archived: false,
  createdMs: 0,
  updatedMs: 0,
});

const SCHEMA = JSON.stringify({
  type: "object",
  required: ["id", "amount", "currency"],
  properties: { id: { type: "string" }, amount: { type: "number", minimum: 0 }, currency: { type: "string", pattern: "^[A-Z]{3}$" }, lines: { type: "array" } },
});
const payload = new TextEncoder().encode(JSON.stringify({ id: "inv_123", amount: 12.5, currency: "EUR", lines: [{ sku: "a", qty: 1 }], note: "x".repeat(120) }));
const others = Array.from({ length: 1000 }, (_, i) => type(`tnt_other${i % 100}`, `other.type${i}`, SCHEMA));
const logger = createLogger("silent");

for (const [label, types, strict] of [
  ["no catalog", [], false],
  ["other tenants' catalogs only", others, false],
  ["strict, type in the tenant's catalog, no schema", [...others, type("tnt_me", "invoice.paid")], true],
  ["type with a schema (220 B payload)", [...others, type("tnt_me", "invoice.paid", SCHEMA)], false],
] as const) {
  const catalog = await EventTypeCatalog.load(memoryStore([...types]), logger);
  const perSecond = await opsPerSecond(() => {
    for (let i = 0; i < BATCH; i++) catalog.checkEvent("tnt_me", "invoice.paid", payload, strict);
    return BATCH;
  });
  emit({ bench: "event-types", case: label, opsPerSecond: perSecond, unit: "events" });
}
