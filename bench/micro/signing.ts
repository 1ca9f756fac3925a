/** signWith (src/core/signing.ts): Standard Webhooks signatures per second, HMAC (v1) and ed25519 (v1a). */
import { randomBytes } from "node:crypto";
import { generateSecret, generateSigningKeyPair } from "../../src/core/secrets.ts";
import { SigningKeyCache, signWith } from "../../src/core/signing.ts";
import { emit, opsPerSecond } from "./lib.ts";

const BATCH = 1000;
const id = "dlv_01JD5Z8Q3N7W4X2Y6T1R0S9V8U";
const ts = Math.floor(Date.now() / 1000);
// Keys are parsed once and cached, as the sender does.
const cache = new SigningKeyCache();

for (const [algorithm, keys, bytes] of [
  ["hmac", 1, 512],
  ["hmac", 1, 4096],
  ["hmac", 2, 512],
  ["ed25519", 1, 512],
  ["ed25519", 1, 4096],
  ["ed25519", 2, 512],
] as const) {
  const secrets = Array.from({ length: keys }, () => (algorithm === "hmac" ? generateSecret() : generateSigningKeyPair()));
  const payload = randomBytes(bytes);
  let sink = 0;
  const perSecond = await opsPerSecond(() => {
    for (let i = 0; i < BATCH; i++) sink += signWith(secrets.map((s) => cache.get(s)), id, ts, payload).length;
    return BATCH;
  });
  if (sink === 0) throw new Error("unreachable");
  emit({
    bench: "signing",
    case: `${algorithm}, ${keys} key${keys > 1 ? "s (rotation)" : ""}, ${bytes} B payload`,
    opsPerSecond: perSecond,
    unit: "signatures",
  });
}
