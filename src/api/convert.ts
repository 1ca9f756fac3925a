import { create } from "@bufbuild/protobuf";
import { DurationSchema, timestampFromMs, timestampMs, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ApiKeyRecord } from "../auth/api-key.ts";
import { invalidArgument } from "../core/errors.ts";
import { publicKeyOf, signingAlgorithmOf, type SigningAlgorithm as DomainSigning } from "../core/secrets.ts";
import { MASKED_HEADER_VALUE, sentHeaders } from "../core/sent-headers.ts";
import { ApiKeySchema, type ApiKey } from "../gen/hookline/v1/api_key_pb.ts";
import type * as domain from "../core/types.ts";
import {
  AttemptSchema,
  DeliverySchema,
  type Attempt,
  type Delivery,
  type DeliveryStatus,
} from "../gen/hookline/v1/delivery_pb.ts";
import {
  EndpointSchema,
  OrderingMode,
  RetryPolicySchema,
  SigningAlgorithm,
  type Endpoint,
} from "../gen/hookline/v1/endpoint_pb.ts";
import { EventSchema, type Event } from "../gen/hookline/v1/event_pb.ts";
import { TenantSchema, type Tenant } from "../gen/hookline/v1/tenant_pb.ts";

export function durationToMs(field: string, d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  const seconds = Number(d.seconds);
  if (seconds < 0 || d.nanos < 0 || d.nanos > 999_999_999) throw invalidArgument(field, "must be a positive duration");
  return seconds * 1000 + Math.floor(d.nanos / 1_000_000);
}

export function msToDuration(ms: number): Duration {
  return create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
}

export function timestampToMs(t: Timestamp | undefined): number | undefined {
  return t === undefined ? undefined : timestampMs(t);
}

/** A list's start_time/end_time as [startMs, endMs); either may be unbounded. */
export function creationWindow(req: { startTime?: Timestamp | undefined; endTime?: Timestamp | undefined }): {
  startMs: number | undefined;
  endMs: number | undefined;
} {
  const startMs = timestampToMs(req.startTime);
  const endMs = timestampToMs(req.endTime);
  if (startMs !== undefined && startMs < 0) throw invalidArgument("start_time", "must not be before 1970");
  if (endMs !== undefined && endMs < 0) throw invalidArgument("end_time", "must not be before 1970");
  if (startMs !== undefined && endMs !== undefined && endMs <= startMs) throw invalidArgument("end_time", "must be after start_time");
  return { startMs, endMs };
}

function optionalTimestamp(ms: number): Timestamp | undefined {
  return ms > 0 ? timestampFromMs(ms) : undefined;
}

export function tenantToProto(t: domain.Tenant): Tenant {
  return create(TenantSchema, {
    id: t.id,
    name: t.name,
    rateLimitPerSecond: t.rateLimitPerSecond,
    metadata: t.metadata,
    strictEventTypes: t.strictEventTypes === true,
    createTime: timestampFromMs(t.createdMs),
    updateTime: timestampFromMs(t.updatedMs),
  });
}

export function orderingToProto(mode: domain.OrderingMode): OrderingMode {
  return mode === "ordered_by_key" ? OrderingMode.ORDERED_BY_KEY : OrderingMode.UNORDERED;
}

export function orderingFromProto(field: string, mode: OrderingMode): domain.OrderingMode {
  switch (mode) {
    case OrderingMode.UNSPECIFIED:
    case OrderingMode.UNORDERED:
      return "unordered";
    case OrderingMode.ORDERED_BY_KEY:
      return "ordered_by_key";
    default:
      throw invalidArgument(field, `unknown ordering mode ${String(mode)}`);
  }
}

/** What reads show instead of a custom header's value: headers often carry receivers' credentials. */
export { MASKED_HEADER_VALUE };

function maskHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) out[name] = MASKED_HEADER_VALUE;
  return out;
}

