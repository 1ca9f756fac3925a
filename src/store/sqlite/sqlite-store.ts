import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { failedPrecondition } from "../../core/errors.ts";
import { deliveryId, idAtTime, newId } from "../../core/ids.ts";
import { Limits } from "../../core/validation.ts";
import {
  DeliveryStatus,
  type Attempt,
  type Delivery,
  type Endpoint,
  type EventInput,
  type PublishResult,
  type StoredEvent,
  type Tenant,
} from "../../core/types.ts";
import type {
  AttemptRecord,
  Backlog,
  BacklogSummary,
  ClaimRequest,
  ClaimResult,
  ClaimedDelivery,
  DeliveryFilter,
  EndpointUpdates,
  FanOut,
  FastLane,
  Store,
} from "../store.ts";
import { SqliteApiKeyStore } from "./api-key-store.ts";
import { DataDirLock } from "./data-dir-lock.ts";
import { SqliteEventTypeStore } from "./event-type-store.ts";
import { SqliteHistoryStore, toStoredEvent, type EventRow } from "./history-store.ts";
import { DELIVERY_COLUMNS, deliveriesQuery } from "./list-queries.ts";
import { migrate } from "./migrations.ts";
import { StatementsByLimit } from "./statements-by-limit.ts";
import { WalSync } from "./wal-sync.ts";
import { Checkpointer } from "./checkpointer.ts";

export type SyncMode = "full" | "normal";

export interface SqliteStoreOptions {
  dataDir: string;
  /** "full" fsyncs every commit (survives power loss); "normal" survives process crashes only. */
  sync?: SyncMode;
  /**
   * Checkpoint the WAL from a worker thread every `intervalMs` rather than inside commits on
   * this thread. Without it SQLite checkpoints itself, as usual.
   */
  backgroundCheckpoint?: { intervalMs: number; onError: (message: string) => void };
}

/** WAL pages (4 KiB) past which a commit checkpoints on this thread after all: the background checkpointer is stuck. */
const FALLBACK_AUTOCHECKPOINT_PAGES = 16_384;

const OPEN = `${DeliveryStatus.Pending}, ${DeliveryStatus.Retrying}`;

interface TenantRow {
  id: string;
  name: string;
  rate_limit: number;
  metadata: string;
  strict_event_types: number;
  created_ms: number;
  updated_ms: number;
}

interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  event_types: string;
  disabled: number;
  disabled_reason: string;
  description: string;
  secret: string;
  previous_secret: string;
  previous_secret_expires_ms: number;
  retry_policy: string;
  rate_limit: number;
  max_in_flight: number;
  timeout_ms: number;
  headers: string;
  ordering: string;
  success_codes: string;
  created_ms: number;
  updated_ms: number;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  endpoint_id: string;
  tenant_id: string;
  event_type: string;
  status: number;
  attempts: number;
  next_attempt_ms: number;
  last_status_code: number;
  last_error: string;
  created_ms: number;
  updated_ms: number;
}

interface AttemptRow {
  id: string;
  delivery_id: string;
  number: number;
  started_ms: number;
  duration_ms: number;
  status_code: number;
  error: string;
  response_body: Buffer | null;
  request_headers: string;
}

interface ClaimRow {
  rowid: number;
  id: string;
  tenant_id: string;
  created_ms: number;
  event_id: string;
  event_type: string;
  attempts: number;
  cycle_attempts: number;
  cycle_start_ms: number;
  payload: Buffer;
  ordering_key: string;
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function toClaimed(row: ClaimRow, endpointId: string): ClaimedDelivery {
  return {
    deliveryId: row.id,
    eventId: row.event_id,
    endpointId,
    tenantId: row.tenant_id,
    createdMs: row.created_ms,
    eventType: row.event_type,
    orderingKey: row.ordering_key,
    payload: row.payload,
    attempts: row.attempts,
    cycleAttempts: row.cycle_attempts,
    cycleStartMs: row.cycle_start_ms,
  };
}

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    rateLimitPerSecond: row.rate_limit,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    strictEventTypes: row.strict_event_types !== 0,
    createdMs: row.created_ms,
    updatedMs: row.updated_ms,
  };
}

function fromTenant(t: Tenant): TenantRow {
  return {
    id: t.id,
    name: t.name,
    rate_limit: t.rateLimitPerSecond,
    metadata: JSON.stringify(t.metadata),
    strict_event_types: t.strictEventTypes === true ? 1 : 0,
    created_ms: t.createdMs,
    updated_ms: t.updatedMs,
  };
}

