import { generateKeyPairSync, randomBytes } from "node:crypto";
import { invalidArgument } from "./errors.ts";

const PREFIX = "whsec_";
/** Standard Webhooks asymmetric key prefixes: the secret key stays here, the public key is shared. */
const SECRET_KEY_PREFIX = "whsk_";
const PUBLIC_KEY_PREFIX = "whpk_";
const GENERATED_BYTES = 32;
const ED25519_KEY_BYTES = 32;

export type SigningAlgorithm = "hmac" | "ed25519";

/** A new signing secret: "whsec_" + base64 of 32 random bytes. */
export function generateSecret(): string {
  return PREFIX + randomBytes(GENERATED_BYTES).toString("base64");
}

/**
 * A new ed25519 key pair as one secret: "whsk_" + base64 of the 32-byte seed followed by the
 * 32-byte public key (the libsodium layout), so the public key is read without any crypto.
 */
export function generateSigningKeyPair(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d as string, "base64url");
  const publicKey = Buffer.from(jwk.x as string, "base64url");
  return SECRET_KEY_PREFIX + Buffer.concat([seed, publicKey]).toString("base64");
}

/** Which algorithm a stored secret signs with. */
export function signingAlgorithmOf(secret: string): SigningAlgorithm {
  return secret.startsWith(SECRET_KEY_PREFIX) ? "ed25519" : "hmac";
}

/** The HMAC key inside a secret. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.slice(PREFIX.length), "base64");
}

/** The 32-byte seed and public key inside a "whsk_" secret. */
export function signingKeyPair(secret: string): { seed: Buffer; publicKey: Buffer } {
  const raw = Buffer.from(secret.slice(SECRET_KEY_PREFIX.length), "base64");
  return { seed: raw.subarray(0, ED25519_KEY_BYTES), publicKey: raw.subarray(ED25519_KEY_BYTES, 2 * ED25519_KEY_BYTES) };
}

/** "whpk_" + base64 of the raw public key for an ed25519 secret; "" for an HMAC secret. */
export function publicKeyOf(secret: string): string {
  if (signingAlgorithmOf(secret) !== "ed25519") return "";
  return PUBLIC_KEY_PREFIX + signingKeyPair(secret).publicKey.toString("base64");
}

/** The raw 32-byte key inside a "whpk_" public key. */
export function publicKeyBytes(field: string, publicKey: string): Buffer {
  if (!publicKey.startsWith(PUBLIC_KEY_PREFIX)) throw invalidArgument(field, `must start with "${PUBLIC_KEY_PREFIX}"`);
  const raw = Buffer.from(publicKey.slice(PUBLIC_KEY_PREFIX.length), "base64");
  if (raw.length !== ED25519_KEY_BYTES) throw invalidArgument(field, `must hold a ${ED25519_KEY_BYTES}-byte ed25519 key (got ${raw.length})`);
  return raw;
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
