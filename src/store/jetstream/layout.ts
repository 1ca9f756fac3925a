/** Names of hookline's streams, subjects, buckets and consumers on JetStream: the on-server layout. */

export const EVENTS_STREAM = "HOOKLINE_EVENTS";
export const DELIVERIES_STREAM = "HOOKLINE_DELIVERIES";
export const ATTEMPTS_STREAM = "HOOKLINE_ATTEMPTS";
/** Tenants, endpoints and failing streaks, watched by every process. */
export const CONFIG_BUCKET = "hookline_config";
/** API keys (hashes and descriptions, never the keys), read on authentication. */
export const API_KEY_BUCKET = "hookline_api_keys";
/** The event-type catalog, keyed eventTypeKey(tenant, name); watched by every process. */
export const EVENT_TYPE_BUCKET = "hookline_event_types";
/** Current state of every delivery, keyed tenant.endpoint.delivery so lists can filter by subject. */
export const STATE_BUCKET = "hookline_deliveries";
export const STATE_STREAM = `KV_${STATE_BUCKET}`;
/** Core (not persisted) subject on which publishers tell every process which endpoints have new work. */
export const WAKE_SUBJECT = "hookline.wake";

/**
 * Keyed deliveries of an ordered endpoint are spread over this many lanes, each a consumer
 * with one message in flight: one key never overtakes itself, and a failing key holds up
 * only its own lane.
 */
export const ORDERED_LANES = 16;
export const UNORDERED_LANE = "u";
/** Unkeyed deliveries of priority 1 to 9 each get a lane "p<priority>" of their own; 0 uses "u". */
const PRIORITY_LANE_PREFIX = "p";

export function eventSubject(eventId: string): string {
  return `hookline.evt.${eventId}`;
}

export function deliverySubject(endpointId: string, lane: string): string {
  return `hookline.dlv.${endpointId}.${lane}`;
}

export function attemptSubject(deliveryId: string): string {
  return `hookline.att.${deliveryId}`;
}

export function stateKey(tenantId: string, endpointId: string, deliveryId: string): string {
  return `${tenantId}.${endpointId}.${deliveryId}`;
}

export function stateSubject(key: string): string {
  return `$KV.${STATE_BUCKET}.${key}`;
}

export function consumerName(endpointId: string, lane: string): string {
  return `${endpointId}_${lane}`;
}

/** The endpoint a consumer serves, and whether it is one of an ordered endpoint's keyed lanes. */
export function parseConsumerName(name: string): { endpointId: string; keyed: boolean; lane: string } {
  const cut = name.lastIndexOf("_");
  const lane = name.slice(cut + 1);
  return { endpointId: name.slice(0, cut), keyed: lane.startsWith("k"), lane };
}

/** The lane of unkeyed deliveries of this priority. */
export function priorityLane(priority: number): string {
  return priority > 0 ? `${PRIORITY_LANE_PREFIX}${priority}` : UNORDERED_LANE;
}

/** The priority a lane serves: N for "pN", 0 for the others. */
export function lanePriority(lane: string): number {
  return lane.startsWith(PRIORITY_LANE_PREFIX) ? Number(lane.slice(PRIORITY_LANE_PREFIX.length)) : 0;
}

/**
 * The lane of a delivery: keyed deliveries of ordered endpoints hash to a lane (per-key order
 * wins over priority); the rest go to their priority's lane.
 */
export function laneOf(ordered: boolean, orderingKey: string, priority = 0): string {
  if (!ordered || orderingKey === "") return priorityLane(priority);
  // FNV-1a: cheap and stable across processes and versions.
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderingKey.length; i++) {
    hash ^= orderingKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `k${hash % ORDERED_LANES}`;
}

export function lanes(ordered: boolean): string[] {
  const all = [UNORDERED_LANE];
  if (ordered) for (let i = 0; i < ORDERED_LANES; i++) all.push(`k${i}`);
  return all;
}

export const configKey = {
  tenant: (id: string) => `tenant.${id}`,
  endpoint: (id: string) => `endpoint.${id}`,
  failing: (endpointId: string) => `failing.${endpointId}`,
  /** Marks a priority lane in use: every process then pulls it. */
  lane: (endpointId: string, lane: string) => `lane.${endpointId}.${lane}`,
};

/** Scope token of instance-wide event types (tenant ids always start "tnt_"). */
const INSTANCE_SCOPE = "instance";

/** An event type's key: "<tenant id or instance>.<name>" (names are dot-separated KV-safe words). */
export function eventTypeKey(tenantId: string, name: string): string {
  return `${tenantId === "" ? INSTANCE_SCOPE : tenantId}.${name}`;
}

export function parseEventTypeKey(key: string): { tenantId: string; name: string } {
  const dot = key.indexOf(".");
  const scope = key.slice(0, dot);
  return { tenantId: scope === INSTANCE_SCOPE ? "" : scope, name: key.slice(dot + 1) };
}