function toEndpoint(row: EndpointRow): Endpoint {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    url: row.url,
    eventTypes: JSON.parse(row.event_types) as string[],
    disabled: row.disabled === 1,
    disabledReason: row.disabled_reason,
    description: row.description,
    secret: row.secret,
    previousSecret: row.previous_secret,
    previousSecretExpiresMs: row.previous_secret_expires_ms,
    retryPolicy: JSON.parse(row.retry_policy) as Endpoint["retryPolicy"],
    rateLimitPerSecond: row.rate_limit,
    maxInFlight: row.max_in_flight,
    timeoutMs: row.timeout_ms,
    headers: JSON.parse(row.headers) as Record<string, string>,
    ordering: row.ordering === "ordered_by_key" ? "ordered_by_key" : "unordered",
    successStatusCodes: JSON.parse(row.success_codes) as number[],
    createdMs: row.created_ms,
    updatedMs: row.updated_ms,
  };
}

function fromEndpoint(e: Endpoint): EndpointRow {
  return {
    id: e.id,
    tenant_id: e.tenantId,
    url: e.url,
    event_types: JSON.stringify(e.eventTypes),
    disabled: e.disabled ? 1 : 0,
    disabled_reason: e.disabledReason,
    description: e.description,
    secret: e.secret,
    previous_secret: e.previousSecret,
    previous_secret_expires_ms: e.previousSecretExpiresMs,
    retry_policy: JSON.stringify(e.retryPolicy),
    rate_limit: e.rateLimitPerSecond,
    max_in_flight: e.maxInFlight,
    timeout_ms: e.timeoutMs,
    headers: JSON.stringify(e.headers),
    ordering: e.ordering,
    success_codes: JSON.stringify(e.successStatusCodes),
    created_ms: e.createdMs,
    updated_ms: e.updatedMs,
  };
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    eventId: row.event_id,
    endpointId: row.endpoint_id,
    tenantId: row.tenant_id,
    eventType: row.event_type,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    nextAttemptMs: row.next_attempt_ms,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdMs: row.created_ms,
    updatedMs: row.updated_ms,
  };
}

function toAttempt(row: AttemptRow): Attempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    number: row.number,
    startedMs: row.started_ms,
    durationMs: row.duration_ms,
    statusCode: row.status_code,
    error: row.error,
    responseBody: row.response_body ?? new Uint8Array(),
    requestHeaders: row.request_headers,
  };
}

const ENDPOINT_COLUMNS =
  "id, tenant_id, url, event_types, disabled, disabled_reason, description, secret, previous_secret, previous_secret_expires_ms, retry_policy, rate_limit, max_in_flight, timeout_ms, headers, ordering, success_codes, created_ms, updated_ms";
const ENDPOINT_VALUES =
  "@id, @tenant_id, @url, @event_types, @disabled, @disabled_reason, @description, @secret, @previous_secret, @previous_secret_expires_ms, @retry_policy, @rate_limit, @max_in_flight, @timeout_ms, @headers, @ordering, @success_codes, @created_ms, @updated_ms";
/** Open deliveries of an ordered endpoint that may go next: each key's oldest, and every unkeyed one. */
const ORDERED_HEADS = `
  SELECT min(rowid) FROM deliveries WHERE endpoint_id = @endpoint AND status IN (${OPEN}) AND ordering_key != ''
  GROUP BY ordering_key
  UNION ALL
  SELECT rowid FROM deliveries WHERE endpoint_id = @endpoint AND status IN (${OPEN}) AND ordering_key = ''`;
/** Priorities from the highest down: one branch per priority in the queries below. */
const PRIORITIES = Array.from({ length: Limits.maxPriority + 1 }, (_, i) => Limits.maxPriority - i);
/** Every priority's bit: what is known of an endpoint nothing is known of. */
const ALL_PRIORITIES = (1 << (Limits.maxPriority + 1)) - 1;
const CLAIM_COLUMNS = `d.rowid AS rowid, d.id, d.tenant_id, d.created_ms, d.event_id, d.event_type, d.attempts, d.cycle_attempts,
  d.cycle_start_ms, e.payload, e.ordering_key`;

