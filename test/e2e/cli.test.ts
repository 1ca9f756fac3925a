import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/main.ts";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { useHookline } from "../helpers/fixtures.ts";
import { eventually } from "../helpers/receiver.ts";
import { runCli } from "../helpers/server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const { server, api, receiver, tenantWithEndpoint } = useHookline();
const env = () => ({ HOOKLINE_SERVER: server.baseUrl, HOOKLINE_API_KEY: TEST_ADMIN_KEY });
const scratch = mkdtempSync(join(tmpdir(), "hookline-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the CLI with `input` on stdin. */
function runWithStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/hookline.js"), ...args], { cwd: ROOT, env: { ...process.env, ...env() } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe("hookline CLI", () => {
  it("prints help for every command, with its flags and defaults, and exits 0", async () => {
    const names = ["serve", ...COMMANDS.map((c) => c.name)];
    // A few at a time: each is a process start.
    for (let i = 0; i < names.length; i += 4) {
      await Promise.all(
        names.slice(i, i + 4).map(async (name) => {
          const res = await runCli([...name.split(" "), "--help"]);
          expect(res.code, `${name}: ${res.stderr}`).toBe(0);
          expect(res.stdout, name).toContain(`usage: hookline ${name}`);
          expect(res.stdout, name).toMatch(/--help/);
          if (name === "serve") expect(res.stdout).toMatch(/--admin-key/);
        }),
      );
    }
    const short = await runCli(["deliveries", "-h"]);
    expect(short.stdout).toContain("(default 50)");
    const top = await runCli(["help"]);
    for (const c of COMMANDS) expect(top.stdout).toContain(c.name);
  });

  it("refuses unknown commands and flags with a did-you-mean, and bad values naming the flag", async () => {
    const typo = await runCli(["deliveries", "--endpint", "ep_x"], env());
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown flag --endpint; did you mean --endpoint\?/);
    const limit = await runCli(["deliveries", "--limit", "abc"], env());
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(/--limit must be a whole number/);
    const since = await runCli(["replay", "--endpoint", "ep_x", "--since", "yesterday"], env());
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/--since must be a duration/);
    const status = await runCli(["deliveries", "--status", "lost"], env());
    expect(status.stderr).toMatch(/--status: unknown status "lost"/);
    const command = await runCli(["endpoint", "list"], env());
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/did you mean "endpoints list"\?/);
    const missing = await runCli(["attempts"], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/DELIVERY_ID is required/);
    const extra = await runCli(["tenants", "get", "a", "b"], env());
    expect(extra.stderr).toMatch(/unexpected argument "b"/);
  });

  it("publishes plain JSON from --data, --file and stdin, and refuses a payload that is not JSON", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "cli publish");
    const fromData = await runCli(["publish", "--tenant", tenantId, "--type", "cli.data", "--data", '{"from":"data"}'], env());
    expect(fromData.code, fromData.stderr).toBe(0);
    expect(fromData.stdout).toMatch(/^evt_/);
    const file = join(scratch, "payload.json");
    writeFileSync(file, '{"from":"file"}');
    const fromFile = await runCli(["publish", "--tenant", tenantId, "--type", "cli.file", "--file", file, "--json"], env());
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout).results[0].eventId).toMatch(/^evt_/);
    const fromStdin = await runWithStdin(["publish", "--tenant", tenantId, "--type", "cli.stdin"], '{"from":"stdin"}');
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    await rx.waitFor((r) => r.length >= 3, 15_000);
    expect(rx.requests.map((r) => JSON.parse(r.body.toString()).from).sort()).toEqual(["data", "file", "stdin"]);
    const bad = await runCli(["publish", "--tenant", tenantId, "--type", "cli.bad", "--data", "{nope"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--data is not JSON/);
  });

  it("lists events newest first by tenant, type and age, and deliveries by age", async () => {
    const rx = await receiver();
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "cli events");
    const { results } = await api.events.publish({
      events: ["cli.one", "cli.two", "cli.one"].map((type) => ({ tenantId, type, payload: new TextEncoder().encode("{}") })),
    });
    const ids = results.map((r) => r.eventId);
    const listed = await runCli(["events", "--tenant", tenantId, "--json"], env());
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).events.map((e: { id: string }) => e.id)).toEqual([...ids].reverse());
    const typed = await runCli(["events", "list", "--tenant", tenantId, "--type", "cli.one", "--since", "1h"], env());
    expect(typed.code, typed.stderr).toBe(0);
    expect(typed.stdout.trim().split("\n").map((line) => line.split(/\s+/)[1])).toEqual([ids[2], ids[0]]);
    await eventually(async () => (await runCli(["deliveries", "--endpoint", endpointId, "--since", "1h", "--json"], env())).stdout.includes(ids[2]!), 15_000, "deliveries listed");
    const none = await runCli(["deliveries", "--endpoint", endpointId, "--since", "0ms", "--json"], env());
    expect(JSON.parse(none.stdout).deliveries ?? []).toEqual([]);
  });

  it("reads as JSON, updates, tests and deletes an endpoint, and shows stats", async () => {
    let up = true;
    const rx = await receiver(() => (up ? { status: 200 } : { status: 503, body: "down" }));
    const { tenantId, endpointId } = await tenantWithEndpoint(rx, "cli endpoint", { eventTypes: ["only.this"] });

    const got = await runCli(["endpoints", "get", endpointId, "--json"], env());
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: endpointId, tenantId, url: rx.url });
    const listed = JSON.parse((await runCli(["endpoints", "--tenant", tenantId, "--json"], env())).stdout);
    expect(listed.endpoints.map((e: { id: string }) => e.id)).toEqual([endpointId]);

    const updated = await runCli(["endpoints", "update", endpointId, "--description", "from the cli", "--max-in-flight", "3", "--json"], env());
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ description: "from the cli", maxInFlight: 3 });
    const nothing = await runCli(["endpoints", "update", endpointId], env());
    expect(nothing.code).toBe(2);

    // A test event reaches this endpoint although its filter does not match hookline.test.
    const tested = await runCli(["endpoints", "test", endpointId], env());
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/delivered\n\s+#1\s+\S+\s+200\s/);
    expect(rx.requests.at(-1)?.headers["webhook-id"]).toMatch(/^dlv_/);
    expect(JSON.parse(rx.requests.at(-1)!.body.toString())).toMatchObject({ test: true });
    up = false;
    const failed = await runCli(["endpoints", "test", endpointId, "--data", '{"probe":1}'], env());
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/failed\n\s+#1\s+\S+\s+503\s.*body: down/);

    const stats = await runCli(["endpoints", "stats", endpointId, "--json"], env());
    expect(JSON.parse(stats.stdout)).toMatchObject({ endpointId });
    const totals = JSON.parse((await runCli(["stats", "--tenant", tenantId, "--json"], env())).stdout);
    expect(totals).toMatchObject({ endpoints: 1, enabled: 1 });

    const deleted = await runCli(["endpoints", "delete", endpointId], env());
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await runCli(["endpoints", "get", endpointId], env());
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not_found/);

    const refused = await runCli(["tenants", "delete", tenantId], env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/force/);
    expect((await runCli(["tenants", "delete", tenantId, "--force"], env())).code).toBe(0);
    const deliveries = await api.deliveries.listDeliveries({ tenantId, statuses: [DeliveryStatus.PENDING, DeliveryStatus.RETRYING] });
    expect(deliveries.deliveries).toEqual([]);
  });

  it("lists deliveries and attempts as JSON", async () => {
    const rx = await receiver();
    const { tenantId } = await tenantWithEndpoint(rx, "cli json");
    const { results } = await api.events.publish({ events: [{ tenantId, type: "cli.json", payload: new TextEncoder().encode('{"n":1}') }] });
    const delivery = await eventually(
      async () => (await api.deliveries.listDeliveries({ eventId: results[0]!.eventId, statuses: [DeliveryStatus.SUCCEEDED] })).deliveries[0],
      15_000,
      "delivered",
    );
    const listed = JSON.parse((await runCli(["deliveries", "--tenant", tenantId, "--json"], env())).stdout);
    expect(listed.deliveries[0]).toMatchObject({ id: delivery.id, status: "DELIVERY_STATUS_SUCCEEDED" });
    const attempts = JSON.parse((await runCli(["attempts", delivery.id, "--json"], env())).stdout);
    expect(attempts.delivery.id).toBe(delivery.id);
    expect(attempts.attempts[0]).toMatchObject({ number: 1, statusCode: 200 });
    const event = JSON.parse((await runCli(["events", "get", results[0]!.eventId, "--json"], env())).stdout);
    expect(Buffer.from(event.payload, "base64").toString()).toBe('{"n":1}');
  });
});
