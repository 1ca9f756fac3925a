import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Standard Webhooks signature: base64 HMAC-SHA256 of "id.timestamp.body".
 * Each key gives one "v1,<sig>" entry; several keys (secret rotation) are space-separated.
 */
export function signatureHeader(keys: readonly Buffer[], id: string, timestampSeconds: number, body: Uint8Array): string {
  const prefix = `${id}.${timestampSeconds}.`;
  let header = "";
  for (const key of keys) {
    const mac = createHmac("sha256", key).update(prefix).update(body).digest("base64");
    header += header === "" ? `v1,${mac}` : ` v1,${mac}`;
  }
  return header;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Checks a Standard Webhooks request against a secret's key, within a timestamp tolerance. */
export function verifySignature(
  key: Buffer,
  headers: { id: string; timestamp: string; signature: string },
  body: Uint8Array,
  nowSeconds: number,
  toleranceSeconds = 300,
): VerifyResult {
  if (!headers.id || !headers.timestamp || !headers.signature) return { ok: false, reason: "missing webhook-* headers" };
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts)) return { ok: false, reason: "webhook-timestamp is not a number" };
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return { ok: false, reason: "webhook-timestamp outside tolerance" };
  const expected = signatureHeader([key], headers.id, ts, body).slice(3);
  const expectedBytes = Buffer.from(expected);
  for (const part of headers.signature.split(" ")) {
    const [version, sig] = part.split(",", 2);
    if (version !== "v1" || sig === undefined) continue;
    const given = Buffer.from(sig);
    if (given.length === expectedBytes.length && timingSafeEqual(given, expectedBytes)) return { ok: true };
  }
  return { ok: false, reason: "no signature matches the secret" };
}
