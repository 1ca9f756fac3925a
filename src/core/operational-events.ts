/**
 * Operational webhooks: events hookline itself publishes to a tenant about its endpoints and
 * deliveries. Their type names are reserved (producers cannot publish them), and an endpoint
 * receives them only when its filter names them exactly: a catch-all or "endpoint.*" filter
 * does not, so subscribing is always a deliberate choice.
 */

export const OperationalEventType = {
  EndpointDisabled: "endpoint.disabled",
  EndpointEnabled: "endpoint.enabled",
  EndpointBreakerOpened: "endpoint.breaker_opened",
  DeliveryDead: "delivery.dead",
} as const;
export type OperationalEventType = (typeof OperationalEventType)[keyof typeof OperationalEventType];

export const OPERATIONAL_EVENT_TYPES: readonly OperationalEventType[] = Object.values(OperationalEventType);

const RESERVED: ReadonlySet<string> = new Set(OPERATIONAL_EVENT_TYPES);

export function isOperationalEventType(type: string): type is OperationalEventType {
  return RESERVED.has(type);
}

/** Why an endpoint was disabled: it answered 410 Gone, it failed for too long, or someone disabled it over the API. */
export type DisableCause = "gone" | "failing" | "api";

export interface EndpointFacts {
  tenantId: string;
  endpointId: string;
  url: string;
}

/** The `data` of each operational event, as sent (snake_case JSON). */
export type OperationalData =
  | { type: "endpoint.disabled"; data: EndpointFacts & { reason: string; cause: DisableCause } }
  | { type: "endpoint.enabled"; data: EndpointFacts }
  | { type: "endpoint.breaker_opened"; data: EndpointFacts & { consecutiveFailures: number; probeAtMs: number } }
  | {
      type: "delivery.dead";
      data: {
        tenantId: string;
        deliveryId: string;
        eventId: string;
        eventType: string;
        endpointId: string;
        attempts: number;
        lastStatusCode: number;
        lastError: string;
      };
    };

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The payload of an operational event: {"type", "timestamp", "data"}; `suppressed` in data
 * counts the events of this type and tenant the rate limit left out since the last one sent.
 */
export function operationalPayload(event: OperationalData, nowMs: number, suppressed: number): Uint8Array {
  const data: Record<string, unknown> = { tenant_id: event.data.tenantId };
  switch (event.type) {
    case "endpoint.disabled":
      Object.assign(data, endpointFields(event.data), { reason: event.data.reason, cause: event.data.cause });
      break;
    case "endpoint.enabled":
      Object.assign(data, endpointFields(event.data));
      break;
    case "endpoint.breaker_opened":
      Object.assign(data, endpointFields(event.data), {
        consecutive_failures: event.data.consecutiveFailures,
        probe_at: iso(event.data.probeAtMs),
      });
      break;
    case "delivery.dead": {
      const d = event.data;
      Object.assign(data, {
        delivery_id: d.deliveryId,
        event_id: d.eventId,
        event_type: d.eventType,
        endpoint_id: d.endpointId,
        attempts: d.attempts,
        last_status_code: d.lastStatusCode,
        last_error: d.lastError,
      });
      break;
    }
  }
  if (suppressed > 0) data.suppressed = suppressed;
  return new TextEncoder().encode(JSON.stringify({ type: event.type, timestamp: iso(nowMs), data }));
}

function endpointFields(e: EndpointFacts): Record<string, unknown> {
  return { endpoint_id: e.endpointId, url: e.url };
}
