import type { Attempt, Delivery, Endpoint } from "../../core/types.ts";

/** What a stored event message carries besides its payload. */
export interface EventMeta {
  id: string;
  tenantId: string;
  type: string;
  idempotencyKey: string;
  orderingKey: string;
  /** Absent on events stored before priorities existed. */
  priority?: number;
  createdMs: number;
  /** Endpoints it fanned out to, in delivery-ordinal order. */
  endpoints: string[];
}

/** What a queued delivery message carries besides the event payload. */
export interface DeliveryMeta {
  deliveryId: string;
  eventId: string;
  tenantId: string;
  endpointId: string;
  type: string;
  orderingKey: string;
  createdMs: number;
  /** Attempts made before this message was queued (0, or the count at a replay). */
  priorAttempts: number;
  cycleStartMs: number;
  /** The event's priority; absent (0) on messages queued before priorities existed. */
  priority?: number;
}

const decoder = new TextDecoder();

/**
 * Message body = 4-byte big-endian length, JSON metadata, raw payload. Metadata stays out of
 * NATS headers so that any ordering key or event type survives unchanged.
 */
export function frame(meta: object, payload: Uint8Array): Uint8Array {
  const head = JSON.stringify(meta);
  const headLength = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(4 + headLength + payload.length);
  out.writeUInt32BE(headLength, 0);
  out.write(head, 4);
  out.set(payload, 4 + headLength);
  return out;
}

export function unframe<T>(body: Uint8Array): { meta: T; payload: Uint8Array } {
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  return {
    meta: JSON.parse(decoder.decode(body.subarray(4, 4 + length))) as T,
    payload: body.subarray(4 + length),
  };
}

// Buffer rather than TextEncoder: half the cost per state (0.7 against 1.5 µs for 700 bytes on Node 20).
export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

export function decodeJson<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

/** Fields added after the first release, with the value an endpoint stored before them has. */
const ENDPOINT_DEFAULTS: Pick<Endpoint, "successStatusCodes"> = { successStatusCodes: [] };

/** An endpoint from the config bucket; entries written by an older hookline get the defaults. */
export function decodeEndpoint(data: Uint8Array): Endpoint {
  return { ...ENDPOINT_DEFAULTS, ...decodeJson<Endpoint>(data) };
}

type AttemptJson = Omit<Attempt, "responseBody"> & { responseBody: string };

const attemptToJson = (attempt: Attempt): AttemptJson => ({ ...attempt, responseBody: Buffer.from(attempt.responseBody).toString("base64") });
// Attempts stored before request headers were recorded have none ("").
const attemptFromJson = (raw: AttemptJson): Attempt => ({
  ...raw,
  responseBody: new Uint8Array(Buffer.from(raw.responseBody, "base64")),
  requestHeaders: raw.requestHeaders ?? "",
});

export function encodeAttempt(attempt: Attempt): Uint8Array {
  return encodeJson(attemptToJson(attempt));
}

export function decodeAttempt(data: Uint8Array): Attempt {
  return attemptFromJson(decodeJson<AttemptJson>(data));
}

/**
 * A delivery's state as stored. Its newest attempt rides along in the same message, which
 * saves a write per delivery; the attempts stream gets an attempt only once a newer one
 * replaces it (or the delivery is queued again).
 */
export interface StoredDelivery {
  delivery: Delivery;
  lastAttempt: Attempt | undefined;
  /**
   * The current retry cycle, when RetryDelivery started one after the queue message was
   * written (the message's own cycle is older then).
   */
  cycle?: RetryCycle | undefined;
  /** A RETRYING delivery's ack subject while its message waits out the backoff (nak with delay). */
  parkedAs?: string | undefined;
}

export interface RetryCycle {
  startMs: number;
  /** Attempts made before the cycle started. */
  priorAttempts: number;
}

type DeliveryJson = Delivery & { lastAttempt?: AttemptJson; cycle?: RetryCycle; parkedAs?: string };

export function encodeDelivery({ delivery, lastAttempt, cycle, parkedAs }: StoredDelivery): Uint8Array {
  const json: DeliveryJson = { ...delivery };
  if (lastAttempt) json.lastAttempt = attemptToJson(lastAttempt);
  if (cycle) json.cycle = cycle;
  if (parkedAs) json.parkedAs = parkedAs;
  return encodeJson(json);
}

export function decodeDelivery(data: Uint8Array): StoredDelivery {
  const { lastAttempt, cycle, parkedAs, ...delivery } = decodeJson<DeliveryJson>(data);
  return { delivery, lastAttempt: lastAttempt && attemptFromJson(lastAttempt), cycle, parkedAs };
}
