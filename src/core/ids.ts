import { randomBytes } from "node:crypto";

// Crockford base32: sortable as plain strings, no ambiguous letters.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "tnt" | "ep" | "evt" | "dlv" | "att" | "key";

let lastMs = -1;
let lastTime = "";
const lastRandom = new Uint8Array(10);

/** The 10-character time part of a ULID: 48-bit milliseconds, most significant first. */
function encodeTime(ms: number): string {
  let out = "";
  for (let i = 9; i >= 0; i--) out += ALPHABET[Math.floor(ms / 32 ** i) % 32];
  return out;
}

/** Monotonic ULID: 48-bit millisecond time + 80 bits random, incremented within one millisecond. */
function ulid(nowMs: number): string {
  if (nowMs <= lastMs) {
    incrementRandom();
  } else {
    lastMs = nowMs;
    lastTime = encodeTime(nowMs);
    lastRandom.set(randomBytes(10));
  }
  // 80 random bits = 16 base32 characters: two 40-bit halves, 8 characters each.
  let out = lastTime;
  for (let half = 0; half < 10; half += 5) {
    let value = 0;
    for (let i = half; i < half + 5; i++) value = value * 256 + (lastRandom[i] as number);
    for (let i = 7; i >= 0; i--) out += ALPHABET[Math.floor(value / 32 ** i) % 32];
  }
  return out;
}

function incrementRandom(): void {
  for (let i = lastRandom.length - 1; i >= 0; i--) {
    const next = (lastRandom[i] as number) + 1;
    lastRandom[i] = next & 0xff;
    if (next <= 0xff) return;
  }
}

/** A new id such as "evt_01JD5Z…": prefix says the kind, the rest sorts by creation time. */
export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${ulid(nowMs)}`;
}

/** Largest time a ULID can hold (48-bit milliseconds). */
const MAX_ID_MS = 2 ** 48 - 1;

/**
 * The id bound of a moment: every id of this kind made at `ms` or later sorts at or above
 * it, every one made before sorts below. Turns creation-time ranges into id ranges.
 */
export function idAtTime(prefix: IdPrefix, ms: number): string {
  return `${prefix}_${encodeTime(Math.min(Math.max(0, Math.floor(ms)), MAX_ID_MS))}`;
}

export function hasPrefix(id: string, prefix: IdPrefix): boolean {
  return id.startsWith(`${prefix}_`) && id.length === prefix.length + 27;
}

const ORDINAL_CHARS = 3;
/** Endpoints one event can fan out to: the ordinal suffix of a delivery id has 3 base32 characters. */
export const MAX_FAN_OUT = 32 ** ORDINAL_CHARS;

/**
 * The id of an event's n-th delivery: "dlv_" + the event's ULID + a 3-character ordinal.
 * Deliveries sort like their events and an event's deliveries are one contiguous id range,
 * so finding them needs no index of its own.
 */
export function deliveryId(eventId: string, ordinal: number): string {
  let suffix = "";
  for (let i = ORDINAL_CHARS - 1; i >= 0; i--) suffix += ALPHABET[Math.floor(ordinal / 32 ** i) % 32];
  return `dlv_${eventId.slice(4)}${suffix}`;
}

/** The event and fan-out ordinal a delivery id was made from (the inverse of deliveryId). */
export function parseDeliveryId(id: string): { eventId: string; ordinal: number } {
  const ulidEnd = id.length - ORDINAL_CHARS;
  let ordinal = 0;
  for (const c of id.slice(ulidEnd)) ordinal = ordinal * 32 + ALPHABET.indexOf(c);
  return { eventId: `evt_${id.slice(4, ulidEnd)}`, ordinal };
}

/** [first, last] delivery ids an event can have. */
export function deliveryIdRange(eventId: string): [string, string] {
  return [deliveryId(eventId, 0), deliveryId(eventId, MAX_FAN_OUT - 1)];
}
