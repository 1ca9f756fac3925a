import { randomBytes } from "node:crypto";
import { invalidArgument } from "./errors.ts";

const PREFIX = "whsec_";
const GENERATED_BYTES = 32;

/** A new signing secret: "whsec_" + base64 of 32 random bytes. */
export function generateSecret(): string {
  return PREFIX + randomBytes(GENERATED_BYTES).toString("base64");
}

/** The HMAC key inside a secret. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.slice(PREFIX.length), "base64");
}

export function checkSecret(field: string, secret: string): string {
  if (!secret.startsWith(PREFIX)) throw invalidArgument(field, `must start with "${PREFIX}"`);
  const body = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0)
    throw invalidArgument(field, `must be "${PREFIX}" followed by standard base64`);
  const size = Buffer.from(body, "base64").length;
  if (size < 24 || size > 64) throw invalidArgument(field, `must hold 24 to 64 bytes of key (got ${size})`);
  return secret;
}
