import type Database from "better-sqlite3";
import type { EventType } from "../../core/event-type.ts";
import type { EventTypeStore } from "../event-type-store.ts";

interface Row {
  tenant_id: string;
  name: string;
  description: string;
  example: string;
  json_schema: string;
  archived: number;
  created_ms: number;
  updated_ms: number;
}

const fromRow = (r: Row): EventType => ({
  tenantId: r.tenant_id,
  name: r.name,
  description: r.description,
  example: r.example,
  schema: r.json_schema,
  archived: r.archived !== 0,
  createdMs: r.created_ms,
  updatedMs: r.updated_ms,
});

const toRow = (t: EventType): Row => ({
  tenant_id: t.tenantId,
  name: t.name,
  description: t.description,
  example: t.example,
  json_schema: t.schema,
  archived: t.archived ? 1 : 0,
  created_ms: t.createdMs,
  updated_ms: t.updatedMs,
});

/** The event-type catalog in the embedded store's event_types table. */
export class SqliteEventTypeStore implements EventTypeStore {
  private readonly stmt;
  private readonly updateTx;

  constructor(db: Database.Database) {
    this.stmt = {
      all: db.prepare("SELECT * FROM event_types ORDER BY tenant_id, name"),
      get: db.prepare("SELECT * FROM event_types WHERE tenant_id = ? AND name = ?"),
      insert: db.prepare(
        `INSERT INTO event_types (tenant_id, name, description, example, json_schema, archived, created_ms, updated_ms)
         VALUES (@tenant_id, @name, @description, @example, @json_schema, @archived, @created_ms, @updated_ms)
         ON CONFLICT (tenant_id, name) DO NOTHING`,
      ),
      update: db.prepare(
        `UPDATE event_types SET description = @description, example = @example, json_schema = @json_schema,
         archived = @archived, updated_ms = @updated_ms WHERE tenant_id = @tenant_id AND name = @name`,
      ),
      deleteTenant: db.prepare("DELETE FROM event_types WHERE tenant_id = ?"),
    };
    this.updateTx = db.transaction((tenantId: string, name: string, change: (current: EventType) => EventType) => {
      const row = this.stmt.get.get(tenantId, name) as Row | undefined;
      if (!row) return undefined;
      // Scope and name identify the row: a change cannot move it.
      const next = { ...change(fromRow(row)), tenantId, name };
      this.stmt.update.run(toRow(next));
      return next;
    });
  }

  async all(): Promise<EventType[]> {
    return (this.stmt.all.all() as Row[]).map(fromRow);
  }

  async create(eventType: EventType): Promise<boolean> {
    return this.stmt.insert.run(toRow(eventType)).changes > 0;
  }

  async update(tenantId: string, name: string, change: (current: EventType) => EventType): Promise<EventType | undefined> {
    return this.updateTx(tenantId, name, change);
  }

  async deleteTenant(tenantId: string): Promise<number> {
    if (tenantId === "") return 0;
    return this.stmt.deleteTenant.run(tenantId).changes;
  }
}
