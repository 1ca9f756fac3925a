/** signatureHeader (src/core/signing.ts): Standard Webhooks signatures per second. */
import { randomBytes } from "node:crypto";
import { signatureHeader } from "../../src/core/signing.ts";
import { emit, opsPerSecond } from "./lib.ts";

const BATCH = 1000;
const id = "dlv_01JD5Z8Q3N7W4X2Y6T1R0S9V8U";
const ts = Math.floor(Date.now() / 1000);

for (const [keys, bytes] of [
  [1, 512],
  [1, 4096],
  [2, 512],
] as const) {
  const keyList = Array.from({ length: keys }, () => randomBytes(32));
  const payload = randomBytes(bytes);
  let sink = 0;
  const perSecond = await opsPerSecond(() => {
    for (let i = 0; i < BATCH; i++) sink += signatureHeader(keyList, id, ts, payload).length;
    return BATCH;
  });
  if (sink === 0) throw new Error("unreachable");
  emit({ bench: "signing", case: `${keys} key${keys > 1 ? "s (rotation)" : ""}, ${bytes} B payload`, opsPerSecond: perSecond, unit: "signatures" });
}
