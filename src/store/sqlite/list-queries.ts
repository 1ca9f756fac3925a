import { deliveryIdRange, idAtTime } from "../../core/ids.ts";
import { DeliveryStatus } from "../../core/types.ts";
import type { EventFilter } from "../history-store.ts";
import type { DeliveryFilter } from "../store.ts";

/** A statement's SQL and its positional parameters. */
export interface Query {
  sql: string;
  params: (string | number)[];
}

export const DELIVERY_COLUMNS =
  "id, event_id, endpoint_id, tenant_id, event_type, status, attempts, next_attempt_ms, last_status_code, last_error, created_ms, updated_ms";
export const EVENT_COLUMNS = "id, tenant_id, type, payload, idempotency_key, ordering_key, priority, created_ms";

const ALL_STATUSES = Object.values(DeliveryStatus);

/** Id bounds of a list: the creation window and the page token (ids sort by creation time). */
function idBounds(prefix: "evt" | "dlv", startMs: number | undefined, endMs: number | undefined, afterId: string | undefined): Query {
  const where: string[] = [];
  const params: string[] = [];
  if (startMs !== undefined) {
    where.push("id >= ?");
    params.push(idAtTime(prefix, startMs));
  }
  if (endMs !== undefined) {
    where.push("id < ?");
    params.push(idAtTime(prefix, endMs));
  }
  if (afterId !== undefined) {
    where.push("id < ?");
    params.push(afterId);
  }
  return { sql: where.join(" AND "), params };
}

const and = (...terms: string[]) => terms.filter((t) => t !== "").join(" AND ");

/**
 * One page of ListDeliveries, newest first, read from one index range per status so that a
 * page costs O(page) (see the indexes in migrations.ts):
 * - by event: its id range (one event's deliveries are contiguous ids);
 * - by endpoint or tenant: (endpoint_id|tenant_id, status, id), one range per status,
 *   merged by id; SQLite merges UNION ALL arms that each come in id order without sorting;
 * - no tenant or endpoint (admin): the id index, skipping other statuses; not indexed on
 *   purpose (see migrations.ts), so a rare status reads back until it fills the page.
 * A unary + keeps a redundant term (the tenant of an endpoint) from choosing the index.
 */
export function deliveriesQuery(filter: DeliveryFilter, afterId: string | undefined, limit: number): Query {
  const bounds = idBounds("dlv", filter.startMs, filter.endMs, afterId);
  const statuses = [...new Set(filter.statuses)];
  if (filter.eventId !== "") {
    const [first, last] = deliveryIdRange(filter.eventId);
    const where = and(
      "id BETWEEN ? AND ?",
      bounds.sql,
      filter.tenantId !== "" ? "+tenant_id = ?" : "",
      filter.endpointId !== "" ? "+endpoint_id = ?" : "",
      statuses.length > 0 ? `+status IN (${statuses.map(() => "?").join(", ")})` : "",
    );
    const params = [first, last, ...bounds.params];
    if (filter.tenantId !== "") params.push(filter.tenantId);
    if (filter.endpointId !== "") params.push(filter.endpointId);
    params.push(...statuses);
    return { sql: `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${where} ORDER BY id DESC LIMIT ?`, params: [...params, limit] };
  }
  let lead = "";
  const leadParams: string[] = [];
  if (filter.endpointId !== "") {
    lead = filter.tenantId !== "" ? "endpoint_id = ? AND +tenant_id = ?" : "endpoint_id = ?";
    leadParams.push(filter.endpointId);
    if (filter.tenantId !== "") leadParams.push(filter.tenantId);
  } else if (filter.tenantId !== "") {
    lead = "tenant_id = ?";
    leadParams.push(filter.tenantId);
  }
  if (lead === "") {
    const where = and(bounds.sql, statuses.length > 0 ? `status IN (${statuses.map(() => "?").join(", ")})` : "");
    return {
      sql: `SELECT ${DELIVERY_COLUMNS} FROM deliveries ${where === "" ? "" : `WHERE ${where}`} ORDER BY id DESC LIMIT ?`,
      params: [...bounds.params, ...statuses, limit],
    };
  }
  const arms: string[] = [];
  const params: (string | number)[] = [];
  for (const status of statuses.length > 0 ? statuses : ALL_STATUSES) {
    arms.push(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${and(lead, "status = ?", bounds.sql)}`);
    params.push(...leadParams, status, ...bounds.params);
  }
  return { sql: `${arms.join(" UNION ALL ")} ORDER BY id DESC LIMIT ?`, params: [...params, limit] };
}

/**
 * One page of ListEvents, newest first: (tenant_id, type, id), (tenant_id, id) or the id
 * index, read as one range. By type alone (admin) the id index skips other types.
 */
export function eventsQuery(filter: EventFilter, afterId: string | undefined, limit: number): Query {
  const bounds = idBounds("evt", filter.startMs, filter.endMs, afterId);
  const params: (string | number)[] = [];
  const terms: string[] = [];
  if (filter.tenantId !== "") {
    terms.push("tenant_id = ?");
    params.push(filter.tenantId);
  }
  if (filter.type !== "") {
    terms.push("type = ?");
    params.push(filter.type);
  }
  const where = and(...terms, bounds.sql);
  // With both id bounds SQLite would rather take (tenant_id, id) and skip other types.
  const index = filter.tenantId !== "" && filter.type !== "" ? " INDEXED BY events_by_tenant_type" : "";
  return {
    sql: `SELECT ${EVENT_COLUMNS} FROM events${index} ${where === "" ? "" : `WHERE ${where}`} ORDER BY id DESC LIMIT ?`,
    params: [...params, ...bounds.params, limit],
  };
}
