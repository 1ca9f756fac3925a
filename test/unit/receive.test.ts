import { afterEach, describe, expect, it } from "vitest";
import type http from "node:http";
import { PassThrough } from "node:stream";
import { receive } from "../../src/cli/receive.ts";
import { generateSigningKeyPair, publicKeyOf } from "../../src/core/secrets.ts";
import { signWith, signingKey } from "../../src/core/signing.ts";

describe("hookline receive --public-key", () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  it("accepts a v1a request signed by the key pair and answers 401 to a tampered one", async () => {
    const secret = generateSigningKeyPair();
    const out = new PassThrough();
    let printed = "";
    out.on("data", (c: Buffer) => (printed += c.toString()));
    server = await receive({ host: "127.0.0.1", port: 0, status: 200, secret: "", publicKey: publicKeyOf(secret) }, out);
    const { port } = server.address() as { port: number };
    const body = '{"ok":true}';
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      "webhook-id": "dlv_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": signWith([signingKey(secret)], "dlv_1", ts, new TextEncoder().encode(body)),
    };
    const post = (payload: string) => fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers, body: payload });
    expect((await post(body)).status).toBe(200);
    expect((await post('{"ok":false}')).status).toBe(401);
    expect(printed).toContain("signature valid");
    expect(printed).toContain("INVALID (no v1a signature matches the public key)");
  });

  it("refuses a malformed public key and both flags at once", async () => {
    await expect(receive({ host: "127.0.0.1", port: 0, status: 200, secret: "", publicKey: "whpk_AAAA" }, new PassThrough())).rejects.toThrow(
      /^--public-key: /,
    );
    const both = { host: "127.0.0.1", port: 0, status: 200, secret: "whsec_" + Buffer.alloc(32).toString("base64"), publicKey: publicKeyOf(generateSigningKeyPair()) };
    await expect(receive(both, new PassThrough())).rejects.toThrow(/not both/);
  });
});
