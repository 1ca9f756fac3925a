import { describe, expect, it } from "vitest";
import { createHmac, createPublicKey, verify } from "node:crypto";
import { Webhook } from "standardwebhooks";
import {
  checkSecret,
  generateSecret,
  generateSigningKeyPair,
  publicKeyBytes,
  publicKeyOf,
  secretKey,
  signingAlgorithmOf,
} from "../../src/core/secrets.ts";
import {
  SigningKeyCache,
  signWith,
  signatureHeader,
  signingKey,
  verifyAsymmetricSignature,
  verifySignature,
} from "../../src/core/signing.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("signatureHeader", () => {
  it("matches the Standard Webhooks reference vector", () => {
    // Example from the Standard Webhooks specification / reference libraries.
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const header = signatureHeader([secretKey(secret)], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, enc('{"test": 2432232314}'));
    expect(header).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("matches an HMAC computed independently with node:crypto", () => {
    const key = Buffer.from("0123456789abcdef0123456789abcdef");
    const id = "dlv_01HZZZZZZZZZZZZZZZZZZZZZZZ";
    const ts = 1_700_000_000;
    const body = '{"invoice":42,"emoji":"\u00e9\u2713"}';
    const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`, "utf8").digest("base64");
    expect(signatureHeader([key], id, ts, enc(body))).toBe(`v1,${expected}`);
  });

  it("two keys give two space-separated v1 entries, in key order", () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    const body = enc("{}");
    const header = signatureHeader([a, b], "id", 1, body);
    const parts = header.split(" ");
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(signatureHeader([a], "id", 1, body));
    expect(parts[1]).toBe(signatureHeader([b], "id", 1, body));
    for (const p of parts) expect(p).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it("the official standardwebhooks verifier accepts it, with either key during rotation", () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const id = "dlv_x";
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"ok":true}';
    const signature = signatureHeader([secretKey(oldSecret), secretKey(newSecret)], id, ts, enc(body));
    const headers = { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": signature };
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual({ ok: true });
    expect(new Webhook(newSecret).verify(body, headers)).toEqual({ ok: true });
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });
});

describe("verifySignature", () => {
  const key = Buffer.alloc(32, 9);
  const other = Buffer.alloc(32, 8);
  const body = enc('{"a":1}');
  const now = 1_700_000_000;
  const headers = (signature: string, ts = now, id = "msg_1") => ({ id, timestamp: String(ts), signature });

  it("accepts a matching signature, also among several", () => {
    expect(verifySignature(key, headers(signatureHeader([key], "msg_1", now, body)), body, now)).toEqual({ ok: true });
    expect(verifySignature(key, headers(signatureHeader([other, key], "msg_1", now, body)), body, now)).toEqual({ ok: true });
  });

  it("rejects another key, a changed body, id or timestamp", () => {
    const good = signatureHeader([key], "msg_1", now, body);
    expect(verifySignature(other, headers(good), body, now).ok).toBe(false);
    expect(verifySignature(key, headers(good), enc('{"a":2}'), now).ok).toBe(false);
    expect(verifySignature(key, headers(good, now, "msg_2"), body, now).ok).toBe(false);
    expect(verifySignature(key, headers(good, now + 1), body, now).ok).toBe(false);
  });

  it("rejects timestamps outside the tolerance and malformed headers", () => {
    const old = now - 301;
    expect(verifySignature(key, headers(signatureHeader([key], "msg_1", old, body), old), body, now)).toEqual({
      ok: false,
      reason: "webhook-timestamp outside tolerance",
    });
    expect(verifySignature(key, headers("v1,AAAA"), body, now).ok).toBe(false);
    expect(verifySignature(key, headers(signatureHeader([key], "msg_1", now, body).replace("v1,", "v2,")), body, now).ok).toBe(false);
    expect(verifySignature(key, { id: "", timestamp: String(now), signature: "v1,x" }, body, now).ok).toBe(false);
    expect(verifySignature(key, { id: "m", timestamp: "soon", signature: "v1,x" }, body, now).ok).toBe(false);
  });
});

describe("secrets", () => {
  it("generates whsec_ + base64 of 32 bytes, different each time", () => {
    const a = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKey(a)).toHaveLength(32);
    expect(generateSecret()).not.toBe(a);
    expect(checkSecret("secret", a)).toBe(a);
  });

  it.each([
    ["no prefix", Buffer.alloc(32).toString("base64")],
    ["not base64", "whsec_!!!!"],
    ["too short", "whsec_" + Buffer.alloc(23).toString("base64")],
    ["too long", "whsec_" + Buffer.alloc(65).toString("base64")],
  ])("refuses a secret with %s", (_why, secret) => {
    expect(() => checkSecret("secret", secret)).toThrow(/^secret: /);
  });
});

/** Verifies one v1a entry the way a receiver would, with node:crypto and the whpk_ key only. */
function ed25519Verifies(publicKey: string, id: string, ts: number, body: string, entry: string): boolean {
  expect(entry.startsWith("v1a,")).toBe(true);
  const raw = Buffer.from(publicKey.slice("whpk_".length), "base64");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  return verify(null, Buffer.from(`${id}.${ts}.${body}`), key, Buffer.from(entry.slice(4), "base64"));
}

describe("ed25519 (v1a)", () => {
  const id = "dlv_01HZZZZZZZZZZZZZZZZZZZZZZZ";
  const ts = 1_700_000_000;
  const body = '{"invoice":42,"emoji":"\u00e9\u2713"}';

  it("generates a whsk_ key pair whose whpk_ public key is base64 of 32 raw bytes", () => {
    const secret = generateSigningKeyPair();
    expect(secret).toMatch(/^whsk_[A-Za-z0-9+/]+=*$/);
    expect(signingAlgorithmOf(secret)).toBe("ed25519");
    expect(signingAlgorithmOf(generateSecret())).toBe("hmac");
    const pub = publicKeyOf(secret);
    expect(pub).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(publicKeyBytes("k", pub)).toHaveLength(32);
    expect(publicKeyOf(generateSecret())).toBe("");
    expect(generateSigningKeyPair()).not.toBe(secret);
  });

  it("signs v1a entries that node:crypto verifies with the public key; another key or body does not verify", () => {
    const secret = generateSigningKeyPair();
    const header = signWith([signingKey(secret)], id, ts, enc(body));
    expect(header).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(ed25519Verifies(publicKeyOf(secret), id, ts, body, header)).toBe(true);
    expect(ed25519Verifies(publicKeyOf(generateSigningKeyPair()), id, ts, body, header)).toBe(false);
    expect(ed25519Verifies(publicKeyOf(secret), id, ts, '{"invoice":43}', header)).toBe(false);
    const pub = publicKeyBytes("k", publicKeyOf(secret));
    const headers = { id, timestamp: String(ts), signature: header };
    expect(verifyAsymmetricSignature(pub, headers, enc(body), ts)).toEqual({ ok: true });
    expect(verifyAsymmetricSignature(pub, headers, enc("{}"), ts).ok).toBe(false);
  });

  it("mixes algorithms in key order during a rotation: v1 for the HMAC secret, v1a for the key pair", () => {
    const hmac = generateSecret();
    const pair = generateSigningKeyPair();
    const [first, second, ...rest] = signWith([signingKey(pair), signingKey(hmac)], id, ts, enc(body)).split(" ");
    expect(rest).toEqual([]);
    expect(ed25519Verifies(publicKeyOf(pair), id, ts, body, first!)).toBe(true);
    expect(second).toBe(signatureHeader([secretKey(hmac)], id, ts, enc(body)));
  });

  it("the cache builds each key once and hands back the same key object", () => {
    const cache = new SigningKeyCache(2);
    const a = generateSigningKeyPair();
    expect(cache.get(a)).toBe(cache.get(a));
    const b = generateSecret();
    expect(cache.get(b)).toBe(cache.get(b));
    // Full: starts over, and still signs correctly.
    const c = generateSigningKeyPair();
    expect(ed25519Verifies(publicKeyOf(c), id, ts, body, signWith([cache.get(c)], id, ts, enc(body)))).toBe(true);
  });
});
