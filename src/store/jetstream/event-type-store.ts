import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { EventType } from "../../core/event-type.ts";
import type { Logger } from "../../observability/logger.ts";
import type { EventTypeChange, EventTypeStore } from "../event-type-store.ts";
import { decodeJson, encodeJson } from "./codec.ts";
import { followBucket } from "./kv-follow.ts";
import { isWrongRevision, updateAtRevision } from "./kv-update.ts";
import { eventTypeKey, parseEventTypeKey } from "./layout.ts";

/** Marks a key this process deleted, until the watch echoes the delete. */
const DELETED_HERE = Number.POSITIVE_INFINITY;
/** Read-modify-write rounds lost to concurrent writers before an update gives up with ABORTED. */

/**
 * The event-type catalog in its own KV bucket, copied here and kept current by a watch (as
 * the config mirror does for tenants and endpoints): every process sees the others' changes
 * within a round trip. Updates name the revision they were computed from, so concurrent
 * writers never overwrite each other's changes; a late echo of an older revision is skipped.
 */
export class JetStreamEventTypeStore implements EventTypeStore {
  private readonly types = new Map<string, EventType>();
  /** The newest revision applied per key. */
  private readonly revisions = new Map<string, number>();
  private readonly listeners = new Set<(change: EventTypeChange) => void>();
  private stopWatch: (() => void) | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  /** Loads the bucket and resolves once the copy is complete; later changes keep flowing in. */
  static async open(kv: KV, logger: Logger): Promise<JetStreamEventTypeStore> {
    const store = new JetStreamEventTypeStore(kv, logger);
    store.stopWatch = await followBucket(
      kv,
      (entry) => store.apply(entry),
      (err: unknown) => logger.error({ err }, "event-type watch ended; restart hookline to resume catalog updates"),
    );
    return store;
  }

  close(): void {
    this.stopWatch?.();
  }

  watch(listener: (change: EventTypeChange) => void): void {
    this.listeners.add(listener);
  }

  async all(): Promise<EventType[]> {
    return [...this.types.values()];
  }

  async create(eventType: EventType): Promise<boolean> {
    const key = eventTypeKey(eventType.tenantId, eventType.name);
    let revision: number;
    try {
      revision = await this.kv.create(key, encodeJson(eventType));
    } catch (err) {
      if (isWrongRevision(err)) return false;
      throw err;
    }
    this.keep(key, revision, eventType);
    return true;
  }

  async update(tenantId: string, name: string, change: (current: EventType) => EventType): Promise<EventType | undefined> {
    const key = eventTypeKey(tenantId, name);
    // Scope and name identify the entry: a change cannot move it.
    const updated = await updateAtRevision<EventType>(this.kv, key, (current) => ({ ...change(current), tenantId, name }), `event type ${name}`);
    if (!updated) return undefined;
    this.keep(key, updated.revision, updated.value);
    return updated.value;
  }

  async deleteTenant(tenantId: string): Promise<number> {
    if (tenantId === "") return 0;
    const keys = [...this.types.entries()].filter(([, t]) => t.tenantId === tenantId).map(([key]) => key);
    for (const key of keys) {
      this.revisions.set(key, DELETED_HERE);
      this.types.delete(key);
      await this.kv.delete(key);
    }
    return keys.length;
  }

  /** Our own write: applied now unless the watch already brought a newer revision. */
  private keep(key: string, revision: number, eventType: EventType): void {
    if (revision < (this.revisions.get(key) ?? 0)) return;
    this.revisions.set(key, revision);
    this.types.set(key, eventType);
  }

  private apply(entry: KvWatchEntry): void {
    const removed = entry.operation !== "PUT";
    const known = this.revisions.get(entry.key) ?? 0;
    // A tenant's keys are never reused once it is deleted: forget what we know of them.
    if (removed) this.revisions.delete(entry.key);
    else if (entry.revision <= known) return;
    else this.revisions.set(entry.key, entry.revision);
    if (removed && known === DELETED_HERE) return;
    try {
      if (removed) {
        this.types.delete(entry.key);
        this.emit({ kind: "deleted", ...parseEventTypeKey(entry.key) });
      } else {
        const eventType = decodeJson<EventType>(entry.value);
        this.types.set(entry.key, eventType);
        this.emit({ kind: "put", eventType });
      }
    } catch (err) {
      this.logger.warn({ err, key: entry.key }, "ignoring an unreadable event-type entry");
    }
  }

  private emit(change: EventTypeChange): void {
    for (const l of this.listeners) l(change);
  }
}