/** A signing algorithm from the wire; undefined when unspecified (the caller picks the default). */
export function signingFromProto(field: string, algorithm: SigningAlgorithm): DomainSigning | undefined {
  switch (algorithm) {
    case SigningAlgorithm.UNSPECIFIED:
      return undefined;
    case SigningAlgorithm.HMAC_SHA256:
      return "hmac";
    case SigningAlgorithm.ED25519:
      return "ed25519";
    default:
      throw invalidArgument(field, `unknown signing algorithm ${String(algorithm)}`);
  }
}

/**
 * The endpoint as clients see it. Only create and rotate (withSecret) show an HMAC secret and
 * the custom header values; every other read masks them. An ed25519 secret key is never
 * returned: its public key is, on every read.
 */
export function endpointToProto(e: domain.Endpoint, withSecret: boolean): Endpoint {
  return create(EndpointSchema, {
    id: e.id,
    tenantId: e.tenantId,
    url: e.url,
    eventTypes: e.eventTypes,
    disabled: e.disabled,
    disabledReason: e.disabledReason,
    secret: withSecret && signingAlgorithmOf(e.secret) === "hmac" ? e.secret : "",
    description: e.description,
    retryPolicy: create(RetryPolicySchema, {
      maxAttempts: e.retryPolicy.maxAttempts,
      initialBackoff: msToDuration(e.retryPolicy.initialBackoffMs),
      maxBackoff: msToDuration(e.retryPolicy.maxBackoffMs),
      maxAge: msToDuration(e.retryPolicy.maxAgeMs),
      retryClientErrors: e.retryPolicy.retryClientErrors,
    }),
    rateLimitPerSecond: e.rateLimitPerSecond,
    maxInFlight: e.maxInFlight,
    timeout: msToDuration(e.timeoutMs),
    headers: withSecret ? e.headers : maskHeaders(e.headers),
    ordering: orderingToProto(e.ordering),
    successStatusCodes: e.successStatusCodes,
    signing: signingAlgorithmOf(e.secret) === "ed25519" ? SigningAlgorithm.ED25519 : SigningAlgorithm.HMAC_SHA256,
    publicKey: publicKeyOf(e.secret),
    createTime: timestampFromMs(e.createdMs),
    updateTime: timestampFromMs(e.updatedMs),
  });
}

export function eventToProto(e: domain.StoredEvent): Event {
  return create(EventSchema, {
    id: e.id,
    tenantId: e.tenantId,
    type: e.type,
    payload: e.payload,
    idempotencyKey: e.idempotencyKey,
    orderingKey: e.orderingKey,
    priority: e.priority,
    createTime: timestampFromMs(e.createdMs),
  });
}

const OPEN_STATUSES: ReadonlySet<number> = new Set([1, 3]);

export function deliveryToProto(d: domain.Delivery): Delivery {
  return create(DeliverySchema, {
    id: d.id,
    eventId: d.eventId,
    endpointId: d.endpointId,
    tenantId: d.tenantId,
    eventType: d.eventType,
    status: d.status as number as DeliveryStatus,
    attempts: d.attempts,
    nextAttemptTime: OPEN_STATUSES.has(d.status) ? optionalTimestamp(d.nextAttemptMs) : undefined,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createTime: timestampFromMs(d.createdMs),
    updateTime: timestampFromMs(d.updatedMs),
  });
}

export function apiKeyToProto(k: ApiKeyRecord): ApiKey {
  return create(ApiKeySchema, {
    id: k.id,
    tenantId: k.tenantId,
    name: k.name,
    prefix: k.prefix,
    createTime: timestampFromMs(k.createdMs),
    revokeTime: optionalTimestamp(k.revokedMs),
  });
}

export function attemptToProto(a: domain.Attempt): Attempt {
  return create(AttemptSchema, {
    id: a.id,
    deliveryId: a.deliveryId,
    number: a.number,
    startTime: timestampFromMs(a.startedMs),
    duration: msToDuration(a.durationMs),
    statusCode: a.statusCode,
    error: a.error,
    responseBody: a.responseBody,
    requestHeaders: sentHeaders(a.requestHeaders, a.deliveryId, a.startedMs),
  });
}