/** The embedded store: one SQLite file in WAL mode; every write path is one transaction. */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  readonly apiKeys: SqliteApiKeyStore;
  readonly eventTypes: SqliteEventTypeStore;
  private readonly lock: DataDirLock;
  readonly history: SqliteHistoryStore;
  private readonly stmt;
  /**
   * Per endpoint, a bit for each priority that may have open deliveries not leased (absent:
   * every bit). A claim asks only those priorities, and clears the bit of one found empty: most
   * endpoints only ever see priority 0, and one index seek per claim instead of one per
   * priority is most of an unordered claim's fixed cost. Set again by whatever opens a
   * delivery: publish, a retry being recorded, RetryDelivery, replay, released leases.
   */
  private readonly openPriorities = new Map<string, number>();
  readonly publishWritesFirst = true;
  private readonly durableSync: "FULL" | "NORMAL";
  /** With `synchronous = FULL`: the fsync of published events, off the thread that serves requests. */
  private readonly walSync: WalSync | undefined;
  private readonly checkpointer: Checkpointer | undefined;
  /** Statements whose SQL depends on the filters given: compiled once per distinct shape. */
  private readonly shaped = new Map<string, Database.Statement>();

  constructor(options: SqliteStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.lock = DataDirLock.acquire(options.dataDir);
    try {
      this.db = new Database(join(options.dataDir, "hookline.db"));
    } catch (err) {
      this.lock.release();
      throw err;
    }
    this.db.pragma("journal_mode = WAL");
    this.durableSync = options.sync === "normal" ? "NORMAL" : "FULL";
    this.db.pragma(`synchronous = ${this.durableSync}`);
    this.db.pragma("foreign_keys = OFF");
    this.db.pragma("busy_timeout = 5000");
    // 16 MB of page cache: the OS caches the file too. With 64 MB, a 1M-event backlog peaked
    // above 300 MB RSS; at 16 MB a claim at 1M queued still costs 1.18x one at 10k (claim-scaling).
    this.db.pragma("cache_size = -16384");
    migrate(this.db);
    if (options.backgroundCheckpoint) {
      this.db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
      this.checkpointer = new Checkpointer({ dbPath: join(options.dataDir, "hookline.db"), ...options.backgroundCheckpoint });
    }
    if (this.durableSync === "FULL") {
      // The WAL file exists now (the migration check wrote to it): make its directory entry
      // durable once, so that syncing the file alone is enough from here on.
      fsyncDirectory(options.dataDir);
      this.walSync = new WalSync(join(options.dataDir, "hookline.db-wal"), join(options.dataDir, "hookline.db"));
    }
    this.apiKeys = new SqliteApiKeyStore(this.db);
    this.eventTypes = new SqliteEventTypeStore(this.db);
    this.history = new SqliteHistoryStore(this.db, (fn) => this.relaxed(fn));
    const db = this.db;
    this.stmt = {
      insertTenant: db.prepare(
        "INSERT INTO tenants (id, name, rate_limit, metadata, strict_event_types, created_ms, updated_ms) VALUES (@id, @name, @rate_limit, @metadata, @strict_event_types, @created_ms, @updated_ms)",
      ),
      getTenant: db.prepare("SELECT * FROM tenants WHERE id = ?"),
      listTenants: db.prepare("SELECT * FROM tenants WHERE id > ? ORDER BY id LIMIT ?"),
      updateTenant: db.prepare(
        "UPDATE tenants SET name = @name, rate_limit = @rate_limit, metadata = @metadata, strict_event_types = @strict_event_types, updated_ms = @updated_ms WHERE id = @id",
      ),
      deleteTenant: db.prepare("DELETE FROM tenants WHERE id = ?"),
      tenantEndpointIds: db.prepare("SELECT id FROM endpoints WHERE tenant_id = ?"),
      insertEndpoint: db.prepare(`INSERT INTO endpoints (${ENDPOINT_COLUMNS}) VALUES (${ENDPOINT_VALUES})`),
      updateEndpoint: db.prepare(
        `UPDATE endpoints SET ${ENDPOINT_COLUMNS.split(", ")
          .filter((c) => c !== "id")
          .map((c) => `${c} = @${c}`)
          .join(", ")} WHERE id = @id`,
      ),
      getEndpoint: db.prepare("SELECT * FROM endpoints WHERE id = ?"),
      listEndpoints: db.prepare("SELECT * FROM endpoints WHERE id > ? ORDER BY id LIMIT ?"),
      listTenantEndpoints: db.prepare("SELECT * FROM endpoints WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?"),
      allEndpoints: db.prepare("SELECT * FROM endpoints"),
      deleteEndpoint: db.prepare("DELETE FROM endpoints WHERE id = ?"),
      cancelEndpointDeliveries: db.prepare(
        `UPDATE deliveries SET status = ${DeliveryStatus.Cancelled}, leased = 0, next_attempt_ms = 0, last_error = 'endpoint deleted', updated_ms = ?
         WHERE endpoint_id = ? AND status IN (${OPEN})`,
      ),
      insertEvent: db.prepare(
        "INSERT INTO events (id, tenant_id, type, payload, idempotency_key, ordering_key, priority, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      getEvent: db.prepare("SELECT * FROM events WHERE id = ?"),
      findIdempotencyKey: db.prepare("SELECT event_id, created_ms FROM idempotency_keys WHERE tenant_id = ? AND key = ?"),
      putIdempotencyKey: db.prepare("REPLACE INTO idempotency_keys (tenant_id, key, event_id, created_ms) VALUES (?, ?, ?, ?)"),
      expireIdempotencyKeys: db.prepare("DELETE FROM idempotency_keys WHERE created_ms < ?"),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (id, event_id, endpoint_id, tenant_id, event_type, ordering_key, priority, status, cycle_start_ms, next_attempt_ms, created_ms, updated_ms, leased)
         VALUES (?, ?, ?, ?, ?, ?, ?, ${DeliveryStatus.Pending}, ?, ?, ?, ?, ?)`,
      ),
      getDelivery: db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = ?`),
      listAttempts: db.prepare("SELECT * FROM attempts WHERE delivery_id = ? AND id > ? ORDER BY id LIMIT ?"),
      retryDelivery: db.prepare(
        `UPDATE deliveries SET status = CASE WHEN attempts = 0 THEN ${DeliveryStatus.Pending} ELSE ${DeliveryStatus.Retrying} END,
           cycle_attempts = 0, cycle_start_ms = @now, next_attempt_ms = @now, updated_ms = @now
         WHERE id = @id AND leased = 0 AND status != ${DeliveryStatus.Cancelled}`,
      ),
      dueByEndpoint: db.prepare(
        `SELECT endpoint_id, min(next_attempt_ms) AS due FROM deliveries WHERE status IN (${OPEN}) AND leased = 0 GROUP BY endpoint_id`,
      ),
      // The earliest due time over every priority: one index seek per priority.
      nextDue: db.prepare(
        `SELECT min(due) AS due FROM (${PRIORITIES.map(
          (p) => `SELECT * FROM (SELECT next_attempt_ms AS due FROM deliveries
             WHERE endpoint_id = @endpoint AND priority = ${p} AND status IN (${OPEN}) AND leased = 0 ORDER BY next_attempt_ms LIMIT 1)`,
        ).join(" UNION ALL ")})`,
      ),
      // One priority's due deliveries, oldest due first: a range of the due index that stops
      // at @now. claim() asks the priorities that may have open deliveries, highest first.
      claimAt: PRIORITIES.map(
        (p) =>
          new StatementsByLimit(
            db,
            `SELECT ${CLAIM_COLUMNS}
           FROM deliveries d JOIN events e ON e.id = d.event_id
           WHERE d.endpoint_id = @endpoint AND d.priority = ${p} AND d.status IN (${OPEN}) AND d.leased = 0 AND d.next_attempt_ms <= @now
           ORDER BY d.next_attempt_ms, d.rowid LIMIT @limit`,
          ),
      ),
      nextDueAt: PRIORITIES.map((p) =>
        db.prepare(
          `SELECT next_attempt_ms AS due FROM deliveries
           WHERE endpoint_id = @endpoint AND priority = ${p} AND status IN (${OPEN}) AND leased = 0 ORDER BY next_attempt_ms LIMIT 1`,
        ),
      ),
      claimOrdered: new StatementsByLimit(
        db,
        `SELECT ${CLAIM_COLUMNS}
         FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.rowid IN (${ORDERED_HEADS}) AND d.leased = 0 AND d.next_attempt_ms <= @now
         ORDER BY d.priority DESC, d.rowid LIMIT @limit`,
      ),
      // Deliveries behind a key's head are due but blocked: only the heads say when to look again.
      nextDueOrdered: db.prepare(
        `SELECT min(next_attempt_ms) AS due FROM deliveries WHERE rowid IN (${ORDERED_HEADS}) AND leased = 0`,
      ),
      backlog: db.prepare(
        `SELECT status, leased, count(*) AS n FROM deliveries WHERE endpoint_id = ? AND status IN (${OPEN}) GROUP BY status, leased`,
      ),
      // "endpoint_id IN endpoints" lets these walk the (endpoint_id, status) index over open
      // deliveries only; without it, SQLite scans every delivery ever made.
      // Apart: min() alone is a seek per endpoint, while next to count() it reads the range too.
      openCount: db.prepare("SELECT count(*) AS n FROM deliveries WHERE endpoint_id IN (SELECT id FROM endpoints) AND status = ?"),
      oldestOpen: db.prepare("SELECT min(created_ms) AS oldest FROM deliveries WHERE endpoint_id IN (SELECT id FROM endpoints) AND status = ?"),
      leasedByStatus: db.prepare(`SELECT status, count(*) AS n FROM deliveries WHERE leased = 1 AND status IN (${OPEN}) GROUP BY status`),
      failingSince: db.prepare("SELECT id, failing_since_ms FROM endpoints WHERE failing_since_ms > 0"),
      setFailingSince: db.prepare("UPDATE endpoints SET failing_since_ms = ? WHERE id = ?"),
      lease: db.prepare("UPDATE deliveries SET leased = 1 WHERE rowid = ?"),
      unlease: db.prepare("UPDATE deliveries SET leased = 0 WHERE id = ?"),
      insertAttempt: db.prepare(
        "INSERT INTO attempts (id, delivery_id, number, started_ms, duration_ms, status_code, error, response_body, request_headers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      completeDelivery: db.prepare(
        `UPDATE deliveries SET status = @status, attempts = attempts + 1, cycle_attempts = cycle_attempts + 1,
           next_attempt_ms = @next, leased = 0, last_status_code = @code, last_error = @error, updated_ms = @now
         WHERE id = @id AND leased = 1`,
      ),
      // The same for a delivery that stays open (a retry): which endpoint and priority it reopens.
      reopenDelivery: db.prepare(
        `UPDATE deliveries SET status = @status, attempts = attempts + 1, cycle_attempts = cycle_attempts + 1,
           next_attempt_ms = @next, leased = 0, last_status_code = @code, last_error = @error, updated_ms = @now
         WHERE id = @id AND leased = 1 RETURNING endpoint_id, priority`,
      ),
      disableEndpoint: db.prepare(
        "UPDATE endpoints SET disabled = 1, disabled_reason = ?, updated_ms = ? WHERE id = ? AND disabled = 0",
      ),
      releaseLeases: db.prepare("UPDATE deliveries SET leased = 0 WHERE leased = 1"),
      syncNormal: db.prepare("PRAGMA synchronous = NORMAL"),
      syncFull: db.prepare("PRAGMA synchronous = FULL"),
    };
  }

  /**
   * Runs a transaction whose loss in a power failure is harmless: leases are released on
   * every start, and a lost attempt record only means the delivery is sent again
   * (at-least-once). Skipping the fsync here keeps it for what must survive: operator changes
   * (synced at commit) and acked publishes (which wait for the WAL sync instead).
   */
  private relaxed<T>(fn: () => T): T {
    if (this.durableSync === "NORMAL") return this.db.transaction(fn)();
    this.stmt.syncNormal.run();
    try {
      return this.db.transaction(fn)();
    } finally {
      this.stmt.syncFull.run();
    }
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.shaped.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.shaped.set(sql, statement);
    }
    return statement;
  }

  async close(): Promise<void> {
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
    this.lock.release();
  }

  async createTenant(tenant: Tenant): Promise<void> {
    this.stmt.insertTenant.run(fromTenant(tenant));
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const row = this.stmt.getTenant.get(id) as TenantRow | undefined;
    return row && toTenant(row);
  }

  async listTenants(afterId: string | undefined, limit: number): Promise<Tenant[]> {
    return (this.stmt.listTenants.all(afterId ?? "", limit) as TenantRow[]).map(toTenant);
  }

  async updateTenant(id: string, change: (current: Tenant) => Tenant): Promise<Tenant | undefined> {
    // Read and write in one synchronous step: nothing can come in between.
    const row = this.stmt.getTenant.get(id) as TenantRow | undefined;
    if (!row) return undefined;
    const next = change(toTenant(row));
    this.stmt.updateTenant.run(fromTenant(next));
    return next;
  }

  async deleteTenant(id: string, nowMs: number): Promise<boolean> {
    return this.db.transaction(() => {
      for (const { id: endpointId } of this.stmt.tenantEndpointIds.all(id) as { id: string }[]) {
        this.stmt.cancelEndpointDeliveries.run(nowMs, endpointId);
        this.stmt.deleteEndpoint.run(endpointId);
      }
      return this.stmt.deleteTenant.run(id).changes > 0;
    })();
  }

  async createEndpoint(endpoint: Endpoint): Promise<void> {
    this.stmt.insertEndpoint.run(fromEndpoint(endpoint));
  }

  async getEndpoint(id: string): Promise<Endpoint | undefined> {
    const row = this.stmt.getEndpoint.get(id) as EndpointRow | undefined;
    return row && toEndpoint(row);
  }

  async listEndpoints(tenantId: string, afterId: string | undefined, limit: number): Promise<Endpoint[]> {
    const rows =
      tenantId === ""
        ? this.stmt.listEndpoints.all(afterId ?? "", limit)
        : this.stmt.listTenantEndpoints.all(tenantId, afterId ?? "", limit);
    return (rows as EndpointRow[]).map(toEndpoint);
  }

  async allEndpoints(): Promise<Endpoint[]> {
    return (this.stmt.allEndpoints.all() as EndpointRow[]).map(toEndpoint);
  }

  async updateEndpoint(id: string, change: (current: Endpoint) => Endpoint): Promise<Endpoint | undefined> {
    const row = this.stmt.getEndpoint.get(id) as EndpointRow | undefined;
    if (!row) return undefined;
    const next = change(toEndpoint(row));
    this.stmt.updateEndpoint.run(fromEndpoint(next));
    return next;
  }

  async deleteEndpoint(id: string, nowMs: number): Promise<boolean> {
    return this.db.transaction(() => {
      this.stmt.cancelEndpointDeliveries.run(nowMs, id);
      this.openPriorities.delete(id);
      return this.stmt.deleteEndpoint.run(id).changes > 0;
    })();
  }

  async publish(
    batches: readonly (readonly EventInput[])[],
    fanOut: FanOut,
    nowMs: number,
    idempotencyWindowMs: number,
    lane?: FastLane,
  ): Promise<PublishResult[][]> {
    const s = this.stmt;
    const admitted: string[] = [];
    // Committed without an fsync on this thread; acknowledged only once the WAL sync below
    // (on the thread pool, shared with concurrent commits) has put it on disk.
    const results = this.relaxed(() =>
      batches.map((events) =>
        events.map((event): PublishResult => {
          if (event.idempotencyKey !== "") {
            const seen = s.findIdempotencyKey.get(event.tenantId, event.idempotencyKey) as
              | { event_id: string; created_ms: number }
              | undefined;
            if (seen && nowMs - seen.created_ms < idempotencyWindowMs) {
              return { eventId: seen.event_id, duplicate: true, deliveryCount: 0 };
            }
          }
          const eventId = newId("evt", nowMs);
          s.insertEvent.run(eventId, event.tenantId, event.type, event.payload, event.idempotencyKey, event.orderingKey, event.priority, nowMs);
          if (event.idempotencyKey !== "") s.putIdempotencyKey.run(event.tenantId, event.idempotencyKey, eventId, nowMs);
          const targets = fanOut(event.tenantId, event.type);
          targets.forEach((endpointId, ordinal) => {
            const id = deliveryId(eventId, ordinal);
            // Leased from the start: no claim needed, and it never enters the due index.
            const leased = lane?.admit(endpointId) ?? false;
            this.mayBeOpen(endpointId, event.priority);
            s.insertDelivery.run(id, eventId, endpointId, event.tenantId, event.type, event.orderingKey, event.priority, nowMs, nowMs, nowMs, nowMs, leased ? 1 : 0);
            if (leased) {
              admitted.push(id);
              lane?.admitted({
                deliveryId: id,
                eventId,
                endpointId,
                tenantId: event.tenantId,
                createdMs: nowMs,
                eventType: event.type,
                orderingKey: event.orderingKey,
                payload: event.payload,
                attempts: 0,
                cycleAttempts: 0,
                cycleStartMs: nowMs,
              });
            }
          });
          return { eventId, duplicate: false, deliveryCount: targets.length };
        }),
      ),
    );
    try {
      await this.walSync?.sync();
    } catch (err) {
      // Committed but maybe not on disk, and the caller hears of a failure: what the fast lane
      // took goes back to the queue, as the rest of the commit's deliveries are there already.
      if (admitted.length > 0) this.db.transaction(() => admitted.forEach((id) => s.unlease.run(id)))();
      throw err;
    }
    return results;
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    const row = this.stmt.getEvent.get(id) as EventRow | undefined;
    return row && toStoredEvent(row);
  }


  async getDelivery(id: string): Promise<Delivery | undefined> {
    const row = this.stmt.getDelivery.get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  async listDeliveries(filter: DeliveryFilter, afterId: string | undefined, limit: number): Promise<Delivery[]> {
    const { sql, params } = deliveriesQuery(filter, afterId, limit);
    return (this.prepared(sql).all(...params) as DeliveryRow[]).map(toDelivery);
  }

  async listAttempts(deliveryId: string, afterId: string | undefined, limit: number): Promise<Attempt[]> {
    return (this.stmt.listAttempts.all(deliveryId, afterId ?? "", limit) as AttemptRow[]).map(toAttempt);
  }

  async retryDelivery(id: string, nowMs: number): Promise<Delivery | undefined> {
    const changed = this.stmt.retryDelivery.run({ id, now: nowMs }).changes > 0;
    const delivery = await this.getDelivery(id);
    if (changed && delivery) this.openPriorities.delete(delivery.endpointId);
    if (!changed && delivery && delivery.status !== DeliveryStatus.Cancelled) {
      throw failedPrecondition(`delivery ${id} is being attempted right now; retry it once this attempt has finished`);
    }
    return delivery;
  }

  async replayDeliveries(
    endpointId: string,
    statuses: readonly DeliveryStatus[],
    fromMs: number,
    toMs: number,
    nowMs: number,
  ): Promise<number> {
    const wanted = statuses.filter((s) => s !== DeliveryStatus.Cancelled);
    if (wanted.length === 0) return 0;
    const sql = `UPDATE deliveries SET status = CASE WHEN attempts = 0 THEN ${DeliveryStatus.Pending} ELSE ${DeliveryStatus.Retrying} END,
        cycle_attempts = 0, cycle_start_ms = ?, next_attempt_ms = ?, updated_ms = ?
      WHERE endpoint_id = ? AND status IN (${wanted.map(() => "?").join(", ")}) AND id >= ? AND id < ? AND leased = 0`;
    this.openPriorities.delete(endpointId);
    // The creation window as ids: one range of (endpoint_id, status, id) per status.
    return this.prepared(sql).run(nowMs, nowMs, nowMs, endpointId, ...wanted, idAtTime("dlv", fromMs), idAtTime("dlv", toMs)).changes;
  }

  async dueByEndpoint(): Promise<Map<string, number>> {
    const rows = this.stmt.dueByEndpoint.all() as { endpoint_id: string; due: number }[];
    return new Map(rows.map((r) => [r.endpoint_id, r.due]));
  }

  async nextDue(endpointId: string): Promise<number | undefined> {
    const row = this.stmt.nextDue.get({ endpoint: endpointId }) as { due: number | null } | undefined;
    return row?.due ?? undefined;
  }

  async claim(requests: readonly ClaimRequest[], nowMs: number): Promise<ClaimResult[]> {
    const s = this.stmt;
    return this.relaxed(() =>
      requests.map(({ endpointId, limit, ordered }): ClaimResult => {
        if (!ordered) return this.claimUnordered(endpointId, limit, nowMs);
        const rows = s.claimOrdered.get(limit).all({ endpoint: endpointId, now: nowMs }) as ClaimRow[];
        for (const row of rows) s.lease.run(row.rowid);
        const claimed = rows.map((row) => toClaimed(row, endpointId));
        const next = claimed.length >= limit ? undefined : (s.nextDueOrdered.get({ endpoint: endpointId }) as { due: number | null } | undefined);
        return { claimed, nextDue: next?.due ?? undefined };
      }),
    );
  }

  /** Highest priority first, each priority's due deliveries oldest due first. */
  private claimUnordered(endpointId: string, limit: number, nowMs: number): ClaimResult {
    const s = this.stmt;
    let open = this.openPriorities.get(endpointId) ?? ALL_PRIORITIES;
    const claimed: ClaimedDelivery[] = [];
    let nextDue: number | undefined;
    for (let i = 0; i < PRIORITIES.length && claimed.length < limit; i++) {
      const bit = 1 << (PRIORITIES[i] as number);
      if ((open & bit) === 0) continue;
      const want = limit - claimed.length;
      const rows = (s.claimAt[i] as StatementsByLimit).get(want).all({ endpoint: endpointId, now: nowMs }) as ClaimRow[];
      for (const row of rows) {
        s.lease.run(row.rowid);
        claimed.push(toClaimed(row, endpointId));
      }
      if (rows.length === want) continue;
      // Everything due at this priority is taken: when is the next, if any is left at all?
      const next = (s.nextDueAt[i] as Database.Statement).get({ endpoint: endpointId }) as { due: number } | undefined;
      if (next === undefined) open &= ~bit;
      else nextDue = Math.min(nextDue ?? Infinity, next.due);
    }
    this.openPriorities.set(endpointId, open);
    return { claimed, nextDue: claimed.length >= limit ? undefined : nextDue };
  }

  /** A delivery of this endpoint and priority may be open now. */
  private mayBeOpen(endpointId: string, priority: number): void {
    const open = this.openPriorities.get(endpointId);
    if (open !== undefined) this.openPriorities.set(endpointId, open | (1 << priority));
  }

  async complete(records: readonly AttemptRecord[], endpoints: EndpointUpdates, nowMs: number): Promise<void> {
    const s = this.stmt;
    this.relaxed(() => {
      for (const { attempt, status, nextAttemptMs } of records) {
        s.insertAttempt.run(
          attempt.id,
          attempt.deliveryId,
          attempt.number,
          attempt.startedMs,
          attempt.durationMs,
          attempt.statusCode,
          attempt.error,
          attempt.responseBody.length > 0 ? attempt.responseBody : null,
          attempt.requestHeaders ?? "",
        );
        const change = { id: attempt.deliveryId, status, next: nextAttemptMs, code: attempt.statusCode, error: attempt.error, now: nowMs };
        if (status === DeliveryStatus.Pending || status === DeliveryStatus.Retrying) {
          const reopened = s.reopenDelivery.get(change) as { endpoint_id: string; priority: number } | undefined;
          if (reopened) this.mayBeOpen(reopened.endpoint_id, reopened.priority);
        } else s.completeDelivery.run(change);
      }
      for (const [endpointId, since] of endpoints.failingSince) s.setFailingSince.run(since, endpointId);
      for (const [endpointId, reason] of endpoints.disable) s.disableEndpoint.run(reason, nowMs, endpointId);
    });
  }

  async backlog(endpointId: string): Promise<Backlog> {
    const backlog: Backlog = { pending: 0, retrying: 0, inFlight: 0 };
    for (const row of this.stmt.backlog.all(endpointId) as { status: number; leased: number; n: number }[]) {
      if (row.leased === 1) backlog.inFlight += row.n;
      else if (row.status === DeliveryStatus.Pending) backlog.pending += row.n;
      else backlog.retrying += row.n;
    }
    return backlog;
  }

  async backlogSummary(): Promise<BacklogSummary> {
    const s = this.stmt;
    const count = (status: DeliveryStatus): number => (s.openCount.get(status) as { n: number }).n;
    const oldestOf = (status: DeliveryStatus): number | null => (s.oldestOpen.get(status) as { oldest: number | null }).oldest;
    const pending = { n: count(DeliveryStatus.Pending), oldest: oldestOf(DeliveryStatus.Pending) };
    const retrying = { n: count(DeliveryStatus.Retrying), oldest: oldestOf(DeliveryStatus.Retrying) };
    const leased = new Map((s.leasedByStatus.all() as { status: number; n: number }[]).map((r) => [r.status, r.n]));
    const leasedPending = leased.get(DeliveryStatus.Pending) ?? 0;
    const leasedRetrying = leased.get(DeliveryStatus.Retrying) ?? 0;
    const oldest = [pending.oldest, retrying.oldest].filter((v): v is number => v !== null);
    return {
      pending: Math.max(0, pending.n - leasedPending),
      retrying: Math.max(0, retrying.n - leasedRetrying),
      inFlight: leasedPending + leasedRetrying,
      oldestOpenMs: oldest.length > 0 ? Math.min(...oldest) : undefined,
    };
  }

  async failingSince(): Promise<Map<string, number>> {
    const rows = this.stmt.failingSince.all() as { id: string; failing_since_ms: number }[];
    return new Map(rows.map((r) => [r.id, r.failing_since_ms]));
  }

  async releaseLeases(): Promise<number> {
    this.openPriorities.clear();
    return this.stmt.releaseLeases.run().changes;
  }

  async expireIdempotencyKeys(olderThanMs: number): Promise<number> {
    return this.stmt.expireIdempotencyKeys.run(olderThanMs).changes;
  }

  async probeWrite(): Promise<void> {
    // A few pages, like a small publish: one page alone may still fit where real work does not.
    this.db.transaction(() => {
      this.db.exec("CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, filler BLOB)");
      this.db.prepare("REPLACE INTO write_probe (id, at_ms, filler) VALUES (1, ?, zeroblob(65536))").run(Date.now());
    })();
  }
}
