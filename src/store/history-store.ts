import type { StoredEvent } from "../core/types.ts";

/** Filters of ListEvents; empty strings mean "any", a missing bound means unbounded. */
export interface EventFilter {
  tenantId: string;
  type: string;
  /** Created at or after. */
  startMs?: number | undefined;
  /** Created before. */
  endMs?: number | undefined;
}

/** What one prune step removed, and where the next one goes on. */
export interface PruneStep {
  events: number;
  deliveries: number;
  attempts: number;
  /** Old events kept because a delivery of theirs is still open. */
  kept: number;
  /** The last event looked at; undefined when no old event is left after it. */
  lastId: string | undefined;
}

/**
 * The history role of the store: reading past events and forgetting old ones. Implemented by
 * each backend.
 */
export interface HistoryStore {
  /** Newest first; afterId is the last id of the previous page. */
  listEvents(filter: EventFilter, afterId: string | undefined, limit: number): Promise<StoredEvent[]>;
  /**
   * One small step of retention: looks at up to `limit` events created before `beforeMs`,
   * oldest first and after `afterId`, and deletes each with its deliveries and attempts
   * unless one of its deliveries is open (PENDING, RETRYING or in flight).
   */
  prune(beforeMs: number, afterId: string | undefined, limit: number): Promise<PruneStep>;
}
