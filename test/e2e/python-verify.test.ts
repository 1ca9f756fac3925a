// A receiver in another language checks hookline's ed25519 (v1a) signatures with nothing but
// the endpoint's whpk_ public key: examples/python/verify_webhook.py, built on the
// `cryptography` package (installed by scripts/install-client-toolchains.sh). Skipped on a
// developer machine without it; fails under CI=true.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { SigningAlgorithm } from "../../src/gen/hookline/v1/endpoint_pb.ts";
import { json } from "../helpers/clients.ts";
import { useHookline } from "../helpers/fixtures.ts";
import type { ReceivedRequest } from "../helpers/receiver.ts";
import { ms } from "../helpers/time.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PYTHON = process.env.PYTHON ?? "python3";
const probe = spawnSync(PYTHON, ["-c", "import cryptography.hazmat.primitives.asymmetric.ed25519"], { encoding: "utf8", timeout: 30_000 });
const pythonReady = probe.status === 0;

/** Runs the Python verifier on a received request; its verdict and exit code. */
function pythonVerify(publicKey: string, req: ReceivedRequest, body: Buffer = req.body): { valid: boolean; reason: string; code: number | null } {
  const headers = Object.fromEntries(["webhook-id", "webhook-timestamp", "webhook-signature"].map((h) => [h, String(req.headers[h])]));
  const run = spawnSync(PYTHON, ["examples/python/verify_webhook.py", "--public-key", publicKey], {
    cwd: ROOT,
    input: JSON.stringify({ headers, body_base64: body.toString("base64") }),
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  expect(run.stderr).toBe("");
  return { ...(JSON.parse(run.stdout) as { valid: boolean; reason: string }), code: run.status };
}

describe("ed25519 signatures checked by a Python receiver (cryptography)", () => {
  const { api, receiver, tenantWithEndpoint } = useHookline();

  it("verifies with the old and the new public key during a rotation, and refuses another key or a changed body", async (ctx) => {
    if (!pythonReady) {
      const why = `${PYTHON} cannot import cryptography (${probe.stderr.trim().split("\n").pop() ?? probe.error}); run scripts/install-client-toolchains.sh`;
      if (process.env.CI === "true") throw new Error(why);
      ctx.skip(why);
    }
    const rx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "python-verify", { signing: SigningAlgorithm.ED25519 });
    const oldKey = (await api.endpoints.getEndpoint({ id: endpointId })).endpoint!.publicKey;
    const newKey = (await api.endpoints.rotateEndpointSecret({ id: endpointId, gracePeriod: ms(600_000) })).endpoint!.publicKey;
    await api.events.publish({ events: [{ tenantId, type: "python.check", payload: json({ "ünïcode": "✓", n: 1 }) }] });
    await rx.waitFor((r) => r.length === 1);
    const req = rx.requests[0]!;

    expect(pythonVerify(newKey, req)).toEqual({ valid: true, reason: "", code: 0 });
    expect(pythonVerify(oldKey, req)).toEqual({ valid: true, reason: "", code: 0 });
    const stranger = (await api.endpoints.createEndpoint({ tenantId, url: rx.url, disabled: true, signing: SigningAlgorithm.ED25519 })).endpoint!.publicKey;
    expect(pythonVerify(stranger, req)).toEqual({ valid: false, reason: "no v1a signature verifies with this public key", code: 1 });
    expect(pythonVerify(newKey, req, Buffer.from('{"n":2}'))).toMatchObject({ valid: false, code: 1 });
  });
});
