import { echo, invalidArgument } from "../core/errors.ts";
import type { EventType } from "../core/event-type.ts";
import { compileSchema, type SchemaCheck } from "../core/json-schema.ts";
import type { Logger } from "../observability/logger.ts";
import type { EventTypeChange, EventTypeStore } from "../store/event-type-store.ts";

interface Entry {
  type: EventType;
  /** The compiled schema: compiled on first use, then kept until the type changes. */
  check: SchemaCheck | undefined;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The publish-time view of one type for one tenant. */
export type Resolution = { kind: "live"; type: EventType } | { kind: "archived"; type: EventType } | { kind: "unknown" };

/**
 * The event-type catalog held in memory over its store, by scope (tenant id, "" for
 * instance-wide) and name. Publish asks it about every event, so a tenant without a catalog
 * costs two map lookups; schemas are compiled once and the validators kept. Writes go to the
 * store first, then here; on a shared store, other processes' writes arrive by its watch.
 */
export class EventTypeCatalog {
  private readonly scopes = new Map<string, Map<string, Entry>>();

  private constructor(
    private readonly store: EventTypeStore,
    private readonly logger: Logger,
  ) {}

  static async load(store: EventTypeStore, logger: Logger): Promise<EventTypeCatalog> {
    const catalog = new EventTypeCatalog(store, logger);
    // Listening first: a change made elsewhere while the copy is read is not missed.
    store.watch?.((change) => catalog.applyRemote(change));
    for (const t of await store.all()) catalog.remember(t);
    return catalog;
  }

  /** The type stored in exactly this scope. */
  get(tenantId: string, name: string): EventType | undefined {
    return this.scopes.get(tenantId)?.get(name)?.type;
  }

  /** Types stored in this scope, archived ones included. */
  count(tenantId: string): number {
    return this.scopes.get(tenantId)?.size ?? 0;
  }

  /**
   * The type a tenant publishes against: its own live type, else the instance-wide live one;
   * when neither is live, the archived one (its own first) or unknown.
   */
  resolve(tenantId: string, name: string): Resolution {
    const own = this.scopes.get(tenantId)?.get(name);
    if (own && !own.type.archived) return { kind: "live", type: own.type };
    const shared = this.scopes.get("")?.get(name);
    if (shared && !shared.type.archived) return { kind: "live", type: shared.type };
    const archived = own ?? shared;
    return archived ? { kind: "archived", type: archived.type } : { kind: "unknown" };
  }

  /**
   * Types sorted by name, then scope (instance-wide first). With a tenant id: that tenant's
   * catalog as publish sees it, one type per name. Without: every scope.
   */
  list(tenantId: string | undefined, includeArchived: boolean): EventType[] {
    const out: EventType[] = [];
    if (tenantId === undefined) {
      for (const scope of this.scopes.values()) for (const e of scope.values()) if (includeArchived || !e.type.archived) out.push(e.type);
    } else {
      const names = new Set([...(this.scopes.get("")?.keys() ?? []), ...(this.scopes.get(tenantId)?.keys() ?? [])]);
      for (const name of names) {
        const r = this.resolve(tenantId, name);
        if (r.kind === "live" || (r.kind === "archived" && includeArchived)) out.push(r.type);
      }
    }
    return out.sort(compareTypes);
  }

  /** Stores a new type; false when its scope has one of this name already. */
  async create(eventType: EventType, check?: SchemaCheck): Promise<boolean> {
    if (!(await this.store.create(eventType))) return false;
    this.remember(eventType, check);
    return true;
  }

  /** Applies the change to the stored type (see EventTypeStore.update); undefined when there is none. */
  async update(tenantId: string, name: string, change: (current: EventType) => EventType): Promise<EventType | undefined> {
    const updated = await this.store.update(tenantId, name, change);
    if (updated) this.remember(updated);
    return updated;
  }

  /** Drops a deleted tenant's types. */
  async deleteTenant(tenantId: string): Promise<void> {
    if (tenantId === "") return;
    await this.store.deleteTenant(tenantId);
    this.scopes.delete(tenantId);
  }

  /**
   * Checks one event against its tenant's catalog: with `strict`, the type must be live in
   * it; a live type with a schema must match the payload (known to be JSON). Fields are
   * named "type" and "payload<JSON Pointer>", e.g. "payload/amount".
   */
  checkEvent(tenantId: string, type: string, payload: Uint8Array, strict: boolean): void {
    if (this.scopes.size === 0 && !strict) return;
    const own = this.scopes.get(tenantId)?.get(type);
    const entry = own && !own.type.archived ? own : this.scopes.get("")?.get(type);
    if (entry === undefined || entry.type.archived) {
      if (strict) this.refuseUnknown(tenantId, type);
      return;
    }
    if (entry.type.schema === "") return;
    const violation = this.checkOf(entry)(JSON.parse(utf8.decode(payload)));
    if (violation) throw invalidArgument(`payload${violation.path}`, violation.message);
  }

  private refuseUnknown(tenantId: string, type: string): never {
    const why = this.resolve(tenantId, type).kind === "archived" ? "is archived in" : "is not in";
    throw invalidArgument("type", `"${echo(type)}" ${why} the event-type catalog, and tenant ${tenantId} has strict_event_types on`);
  }

  private checkOf(entry: Entry): SchemaCheck {
    if (entry.check === undefined) {
      try {
        entry.check = compileSchema("schema", entry.type.schema);
      } catch (err) {
        // Stored by an older or newer hookline that accepted it: publish goes on unchecked.
        this.logger.warn({ err, tenantId: entry.type.tenantId, eventType: entry.type.name }, "event type schema does not compile; not validating its payloads");
        entry.check = () => undefined;
      }
    }
    return entry.check;
  }

  private remember(eventType: EventType, check?: SchemaCheck): void {
    let scope = this.scopes.get(eventType.tenantId);
    if (!scope) this.scopes.set(eventType.tenantId, (scope = new Map()));
    scope.set(eventType.name, { type: eventType, check: eventType.schema === "" ? undefined : check });
  }

  private applyRemote(change: EventTypeChange): void {
    if (change.kind === "deleted") {
      const scope = this.scopes.get(change.tenantId);
      scope?.delete(change.name);
      if (scope?.size === 0) this.scopes.delete(change.tenantId);
      return;
    }
    const known = this.scopes.get(change.eventType.tenantId)?.get(change.eventType.name);
    // The echo of our own write: keep the compiled schema.
    if (known && JSON.stringify(known.type) === JSON.stringify(change.eventType)) return;
    this.remember(change.eventType);
  }
}

function compareTypes(a: EventType, b: EventType): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0;
}
