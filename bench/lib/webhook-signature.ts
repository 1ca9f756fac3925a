import { createHmac, randomBytes } from "node:crypto";

/**
 * The bench's own Standard Webhooks code, written apart from src/core/signing.ts on purpose:
 * a bug there must not be hidden by the same bug in the checker.
 */

const PREFIX = "whsec_";
const TOLERANCE_SECONDS = 300;

export function keyOf(secret: string): Buffer {
  return Buffer.from(secret.slice(PREFIX.length), "base64");
}

/** A fresh secret the bench gives an endpoint: "whsec_" + base64 of 32 random bytes. */
export function newSecret(): string {
  return PREFIX + randomBytes(32).toString("base64");
}

/** One "v1,<base64>" signature. */
export function sign(key: Buffer, id: string, timestampSeconds: number, body: Uint8Array): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.`).update(body).digest("base64")}`;
}

/** The headers of one signed JSON webhook POST, as the blast and the peer send them. */
export function signedHeaders(userAgent: string, key: Buffer, id: string, timestampSeconds: number, body: Uint8Array): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": userAgent,
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": sign(key, id, timestampSeconds, body),
  };
}

export interface WebhookHeaders {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
}

/** Why a request fails the Standard Webhooks check, or undefined when it passes. */
export function verifyProblem(key: Buffer, h: WebhookHeaders, body: Uint8Array, nowSeconds: number): string | undefined {
  if (!h.id || !h.timestamp || !h.signature) return "missing webhook-* header";
  const ts = Number(h.timestamp);
  if (!Number.isInteger(ts)) return "webhook-timestamp is not an integer";
  if (Math.abs(nowSeconds - ts) > TOLERANCE_SECONDS) return "webhook-timestamp outside tolerance";
  const expected = sign(key, h.id, ts, body);
  for (const part of h.signature.split(" ")) if (part === expected) return undefined;
  return "no signature matches the secret";
}
