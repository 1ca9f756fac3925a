import type Database from "better-sqlite3";
import { deliveryIdRange, idAtTime } from "../../core/ids.ts";
import { DeliveryStatus, type StoredEvent } from "../../core/types.ts";
import type { EventFilter, HistoryStore, PruneStep } from "../history-store.ts";
import { eventsQuery } from "./list-queries.ts";

export interface EventRow {
  id: string;
  tenant_id: string;
  type: string;
  payload: Buffer;
  idempotency_key: string;
  ordering_key: string;
  priority: number;
  created_ms: number;
}

export const toStoredEvent = (row: EventRow): StoredEvent => ({
  id: row.id,
  tenantId: row.tenant_id,
  type: row.type,
  payload: row.payload,
  idempotencyKey: row.idempotency_key,
  orderingKey: row.ordering_key,
  priority: row.priority,
  createdMs: row.created_ms,
});

/** The SQL of one prune step, exported so that its query plans can be checked. */
export const PRUNE_SQL = {
  // Oldest first through the primary key: old events are one range below the cutoff's id.
  oldEvents: "SELECT id FROM events WHERE id > ? AND id < ? ORDER BY id LIMIT ?",
  // An event's deliveries are one id range (see deliveryId); leased ones are PENDING/RETRYING too.
  openDelivery: `SELECT 1 FROM deliveries WHERE id BETWEEN ? AND ? AND status IN (${DeliveryStatus.Pending}, ${DeliveryStatus.Retrying}) LIMIT 1`,
  deleteAttempts: "DELETE FROM attempts WHERE delivery_id BETWEEN ? AND ?",
  deleteDeliveries: "DELETE FROM deliveries WHERE id BETWEEN ? AND ?",
  deleteEvent: "DELETE FROM events WHERE id = ?",
} as const;

/** History in the embedded store's events, deliveries and attempts tables. */
export class SqliteHistoryStore implements HistoryStore {
  private readonly stmt;
  /** Statements whose SQL depends on the filters given: compiled once per distinct shape. */
  private readonly shaped = new Map<string, Database.Statement>();

  /**
   * `relaxed` runs a transaction without waiting for fsync: a prune lost to a power failure
   * only means those rows are pruned again by the next sweep, and an fsync per step would
   * hold the event loop for as long as the disk takes.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly relaxed: <T>(fn: () => T) => T,
  ) {
    this.stmt = {
      oldEvents: db.prepare(PRUNE_SQL.oldEvents).pluck(),
      openDelivery: db.prepare(PRUNE_SQL.openDelivery).pluck(),
      deleteAttempts: db.prepare(PRUNE_SQL.deleteAttempts),
      deleteDeliveries: db.prepare(PRUNE_SQL.deleteDeliveries),
      deleteEvent: db.prepare(PRUNE_SQL.deleteEvent),
    };
  }

  async listEvents(filter: EventFilter, afterId: string | undefined, limit: number): Promise<StoredEvent[]> {
    const { sql, params } = eventsQuery(filter, afterId, limit);
    let statement = this.shaped.get(sql);
    if (!statement) this.shaped.set(sql, (statement = this.db.prepare(sql)));
    return (statement.all(...params) as EventRow[]).map(toStoredEvent);
  }

  async prune(beforeMs: number, afterId: string | undefined, limit: number): Promise<PruneStep> {
    const s = this.stmt;
    // One short transaction per step: the caller yields between steps, so publishes and
    // attempts wait for at most one step.
    return this.relaxed((): PruneStep => {
      const step: PruneStep = { events: 0, deliveries: 0, attempts: 0, kept: 0, lastId: undefined };
      const ids = s.oldEvents.all(afterId ?? "", idAtTime("evt", beforeMs), limit) as string[];
      for (const id of ids) {
        const [first, last] = deliveryIdRange(id);
        if (s.openDelivery.get(first, last) !== undefined) {
          step.kept++;
          continue;
        }
        step.attempts += s.deleteAttempts.run(first, last).changes;
        step.deliveries += s.deleteDeliveries.run(first, last).changes;
        step.events += s.deleteEvent.run(id).changes;
      }
      step.lastId = ids.length === limit ? ids[ids.length - 1] : undefined;
      return step;
    });
  }
}
