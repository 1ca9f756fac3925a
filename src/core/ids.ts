import { randomBytes } from "node:crypto";

// Crockford base32: sortable as plain strings, no ambiguous letters.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "tnt" | "ep" | "evt" | "dlv" | "att";

let lastMs = -1;
const lastRandom = new Uint8Array(10);

/** Monotonic ULID: 48-bit millisecond time + 80 bits random, incremented within one millisecond. */
function ulid(nowMs: number): string {
  if (nowMs <= lastMs) {
    incrementRandom();
  } else {
    lastMs = nowMs;
    lastRandom.set(randomBytes(10));
  }
  let out = "";
  let time = lastMs;
  const timeChars: string[] = [];
  for (let i = 0; i < 10; i++) {
    timeChars.push(ALPHABET[time % 32] as string);
    time = Math.floor(time / 32);
  }
  out = timeChars.reverse().join("");
  // 80 random bits = 16 base32 characters, read 5 bits at a time.
  let bits = 0;
  let value = 0;
  for (const byte of lastRandom) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(value >> bits) & 31];
    }
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

export function hasPrefix(id: string, prefix: IdPrefix): boolean {
  return id.startsWith(`${prefix}_`) && id.length === prefix.length + 27;
}
