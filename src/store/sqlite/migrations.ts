import type { Database } from "better-sqlite3";

/** Schema versions in order; a data dir is migrated forward on open, never back. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    rate_limit REAL NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    previous_secret TEXT NOT NULL DEFAULT '',
    previous_secret_expires_ms INTEGER NOT NULL DEFAULT 0,
    retry_policy TEXT NOT NULL,
    rate_limit REAL NOT NULL DEFAULT 0,
    max_in_flight INTEGER NOT NULL,
    timeout_ms INTEGER NOT NULL,
    headers TEXT NOT NULL DEFAULT '{}',
    ordering TEXT NOT NULL DEFAULT 'unordered',
    failing_since_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX endpoints_by_tenant ON endpoints(tenant_id, id);

  CREATE TABLE events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload BLOB NOT NULL,
    idempotency_key TEXT NOT NULL DEFAULT '',
    ordering_key TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
  );

  CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_ms);

  -- Each index here is paid on every fan-out insert: keep them few. (An event's deliveries
  -- need none: their ids are one range of the unique id index, see deliveryId.)
  CREATE TABLE deliveries (
    id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ordering_key TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cycle_attempts INTEGER NOT NULL DEFAULT 0,
    cycle_start_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    leased INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
  );
  CREATE INDEX deliveries_due ON deliveries(endpoint_id, next_attempt_ms) WHERE status IN (1, 3) AND leased = 0;
  -- Ordered endpoints: the head of each ordering key is its open delivery with the lowest rowid.
  CREATE INDEX deliveries_open_by_key ON deliveries(endpoint_id, ordering_key) WHERE status IN (1, 3) AND ordering_key != '';
  CREATE INDEX deliveries_by_endpoint ON deliveries(endpoint_id, status, created_ms);
  CREATE INDEX deliveries_by_tenant ON deliveries(tenant_id, id);

  CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    response_body BLOB
  ) WITHOUT ROWID;
  CREATE INDEX attempts_by_delivery ON attempts(delivery_id, id);
  `,
  `
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, id);
  `,
  `
  -- Status codes an endpoint counts as success besides 2xx, as a JSON array.
  ALTER TABLE endpoints ADD COLUMN success_codes TEXT NOT NULL DEFAULT '[]';
  `,
  `
  -- Priority lanes: an event's priority (0-9), copied onto its deliveries so that a claim
  -- takes an endpoint's due deliveries highest priority first. The due index leads with
  -- priority: each priority's due range is one index seek (see SqliteStore's claim).
  ALTER TABLE events ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE deliveries ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
  DROP INDEX deliveries_due;
  CREATE INDEX deliveries_due ON deliveries(endpoint_id, priority, next_attempt_ms) WHERE status IN (1, 3) AND leased = 0;
  `,
  `
  -- Deliveries in flight (a few thousand at most) by status, for the backlog gauges: inserts
  -- are not leased, so fan-out does not pay for it.
  CREATE INDEX deliveries_leased ON deliveries(status) WHERE leased = 1;
  `,
  // List pages newest first: the lists a tenant key or an endpoint's operator uses read one
  // index range in id order (or merge one range per status), so a page costs O(page) however
  // long the history; ids sort by creation time, so time windows are id ranges. Every index
  // is paid on each publish insert, those holding status on each state change too: the two
  // delivery indexes are replaced, not added to ((endpoint_id, status, id) also serves replay,
  // backlog and cancel, which read (endpoint_id, status)). Not indexed, on purpose: admin
  // lists of deliveries by status alone and of events by type alone. They read the id index
  // newest first and skip what does not match (no sort, but a rare status or type reads far
  // back): (status, id) and (type, id) cost publish ~28% (bench/micro/list-indexes.ts).
  `
  DROP INDEX deliveries_by_endpoint;
  DROP INDEX deliveries_by_tenant;
  CREATE INDEX deliveries_by_endpoint_status ON deliveries(endpoint_id, status, id);
  CREATE INDEX deliveries_by_tenant_status ON deliveries(tenant_id, status, id);
  CREATE INDEX events_by_tenant ON events(tenant_id, id);
  CREATE INDEX events_by_tenant_type ON events(tenant_id, type, id);
  `,
  `
  -- The request headers an attempt sent, compact (see core/sent-headers.ts): user-agent,
  -- signature and custom header names, never their values. '' for attempts recorded before.
  ALTER TABLE attempts ADD COLUMN request_headers TEXT NOT NULL DEFAULT '';
  `,
  // The event-type catalog (tenant_id '' = instance-wide) and the tenant setting that makes
  // publish refuse types missing from it.
  `
  CREATE TABLE event_types (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    example TEXT NOT NULL DEFAULT '',
    json_schema TEXT NOT NULL DEFAULT '',
    archived INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
  ) WITHOUT ROWID;
  ALTER TABLE tenants ADD COLUMN strict_event_types INTEGER NOT NULL DEFAULT 0;
  `,
];

/** Applies the migrations the database has not seen yet, each in its own transaction. */
export function migrate(db: Database): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `data dir schema version ${current} is newer than this hookline (${MIGRATIONS.length}); upgrade hookline or use another --data-dir`,
    );
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
