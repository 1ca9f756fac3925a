import { createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from "node:crypto";
import { secretKey, signingAlgorithmOf, signingKeyPair } from "./secrets.ts";

/**
 * Standard Webhooks signature: base64 HMAC-SHA256 of "id.timestamp.body".
 * Each key gives one "v1,<sig>" entry; several keys (secret rotation) are space-separated.
 */
export function signatureHeader(keys: readonly Buffer[], id: string, timestampSeconds: number, body: Uint8Array): string {
  return signWith(
    keys.map((key) => ({ algorithm: "hmac", key })),
    id,
    timestampSeconds,
    body,
  );
}

/** A key ready to sign with: an HMAC key, or an ed25519 private key object. */
export type SigningKey = { algorithm: "hmac"; key: Buffer } | { algorithm: "ed25519"; key: KeyObject };

/** DER header of a PKCS#8 ed25519 private key; the 32-byte seed follows it. */
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

/** Parses a stored secret ("whsec_…" or "whsk_…") into a key; building a KeyObject is not free, so callers cache. */
export function signingKey(secret: string): SigningKey {
  if (signingAlgorithmOf(secret) === "hmac") return { algorithm: "hmac", key: secretKey(secret) };
  const { seed } = signingKeyPair(secret);
  return { algorithm: "ed25519", key: createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" }) };
}

/**
 * The webhook-signature header for these keys, in order: "v1,<HMAC>" for HMAC keys,
 * "v1a,<ed25519 signature>" for ed25519 keys, space-separated.
 */
export function signWith(keys: readonly SigningKey[], id: string, timestampSeconds: number, body: Uint8Array): string {
  const prefix = `${id}.${timestampSeconds}.`;
  let signed: Buffer | undefined;
  let header = "";
  for (const k of keys) {
    let entry: string;
    if (k.algorithm === "hmac") {
      entry = `v1,${createHmac("sha256", k.key).update(prefix).update(body).digest("base64")}`;
    } else {
      // ed25519 signs the whole message at once: build it once for every key.
      signed ??= Buffer.concat([Buffer.from(prefix), body]);
      entry = `v1a,${sign(null, signed, k.key).toString("base64")}`;
    }
    header += header === "" ? entry : ` ${entry}`;
  }
  return header;
}

/**
 * Signing keys by secret, for a sender that signs many requests per endpoint. Bounded: when
 * full it starts over (secrets of deleted or rotated endpoints would otherwise pile up).
 */
export class SigningKeyCache {
  private readonly keys = new Map<string, SigningKey>();

  constructor(private readonly capacity = 10_000) {}

  get(secret: string): SigningKey {
    let key = this.keys.get(secret);
    if (key === undefined) {
      if (this.keys.size >= this.capacity) this.keys.clear();
      key = signingKey(secret);
      this.keys.set(secret, key);
    }
    return key;
  }
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

interface SignedHeaders {
  id: string;
  timestamp: string;
  signature: string;
}

function checkTimestamp(headers: SignedHeaders, nowSeconds: number, toleranceSeconds: number): VerifyResult | number {
  if (!headers.id || !headers.timestamp || !headers.signature) return { ok: false, reason: "missing webhook-* headers" };
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts)) return { ok: false, reason: "webhook-timestamp is not a number" };
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return { ok: false, reason: "webhook-timestamp outside tolerance" };
  return ts;
}

/** Checks a Standard Webhooks request against a secret's key, within a timestamp tolerance. */
export function verifySignature(
  key: Buffer,
  headers: SignedHeaders,
  body: Uint8Array,
  nowSeconds: number,
  toleranceSeconds = 300,
): VerifyResult {
  const ts = checkTimestamp(headers, nowSeconds, toleranceSeconds);
  if (typeof ts !== "number") return ts;
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

/** Checks the "v1a" (ed25519) signatures of a Standard Webhooks request against a raw 32-byte public key. */
export function verifyAsymmetricSignature(
  publicKey: Buffer,
  headers: SignedHeaders,
  body: Uint8Array,
  nowSeconds: number,
  toleranceSeconds = 300,
): VerifyResult {
  const ts = checkTimestamp(headers, nowSeconds, toleranceSeconds);
  if (typeof ts !== "number") return ts;
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey.toString("base64url") }, format: "jwk" });
  const message = Buffer.concat([Buffer.from(`${headers.id}.${ts}.`), body]);
  for (const part of headers.signature.split(" ")) {
    const [version, sig] = part.split(",", 2);
    if (version !== "v1a" || sig === undefined) continue;
    if (verify(null, message, key, Buffer.from(sig, "base64"))) return { ok: true };
  }
  return { ok: false, reason: "no v1a signature matches the public key" };
}
