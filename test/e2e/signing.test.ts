import { describe, expect, it } from "vitest";
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { Webhook } from "standardwebhooks";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { SigningAlgorithm } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { rejection, violatedFields } from "../helpers/errors.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually, perDelivery, type ReceivedRequest } from "../helpers/receiver.ts";
import { ms } from "../helpers/time.ts";

/** Verifies a received request the way a receiver would: with the official npm verifier. */
function verify(secret: string, req: ReceivedRequest): unknown {
  return new Webhook(secret).verify(req.body.toString("utf8"), req.headers as Record<string, string>);
}

const header = (req: ReceivedRequest, name: string): string => String(req.headers[name]);

describe("webhook requests: Standard Webhooks signing, headers and body", () => {
  const { api, receiver, newTenant, tenantWithEndpoint } = useHookline();

  it("signs every attempt verifiably, keeps webhook-id = delivery id across retries, sends custom headers and the exact body", async () => {
    // First request of each webhook-id fails with 500, the retry succeeds.
    const tenantId = await newTenant("signing");
    const rx = await receiver(perDelivery([{ status: 500 }, { status: 200 }]));
    const { endpoint } = await api.endpoints.createEndpoint({
      tenantId,
      url: rx.url,
      headers: { "X-Customer-Tag": "blue team", Authorization: "Bearer s3cr3t-token" },
      retryPolicy: { maxAttempts: 5, initialBackoff: ms(20), maxBackoff: ms(200) },
    });
    const endpointId = endpoint!.id;
    const secret = endpoint!.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);

    // Payloads as raw text: odd whitespace, unicode (BMP and astral), escapes, a number with a trailing zero.
    const texts = [
      '{ "name" : "Zoë Ünïcødé — 日本語 😀",\n\t"amount":  42.50 ,  "nested": {"tab":"\\t", "quote": "\\"q\\""} }\n',
      '[1,  2,\r\n 3, "\\u00e9 é", {"k": null}]',
      '  "just a string with spaces and émoji 🎉"  ',
    ];
    const payloads = texts.map((t) => new TextEncoder().encode(t));
    const { results } = await api.events.publish({
      events: payloads.map((payload, i) => ({ tenantId, type: `signing.t${i}`, payload })),
    });
    expect(results.map((r) => r.deliveryCount)).toEqual([1, 1, 1]);

    // Each delivery: one failed attempt, one successful one.
    await rx.waitFor((reqs) => reqs.length >= 6);
    const deliveries = await eventually(async () => {
      const { deliveries } = await api.deliveries.listDeliveries({ endpointId });
      return deliveries.length === 3 && deliveries.every((d) => d.status === DeliveryStatus.SUCCEEDED) && deliveries;
    });
    expect(deliveries.every((d) => d.attempts === 2)).toBe(true);
    expect(rx.requests).toHaveLength(6);

    const byEvent = new Map(deliveries.map((d) => [d.eventId, d.id]));
    results.forEach((result, i) => {
      const deliveryId = byEvent.get(result.eventId);
      expect(deliveryId).toMatch(/^dlv_/);
      const requests = rx.requests.filter((r) => header(r, "webhook-id") === deliveryId);
      // webhook-id equals the delivery id and is the same on the retry.
      expect(requests).toHaveLength(2);
      for (const req of requests) {
        expect(req.method).toBe("POST");
        expect(req.path).toBe("/hook");
        // Body byte for byte as published.
        expect(Buffer.compare(req.body, Buffer.from(payloads[i]!))).toBe(0);
        expect(req.headers["content-type"]).toBe("application/json");
        expect(header(req, "user-agent")).toMatch(/^hookline\/\d+\.\d+\.\d+/);
        expect(req.headers["x-customer-tag"]).toBe("blue team");
        expect(req.headers.authorization).toBe("Bearer s3cr3t-token");
        const ts = Number(header(req, "webhook-timestamp"));
        expect(Math.abs(ts - req.at / 1000)).toBeLessThan(5);
        expect(header(req, "webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
        expect(verify(secret, req)).toEqual(JSON.parse(texts[i]!));
      }
    });
    // Every distinct webhook-id is one of the deliveries.
    expect([...rx.uniqueIds()].sort()).toEqual(deliveries.map((d) => d.id).sort());
  });

  it("refuses a tampered body or a wrong secret (the verifier really checks)", async () => {
    const rx = await receiver();
    const { tenantId, secret } = await tenantWithEndpoint(rx, "signing");
    await api.events.publish({ events: [{ tenantId, type: "signing.check", payload: json({ a: 1 }) }] });
    await rx.waitFor((r) => r.length === 1);
    const req = rx.requests[0]!;
    expect(verify(secret, req)).toEqual({ a: 1 });
    expect(() => verify(secret, { ...req, body: Buffer.from('{"a":2}') })).toThrow();
    const other = "whsec_" + Buffer.alloc(32, 7).toString("base64");
    expect(() => verify(other, req)).toThrow();
  });

  it("signs with the old and the new secret during a rotation grace period, and with the new one only after a rotation without grace", async () => {
    const rx = await receiver();
    const { tenantId, endpointId, secret: original } = await tenantWithEndpoint(rx, "signing");

    // Rotation with a grace period: both secrets sign.
    const rotated = (await api.endpoints.rotateEndpointSecret({ id: endpointId, gracePeriod: ms(3_600_000) })).endpoint!;
    const second = rotated.secret;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(original);
    await api.events.publish({ events: [{ tenantId, type: "signing.rotated", payload: json({ step: "grace" }) }] });
    await rx.waitFor((r) => r.length === 1);
    const during = rx.requests[0]!;
    const entries = header(during, "webhook-signature").split(" ");
    expect(entries).toHaveLength(2);
    for (const entry of entries) expect(entry).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Set(entries).size).toBe(2);
    expect(verify(original, during)).toEqual({ step: "grace" });
    expect(verify(second, during)).toEqual({ step: "grace" });

    // Rotation with grace_period 0: the previous secret stops signing at once.
    const third = (await api.endpoints.rotateEndpointSecret({ id: endpointId, gracePeriod: ms(0) })).endpoint!.secret;
    expect(third).not.toBe(second);
    await api.events.publish({ events: [{ tenantId, type: "signing.rotated", payload: json({ step: "no-grace" }) }] });
    await rx.waitFor((r) => r.length === 2);
    const after = rx.requests[1]!;
    expect(header(after, "webhook-signature").split(" ")).toHaveLength(1);
    expect(verify(third, after)).toEqual({ step: "no-grace" });
    expect(() => verify(second, after)).toThrow();
    expect(() => verify(original, after)).toThrow();
  });

  it("signs with a secret supplied on rotation", async () => {
    const rx = await receiver();
    const { tenantId, endpointId, secret } = await tenantWithEndpoint(rx, "signing");
    const chosen = "whsec_" + Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
    const rotated = await api.endpoints.rotateEndpointSecret({ id: endpointId, secret: chosen, gracePeriod: ms(0) });
    expect(rotated.endpoint!.secret).toBe(chosen);
    await api.events.publish({ events: [{ tenantId, type: "signing.chosen", payload: json({ ok: true }) }] });
    await rx.waitFor((r) => r.length === 1);
    expect(verify(chosen, rx.requests[0]!)).toEqual({ ok: true });
    expect(() => verify(secret, rx.requests[0]!)).toThrow();
  });
});

