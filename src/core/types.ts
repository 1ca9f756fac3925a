/** Domain records, independent of the wire format and of the store. Times are unix milliseconds. */

export interface Tenant {
  id: string;
  name: string;
  rateLimitPerSecond: number;
  metadata: Record<string, string>;
  /** Publish refuses types missing from the tenant's event-type catalog; absent = false. */
  strictEventTypes?: boolean;
  createdMs: number;
  updatedMs: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxAgeMs: number;
  retryClientErrors: boolean;
}

export type OrderingMode = "unordered" | "ordered_by_key";

export interface Endpoint {
  id: string;
  tenantId: string;
  url: string;
  eventTypes: string[];
  disabled: boolean;
  disabledReason: string;
  description: string;
  secret: string;
  /** The secret before the last rotation; signs too until previousSecretExpiresMs. */
  previousSecret: string;
  previousSecretExpiresMs: number;
  retryPolicy: RetryPolicy;
  rateLimitPerSecond: number;
  maxInFlight: number;
  timeoutMs: number;
  headers: Record<string, string>;
  ordering: OrderingMode;
  /** Status codes that count as success besides 2xx. */
  successStatusCodes: number[];
  createdMs: number;
  updatedMs: number;
}

export interface EventInput {
  tenantId: string;
  type: string;
  payload: Uint8Array;
  idempotencyKey: string;
  orderingKey: string;
  /** 0 to 9: higher goes first within an endpoint's queue. */
  priority: number;
}

export interface StoredEvent extends EventInput {
  id: string;
  createdMs: number;
}

/** Same numbers as hookline.v1.DeliveryStatus. */
export const DeliveryStatus = {
  Pending: 1,
  Succeeded: 2,
  Retrying: 3,
  Dead: 4,
  Cancelled: 5,
} as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

export interface Delivery {
  id: string;
  eventId: string;
  endpointId: string;
  tenantId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptMs: number;
  lastStatusCode: number;
  lastError: string;
  createdMs: number;
  updatedMs: number;
}

export interface Attempt {
  id: string;
  deliveryId: string;
  number: number;
  startedMs: number;
  durationMs: number;
  statusCode: number;
  error: string;
  responseBody: Uint8Array;
  /** The request headers sent, in the compact form of core/sent-headers.ts; absent or "" when not recorded. */
  requestHeaders?: string;
}

export interface PublishResult {
  eventId: string;
  duplicate: boolean;
  deliveryCount: number;
}
