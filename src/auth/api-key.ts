import { createHash, randomBytes } from "node:crypto";

/** A stored API key: everything but the key itself, of which only a hash is kept. */
export interface ApiKeyRecord {
  id: string;
  /** The tenant the key acts for; empty for an admin key. */
  tenantId: string;
  name: string;
  /** The key's first characters, shown in lists so people can tell keys apart. */
  prefix: string;
  /** SHA-256 of the key, hex. */
  hash: string;
  createdMs: number;
  /** 0 while the key works. */
  revokedMs: number;
}

const KEY_MARK = "hk_";
const PREFIX_LENGTH = 11;

/** A new key: "hk_" and 256 random bits in base64url. */
export function generateApiKey(): string {
  return KEY_MARK + randomBytes(32).toString("base64url");
}

/**
 * Keys carry 256 random bits, so a plain SHA-256 cannot be brute-forced and a lookup by hash
 * costs microseconds on every call; a slow password hash would only make sense for guessable keys.
 */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function apiKeyPrefix(key: string): string {
  return key.slice(0, PREFIX_LENGTH);
}