/**
 * Checks a request's v1a entries the way a receiver holding only the whpk_ public key would,
 * with node:crypto: for each entry, whether it verifies.
 */
function v1aVerifies(publicKey: string, req: ReceivedRequest): boolean[] {
  expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
  const raw = Buffer.from(publicKey.slice("whpk_".length), "base64");
  expect(raw).toHaveLength(32);
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  const signed = Buffer.concat([Buffer.from(`${header(req, "webhook-id")}.${header(req, "webhook-timestamp")}.`), req.body]);
  return header(req, "webhook-signature")
    .split(" ")
    .filter((entry) => entry.startsWith("v1a,"))
    .map((entry) => cryptoVerify(null, signed, key, Buffer.from(entry.slice(4), "base64")));
}

describe("ed25519 signatures (Standard Webhooks v1a)", () => {
  const { api, receiver, newTenant, tenantWithEndpoint } = useHookline();

  it("an ED25519 endpoint shows its whpk_ public key on every read, never a secret, and signs v1a verifiably", async () => {
    const rx = await receiver();
    const tenantId = await newTenant("ed25519");
    const created = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, signing: SigningAlgorithm.ED25519 })).endpoint!;
    expect(created.signing).toBe(SigningAlgorithm.ED25519);
    expect(created.secret).toBe("");
    const publicKey = created.publicKey;
    expect(publicKey).toMatch(/^whpk_/);
    const got = (await api.endpoints.getEndpoint({ id: created.id })).endpoint!;
    expect(got).toMatchObject({ signing: SigningAlgorithm.ED25519, publicKey, secret: "" });
    const listed = (await api.endpoints.listEndpoints({ tenantId })).endpoints;
    expect(listed.map((e) => [e.publicKey, e.secret])).toEqual([[publicKey, ""]]);

    await api.events.publish({ events: [{ tenantId, type: "signing.ed25519", payload: json({ n: 1 }) }, { tenantId, type: "signing.ed25519", payload: json({ n: 2 }) }] });
    await rx.waitFor((r) => r.length === 2);
    for (const req of rx.requests) {
      expect(header(req, "webhook-signature")).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
      expect(v1aVerifies(publicKey, req)).toEqual([true]);
      // A changed body does not verify.
      expect(v1aVerifies(publicKey, { ...req, body: Buffer.from('{"n":3}') })).toEqual([false]);
    }
    // Another endpoint's key does not verify these requests.
    const other = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, disabled: true, signing: SigningAlgorithm.ED25519 })).endpoint!;
    expect(other.publicKey).not.toBe(publicKey);
    expect(v1aVerifies(other.publicKey, rx.requests[0]!)).toEqual([false]);
    // HMAC endpoints have no public key.
    const hmac = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, disabled: true })).endpoint!;
    expect(hmac).toMatchObject({ signing: SigningAlgorithm.HMAC_SHA256, publicKey: "" });
    expect(hmac.secret).toMatch(/^whsec_/);
  });

  it("rotation sends two v1a signatures during the grace period, each verifying with the old or the new public key", async () => {
    const rx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "ed25519", { signing: SigningAlgorithm.ED25519 });
    const oldKey = (await api.endpoints.getEndpoint({ id: endpointId })).endpoint!.publicKey;
    const rotated = (await api.endpoints.rotateEndpointSecret({ id: endpointId, gracePeriod: ms(3_600_000) })).endpoint!;
    expect(rotated.signing).toBe(SigningAlgorithm.ED25519);
    expect(rotated.secret).toBe("");
    const newKey = rotated.publicKey;
    expect(newKey).not.toBe(oldKey);
    expect((await api.endpoints.getEndpoint({ id: endpointId })).endpoint!.publicKey).toBe(newKey);

    await api.events.publish({ events: [{ tenantId, type: "signing.rotated", payload: json({ step: "grace" }) }] });
    await rx.waitFor((r) => r.length === 1);
    const during = rx.requests[0]!;
    const entries = header(during, "webhook-signature").split(" ");
    expect(entries).toHaveLength(2);
    for (const entry of entries) expect(entry).toMatch(/^v1a,/);
    // The new key signs first, the old one second.
    expect(v1aVerifies(newKey, during)).toEqual([true, false]);
    expect(v1aVerifies(oldKey, during)).toEqual([false, true]);

    // Without grace: only the newest key signs.
    const third = (await api.endpoints.rotateEndpointSecret({ id: endpointId, gracePeriod: ms(0) })).endpoint!.publicKey;
    await api.events.publish({ events: [{ tenantId, type: "signing.rotated", payload: json({ step: "no-grace" }) }] });
    await rx.waitFor((r) => r.length === 2);
    const after = rx.requests[1]!;
    expect(v1aVerifies(third, after)).toEqual([true]);
    expect(v1aVerifies(newKey, after)).toEqual([false]);
  });

  it("rotating an HMAC endpoint to ED25519 sends v1a and the old v1 during the grace period", async () => {
    const rx = await receiver();
    const { tenantId, endpointId, secret } = await tenantWithEndpoint(rx, "ed25519");
    const rotated = (
      await api.endpoints.rotateEndpointSecret({ id: endpointId, signing: SigningAlgorithm.ED25519, gracePeriod: ms(3_600_000) })
    ).endpoint!;
    expect(rotated).toMatchObject({ signing: SigningAlgorithm.ED25519, secret: "" });
    await api.events.publish({ events: [{ tenantId, type: "signing.switch", payload: json({ step: "switch" }) }] });
    await rx.waitFor((r) => r.length === 1);
    const req = rx.requests[0]!;
    const [first, second] = header(req, "webhook-signature").split(" ");
    expect(first).toMatch(/^v1a,/);
    expect(second).toMatch(/^v1,/);
    expect(v1aVerifies(rotated.publicKey, req)).toEqual([true]);
    // The official verifier still accepts the request with the old HMAC secret.
    expect(verify(secret, req)).toEqual({ step: "switch" });
  });

  it("refuses a supplied secret with ED25519 and an unknown algorithm, naming the field", async () => {
    const tenantId = await newTenant("ed25519-bad");
    const url = "http://127.0.0.1:9/never";
    const secret = "whsec_" + Buffer.alloc(32, 1).toString("base64");
    let err = await rejection(api.endpoints.createEndpoint({ tenantId, url, disabled: true, signing: SigningAlgorithm.ED25519, secret }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["secret"]);
    err = await rejection(api.endpoints.createEndpoint({ tenantId, url, disabled: true, signing: 7 as SigningAlgorithm }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["signing"]);
    const { endpoint } = await api.endpoints.createEndpoint({ tenantId, url, disabled: true, signing: SigningAlgorithm.ED25519 });
    err = await rejection(api.endpoints.rotateEndpointSecret({ id: endpoint!.id, secret }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["secret"]);
    // Rotating back to HMAC with a chosen secret works, and returns it.
    const back = (await api.endpoints.rotateEndpointSecret({ id: endpoint!.id, secret, signing: SigningAlgorithm.HMAC_SHA256 })).endpoint!;
    expect(back).toMatchObject({ signing: SigningAlgorithm.HMAC_SHA256, secret, publicKey: "" });
  });
});
