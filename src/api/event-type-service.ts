import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { principalOf, requireAdmin, requireTenant, scopedTenant } from "../auth/principal.ts";
import { HooklineError, invalidArgument, notFound, resourceExhausted } from "../core/errors.ts";
import type { EventType } from "../core/event-type.ts";
import { compileSchema, parseJsonField, type SchemaCheck } from "../core/json-schema.ts";
import { Limits, checkEventType, checkLength, checkText } from "../core/validation.ts";
import { EventTypeSchema, EventTypeService, type EventType as EventTypeProto } from "../gen/hookline/v1/event_type_pb.ts";
import type { ServiceDeps } from "./deps.ts";
import { maskPaths } from "./field-mask.ts";
import { paginate } from "./paging.ts";

const UPDATABLE = ["description", "example", "schema", "archived"] as const;

/** Largest example or schema, in characters. */
export const MAX_EVENT_TYPE_DOCUMENT = 64 * 1024;
/** Types per scope (a tenant, or instance-wide), archived ones included: the catalog lives in memory. */
export const MAX_EVENT_TYPES_PER_SCOPE = 1000;

export function eventTypeToProto(t: EventType): EventTypeProto {
  return create(EventTypeSchema, {
    name: t.name,
    tenantId: t.tenantId,
    description: t.description,
    example: t.example,
    schema: t.schema,
    archived: t.archived,
    createTime: timestampFromMs(t.createdMs),
    updateTime: timestampFromMs(t.updatedMs),
  });
}

/** A JSON document field: "" (none) or JSON of bounded size. */
function checkDocument(field: string, text: string): string {
  if (text === "") return text;
  checkLength(field, text, MAX_EVENT_TYPE_DOCUMENT);
  parseJsonField(field, text);
  return text;
}

/**
 * The schema compiled (undefined when none), after checking the example against it. Fields
 * are named under `prefix`: "event_type.schema", "event_type.example/amount".
 */
function checkSchemaAndExample(prefix: string, schema: string, example: string): SchemaCheck | undefined {
  if (schema === "") return undefined;
  const check = compileSchema(`${prefix}schema`, schema);
  if (example !== "") {
    const violation = check(JSON.parse(example));
    if (violation) throw invalidArgument(`${prefix}example${violation.path}`, `${violation.message} (the example must match the schema)`);
  }
  return check;
}

export function eventTypeService(deps: ServiceDeps): ServiceImpl<typeof EventTypeService> {
  const { catalog, eventTypes, now } = deps;

  /**
   * The scope a request names, checked for the caller: instance-wide ("") is read by every
   * key and written by admin keys only; a tenant key acts on its own tenant only.
   */
  function scope(ctx: HandlerContext, field: string, tenantId: string, write: boolean): string {
    const caller = principalOf(ctx);
    if (tenantId === "") {
      if (write) requireAdmin(caller, "change instance-wide event types (empty tenant_id)");
      return tenantId;
    }
    requireTenant(caller, field, tenantId);
    return tenantId;
  }

  function existing(tenantId: string, name: string): EventType {
    const found = eventTypes.get(tenantId, name);
    if (!found) throw missing(tenantId, name);
    return found;
  }

  function missing(tenantId: string, name: string): HooklineError {
    const scopeName = tenantId === "" ? "instance-wide" : `of tenant ${tenantId}`;
    return new HooklineError("not_found", `event type "${name}" ${scopeName} does not exist`);
  }

  return {
    async createEventType(req, ctx) {
      const input = req.eventType;
      if (!input) throw invalidArgument("event_type", "is required");
      const tenantId = scope(ctx, "event_type.tenant_id", input.tenantId, true);
      if (tenantId !== "" && !catalog.tenant(tenantId)) throw notFound("tenant", tenantId);
      if (eventTypes.count(tenantId) >= MAX_EVENT_TYPES_PER_SCOPE)
        throw resourceExhausted(`${tenantId === "" ? "the instance" : `tenant ${tenantId}`} has ${MAX_EVENT_TYPES_PER_SCOPE} event types, the most one scope may hold`);
      const createdMs = now();
      const eventType: EventType = {
        tenantId,
        name: checkEventType("event_type.name", input.name),
        description: checkText("event_type.description", input.description, Limits.descriptionLength),
        example: checkDocument("event_type.example", input.example),
        schema: checkDocument("event_type.schema", input.schema),
        archived: input.archived,
        createdMs,
        updatedMs: createdMs,
      };
      const check = checkSchemaAndExample("event_type.", eventType.schema, eventType.example);
      if (!(await eventTypes.create(eventType, check)))
        throw new HooklineError("already_exists", `event type "${eventType.name}" already exists ${tenantId === "" ? "instance-wide" : `for tenant ${tenantId}`}; change it with UpdateEventType`);
      return { eventType: eventTypeToProto(eventType) };
    },

    async getEventType(req, ctx) {
      const tenantId = scope(ctx, "tenant_id", req.tenantId, false);
      return { eventType: eventTypeToProto(existing(tenantId, checkEventType("name", req.name))) };
    },

    async listEventTypes(req, ctx) {
      // "" only for an admin key that names no tenant: every scope.
      const tenantId = scopedTenant(principalOf(ctx), "tenant_id", req.tenantId);
      if (tenantId !== "" && !catalog.tenant(tenantId)) throw notFound("tenant", tenantId);
      const all = eventTypes.list(tenantId === "" ? undefined : tenantId, req.includeArchived);
      // Rows keyed so that key order is list order: name, then scope.
      const rows = all.map((type) => ({ id: `${type.name}\u0000${type.tenantId}`, type }));
      const page = await paginate(
        "event_types",
        req,
        async (after, limit) => rows.filter((r) => after === undefined || r.id > after).slice(0, limit),
        (r) => eventTypeToProto(r.type),
      );
      return { eventTypes: page.items, nextPageToken: page.nextPageToken };
    },

    async updateEventType(req, ctx) {
      const input = req.eventType;
      if (!input) throw invalidArgument("event_type", "is required");
      const tenantId = scope(ctx, "event_type.tenant_id", input.tenantId, true);
      const name = checkEventType("event_type.name", input.name);
      existing(tenantId, name);
      const paths = maskPaths(req.updateMask, UPDATABLE, "refuse");
      const next: Partial<EventType> = {};
      if (paths.has("description")) next.description = checkText("event_type.description", input.description, Limits.descriptionLength);
      if (paths.has("example")) next.example = checkDocument("event_type.example", input.example);
      if (paths.has("schema")) next.schema = checkDocument("event_type.schema", input.schema);
      if (paths.has("archived")) next.archived = input.archived;
      const updatedMs = now();
      // The schema and example are checked together as they will be stored.
      const updated = await eventTypes.update(tenantId, name, (current) => {
        const merged = { ...current, ...next, updatedMs };
        if (paths.has("schema") || paths.has("example")) checkSchemaAndExample("event_type.", merged.schema, merged.example);
        return merged;
      });
      if (!updated) throw missing(tenantId, name);
      return { eventType: eventTypeToProto(updated) };
    },

    async archiveEventType(req, ctx) {
      const tenantId = scope(ctx, "tenant_id", req.tenantId, true);
      const name = checkEventType("name", req.name);
      existing(tenantId, name);
      const archivedMs = now();
      const updated = await eventTypes.update(tenantId, name, (current) =>
        current.archived ? current : { ...current, archived: true, updatedMs: archivedMs },
      );
      if (!updated) throw missing(tenantId, name);
      return { eventType: eventTypeToProto(updated) };
    },
  };
}
