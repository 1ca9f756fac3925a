import type { EventType } from "../core/event-type.ts";

/** An event type written or removed by another process sharing the store. */
export type EventTypeChange =
  | { kind: "put"; eventType: EventType }
  | { kind: "deleted"; tenantId: string; name: string };

/**
 * Where the event-type catalog lives: one role of the store, implemented by each backend.
 * A type is identified by its scope (tenant id, "" for instance-wide) and name.
 */
export interface EventTypeStore {
  /** Every type of every scope, archived ones included (the catalog is held in memory). */
  all(): Promise<EventType[]>;
  /** Stores a new type; false when its scope already has one of this name. */
  create(eventType: EventType): Promise<boolean>;
  /**
   * Read-modify-write: applies `change` to the type as stored at the moment of writing (it
   * may throw to refuse). Undefined when there is no such type.
   */
  update(tenantId: string, name: string, change: (current: EventType) => EventType): Promise<EventType | undefined>;
  /** Removes every type of a tenant (the tenant was deleted); how many were removed. */
  deleteTenant(tenantId: string): Promise<number>;
  /** Shared stores only: types changed by other processes. */
  watch?(listener: (change: EventTypeChange) => void): void;
}
